"""The recorded company file per company (``qb_company_file``): what the first contact saw, and the
last file refused, which an operator may accept. The decision itself is ``judge_company_file`` in
worker/qbwc/session.py; this module only reads and writes the rows."""

from __future__ import annotations

import sqlite3

from shared.clock import now_iso
from shared.types import Actor
from worker.qbwc.session import CompanyFile, FileVerdict
from worker.store import audit


def recorded(conn: sqlite3.Connection, company: str) -> CompanyFile | None:
    row = conn.execute("SELECT file_id, company_name, path FROM qb_company_file WHERE company = ?", (company,)).fetchone()
    return None if row is None else CompanyFile(row["file_id"], row["company_name"], row["path"])


def record(conn: sqlite3.Connection, company: str, seen: CompanyFile, verdict: FileVerdict) -> None:
    """The first contact (or a FileID the recorded file gained): this file is the company's."""
    conn.execute(
        """INSERT INTO qb_company_file (company, file_id, company_name, path, recorded_at) VALUES (?,?,?,?,?)
           ON CONFLICT (company) DO UPDATE SET file_id = excluded.file_id, company_name = excluded.company_name,
             path = excluded.path, recorded_at = excluded.recorded_at,
             refused_file_id = NULL, refused_name = NULL, refused_path = NULL, refused_verdict = NULL, refused_at = NULL""",
        (company, seen.file_id, seen.company_name, seen.path, now_iso()),
    )
    audit.append(
        conn,
        company,
        None,
        Actor.QBWC,
        "company_file_recorded",
        {"file_id": seen.file_id, "company_name": seen.company_name, "path": seen.path, "why": verdict.value},
    )


def note_refused(conn: sqlite3.Connection, company: str, seen: CompanyFile, verdict: FileVerdict) -> None:
    conn.execute(
        """UPDATE qb_company_file SET refused_file_id = ?, refused_name = ?, refused_path = ?, refused_verdict = ?, refused_at = ?
           WHERE company = ?""",
        (seen.file_id, seen.company_name, seen.path, verdict.value, now_iso(), company),
    )


def accept_refused(conn: sqlite3.Connection, company: str, actor: str) -> CompanyFile | None:
    """An operator says the last refused file is the right one now (a restored backup, a moved
    file). None: nothing was refused since the file was recorded."""
    row = conn.execute(
        "SELECT refused_file_id, refused_name, refused_path, refused_verdict FROM qb_company_file WHERE company = ? AND refused_at IS NOT NULL", (company,)
    ).fetchone()
    if row is None:
        return None
    accepted = CompanyFile(row["refused_file_id"], row["refused_name"], row["refused_path"])
    conn.execute(
        """UPDATE qb_company_file SET file_id = ?, company_name = ?, path = ?, recorded_at = ?,
             refused_file_id = NULL, refused_name = NULL, refused_path = NULL, refused_verdict = NULL, refused_at = NULL
           WHERE company = ?""",
        (accepted.file_id, accepted.company_name, accepted.path, now_iso(), company),
    )
    audit.append(
        conn,
        company,
        None,
        actor,
        "company_file_accepted",
        {"file_id": accepted.file_id, "company_name": accepted.company_name, "path": accepted.path, "was": row["refused_verdict"]},
    )
    return accepted
