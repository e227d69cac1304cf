-- State the worker decides on lives in columns, not in the human `reason` text or the audit trail.

-- What a fetched document waits for before it can be planned: none | lists | vendor.
ALTER TABLE documents ADD COLUMN wait TEXT NOT NULL DEFAULT 'none';
-- Why a held or skipped document stopped (shared.types.HoldKind): none | mapping | quickbooks |
-- operator | not_postable | deleted | duplicate. Mapping and QuickBooks holds re-plan by themselves.
ALTER TABLE documents ADD COLUMN hold_kind TEXT NOT NULL DEFAULT 'none';
-- Concur reported the document again: fetch it once more to see what changed (the news, or NULL).
ALTER TABLE documents ADD COLUMN recheck TEXT;

UPDATE documents SET wait = 'lists' WHERE state = 'fetched' AND reason = 'waiting for the first Web Connector run to read the QuickBooks lists';
UPDATE documents SET wait = 'vendor' WHERE state = 'fetched' AND reason LIKE 'waiting for the vendor%';
UPDATE documents SET hold_kind = CASE
    WHEN reason LIKE 'not_postable%' THEN 'not_postable'
    WHEN reason = 'deleted in Concur' THEN 'deleted'
    WHEN reason LIKE 'duplicate%' THEN 'duplicate'
    ELSE 'operator' END
  WHERE state = 'skipped';
UPDATE documents SET hold_kind = CASE
    (SELECT a.action FROM audit a WHERE a.document_id = documents.id ORDER BY a.id DESC LIMIT 1)
    WHEN 'plan_hold' THEN 'mapping' WHEN 'held' THEN 'quickbooks' ELSE 'operator' END
  WHERE state = 'held';
UPDATE documents SET recheck = (SELECT c.value FROM checkpoints c WHERE c.company = documents.company AND c.name = 'recheck:' || documents.id)
  WHERE EXISTS (SELECT 1 FROM checkpoints c WHERE c.company = documents.company AND c.name = 'recheck:' || documents.id);
DELETE FROM checkpoints WHERE name LIKE 'recheck:%';

CREATE INDEX documents_recheck ON documents (company) WHERE recheck IS NOT NULL;
CREATE INDEX documents_held_kind ON documents (state, hold_kind);

-- Every duplicate the worker skipped, one row per (company, source, identity): the same event
-- delivered N times is one row with count N (first seen at `at`, last at `last_at`).
CREATE TABLE duplicates (
    id           INTEGER PRIMARY KEY,
    at           TEXT NOT NULL,
    last_at      TEXT NOT NULL,
    company      TEXT NOT NULL,
    document_id  INTEGER,
    concur_id    TEXT NOT NULL DEFAULT '',
    source       TEXT NOT NULL,            -- webhook | sweep | reapproval | quickbooks
    identity     TEXT NOT NULL,            -- event id, or what makes a repeat the same duplicate
    why          TEXT NOT NULL,
    count        INTEGER NOT NULL DEFAULT 1,
    UNIQUE (company, source, identity)
);
CREATE INDEX duplicates_newest ON duplicates (last_at DESC, id DESC);
CREATE INDEX duplicates_by_company ON duplicates (company, last_at DESC, id DESC);

-- The duplicates recorded before this table existed, from their audit entries (one row each).
INSERT INTO duplicates (at, last_at, company, document_id, concur_id, source, identity, why, count)
SELECT a.at, a.at, a.company, a.document_id, COALESCE(d.concur_id, ''),
       CASE WHEN json_extract(a.detail, '$.event') IS NOT NULL THEN 'webhook'
            WHEN a.actor = 'worker' THEN 'quickbooks' ELSE 'reapproval' END,
       'audit:' || a.id, COALESCE(json_extract(a.detail, '$.why'), ''), 1
  FROM audit a LEFT JOIN documents d ON d.id = a.document_id WHERE a.action = 'duplicate_skipped';
