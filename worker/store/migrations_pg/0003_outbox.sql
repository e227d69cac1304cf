-- PostgreSQL twin of worker/store/migrations/0003_outbox.sql: the same tables, columns and meaning
-- (ids BIGINT identity; times stay the text the code writes).
-- Outbox details the QuickBooks side needs beyond the first sketch.

-- Send this row alone: a message set it was part of failed to parse as a whole (0x80040400),
-- so the culprit is found by sending each row by itself; a lone row that fails is quarantined.
ALTER TABLE postings ADD COLUMN solo INTEGER NOT NULL DEFAULT 0;
-- Why the row waits before it can be sent again (e.g. "edit_sequence": re-query the vendor first).
ALTER TABLE postings ADD COLUMN needs TEXT NOT NULL DEFAULT '';
-- Size of request_xml, to cut message sets by bytes without reading the text.
ALTER TABLE postings ADD COLUMN request_bytes INTEGER NOT NULL DEFAULT 0;
