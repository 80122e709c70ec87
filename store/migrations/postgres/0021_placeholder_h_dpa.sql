-- Skjold schema 21 is another branch's migration; this empty placeholder keeps the numbers
-- contiguous on the DPA branch alone and is dropped when the branches are merged.
SELECT 1;
