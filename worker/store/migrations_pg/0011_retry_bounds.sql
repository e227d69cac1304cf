-- PostgreSQL twin of worker/store/migrations/0011_retry_bounds.sql: the same tables, columns and meaning
-- (ids BIGINT identity; times stay the text the code writes).
-- Every retry has an end: what the bounds count lives in columns, not in the reason text.

-- Settling (u:) or re-reading (r:) queries QuickBooks could not answer for this row since the last
-- answer it could; at the bound the row is no longer asked about and its document is held.
-- (Writes count their sends in the existing `attempts` column.)
ALTER TABLE postings ADD COLUMN query_attempts INTEGER NOT NULL DEFAULT 0;

-- A list query QuickBooks could not answer: how often in a row, not before when it is asked again,
-- and QuickBooks' last words. Cleared when a pass over the list finishes.
ALTER TABLE qb_list_sync ADD COLUMN failures INTEGER NOT NULL DEFAULT 0;
ALTER TABLE qb_list_sync ADD COLUMN retry_after TEXT;
ALTER TABLE qb_list_sync ADD COLUMN last_error TEXT NOT NULL DEFAULT '';
