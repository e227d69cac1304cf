"""Concur's approved totals against what QuickBooks holds, per account, class and currency: a pure
function. Amounts in different currencies never add up: a EUR bill's lines count in EUR beside the
USD lines of the same account (a document's transactions are in the document's currency).

Both sides are reduced to signed lines (debit positive, credit negative; a bill's expense lines
are debits and its total a credit to its A/P account). The Concur side comes from the plans of
the approved documents, so it reflects today's mapping; the posted side comes from the
transactions QuickBooks reports. Any row with a difference, and any approved document that has
no plan (held, for instance), makes the result unbalanced, which ``mlc reconcile`` turns into
exit status 1.

With ``concur_pays``, what Concur paid joins the Concur side as a debit to A/P and a credit to the
clearing account (``concur_payment_account``), and the bill payments QuickBooks accepted join the
posted side the same way: the clearing account's row shows what Concur paid against what was
recorded, and a payment held (paid by hand, refused) shows as a difference.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from shared.config import CompanyConfig
from shared.domain import Document
from shared.types import cents
from worker.posting.payments import concur_paid
from worker.posting.plan import Plan, PlanResult, document_total
from worker.qbxml.model import BillAdd, JournalEntryAdd

ZERO = Decimal("0.00")


@dataclass(frozen=True)
class PostedLine:
    """One line of a transaction as QuickBooks holds it (or as planned): signed, debit positive."""

    account: str
    klass: str | None
    amount: Decimal
    currency: str = ""  # ISO code of the document's currency ("" where not known)


@dataclass(frozen=True)
class Row:
    account: str
    klass: str | None
    concur_total: Decimal
    posted_total: Decimal
    currency: str = ""

    @property
    def difference(self) -> Decimal:
        return self.concur_total - self.posted_total


@dataclass(frozen=True)
class Unplanned:
    concur_id: str
    total: Decimal
    reason: str


@dataclass(frozen=True)
class Reconciliation:
    rows: tuple[Row, ...]
    unplanned: tuple[Unplanned, ...]
    concur_total: Decimal  # sum of the approved documents' totals
    planned_total: Decimal  # sum of their plans' totals

    @property
    def balanced(self) -> bool:
        return not self.unplanned and self.concur_total == self.planned_total and all(row.difference == 0 for row in self.rows)


def transaction_lines(txn: BillAdd | JournalEntryAdd) -> list[PostedLine]:
    """Signed lines of one planned transaction (names as given; Refs by ListID have no name)."""
    if isinstance(txn, JournalEntryAdd):
        return [
            PostedLine(
                line.account.full_name or line.account.list_id or "",
                line.klass.full_name if line.klass else None,
                line.amount if line.side == "debit" else -line.amount,
            )
            for line in txn.lines
        ]
    lines = [PostedLine(line.account.full_name or line.account.list_id or "", line.klass.full_name if line.klass else None, line.amount) for line in txn.lines]
    ap = txn.ap_account.full_name if txn.ap_account and txn.ap_account.full_name else "Accounts Payable"
    lines.append(PostedLine(ap, None, -sum((line.amount for line in txn.lines), ZERO)))
    return lines


def plan_lines(plan: Plan, currency: str = "") -> list[PostedLine]:
    return [dataclasses.replace(line, currency=currency.strip().upper()) for txn in plan.transactions for line in transaction_lines(txn)]


def _key(line: PostedLine) -> tuple[str, str, str]:
    # QuickBooks answers with its own capitalisation; names compare case-insensitively there.
    return line.account.strip().casefold(), (line.klass or "").strip().casefold(), line.currency.strip().upper()


def paid_lines(doc: Document, company: CompanyConfig) -> list[PostedLine]:
    """What Concur paid for ``doc`` as signed lines (A/P debit, clearing credit), with concur_pays."""
    posting = company.posting
    paid = concur_paid(doc)[0]
    if not posting.concur_pays or not paid:
        return []
    currency = doc.currency.strip().upper()
    return [PostedLine(posting.ap_account, None, paid, currency), PostedLine(posting.concur_payment_account, None, -paid, currency)]


def reconcile(documents: Iterable[tuple[Document, PlanResult]], posted: Iterable[PostedLine], paid: Iterable[PostedLine] = ()) -> Reconciliation:
    """Compare approved Concur documents (with their planning results, and ``paid``: what Concur
    paid, from ``paid_lines``) to posted lines."""
    names: dict[tuple[str, str, str], tuple[str, str | None]] = {}
    concur: dict[tuple[str, str, str], Decimal] = {}
    booked: dict[tuple[str, str, str], Decimal] = {}
    unplanned: list[Unplanned] = []
    concur_total = planned_total = ZERO

    def add(into: dict[tuple[str, str, str], Decimal], line: PostedLine) -> None:
        key = _key(line)
        names.setdefault(key, (line.account.strip(), (line.klass or "").strip() or None))
        into[key] = into.get(key, ZERO) + cents(line.amount)

    for doc, result in documents:
        total = document_total(doc)
        concur_total += total
        if not isinstance(result, Plan):
            unplanned.append(Unplanned(doc.concur_id, total, result.reason))
            continue
        planned_total += result.total
        for line in plan_lines(result, doc.currency):
            add(concur, line)
    for line in paid:
        add(concur, line)
    for line in posted:
        add(booked, line)

    rows = tuple(Row(names[key][0], names[key][1], concur.get(key, ZERO), booked.get(key, ZERO), key[2]) for key in sorted(set(concur) | set(booked)))
    return Reconciliation(rows, tuple(unplanned), concur_total, planned_total)
