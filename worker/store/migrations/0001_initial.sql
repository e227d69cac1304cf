-- ml-connector store, version 1. One row per fact; every document state change is written in
-- the same transaction as its audit entry. Times are UTC ISO-8601 strings ("...Z").

-- Concur events as received (webhook or sweep), deduplicated on the event id.
CREATE TABLE events (
    id            INTEGER PRIMARY KEY,
    company       TEXT NOT NULL,
    event_id      TEXT NOT NULL,
    source        TEXT NOT NULL,            -- webhook | sweep
    topic         TEXT NOT NULL,
    event_type    TEXT NOT NULL,
    object_kind   TEXT,                     -- expense_report | invoice | NULL (ignored topic)
    object_id     TEXT,                     -- Concur report id / payment request id
    href          TEXT,
    received_at   TEXT NOT NULL,
    processed_at  TEXT,
    body          TEXT NOT NULL,
    UNIQUE (company, event_id)
);
CREATE INDEX events_unprocessed ON events (processed_at) WHERE processed_at IS NULL;

-- Webhooks refused before storage (bad signature, malformed), counted for operators.
CREATE TABLE webhook_rejections (
    id           INTEGER PRIMARY KEY,
    company      TEXT,
    received_at  TEXT NOT NULL,
    source       TEXT NOT NULL,             -- client address
    reason       TEXT NOT NULL
);

-- One row per (company, kind, Concur document): the unit operators see and act on.
CREATE TABLE documents (
    id                 INTEGER PRIMARY KEY,
    company            TEXT NOT NULL,
    kind               TEXT NOT NULL,       -- expense_report | invoice
    concur_id          TEXT NOT NULL,
    state              TEXT NOT NULL,
    reason             TEXT NOT NULL DEFAULT '',
    amount             TEXT,                -- decimal string, document total
    currency           TEXT,
    employee           TEXT NOT NULL DEFAULT '',   -- owner name (reports)
    vendor             TEXT NOT NULL DEFAULT '',   -- QuickBooks vendor name once chosen
    approval_status    TEXT NOT NULL DEFAULT '',
    concur_modified_at TEXT NOT NULL DEFAULT '',
    href               TEXT,
    content            TEXT,                -- shared.domain.to_json of the fetched document
    content_hash       TEXT,
    posted_hash        TEXT,                -- content_hash at posting time
    plan               TEXT,                -- planned transactions (JSON) for display and replay
    quickbooks_txn_id  TEXT,
    flag               TEXT NOT NULL DEFAULT '',   -- e.g. changed_after_posting, deleted_in_concur
    attempts           INTEGER NOT NULL DEFAULT 0,
    next_attempt_at    TEXT,
    created_at         TEXT NOT NULL,
    updated_at         TEXT NOT NULL,
    UNIQUE (company, kind, concur_id)
);
CREATE INDEX documents_by_time ON documents (updated_at DESC, id DESC);
CREATE INDEX documents_by_company_state ON documents (company, state, updated_at DESC, id DESC);
CREATE INDEX documents_by_state ON documents (state, updated_at DESC, id DESC);

-- The outbox: one row per qbXML request destined for QuickBooks. requestID = id.
CREATE TABLE postings (
    id              INTEGER PRIMARY KEY,
    company         TEXT NOT NULL,
    document_id     INTEGER REFERENCES documents (id),
    seq             INTEGER NOT NULL DEFAULT 0,   -- order within the document (vendor before bill)
    op              TEXT NOT NULL,        -- VendorAdd | VendorMod | BillAdd | JournalEntryAdd | query kinds
    ref_number      TEXT,
    external_guid   TEXT,
    request_xml     TEXT NOT NULL,        -- the request element, without the envelope
    state           TEXT NOT NULL,        -- queued | sent | done | unknown | failed | quarantined | cancelled
    attempts        INTEGER NOT NULL DEFAULT 0,
    not_before      TEXT,                 -- backoff for transient QuickBooks errors
    ticket          TEXT,                 -- QBWC session that carried it
    sent_at         TEXT,
    answered_at     TEXT,
    status_code     INTEGER,
    status_message  TEXT,
    response_xml    TEXT,
    txn_id          TEXT,                 -- TxnID or ListID returned
    created_at      TEXT NOT NULL
);
CREATE INDEX postings_pending ON postings (company, state, id);
CREATE INDEX postings_by_document ON postings (document_id, seq);

-- Append-only, hash-chained audit trail.
CREATE TABLE audit (
    id           INTEGER PRIMARY KEY,
    company      TEXT NOT NULL,
    document_id  INTEGER,
    at           TEXT NOT NULL,
    actor        TEXT NOT NULL,
    action       TEXT NOT NULL,
    detail       TEXT NOT NULL,        -- JSON
    prev_hash    TEXT NOT NULL,
    hash         TEXT NOT NULL
);
CREATE INDEX audit_by_document ON audit (document_id, id);
CREATE INDEX audit_by_company ON audit (company, id);
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'audit trail is append-only'); END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'audit trail is append-only'); END;

-- QuickBooks lists as last seen through the Web Connector.
CREATE TABLE qb_lists (
    company        TEXT NOT NULL,
    list_type      TEXT NOT NULL,      -- Account | Class | Customer | Vendor | Entity
    list_id        TEXT NOT NULL,
    full_name      TEXT NOT NULL,
    name_key       TEXT NOT NULL,      -- normalised full name for matching
    is_active      INTEGER NOT NULL,
    edit_sequence  TEXT,
    data           TEXT,               -- JSON of extra fields (AccountType, AccountNumber, ...)
    PRIMARY KEY (company, list_type, list_id)
);
CREATE INDEX qb_lists_by_name ON qb_lists (company, list_type, name_key);

CREATE TABLE qb_list_sync (
    company        TEXT NOT NULL,
    list_type      TEXT NOT NULL,
    synced_at      TEXT,               -- last complete pass
    from_modified  TEXT,               -- FromModifiedDate checkpoint for the next incremental pass
    PRIMARY KEY (company, list_type)
);

-- Concur employee / vendor -> QuickBooks vendor ListID, once matched or created.
CREATE TABLE vendor_links (
    company     TEXT NOT NULL,
    concur_key  TEXT NOT NULL,          -- employee:<uuid> | vendor:<code or name>
    list_id     TEXT NOT NULL,
    name        TEXT NOT NULL,
    linked_at   TEXT NOT NULL,
    PRIMARY KEY (company, concur_key)
);

-- What we know of each company's QuickBooks file and its reachability.
CREATE TABLE qb_company (
    company             TEXT PRIMARY KEY,
    file_id             TEXT,           -- FileID found (or recorded) under our OwnerID
    product             TEXT,
    qbxml_version       TEXT,
    home_currency       TEXT,
    multicurrency       INTEGER,
    class_tracking      INTEGER,
    closing_date        TEXT,
    last_contact_at     TEXT,
    last_result         TEXT,
    last_error          TEXT,
    reachable_since     TEXT,
    unreachable_since   TEXT
);

-- Web Connector password hashes set by `mlc set-password` (config may also give one).
CREATE TABLE qbwc_credentials (
    company        TEXT PRIMARY KEY,
    password_hash  TEXT NOT NULL,
    set_at         TEXT NOT NULL
);

-- One QBWC session (ticket); persisted so a restart can tell outstanding writes apart.
CREATE TABLE qbwc_sessions (
    ticket        TEXT PRIMARY KEY,
    company       TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    last_seen_at  TEXT NOT NULL,
    closed_at     TEXT,
    state         TEXT NOT NULL,        -- JSON of the pure session state
    last_error    TEXT NOT NULL DEFAULT ''
);
CREATE INDEX qbwc_sessions_open ON qbwc_sessions (company) WHERE closed_at IS NULL;

-- Concur OAuth tokens per company. The refresh token is replaced in one transaction.
CREATE TABLE concur_tokens (
    company              TEXT PRIMARY KEY,
    access_token         TEXT,
    access_expires_at    TEXT,
    refresh_token        TEXT,
    refresh_expires_at   TEXT,
    geolocation          TEXT NOT NULL,
    needs_reconnect      INTEGER NOT NULL DEFAULT 0,
    reason               TEXT NOT NULL DEFAULT '',
    refreshed_at         TEXT,
    updated_at           TEXT NOT NULL
);

-- Sweep checkpoints and other small per-company values.
CREATE TABLE checkpoints (
    company  TEXT NOT NULL,
    name     TEXT NOT NULL,
    value    TEXT NOT NULL,
    PRIMARY KEY (company, name)
);

-- Concur list items behind customData ids (cached).
CREATE TABLE concur_list_items (
    company     TEXT NOT NULL,
    item_id     TEXT NOT NULL,
    code        TEXT NOT NULL,
    value       TEXT NOT NULL,
    fetched_at  TEXT NOT NULL,
    PRIMARY KEY (company, item_id)
);
