-- Skjold schema 8 (SQLite): a tenant export reads each category's records in id order, a page
-- at a time (keyset pagination). This index makes each page a short range read instead of a
-- sort of the whole category; it supersedes records_category, which is its prefix.
CREATE INDEX records_export ON records (tenant_id, category, id);
DROP INDEX records_category;
