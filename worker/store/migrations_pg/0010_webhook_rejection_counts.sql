-- PostgreSQL twin of worker/store/migrations/0010_webhook_rejection_counts.sql: the same tables, columns and meaning
-- (ids BIGINT identity; times stay the text the code writes).
-- Refused webhooks (and events for companies this installation does not serve) are counted per
-- (reason, source) instead of one row each: a stranger sending garbage, or Concur sending another
-- tenant's events, must not grow the database. received_at stays the first time, last_at is the latest.
ALTER TABLE webhook_rejections ADD COLUMN count INTEGER NOT NULL DEFAULT 1;
ALTER TABLE webhook_rejections ADD COLUMN last_at TEXT;

UPDATE webhook_rejections SET
    count = (SELECT COUNT(*) FROM webhook_rejections AS w WHERE w.reason = webhook_rejections.reason AND w.source = webhook_rejections.source),
    last_at = (SELECT MAX(w.received_at) FROM webhook_rejections AS w WHERE w.reason = webhook_rejections.reason AND w.source = webhook_rejections.source);
DELETE FROM webhook_rejections WHERE id NOT IN (SELECT MIN(id) FROM webhook_rejections GROUP BY reason, source);

CREATE UNIQUE INDEX webhook_rejections_by_reason_source ON webhook_rejections (reason, source);
