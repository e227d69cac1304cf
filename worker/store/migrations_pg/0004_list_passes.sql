-- PostgreSQL twin of worker/store/migrations/0004_list_passes.sql: the same tables, columns and meaning
-- (ids BIGINT identity; times stay the text the code writes).
-- Full passes over the QuickBooks lists: a record QuickBooks no longer returns in a complete,
-- unfiltered pass was deleted there and leaves the cache.
ALTER TABLE qb_lists ADD COLUMN seen_at TEXT NOT NULL DEFAULT '';
ALTER TABLE qb_list_sync ADD COLUMN full_at TEXT;
