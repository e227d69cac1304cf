-- Concur's Financial Integration Service (worker/store/fis.py owns these tables; README "FIS").

-- Every FIS document version seen: one row per FIS document id. A document Concur sends back and
-- queues again comes as a new FIS id (a new version) of the same report or payment request.
CREATE TABLE fis_documents (
    id               INTEGER PRIMARY KEY,
    company          TEXT NOT NULL,
    fis_id           TEXT NOT NULL,            -- FIS document id: what acknowledgements and confirmations name
    doc_type         TEXT NOT NULL,            -- expense | invoice
    concur_id        TEXT NOT NULL,            -- report id / payment request id (documents.concur_id)
    document_id      INTEGER,                  -- documents.id once acknowledged
    state            TEXT NOT NULL,            -- received | acknowledged | recalled | unreadable
    code             INTEGER,                  -- last FIS service code answered for it
    problem          TEXT NOT NULL DEFAULT '', -- for people: why it is not acknowledged yet
    content          TEXT NOT NULL,            -- the FIS item as received (JSON)
    received_at      TEXT NOT NULL,
    acknowledged_at  TEXT,
    updated_at       TEXT NOT NULL,
    UNIQUE (company, fis_id)
);
CREATE INDEX fis_documents_by_document ON fis_documents (document_id);
CREATE INDEX fis_documents_waiting ON fis_documents (state) WHERE state = 'acknowledged';

-- Posting confirmations to tell Concur: an outbox of its own. One row per FIS document version
-- (exactly once), sent with bounded backoff until Concur answers for it.
CREATE TABLE fis_confirmations (
    id               INTEGER PRIMARY KEY,
    company          TEXT NOT NULL,
    fis_document     INTEGER NOT NULL REFERENCES fis_documents (id),
    document_id      INTEGER,
    fis_id           TEXT NOT NULL,
    doc_type         TEXT NOT NULL,
    status           TEXT NOT NULL,            -- success | error (overallPostingStatusCode)
    body             TEXT NOT NULL,            -- the postingConfirmations item (JSON)
    state            TEXT NOT NULL,            -- pending | done | recalled | failed
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  TEXT,
    code             INTEGER,                  -- FIS service code of the last answer
    last_error       TEXT NOT NULL DEFAULT '',
    created_at       TEXT NOT NULL,
    confirmed_at     TEXT,
    UNIQUE (company, fis_id)
);
CREATE INDEX fis_confirmations_pending ON fis_confirmations (state, next_attempt_at) WHERE state = 'pending';
CREATE INDEX fis_confirmations_by_document ON fis_confirmations (document_id);
