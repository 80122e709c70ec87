-- Placeholder on branch h-docs for schema 22, which another branch adds; the merge replaces it
-- with that branch's migration. It changes nothing.
SELECT 1;
