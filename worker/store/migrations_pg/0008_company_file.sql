-- PostgreSQL twin of worker/store/migrations/0008_company_file.sql: the same tables, columns and meaning
-- (ids BIGINT identity; times stay the text the code writes).
-- The company file each company's Web Connector talks to, recorded on the first contact
-- (worker/store/company_files.py owns it). Later sessions are compared with it: another FileID,
-- none where one was recorded, or a copy (same FileID, other path or company name) is refused.
CREATE TABLE qb_company_file (
    company          TEXT PRIMARY KEY,
    file_id          TEXT,              -- FileID under our OwnerID at first contact; NULL: the file had none
    company_name     TEXT NOT NULL,
    path             TEXT NOT NULL,     -- strCompanyFileName
    recorded_at      TEXT NOT NULL,
    -- the last file refused, which `mlc accept-company-file` makes the recorded one
    refused_file_id  TEXT,
    refused_name     TEXT,
    refused_path     TEXT,
    refused_verdict  TEXT,              -- FileVerdict of worker/qbwc/session.py
    refused_at       TEXT
);
