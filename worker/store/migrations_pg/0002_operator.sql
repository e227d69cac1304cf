-- PostgreSQL twin of worker/store/migrations/0002_operator.sql: the same tables, columns and meaning
-- (ids BIGINT identity; times stay the text the code writes).
-- ml-connector store, version 2: indexes for the operator API.

-- Lists filtered by company alone, newest first (the console's per-company queue).
CREATE INDEX documents_by_company_time ON documents (company, updated_at DESC, id DESC);

-- Oldest pending document per company and state (summary) without scanning the pending rows.
CREATE INDEX documents_by_company_state_created ON documents (company, state, created_at);

-- Skipped documents by reason (duplicates view and count: reason >= 'duplicate' AND < 'duplicatf').
CREATE INDEX documents_by_company_state_reason ON documents (company, state, reason);

-- Look-ups by Concur id (API filter, search by prefix, `mlc hold <concur id>`).
CREATE INDEX documents_by_concur_id ON documents (concur_id);

-- Summary counts by audit action (posted per minute, duplicate_skipped) without a full scan.
CREATE INDEX audit_by_action ON audit (action, company, at);

-- Webhook counts per company.
CREATE INDEX events_by_company_source ON events (company, source);
CREATE INDEX webhook_rejections_by_company ON webhook_rejections (company);
