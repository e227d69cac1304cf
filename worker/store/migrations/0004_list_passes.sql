-- Full passes over the QuickBooks lists: a record QuickBooks no longer returns in a complete,
-- unfiltered pass was deleted there and leaves the cache.
ALTER TABLE qb_lists ADD COLUMN seen_at TEXT NOT NULL DEFAULT '';
ALTER TABLE qb_list_sync ADD COLUMN full_at TEXT;
