-- Skjold schema 15: indexes that answer every look-up of a request by themselves, at any size.
-- A look-up by e-mail or phone pages by id ("… AND id > ? ORDER BY id LIMIT ?"); with the
-- index ending in id, the planner walks only the matching subjects in order. Before, SQLite
-- without statistics preferred subjects_tenant (tenant_id, id) to avoid a sort and walked every
-- subject of the tenant. The audit trail of one subject or one actor within a tenant likewise
-- gets an index of its own, instead of a walk of all the tenant's events, and so do a
-- subject's records of one category (PostgreSQL otherwise walks the tenant's records of the
-- category).
DROP INDEX subjects_email;
DROP INDEX subjects_phone;
CREATE INDEX subjects_email ON subjects (tenant_id, email_idx, id) WHERE email_idx IS NOT NULL;
CREATE INDEX subjects_phone ON subjects (tenant_id, phone_idx, id) WHERE phone_idx IS NOT NULL;
CREATE INDEX audit_tenant_subject ON audit_events (tenant_id, subject_id, seq);
CREATE INDEX audit_tenant_actor ON audit_events (tenant_id, actor, seq);
CREATE INDEX records_subject_category ON records (subject_id, category, id);
