"""Document rows and their state changes; every change writes its audit entry in the same transaction."""

from __future__ import annotations

import sqlite3
from typing import Any

from shared.clock import now_iso
from shared.types import DocState
from worker.store import audit


class NotFound(Exception):
    pass


class InvalidTransition(Exception):
    def __init__(self, state: str, message: str) -> None:
        super().__init__(message)
        self.state = state


def get(conn: sqlite3.Connection, document_id: int) -> sqlite3.Row:
    row = conn.execute("SELECT * FROM documents WHERE id = ?", (document_id,)).fetchone()
    if row is None:
        raise NotFound(f"no document {document_id}")
    return row


def find(conn: sqlite3.Connection, reference: str) -> sqlite3.Row:
    """A document by numeric id, by Concur id, or by ``company:concur_id``."""
    if reference.isdigit():
        row = conn.execute("SELECT * FROM documents WHERE id = ?", (int(reference),)).fetchone()
        if row is not None:
            return row
    company, _, concur_id = reference.rpartition(":")
    if company:
        rows = conn.execute("SELECT * FROM documents WHERE company = ? AND concur_id = ?", (company, concur_id)).fetchall()
    else:
        rows = conn.execute("SELECT * FROM documents WHERE concur_id = ?", (reference,)).fetchall()
    if not rows:
        raise NotFound(f"no document {reference!r}")
    if len(rows) > 1:
        raise NotFound(f"{reference!r} matches {len(rows)} documents; use COMPANY:CONCUR_ID or the numeric id")
    return rows[0]


def set_state(
    conn: sqlite3.Connection,
    document_id: int,
    state: DocState,
    reason: str,
    actor: str,
    action: str,
    detail: dict[str, Any] | None = None,
    **columns: Any,
) -> None:
    row = get(conn, document_id)
    assignments = ", ".join(f"{name} = ?" for name in columns)
    conn.execute(
        f"UPDATE documents SET state = ?, reason = ?, updated_at = ?{', ' + assignments if assignments else ''} WHERE id = ?",
        (str(state), reason, now_iso(), *columns.values(), document_id),
    )
    audit.append(conn, row["company"], document_id, actor, action, {"from": row["state"], "to": str(state), "reason": reason, **(detail or {})})


def note(conn: sqlite3.Connection, document_id: int, actor: str, action: str, detail: dict[str, Any] | None = None) -> None:
    """An audit entry for a decision that does not change the state."""
    row = get(conn, document_id)
    audit.append(conn, row["company"], document_id, actor, action, detail)
