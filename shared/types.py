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


class PostingState(StrEnum):
    """Lifecycle of one outbox row (a qbXML request for QuickBooks)."""

    QUEUED = "queued"  # waits for a Web Connector session
    SENT = "sent"  # handed to the Web Connector, answer pending
    DONE = "done"  # QuickBooks answered with success
    UNKNOWN = "unknown"  # sent, answer lost: settled by a query before any resend
    FAILED = "failed"  # QuickBooks refused it in a way retrying cannot fix
    QUARANTINED = "quarantined"  # fails even alone in its message set: kept aside for a person
    CANCELLED = "cancelled"  # superseded (new plan, hold, skip, deletion) before it was sent


class Wait(StrEnum):
    """What a fetched document waits for before it can be planned."""

    NONE = "none"
    LISTS = "lists"  # the first Web Connector run to read the QuickBooks lists
    VENDOR = "vendor"  # another document's write of the same vendor


class HoldKind(StrEnum):
    """Why a held or skipped document stopped; ``reason`` says it in words for people."""

    NONE = "none"
    MAPPING = "mapping"  # the planner could not map it (re-planned when the config changes)
    QUICKBOOKS = "quickbooks"  # QuickBooks refused it in a way a new plan may fix (likewise)
    OPERATOR = "operator"  # a person held or skipped it
    NOT_POSTABLE = "not_postable"  # nothing to post (reopened when Concur reports it again)
    DELETED = "deleted"  # deleted in Concur
    DUPLICATE = "duplicate"  # a duplicate of another document
    HAND_KEYED = "hand_keyed"  # QuickBooks has a bill of the same vendor and number not made by us
    SENT_BACK = "sent_back"  # FIS: an operator sent it back to Concur (error confirmation); it returns as a new version


REPLANNABLE_HOLDS = frozenset({HoldKind.MAPPING, HoldKind.QUICKBOOKS})


CONCUR_PAID = "P_PAID"  # Concur's payment status once Expense Pay / Invoice Pay has paid


class PaymentState(StrEnum):
    """Where a document's payment stands (``documents.payment``); only with ``concur_pays``."""

    NONE = ""  # Concur has not paid it (shown as "open" once posted)
    PAID_IN_CONCUR = "paid_in_concur"  # Concur paid it; the payment is not (yet) in QuickBooks
    PAYMENT_POSTED = "payment_posted"  # a bill payment for everything Concur paid is in QuickBooks
    PARTIAL = "partial"  # posted for what Concur paid, which is less than the document owes
    HELD = "held"  # QuickBooks already shows it paid, or refused the payment: a person looks


class DuplicateSource(StrEnum):
    """Where a skipped duplicate came from (contract: fixed names)."""

    WEBHOOK = "webhook"  # Concur delivered the same event again
    SWEEP = "sweep"  # the sweep listed a document again, unchanged
    REAPPROVAL = "reapproval"  # an event about a document already seen, unchanged
    QUICKBOOKS = "quickbooks"  # QuickBooks already has the document


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
