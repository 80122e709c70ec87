-- Skjold schema 12 (SQLite): a tenant deletion is refused while legal holds of the tenant are
-- in force [D2, D5], unless the approval says, when it is filed, that it overrides them; the
-- second person approves it knowing so.
ALTER TABLE approvals ADD COLUMN override_holds INTEGER NOT NULL DEFAULT 0 CHECK (override_holds IN (0, 1));
