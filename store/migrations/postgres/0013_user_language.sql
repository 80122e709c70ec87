-- Skjold schema 13: the language a person chose for the console and the e-mails Skjold sends
-- them [I3]; '' until they choose, when the browser's Accept-Language decides.
ALTER TABLE users ADD COLUMN language TEXT NOT NULL DEFAULT '';
