"""When Concur has paid a posted document, the bill payment that records it: a pure function.

Concur says it paid with ``P_PAID``, the amount (v4 ``totalAmountPaidEmployee``, v3 ``PaidAmount``)
and, where a source states it, the date (v3 ``PaidDate``). What QuickBooks owes is the item we
posted: the bill, or in journal-entry mode the journal entry's A/P credit to the employee (Pay
Bills lists it: the XSD's ``BillToPay`` carries a ``TxnType``, and ``BillToPayQuery`` exists to
feed ``AppliedToTxnAdd``). Either is paid the same way, by a ``BillPaymentCheckAdd`` from the
company's clearing account (``concur_payment_account``) applied to its TxnID.

``plan_payment`` decides the write and the query that must come first: QuickBooks is asked what is
still open, and ``check_verdict`` holds the payment when someone already paid it (by hand) rather
than paying twice. Identity: the n-th payment of a document has a deterministic RefNumber and
ExternalGUID (keys.py), so a lost answer is settled by BillPaymentCheckQuery before any resend.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from shared.config import CompanyConfig
from shared.domain import Document, ExpenseReport
from shared.types import CONCUR_PAID, cents
from worker.posting.keys import external_guid, invoice_memo, payment_ref_number, report_memo
from worker.qbxml.model import AppliedToTxn, BillPaymentCheckAdd, BillToPayQuery, Ref, TxnQuery

ZERO = Decimal("0.00")


@dataclass(frozen=True)
class Payable:
    """What QuickBooks owes for a posted document: the bill, or the journal entry's A/P credit."""

    txn_id: str
    txn_type: str  # "Bill" | "JournalEntry"
    payee: Ref
    ap_account: str
    owed: Decimal
    exchange_rate: Decimal | None = None


@dataclass(frozen=True)
class PaymentPlan:
    write: BillPaymentCheckAdd
    check: TxnQuery | BillToPayQuery  # asked first: is the item still open?
    amount: Decimal
    expected_open: Decimal  # what QuickBooks should show open if only we paid it
    partial: bool
    decisions: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class NoPayment:
    """Nothing to write now; ``hold`` when a person must look (else: not due)."""

    reason: str
    hold: bool = False


@dataclass(frozen=True)
class Proceed:
    pass


@dataclass(frozen=True)
class PaidElsewhere:
    reason: str
    txn_id: str  # the payment QuickBooks shows ("" when it does not say which)


def concur_paid(doc: Document) -> tuple[Decimal | None, dt.date | None]:
    """What Concur paid and when, or (None, None) while it has not paid."""
    if doc.payment_status != CONCUR_PAID:
        return None, None
    amount = cents(doc.paid_amount) if doc.paid_amount is not None else None
    return amount, doc.paid_date


def _kind(doc: Document) -> str:
    return "expense_report" if isinstance(doc, ExpenseReport) else "invoice"


def concur_id(doc: Document) -> str:
    return doc.report_id if isinstance(doc, ExpenseReport) else doc.request_id


def clearing_problem(name: str, accounts: Mapping[str, tuple[bool, str]] | None) -> str | None:
    """Why ``concur_payment_account`` cannot pay, from the cached account list (case-folded
    FullName -> (is active, AccountType)); None when it can, or when the list is not known yet."""
    if accounts is None:
        return None
    found = accounts.get(name.casefold())
    if found is None:
        return f'concur_payment_account "{name}" does not exist in QuickBooks'
    active, kind = found
    if not active:
        return f'concur_payment_account "{name}" is inactive in QuickBooks'
    if kind and kind != "Bank":
        return f'concur_payment_account "{name}" is a {kind} account in QuickBooks; bill payments by check come from a Bank account'
    return None


def plan_payment(
    doc: Document,
    company: CompanyConfig,
    payable: Payable,
    recorded: Decimal,
    sequence: int,
    today: dt.date,
    accounts: Mapping[str, tuple[bool, str]] | None = None,
) -> PaymentPlan | NoPayment:
    """The next payment for ``doc``: ``recorded`` is what our earlier payments recorded, ``sequence``
    how many payment rows the document already has (the new one's identity), ``accounts`` the
    cached account list (see ``clearing_problem``)."""
    posting = company.posting
    if not posting.concur_pays:
        return NoPayment("concur_pays is off")
    if problem := clearing_problem(posting.concur_payment_account, accounts):
        return NoPayment(problem, hold=True)
    paid, paid_on = concur_paid(doc)
    if doc.payment_status != CONCUR_PAID:
        return NoPayment(f"Concur has not paid it (payment status {doc.payment_status or 'none'})")
    decisions: list[str] = []
    if paid is None:
        # P_PAID without a figure: Concur paid what it owed, which is what we posted (assumption).
        paid = payable.owed
        decisions.append(f"Concur reports it paid without an amount: taken as the whole {payable.owed:.2f} owed")
    if paid > payable.owed:
        return NoPayment(f"Concur paid {paid:.2f} but QuickBooks owes {payable.owed:.2f} for it: record the difference by hand", hold=True)
    amount = paid - recorded
    if amount < 0:
        return NoPayment(f"Concur now states {paid:.2f} paid, less than the {recorded:.2f} already recorded: a person must adjust it", hold=True)
    if amount == 0:
        return NoPayment(f"the {paid:.2f} Concur paid is recorded")
    date = paid_on or today
    decisions.append(
        f"paid {amount:.2f} from {posting.concur_payment_account} on {date.isoformat()}"
        + ("" if paid_on else " (Concur states no paid date: the day the worker learned of it)")
    )
    partial = paid < payable.owed
    if partial:
        decisions.append(f"partial: Concur paid {paid:.2f} of {payable.owed:.2f}; {payable.owed - paid:.2f} stays open")
    kind = f"{_kind(doc)}:payment:{sequence + 1}"
    memo = (report_memo if isinstance(doc, ExpenseReport) else invoice_memo)(concur_id(doc)) + " - paid by Concur"
    write = BillPaymentCheckAdd(
        payee=payable.payee,
        bank_account=Ref(full_name=posting.concur_payment_account),
        txn_date=date,
        applied=(AppliedToTxn(payable.txn_id, amount),),
        ref_number=payment_ref_number(company.id, kind, concur_id(doc)),
        ap_account=Ref(full_name=payable.ap_account),
        memo=memo,
        exchange_rate=payable.exchange_rate,
        external_guid=external_guid(company.id, kind, concur_id(doc)),
        include=("TxnID", "RefNumber", "ExternalGUID", "TxnDate", "Amount"),
    )
    check: TxnQuery | BillToPayQuery
    if payable.txn_type == "Bill":
        check = TxnQuery("Bill", txn_ids=(payable.txn_id,), include=("TxnID", "OpenAmount", "IsPaid", "LinkedTxn"), include_linked_txns=True)
    else:
        check = BillToPayQuery(payee=payable.payee, ap_account=Ref(full_name=payable.ap_account))
    return PaymentPlan(write, check, amount, payable.owed - recorded, partial, decisions)


def check_verdict(
    expected_open: Decimal, amount: Decimal, observed_open: Decimal | None, payments_seen: Sequence[tuple[str, str]], ours: Sequence[str]
) -> Proceed | PaidElsewhere:
    """QuickBooks' answer to the check: ``observed_open`` is what it shows still owed (None: the
    item is not among the open ones), ``payments_seen`` the (TxnID, RefNumber) of payments linked
    to it, ``ours`` our payments' RefNumbers."""
    others = [txn_id for txn_id, ref in payments_seen if ref not in ours]
    paid_by = others[-1] if others else ""
    if observed_open is None or observed_open <= 0:
        return PaidElsewhere("QuickBooks already shows it paid" + (f" (payment {paid_by})" if paid_by else "") + ": not paid again", paid_by)
    if observed_open < expected_open:
        return PaidElsewhere(
            f"QuickBooks shows {observed_open:.2f} open where {expected_open:.2f} was expected: someone paid it"
            + (f" (payment {paid_by})" if paid_by else "")
            + "; not paid again",
            paid_by,
        )
    if observed_open < amount:
        return PaidElsewhere(f"QuickBooks shows only {observed_open:.2f} open, less than the {amount:.2f} Concur paid", paid_by)
    return Proceed()


# --- the posted item, from the stored plan picture (plan.plan_to_json) -------------------------------


def _money(value: object) -> Decimal | None:
    try:
        return cents(Decimal(str(value)))
    except (InvalidOperation, ValueError):
        return None


def _ref(value: object) -> Ref | None:
    if not isinstance(value, Mapping):
        return None
    full_name, list_id = value.get("full_name"), value.get("list_id")
    if not full_name and not list_id:
        return None
    return Ref(full_name=str(full_name) if full_name else None, list_id=str(list_id) if list_id else None)


def payable_of(picture: Mapping[str, Any], txn_ids: Mapping[str, str], ap_account: str) -> Payable | None:
    """The posted bill (a bill to the employee or the vendor), else the journal entry's credit to
    ``ap_account`` naming the employee; ``txn_ids``: RefNumber -> TxnID of the posted transactions."""
    transactions = [t for t in picture.get("transactions", []) if isinstance(t, Mapping)]
    for txn in transactions:
        if txn.get("type") != "BillAdd":
            continue
        txn_id, payee, ap = txn_ids.get(str(txn.get("ref_number"))), _ref(txn.get("vendor")), _ref(txn.get("ap_account"))
        total = sum((_money(line.get("amount")) or ZERO for line in txn.get("lines", []) if isinstance(line, Mapping)), ZERO)
        if txn_id and payee and ap and ap.full_name and total > 0:
            return Payable(txn_id, "Bill", payee, ap.full_name, total, _money(txn.get("exchange_rate")))
    for txn in transactions:
        txn_id = txn_ids.get(str(txn.get("ref_number")))
        if txn.get("type") != "JournalEntryAdd" or not txn_id:
            continue
        for line in txn.get("lines", []):
            if not isinstance(line, Mapping) or line.get("side") != "credit":
                continue
            payee, account, amount = _ref(line.get("entity")), _ref(line.get("account")), _money(line.get("amount"))
            if payee and account and account.full_name and account.full_name.casefold() == ap_account.casefold() and amount:
                return Payable(txn_id, "JournalEntry", payee, account.full_name, amount)
    return None
