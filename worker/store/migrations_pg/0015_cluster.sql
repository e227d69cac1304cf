-- PostgreSQL twin of migrations/0014_cluster.sql (the same statements: they are portable).
-- migrations_pg/ comes with the PostgreSQL backend (branch pg-store); only this file is added here.
-- Several workers on one store (issue 18): leases for the background jobs, one audit chain per
-- company, and a change counter that tells other workers "look again". Portable SQL (SQLite and
-- PostgreSQL): BIGINT milliseconds for times that are compared, no AUTOINCREMENT.

-- A lease: who runs a background job (name "JOB:COMPANY", or "JOB:*" for a cluster-wide job) until
-- when. A worker's own presence is a lease too ("worker:ID", held by itself), so workers can count
-- each other and share the jobs out. ``generation`` grows on every take (a fencing token: a holder
-- whose generation is not the row's any more has lost the lease); ``takeovers`` counts takes from
-- a holder whose lease had expired (it died or stalled), never a take after a release.
CREATE TABLE leases (
    name        TEXT PRIMARY KEY,
    holder      TEXT NOT NULL DEFAULT '',     -- worker id; '' = released
    expires_ms  BIGINT NOT NULL DEFAULT 0,    -- unix milliseconds, by the holder's clock
    generation  BIGINT NOT NULL DEFAULT 0,
    takeovers   BIGINT NOT NULL DEFAULT 0,
    taken_ms    BIGINT NOT NULL DEFAULT 0
);

-- The head of each company's audit chain. Appending locks this row first (an UPDATE), so two
-- transactions of one company are chained one after the other even on a server that runs them at
-- once; companies never wait for each other.
CREATE TABLE audit_heads (
    company  TEXT PRIMARY KEY,
    seq      BIGINT NOT NULL DEFAULT 0,
    hash     TEXT NOT NULL
);
INSERT INTO audit_heads (company, seq, hash)
    SELECT a.company, (SELECT COUNT(*) FROM audit c WHERE c.company = a.company), a.hash
    FROM audit a WHERE a.id = (SELECT MAX(b.id) FROM audit b WHERE b.company = a.company);

-- Entries from ``from_id`` on are chained per company; earlier ones form the one chain they were
-- written as (worker/store/audit.py verify reads both).
CREATE TABLE audit_chain_switch (
    from_id  BIGINT NOT NULL
);
INSERT INTO audit_chain_switch (from_id) SELECT COALESCE(MAX(id), 0) + 1 FROM audit;

-- "Something changed": one counter per topic (changed, inbox), bumped by the worker that made a
-- change and read by the others (worker/bus.py; PostgreSQL can use LISTEN/NOTIFY instead).
CREATE TABLE bus_changes (
    topic      TEXT PRIMARY KEY,
    seq        BIGINT NOT NULL DEFAULT 0,
    by_worker  TEXT NOT NULL DEFAULT ''
);
