"""Operator actions on one document: hold, release, replay, skip, and (FIS only) reject.

The same rules serve the operator API and the ``mlc hold|release|replay|skip`` commands. Each
action is one store transaction: the state change, the cancelled outbox rows and the audit entry
(with the operator token's name as actor) land together or not at all.
"""

from __future__ import annotations

import sqlite3

from shared.types import DocState, HoldKind, PaymentState
from worker.outbox import accept_hand_keyed, cancel_queued, check_again
from worker.store import documents, fis
from worker.store.documents import InvalidTransition

ACTIONS = ("hold", "release", "replay", "skip", "reject")

# States from which each action may start. `sent` and `unknown` are QuickBooks' to settle first:
# acting on them could post a document twice.
_ALLOWED: dict[str, frozenset[DocState]] = {
    "hold": frozenset({DocState.RECEIVED, DocState.FETCHED, DocState.QUEUED, DocState.FAILED}),
    "release": frozenset({DocState.HELD}),
    "replay": frozenset({DocState.HELD, DocState.FAILED, DocState.SKIPPED}),
    "skip": frozenset({DocState.RECEIVED, DocState.FETCHED, DocState.QUEUED, DocState.HELD, DocState.FAILED}),
    "reject": frozenset({DocState.FETCHED, DocState.QUEUED, DocState.HELD, DocState.FAILED}),
}
# Postings that mean (some of) the document is, or may be, in QuickBooks.
_IN_QUICKBOOKS = ("done", "sent", "unknown")


def apply_action(conn: sqlite3.Connection, document_id: int, action: str, reason: str, actor: str, force: bool = False) -> sqlite3.Row:
    """Apply ``action``; raise InvalidTransition (naming the state) or NotFound. Returns the new row."""
    if action not in ACTIONS:
        raise ValueError(action)
    row = documents.get(conn, document_id)
    state = DocState(row["state"])
    reason = reason.strip()
    if action == "replay" and state is DocState.POSTED:
        if not force:
            raise InvalidTransition(state, "document is posted; replay it only with force, and only if QuickBooks does not have it")
        cancel_queued(conn, document_id)
        # Settlement asks QuickBooks first: found -> back to posted, absent -> re-planned and sent.
        documents.set_state(
            conn,
            document_id,
            DocState.UNKNOWN,
            f"replay requested: checking QuickBooks first ({reason})" if reason else "replay requested: checking QuickBooks first",
            actor,
            "replay",
            {"force": True},
        )
        check_again(conn, document_id)
        return documents.get(conn, document_id)
    if action == "release" and state is DocState.POSTED and row["payment"] == PaymentState.HELD:
        # A held payment (QuickBooks refused it, or showed the item paid): ask QuickBooks again.
        # The refused row is retired so the new payment row is not blocked behind it.
        cancel_queued(conn, document_id, superseded_failures=True)
        documents.set_payment(conn, document_id, PaymentState.PAID_IN_CONCUR, reason or "payment released by operator", actor)
        return documents.get(conn, document_id)
    if state not in _ALLOWED[action]:
        raise InvalidTransition(state, f"cannot {action} a document that is {state}")
    if action == "reject":
        return _reject(conn, row, reason, actor)
    if action in ("hold", "skip"):
        cancel_queued(conn, document_id)
        new_state = DocState.HELD if action == "hold" else DocState.SKIPPED
        text = reason or ("held by operator" if action == "hold" else "operator")
        documents.set_state(conn, document_id, new_state, text, actor, action, {"operator_reason": reason}, hold_kind=HoldKind.OPERATOR)
    else:  # release / replay: plan again from the fetched content
        if action == "replay" and force and row["hold_kind"] == HoldKind.HAND_KEYED:
            # The operator says the bill QuickBooks has is not this invoice: post it anyway.
            accept_hand_keyed(conn, document_id)
        target = DocState.FETCHED if row["content"] else DocState.RECEIVED
        documents.set_state(conn, document_id, target, "", actor, action, {"operator_reason": reason}, attempts=0, next_attempt_at=None)
    return documents.get(conn, document_id)


def _reject(conn: sqlite3.Connection, row: sqlite3.Row, reason: str, actor: str) -> sqlite3.Row:
    """FIS: send the document back to Concur's processor with an ``error`` confirmation carrying
    the operator's words. In FIS an error means nothing of the document is in the accounting
    system, so it is refused while any of it is (or may be) in QuickBooks; ml-connector does not
    reverse a partial posting itself (delete those transactions in QuickBooks and replay first)."""
    document_id = row["id"]
    if not reason:
        raise InvalidTransition(row["state"], "reject needs --reason: the words Concur's processor will read")
    version = fis.open_version(conn, document_id)
    if version is None:
        raise InvalidTransition(row["state"], "reject is for documents from Concur's Financial Integration Service that Concur has not been told about yet")
    placeholders = ", ".join("?" for _ in _IN_QUICKBOOKS)
    written = conn.execute(
        f"SELECT COUNT(*) FROM postings WHERE document_id = ? AND state IN ({placeholders}) AND op NOT LIKE 'Vendor%'", (document_id, *_IN_QUICKBOOKS)
    ).fetchone()[0]
    if written:
        raise InvalidTransition(
            row["state"],
            f"{written} transaction(s) of this document are or may be in QuickBooks; an error confirmation "
            "says nothing is. ml-connector does not reverse partial postings: remove them in QuickBooks first",
        )
    cancel_queued(conn, document_id)
    documents.set_state(
        conn,
        document_id,
        DocState.SKIPPED,
        f"sent back to Concur: {reason}",
        actor,
        "reject",
        {"operator_reason": reason, "fis_id": version["fis_id"]},
        hold_kind=HoldKind.SENT_BACK,
    )
    fis.enqueue(conn, version, "error", fis.error_item(version["fis_id"], reason), actor)
    return documents.get(conn, document_id)
