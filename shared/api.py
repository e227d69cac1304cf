"""The operator API's JSON shapes, shared by the worker (which writes them) and the console (which reads them).

Each shape is a plain dataclass with ``to_dict`` / ``from_dict``. ``from_dict`` ignores keys it
does not know, so a newer worker can add fields without breaking an older console.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

from shared.types import DocState, PaymentState

API_PREFIX = "/api/v1"

# Document states an operator waits on ("pending"): not yet confirmed by QuickBooks.
PENDING_STATES: tuple[str, ...] = (
    DocState.RECEIVED,
    DocState.FETCHED,
    DocState.QUEUED,
    DocState.SENT,
    DocState.UNKNOWN,
)

# Named views the ``state`` filter accepts besides the states themselves.
VIEW_PENDING = "pending"
VIEW_PENDING_OFFLINE = "pending_offline"
VIEW_DUPLICATES = "duplicates"
VIEWS: tuple[str, ...] = (VIEW_PENDING, VIEW_PENDING_OFFLINE, VIEW_DUPLICATES)
STATE_FILTERS: frozenset[str] = frozenset([*(str(s) for s in DocState), *VIEWS])

ACTIONS: tuple[str, ...] = ("hold", "release", "replay", "skip", "reject")  # reject: FIS only

# Concur connection states in the summary.
CONCUR_CONNECTED = "connected"
CONCUR_NEEDS_RECONNECT = "needs_reconnect"
CONCUR_NOT_CONNECTED = "not_connected"

SPARKLINE_MINUTES = 30

T = TypeVar("T")


def _from_dict(cls: type[T], data: dict[str, Any]) -> T:
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    return cls(**{k: v for k, v in data.items() if k in names})


def is_duplicate_reason(reason: str) -> bool:
    return reason.startswith("duplicate")


def normalise_amount(text: str) -> str | None:
    """``"12.3"`` -> ``"12.30"``: the form amounts are stored in; None when not a number."""
    try:
        value = Decimal(text.strip().replace(",", ""))
    except (InvalidOperation, ValueError):
        return None
    if not value.is_finite():
        return None
    return f"{value.quantize(Decimal('0.01')):.2f}"


@dataclass
class Document:
    """One document as lists and streams show it; the first ten fields are fixed by the contract."""

    id: int
    company: str
    kind: str
    concur_id: str
    state: str
    reason: str = ""
    amount: str | None = None
    currency: str | None = None
    updated_at: str = ""
    quickbooks_txn_id: str | None = None
    employee: str = ""
    vendor: str = ""
    flag: str = ""
    approval_status: str = ""
    created_at: str = ""
    attempts: int = 0
    # What Concur paid and what was recorded for it (``shared.types.PaymentState``; "" = not paid
    # in Concur). Amounts are 2-decimal strings.
    payment: str = ""
    concur_paid_amount: str | None = None
    concur_paid_date: str | None = None
    payment_recorded: str | None = None
    payment_txn_id: str = ""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Document:
        return _from_dict(cls, data)

    @property
    def payment_label(self) -> str:
        """One word or two for a column: open / paid in Concur / payment posted / partial / held."""
        if not self.payment:
            return "open" if self.state == DocState.POSTED else ""
        return PAYMENT_LABELS.get(self.payment, self.payment)

    @property
    def who(self) -> str:
        """The person or vendor the document is about, for one column."""
        return self.employee or self.vendor


PAYMENT_LABELS: dict[str, str] = {
    PaymentState.PAID_IN_CONCUR: "paid in Concur",
    PaymentState.PAYMENT_POSTED: "payment posted",
    PaymentState.PARTIAL: "partial payment",
    PaymentState.HELD: "payment held",
}


def view_matches(view: str, doc: Document, offline_companies: frozenset[str] | set[str] = frozenset()) -> bool:
    """Whether ``doc`` belongs in a list filtered by ``view`` (a state or a named view); "" is all."""
    if not view:
        return True
    if view == VIEW_PENDING:
        return doc.state in PENDING_STATES
    if view == VIEW_PENDING_OFFLINE:
        return doc.state == DocState.QUEUED and doc.company in offline_companies
    if view == VIEW_DUPLICATES:
        return doc.state == DocState.SKIPPED and is_duplicate_reason(doc.reason)
    return doc.state == view


@dataclass
class DocumentPage:
    items: list[Document]
    next_cursor: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"items": [d.to_dict() for d in self.items], "next_cursor": self.next_cursor}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DocumentPage:
        return cls([Document.from_dict(d) for d in data.get("items", [])], data.get("next_cursor"))


@dataclass
class AuditEntry:
    id: int
    company: str
    document_id: int | None
    at: str
    actor: str
    action: str
    detail: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AuditEntry:
        return _from_dict(cls, data)


@dataclass
class AuditPage:
    items: list[AuditEntry]
    next_cursor: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"items": [a.to_dict() for a in self.items], "next_cursor": self.next_cursor}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AuditPage:
        return cls([AuditEntry.from_dict(a) for a in data.get("items", [])], data.get("next_cursor"))


@dataclass
class Duplicate:
    """One skipped duplicate (contract: ``GET /api/v1/duplicates``). The same event re-delivered
    N times is one item with ``count`` N; ``at`` is the first time, ``last_at`` the latest."""

    id: int
    at: str
    company: str
    document_id: int | None
    concur_id: str
    source: str  # shared.types.DuplicateSource
    why: str
    count: int = 1
    last_at: str = ""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Duplicate:
        return _from_dict(cls, data)


@dataclass
class DuplicatePage:
    items: list[Duplicate]
    next_cursor: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"items": [d.to_dict() for d in self.items], "next_cursor": self.next_cursor}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DuplicatePage:
        return cls([Duplicate.from_dict(d) for d in data.get("items", [])], data.get("next_cursor"))


@dataclass
class Posting:
    """One outbox row: a qbXML request for QuickBooks and, once answered, its response."""

    id: int
    seq: int
    op: str
    state: str
    ref_number: str | None = None
    attempts: int = 0
    sent_at: str | None = None
    answered_at: str | None = None
    status_code: int | None = None
    status_message: str | None = None
    txn_id: str | None = None
    request_xml: str = ""
    response_xml: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Posting:
        return _from_dict(cls, data)


@dataclass
class DocumentDetail:
    document: Document
    content: dict[str, Any] | None  # the normalised Concur document (shared.domain.to_json)
    plan: dict[str, Any] | None  # planned transactions with lines and decisions (posting.plan_to_json)
    postings: list[Posting]
    audit: list[AuditEntry]  # the latest entries only, oldest first (DETAIL_AUDIT_LIMIT)
    # Cursor for older entries: GET /api/v1/audit?document={id}&cursor={audit_next}; None when all are here.
    audit_next: str | None = None
    # FIS companies: each FIS version of the document and whether/when/what Concur was told
    # (worker/store/fis.py ``for_document``); [] for the expense API source.
    fis: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.document.to_dict(),
            "content": self.content,
            "plan": self.plan,
            "postings": [p.to_dict() for p in self.postings],
            "audit": [a.to_dict() for a in self.audit],
            "audit_next": self.audit_next,
            "fis": self.fis,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DocumentDetail:
        return cls(
            document=Document.from_dict(data),
            content=data.get("content"),
            plan=data.get("plan"),
            postings=[Posting.from_dict(p) for p in data.get("postings", [])],
            audit=[AuditEntry.from_dict(a) for a in data.get("audit", [])],
            audit_next=data.get("audit_next"),
            fis=list(data.get("fis") or []),
        )


@dataclass
class CompanySummary:
    id: str
    name: str
    counts: dict[str, int]  # every DocState, zero included
    total: int = 0
    pending: int = 0
    oldest_pending_at: str | None = None  # created_at of the oldest pending document
    oldest_pending_age_s: float | None = None
    pending_offline: int = 0
    pending_offline_since: str | None = None  # QuickBooks unreachable since, while documents wait
    quickbooks_last_contact_at: str | None = None
    quickbooks_last_result: str | None = None
    quickbooks_unreachable_since: str | None = None
    concur: str = CONCUR_NOT_CONNECTED
    concur_reason: str = ""
    webhooks_received: int = 0
    webhooks_rejected: int = 0
    duplicates_skipped: int = 0
    postings_per_minute: list[int] = field(default_factory=list)  # oldest minute first, SPARKLINE_MINUTES long

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CompanySummary:
        return _from_dict(cls, data)


@dataclass
class Summary:
    generated_at: str
    companies: list[CompanySummary]
    totals: dict[str, int]  # counts by state over all companies, plus "total"

    def to_dict(self) -> dict[str, Any]:
        return {"generated_at": self.generated_at, "companies": [c.to_dict() for c in self.companies], "totals": dict(self.totals)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Summary:
        return cls(data.get("generated_at", ""), [CompanySummary.from_dict(c) for c in data.get("companies", [])], dict(data.get("totals", {})))

    def offline_companies(self) -> frozenset[str]:
        return frozenset(c.id for c in self.companies if c.quickbooks_unreachable_since)


@dataclass
class ChangeEvent:
    """The data of an SSE ``change`` event: the audit entry and the document as it is now."""

    audit: AuditEntry
    document: Document | None

    def to_dict(self) -> dict[str, Any]:
        return {"audit": self.audit.to_dict(), "document": self.document.to_dict() if self.document else None}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ChangeEvent:
        doc = data.get("document")
        return cls(AuditEntry.from_dict(data["audit"]), Document.from_dict(doc) if doc else None)
