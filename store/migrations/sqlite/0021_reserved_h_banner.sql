-- Skjold schema 21 is another branch's migration; this placeholder keeps the numbers contiguous on
-- the consent-banner branch (h-banner) and is dropped when the branches are merged.
SELECT 1;
