"""Names that the worker, the console and scripts share: document states and kinds, money."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

CENT = Decimal("0.01")


class DocState(StrEnum):
    """Lifecycle of one Concur document (contract: fixed names)."""

    RECEIVED = "received"  # an event or the sweep told us it exists
    FETCHED = "fetched"  # full content read from Concur and normalised
    QUEUED = "queued"  # planned; its QuickBooks writes wait in the outbox
    SENT = "sent"  # a write was handed to the Web Connector, answer pending
    POSTED = "posted"  # QuickBooks confirmed every write
    UNKNOWN = "unknown"  # sent, outcome not known; settled by a query before any resend
    HELD = "held"  # waits for a person or a mapping (reason says which)
    FAILED = "failed"  # QuickBooks refused it in a way retrying cannot fix
    SKIPPED = "skipped"  # deliberately not posted (duplicate, not_postable, operator)


ACTIVE_STATES = frozenset({DocState.RECEIVED, DocState.FETCHED, DocState.QUEUED, DocState.SENT, DocState.UNKNOWN})


class DocKind(StrEnum):
    EXPENSE_REPORT = "expense_report"
    INVOICE = "invoice"


class Actor(StrEnum):
    """Who caused an audit entry; operator actions record the token's name instead."""

    WORKER = "worker"
    CONCUR = "concur"
    QBWC = "qbwc"


def cents(amount: Decimal) -> Decimal:
    """Quantise to cents the way accountants round (half up)."""
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def money_str(amount: Decimal) -> str:
    """Decimal string with exactly two places, as the API and qbXML carry money."""
    return f"{cents(amount):.2f}"
