-- Skjold schema 20: the audit log filtered by action (the console's audit filter, "every
-- subject.read of this tenant") walks only the matching events in order, not the tenant's
-- whole chain, which grows with every read.
CREATE INDEX audit_tenant_action ON audit_events (tenant_id, action, seq);
