-- Alerts (worker/alerts/store.py owns these tables). A condition is open from the alert that
-- announced it until the alert that announced it cleared; deliveries are the messages to send,
-- one row per channel, retried with backoff up to a bound.
CREATE TABLE alert_conditions (
    kind        TEXT NOT NULL,              -- worker/alerts/core.py Kind
    company     TEXT NOT NULL,              -- '*' for the whole installation (the audit chain)
    opened_at   TEXT NOT NULL,
    summary     TEXT NOT NULL,              -- what the opening alert said (shown again when it clears)
    PRIMARY KEY (kind, company)
);

-- How far "newly held or failed" documents were announced, per company.
CREATE TABLE alert_watermarks (
    company     TEXT PRIMARY KEY,
    held_until  TEXT NOT NULL               -- documents.updated_at of the newest one announced
);

CREATE TABLE alert_deliveries (
    id               INTEGER PRIMARY KEY,
    channel          TEXT NOT NULL,         -- webhook | email
    kind             TEXT NOT NULL,
    company          TEXT NOT NULL,
    subject          TEXT NOT NULL,
    text             TEXT NOT NULL,
    created_at       TEXT NOT NULL,
    state            TEXT NOT NULL DEFAULT 'pending',   -- pending | sent | abandoned
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  TEXT NOT NULL,
    last_error       TEXT NOT NULL DEFAULT '',
    sent_at          TEXT
);
CREATE INDEX alert_deliveries_due ON alert_deliveries (state, next_attempt_at);

-- When QuickBooks last answered a session of the company (the "silent" alert reads it).
ALTER TABLE qb_company ADD COLUMN last_reached_at TEXT;
