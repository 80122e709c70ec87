-- Skjold schema 10 (SQLite): wrong second-factor codes (TOTP and recovery) count apart from
-- wrong passwords [B6, B11]. A password success resets failed_logins but not failed_codes, so
-- whoever holds the password cannot guess codes without the growing lockout; only a correct
-- code or an administrator's unlock resets it.
ALTER TABLE users ADD COLUMN failed_codes INTEGER NOT NULL DEFAULT 0;
