-- Skjold schema 15 is another branch's migration; this empty placeholder keeps the numbers
-- contiguous on the compliance branch alone and is dropped when the branches are merged.
SELECT 1;
