"""FIS document versions and the posting-confirmation outbox: the only writer of ``fis_documents``
and ``fis_confirmations``.

A confirmation is a row, written in the same transaction as the decision that calls for it (a
document found posted, an operator sending one back), so it survives restarts and goes out
exactly once per FIS document version (UNIQUE (company, fis_id)). Sending retries with bounded
backoff and ends: after ``MAX_ATTEMPTS`` the row is ``failed`` and shown to people.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import sqlite3
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from shared.clock import iso, now_iso, utc_now
from shared.types import Actor
from worker.store import audit

CONFIRM_BACKOFF_S = (5, 30, 120, 600, 1800, 3600)
MAX_ATTEMPTS = 40  # with the backoff above: about a day and a half of trying
REJECT_MESSAGE_ID = "MLC-SENT-BACK"
SHORT_TEXT_MAX = 255  # assumption: FIS does not state a length; kept short for the processor's screen


class FisState(StrEnum):
    RECEIVED = "received"  # stored, not acknowledged yet (acknowledged on the next try)
    ACKNOWLEDGED = "acknowledged"  # out of Concur's ready queue: ours to post and confirm
    RECALLED = "recalled"  # Concur recalled it before our acknowledgement: never posted
    UNREADABLE = "unreadable"  # could not be normalised: left in the ready queue, problem says why


class ConfirmState(StrEnum):
    PENDING = "pending"
    DONE = "done"  # Concur accepted it (code 0) or already had it (113)
    RECALLED = "recalled"  # Concur recalled the document (102/112): nothing left to confirm
    FAILED = "failed"  # refused for good, or retries ran out: a person must look


@dataclass(frozen=True)
class PostingDoc:
    """One QuickBooks transaction of a posted document, as FIS ``postingDocs[]`` carries it."""

    number: str  # RefNumber, else TxnID
    txn_id: str
    posting_date: str  # YYYY-MM-DD (the transaction's TxnDate)


# --- bodies (pure) ---------------------------------------------------------------------------------


def success_item(fis_id: str, company: str, docs: list[PostingDoc]) -> dict[str, Any]:
    return {
        "docId": fis_id,
        "overallPostingStatusCode": "success",
        "postingDocs": [
            {"companyId": company, "documentNumber": d.number, "fiscalYear": d.posting_date[:4], "paymentRelevantLineItems": [], "postingDate": d.posting_date}
            for d in docs
        ],
        "systemMessages": [
            {
                "messageId": "SUCCESS",
                "messageLanguage": "EN",
                "messageShortText": f"Posted to QuickBooks as {', '.join(d.number for d in docs)}"[:SHORT_TEXT_MAX],
            }
        ],
    }


def error_item(fis_id: str, reason: str) -> dict[str, Any]:
    """``error``: nothing of the document is in QuickBooks; the operator's words go to the processor."""
    return {
        "docId": fis_id,
        "overallPostingStatusCode": "error",
        "postingDocs": [],
        "systemMessages": [
            {
                "messageId": REJECT_MESSAGE_ID,
                "messageLanguage": "EN",
                "messageShortText": reason[:SHORT_TEXT_MAX],
                "messageLongText": [reason] if len(reason) > SHORT_TEXT_MAX else [],
            }
        ],
    }


_TXN_DATE = re.compile(r"<TxnDate>(\d{4}-\d{2}-\d{2})</TxnDate>")


def posting_docs(conn: sqlite3.Connection, document_id: int) -> list[PostingDoc]:
    """The document's transactions QuickBooks confirmed (vendor list writes and queries are not)."""
    rows = conn.execute(
        "SELECT op, ref_number, txn_id, request_xml, answered_at FROM postings WHERE document_id = ? AND state = 'done' ORDER BY seq, id",
        (document_id,),
    ).fetchall()
    docs = []
    for row in rows:
        if not str(row["op"]).endswith("Add") or str(row["op"]).startswith("Vendor"):
            continue
        date = _TXN_DATE.search(row["request_xml"] or "")
        posted = date.group(1) if date else str(row["answered_at"] or now_iso())[:10]
        docs.append(PostingDoc(number=row["ref_number"] or row["txn_id"] or "", txn_id=row["txn_id"] or "", posting_date=posted))
    return docs


# --- FIS document versions ---------------------------------------------------------------------------


def get(conn: sqlite3.Connection, company: str, fis_id: str) -> sqlite3.Row | None:
    return conn.execute("SELECT * FROM fis_documents WHERE company = ? AND fis_id = ?", (company, fis_id)).fetchone()


def record_received(conn: sqlite3.Connection, company: str, fis_id: str, doc_type: str, concur_id: str, content: str, problem: str = "") -> sqlite3.Row:
    """A READY document as listed. Versions already acknowledged or recalled are left as they are."""
    now = now_iso()
    state = FisState.UNREADABLE if problem else FisState.RECEIVED
    conn.execute(
        """INSERT INTO fis_documents (company, fis_id, doc_type, concur_id, state, problem, content, received_at, updated_at)
           VALUES (?,?,?,?,?,?,?,?,?)
           ON CONFLICT (company, fis_id) DO UPDATE SET state = excluded.state, problem = excluded.problem, content = excluded.content,
             concur_id = excluded.concur_id, updated_at = excluded.updated_at
           WHERE fis_documents.state IN ('received', 'unreadable')""",
        (company, fis_id, doc_type, concur_id, str(state), problem[:500], content, now, now),
    )
    row = get(conn, company, fis_id)
    assert row is not None
    return row


def mark_acknowledged(conn: sqlite3.Connection, row_id: int, document_id: int, code: int) -> None:
    conn.execute(
        "UPDATE fis_documents SET state = ?, document_id = ?, code = ?, problem = '', acknowledged_at = COALESCE(acknowledged_at, ?), updated_at = ? WHERE id = ?",
        (str(FisState.ACKNOWLEDGED), document_id, code, now_iso(), now_iso(), row_id),
    )


def mark_recalled(conn: sqlite3.Connection, row_id: int, code: int, message: str) -> None:
    conn.execute(
        "UPDATE fis_documents SET state = ?, code = ?, problem = ?, updated_at = ? WHERE id = ?",
        (str(FisState.RECALLED), code, (message or "recalled in Concur before it was acknowledged")[:500], now_iso(), row_id),
    )
    row = conn.execute("SELECT company, fis_id, concur_id FROM fis_documents WHERE id = ?", (row_id,)).fetchone()
    audit.append(conn, row["company"], None, Actor.CONCUR, "fis_recalled", {"fis_id": row["fis_id"], "concur_id": row["concur_id"], "code": code})


def set_problem(conn: sqlite3.Connection, row_id: int, code: int | None, problem: str) -> None:
    conn.execute("UPDATE fis_documents SET code = ?, problem = ?, updated_at = ? WHERE id = ?", (code, problem[:500], now_iso(), row_id))


def open_version(conn: sqlite3.Connection, document_id: int) -> sqlite3.Row | None:
    """The acknowledged FIS version of the document that Concur has not been told about yet."""
    return conn.execute(
        """SELECT f.* FROM fis_documents f WHERE f.document_id = ? AND f.state = 'acknowledged'
             AND NOT EXISTS (SELECT 1 FROM fis_confirmations c WHERE c.fis_document = f.id)
           ORDER BY f.id DESC LIMIT 1""",
        (document_id,),
    ).fetchone()


def awaiting_success(conn: sqlite3.Connection, limit: int = 200) -> list[sqlite3.Row]:
    """Acknowledged versions whose document is now posted (every transaction in QuickBooks)."""
    return conn.execute(
        """SELECT f.* FROM fis_documents f JOIN documents d ON d.id = f.document_id
           WHERE f.state = 'acknowledged' AND d.state = 'posted'
             AND NOT EXISTS (SELECT 1 FROM fis_confirmations c WHERE c.fis_document = f.id)
           ORDER BY f.id LIMIT ?""",
        (limit,),
    ).fetchall()


# --- the confirmation outbox ---------------------------------------------------------------------------


def enqueue(conn: sqlite3.Connection, version: sqlite3.Row, status: str, item: dict[str, Any], actor: str = Actor.WORKER) -> bool:
    """Queue the confirmation of one FIS version; False when one exists already (exactly once)."""
    cur = conn.execute(
        """INSERT INTO fis_confirmations (company, fis_document, document_id, fis_id, doc_type, status, body, state, created_at)
           VALUES (?,?,?,?,?,?,?,?,?) ON CONFLICT DO NOTHING""",
        (
            version["company"],
            version["id"],
            version["document_id"],
            version["fis_id"],
            version["doc_type"],
            status,
            json.dumps(item),
            str(ConfirmState.PENDING),
            now_iso(),
        ),
    )
    if cur.rowcount:
        audit.append(
            conn,
            version["company"],
            version["document_id"],
            actor,
            "fis_confirmation_queued",
            {"fis_id": version["fis_id"], "status": status, "messages": [m.get("messageShortText") for m in item.get("systemMessages", [])]},
        )
    return bool(cur.rowcount)


def due(conn: sqlite3.Connection, limit: int = 100) -> list[sqlite3.Row]:
    return conn.execute(
        "SELECT * FROM fis_confirmations WHERE state = 'pending' AND (next_attempt_at IS NULL OR next_attempt_at <= ?) ORDER BY id LIMIT ?",
        (now_iso(), limit),
    ).fetchall()


def settle(conn: sqlite3.Connection, confirmation_id: int, state: ConfirmState, code: int | None, message: str = "") -> None:
    row = conn.execute("SELECT * FROM fis_confirmations WHERE id = ?", (confirmation_id,)).fetchone()
    conn.execute(
        "UPDATE fis_confirmations SET state = ?, code = ?, last_error = ?, attempts = attempts + 1, next_attempt_at = NULL, confirmed_at = ? WHERE id = ?",
        (str(state), code, message[:500], now_iso() if state is ConfirmState.DONE else None, confirmation_id),
    )
    audit.append(
        conn,
        row["company"],
        row["document_id"],
        Actor.CONCUR,
        f"fis_confirmation_{state}",
        {"fis_id": row["fis_id"], "status": row["status"], "code": code, "message": message[:200]},
    )


def retry_later(conn: sqlite3.Connection, confirmation_id: int, code: int | None, error: str) -> None:
    """Not accepted this time (Concur unreachable, code 199, not acknowledged yet): back off; give up
    after MAX_ATTEMPTS."""
    row = conn.execute("SELECT attempts FROM fis_confirmations WHERE id = ?", (confirmation_id,)).fetchone()
    attempts = int(row["attempts"]) + 1
    if attempts >= MAX_ATTEMPTS:
        settle(conn, confirmation_id, ConfirmState.FAILED, code, f"gave up after {attempts} attempts: {error}")
        return
    delay = CONFIRM_BACKOFF_S[min(attempts - 1, len(CONFIRM_BACKOFF_S) - 1)]
    conn.execute(
        "UPDATE fis_confirmations SET attempts = ?, code = ?, last_error = ?, next_attempt_at = ? WHERE id = ?",
        (attempts, code, error[:500], iso(utc_now() + dt.timedelta(seconds=delay)), confirmation_id),
    )


def send_now(conn: sqlite3.Connection, company: str) -> None:
    """Pending confirmations of ``company`` try again at once (Concur is reachable again)."""
    conn.execute("UPDATE fis_confirmations SET next_attempt_at = NULL WHERE company = ? AND state = 'pending'", (company,))


# --- reading for people ------------------------------------------------------------------------------


def for_document(conn: sqlite3.Connection, document_id: int) -> list[dict[str, Any]]:
    """Each FIS version of the document and what Concur was told about it, oldest first."""
    rows = conn.execute(
        """SELECT f.fis_id, f.doc_type, f.state AS fis_state, f.code AS fis_code, f.problem, f.received_at, f.acknowledged_at,
                  c.status, c.state AS confirmation_state, c.code AS confirmation_code, c.attempts, c.last_error,
                  c.created_at AS queued_at, c.confirmed_at, c.body
             FROM fis_documents f LEFT JOIN fis_confirmations c ON c.fis_document = f.id
            WHERE f.document_id = ? ORDER BY f.id""",
        (document_id,),
    ).fetchall()
    result = []
    for row in rows:
        body = json.loads(row["body"]) if row["body"] else {}
        result.append(
            {
                "fis_id": row["fis_id"],
                "doc_type": row["doc_type"],
                "state": row["fis_state"],
                "received_at": row["received_at"],
                "acknowledged_at": row["acknowledged_at"],
                "confirmation": None
                if row["status"] is None
                else {
                    "status": row["status"],
                    "state": row["confirmation_state"],
                    "code": row["confirmation_code"],
                    "attempts": row["attempts"],
                    "last_error": row["last_error"],
                    "queued_at": row["queued_at"],
                    "confirmed_at": row["confirmed_at"],
                    "document_numbers": [d.get("documentNumber") for d in body.get("postingDocs", [])],
                    "messages": [m.get("messageShortText") for m in body.get("systemMessages", [])],
                },
            }
        )
    return result
