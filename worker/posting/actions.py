"""Operator actions on one document: hold, release, replay, skip.

The same rules serve the operator API and the ``mlc hold|release|replay|skip`` commands. Each
action is one store transaction: the state change, the cancelled outbox rows and the audit entry
(with the operator token's name as actor) land together or not at all.
"""

from __future__ import annotations

import sqlite3

from shared.types import DocState, HoldKind, PaymentState
from worker.outbox import cancel_queued, check_again
from worker.store import documents
from worker.store.documents import InvalidTransition

ACTIONS = ("hold", "release", "replay", "skip")

# States from which each action may start. `sent` and `unknown` are QuickBooks' to settle first:
# acting on them could post a document twice.
_ALLOWED: dict[str, frozenset[DocState]] = {
    "hold": frozenset({DocState.RECEIVED, DocState.FETCHED, DocState.QUEUED, DocState.FAILED}),
    "release": frozenset({DocState.HELD}),
    "replay": frozenset({DocState.HELD, DocState.FAILED, DocState.SKIPPED}),
    "skip": frozenset({DocState.RECEIVED, DocState.FETCHED, DocState.QUEUED, DocState.HELD, DocState.FAILED}),
}


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
        documents.set_state(conn, document_id, DocState.UNKNOWN, f"replay requested: checking QuickBooks first ({reason})" if reason else "replay requested: checking QuickBooks first", actor, "replay", {"force": True})
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
    if action in ("hold", "skip"):
        cancel_queued(conn, document_id)
        new_state = DocState.HELD if action == "hold" else DocState.SKIPPED
        text = reason or ("held by operator" if action == "hold" else "operator")
        documents.set_state(conn, document_id, new_state, text, actor, action, {"operator_reason": reason}, hold_kind=HoldKind.OPERATOR)
    else:  # release / replay: plan again from the fetched content
        target = DocState.FETCHED if row["content"] else DocState.RECEIVED
        documents.set_state(conn, document_id, target, "", actor, action, {"operator_reason": reason}, attempts=0, next_attempt_at=None)
    return documents.get(conn, document_id)

