"""The duplicates the worker skipped: the only writer of the ``duplicates`` table.

A duplicate is one row per (company, source, identity): Concur delivering the same event five
times is one row counted five times, not five rows, so a flood of re-deliveries cannot grow the
table. The audit trail keeps its entry for each occurrence (what happened); this table is what
operators list and count.
"""

from __future__ import annotations

import sqlite3

from shared.clock import now_iso
from shared.types import DuplicateSource


def record(
    conn: sqlite3.Connection, company: str, source: DuplicateSource, identity: str, why: str, document_id: int | None = None, concur_id: str = ""
) -> None:
    """Count one skipped duplicate; call inside the transaction that skipped it."""
    now = now_iso()
    conn.execute(
        """INSERT INTO duplicates (at, last_at, company, document_id, concur_id, source, identity, why, count)
           VALUES (?,?,?,?,?,?,?,?,1)
           ON CONFLICT (company, source, identity) DO UPDATE SET count = duplicates.count + 1, last_at = excluded.last_at,
             document_id = COALESCE(excluded.document_id, duplicates.document_id), why = excluded.why""",
        (now, now, company, document_id, concur_id, str(source), identity, why),
    )


def skipped(conn: sqlite3.Connection, company: str | None = None, *, deliveries: bool = False) -> int:
    """The duplicates skipped, for one company or all: the number of records (the contract's
    summary count, one per event or document version however often it came again), or with
    ``deliveries`` every occurrence (a record counted N times counts N: ``mlc demo``'s figure)."""
    where, params = ("WHERE company = ?", (company,)) if company is not None else ("", ())
    what = "COALESCE(SUM(count), 0)" if deliveries else "COUNT(*)"
    return int(conn.execute(f"SELECT {what} FROM duplicates {where}", params).fetchone()[0])


def link_document(conn: sqlite3.Connection, company: str, concur_id: str, document_id: int) -> None:
    """A re-delivery can arrive before its first copy became a document: name it once it exists."""
    conn.execute("UPDATE duplicates SET document_id = ? WHERE company = ? AND concur_id = ? AND document_id IS NULL", (document_id, company, concur_id))
