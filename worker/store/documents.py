"""Document rows and their state changes: the only writer of the ``documents`` table.

Every state change writes its audit entry in the same transaction. What the worker decides on
(what a document waits for, why it stopped, whether to look at it again) is kept in columns
(``wait``, ``hold_kind``, ``recheck``); ``reason`` is text for people and is never read back.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from shared.clock import now_iso
from shared.types import DocKind, DocState, HoldKind, PaymentState, Wait
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
    hold_kind: HoldKind = HoldKind.NONE,
    **columns: Any,
) -> None:
    """Move to ``state``; a document that moves is no longer waiting, and only a held or skipped
    one has a ``hold_kind``."""
    row = get(conn, document_id)
    columns = {"wait": str(Wait.NONE), "hold_kind": str(hold_kind), **columns}
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


def create(conn: sqlite3.Connection, company: str, kind: DocKind, concur_id: str, href: str | None, actor: str, why: str) -> int:
    """A document Concur told us about, in state ``received``."""
    now = now_iso()
    document_id = int(
        conn.execute(
            "INSERT INTO documents (company, kind, concur_id, state, href, created_at, updated_at) VALUES (?,?,?,?,?,?,?) RETURNING id",
            (company, str(kind), concur_id, str(DocState.RECEIVED), href, now, now),
        ).fetchone()[0]
    )
    audit.append(conn, company, document_id, actor, "received", {"why": why})
    return document_id


def set_fields(conn: sqlite3.Connection, document_id: int, **columns: Any) -> None:
    """Columns that change no state (link, flag, retry schedule); no audit entry of their own."""
    assignments = ", ".join(f"{name} = ?" for name in columns)
    conn.execute(f"UPDATE documents SET {assignments} WHERE id = ?", (*columns.values(), document_id))


# A fetched document (alias ``d``) waiting for a vendor write QuickBooks has not answered yet: the
# one it names (``wait_posting``, looked up by its key), or, for a row from before that column, any
# of its company's. Planning it again before that answer would only find it waiting again.
VENDOR_WRITE_PENDING = """d.wait = 'vendor' AND (
    (d.wait_posting IS NOT NULL AND EXISTS (SELECT 1 FROM postings p WHERE p.id = d.wait_posting AND p.state IN ('queued', 'sent', 'unknown')))
    OR (d.wait_posting IS NULL AND EXISTS (SELECT 1 FROM postings p WHERE p.company = d.company
        AND p.op IN ('VendorAdd', 'VendorMod') AND p.state IN ('queued', 'sent', 'unknown'))))"""


def set_wait(conn: sqlite3.Connection, document_id: int, wait: Wait, reason: str, posting: int | None = None) -> None:
    """A fetched document cannot be planned yet; ``reason`` tells people what it waits for and
    ``posting`` names the outbox row it waits on (another document's vendor write)."""
    conn.execute(
        "UPDATE documents SET wait = ?, reason = ?, wait_posting = ? WHERE id = ? AND (wait != ? OR reason != ? OR COALESCE(wait_posting, -1) != COALESCE(?, -1))",
        (str(wait), reason, posting, document_id, str(wait), reason, posting),
    )


def wait_for_lists(conn: sqlite3.Connection, company: str, reason: str) -> None:
    """Every fetched document of ``company`` waits for the QuickBooks lists."""
    conn.execute(
        "UPDATE documents SET wait = ?, reason = ? WHERE company = ? AND state = 'fetched' AND wait != ?", (str(Wait.LISTS), reason, company, str(Wait.LISTS))
    )


def mark_recheck(conn: sqlite3.Connection, document_id: int, why: str) -> None:
    """Concur reported the document again: fetch it once more, now, and decide then."""
    conn.execute("UPDATE documents SET recheck = ?, next_attempt_at = NULL, attempts = 0 WHERE id = ?", (why, document_id))


def take_recheck(conn: sqlite3.Connection, document_id: int) -> str | None:
    """The pending recheck's news (cleared), or None when none was asked for."""
    row = conn.execute("SELECT recheck FROM documents WHERE id = ?", (document_id,)).fetchone()
    if row is None or row[0] is None:
        return None
    conn.execute("UPDATE documents SET recheck = NULL WHERE id = ?", (document_id,))
    return str(row[0])


def retry_fetches_now(conn: sqlite3.Connection, company: str) -> None:
    """Fetches waiting out a backoff (e.g. for a reconnect) try again at once."""
    conn.execute("UPDATE documents SET next_attempt_at = NULL WHERE company = ? AND next_attempt_at IS NOT NULL", (company,))


def note_concur_modified(conn: sqlite3.Connection, company: str, kind: DocKind, concur_id: str, modified_at: str) -> None:
    """Remember the newest modification time Concur listed for the document."""
    conn.execute(
        "UPDATE documents SET concur_modified_at = ? WHERE company = ? AND kind = ? AND concur_id = ? AND concur_modified_at < ?",
        (modified_at, company, str(kind), concur_id, modified_at),
    )


def set_payment(conn: sqlite3.Connection, document_id: int, payment: PaymentState, why: str, actor: str = "worker", **columns: Any) -> None:
    """Where the document's payment stands (``payment``), with its audit entry; the document's own
    state (posted) does not change."""
    row = get(conn, document_id)
    columns = {"payment": str(payment), **columns}
    if payment is PaymentState.HELD:
        columns.setdefault("reason", f"payment held: {why}")  # people read why in the Reason column
    elif row["payment"] == PaymentState.HELD:
        columns.setdefault("reason", "")
    assignments = ", ".join(f"{name} = ?" for name in columns)
    conn.execute(f"UPDATE documents SET {assignments}, updated_at = ? WHERE id = ?", (*columns.values(), now_iso(), document_id))
    audit.append(conn, row["company"], document_id, actor, f"payment_{payment or 'none'}", {"from": row["payment"], "to": str(payment), "why": why, **columns})
