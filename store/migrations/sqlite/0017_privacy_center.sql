-- Skjold schema 17: the privacy center, public pages per tenant under /p/{slug}/. A tenant
-- gets a public slug (unique; existing tenants get their id until the owner sets one). A
-- request opened there keeps the subject's language, for the e-mails about it; a
-- rectification keeps the values the subject proposed, sealed under the subject's data key;
-- and a verified request gives the subject's browser a secret for its status page, stored
-- only as its SHA-256, valid until status_expires_at.
ALTER TABLE tenants ADD COLUMN slug TEXT;
UPDATE tenants SET slug = id;
CREATE UNIQUE INDEX tenants_slug ON tenants (slug);
ALTER TABLE requests ADD COLUMN language TEXT NOT NULL DEFAULT '';
ALTER TABLE requests ADD COLUMN proposal BLOB;
ALTER TABLE requests ADD COLUMN status_hash BLOB;
ALTER TABLE requests ADD COLUMN status_expires_at INTEGER;
CREATE UNIQUE INDEX requests_status_hash ON requests (status_hash);
