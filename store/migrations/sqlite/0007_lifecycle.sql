-- Skjold schema 7 (SQLite): when a lapsed freeze was flagged to the operator, so that each
-- lapse raises one alert, not one per pass of the job.
ALTER TABLE tenants ADD COLUMN freeze_lapsed_at INTEGER;
