-- Skjold schema 5 (SQLite): when a person was last reminded of due training.
ALTER TABLE users ADD COLUMN training_reminded_at INTEGER;
