-- PostgreSQL twin of worker/store/migrations/0005_search.sql: the same tables, columns and meaning
-- (ids BIGINT identity; times stay the text the code writes).
-- Search (`q`) scans the documents newest first; this index carries every column the search and
-- the list filters read, so the scan never touches the wide rows (content, plan) of non-matches.
CREATE INDEX documents_search ON documents (updated_at DESC, id DESC, company, state, reason, concur_id, employee, vendor, amount);
