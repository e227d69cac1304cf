"""Normalised Concur documents: what the Concur side produces and the posting planner consumes.

Amounts are Decimal. They are stored as JSON through ``to_json``/``from_json`` so that a document
fetched once can be re-planned (after a mapping change) without calling Concur again.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import types
import typing
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from shared.types import DocKind


@dataclass(frozen=True)
class Allocation:
    """One share of an expense. ``amount`` is Concur's own figure where it states one (v4);
    otherwise only ``percentage`` is known and the planner splits by largest remainder."""

    percentage: Decimal
    amount: Decimal | None = None
    # Concur allocation fields by their Concur name (custom1, custom2, orgUnit1, ...) -> code
    fields: dict[str, str] = field(default_factory=dict)
    # The ledger account code Concur computes for this share (v4 ``accountCode``, Invoice v3
    # ``AllocationAccountCode``); "" when Concur gives none. The over-limit code is v4 only.
    account_code: str = ""
    over_limit_account_code: str = ""


@dataclass(frozen=True)
class Itemization:
    """One part of an itemized expense (v4 ``…/expenses/{id}/itemizations``): its own expense type,
    amount, personal flag and allocations. Amounts are in the report currency."""

    itemization_id: str
    expense_type: str
    expense_type_name: str
    amount: Decimal  # approved (else posted) amount
    transaction_date: dt.date | None = None
    is_personal: bool = False
    is_billable: bool | None = None  # None: the payload does not say
    approved_amount: Decimal | None = None
    claimed_amount: Decimal | None = None
    posted_amount: Decimal | None = None
    description: str = ""
    allocations: tuple[Allocation, ...] = ()


@dataclass(frozen=True)
class Expense:
    expense_id: str
    expense_type: str  # Concur expense type code, e.g. AIRFR
    expense_type_name: str
    transaction_date: dt.date
    amount: Decimal  # approved amount in the report currency
    payment_type: str  # Concur payment type code: CASH, IBIP, IBCP, CBCP, or a company-paid type
    merchant: str = ""
    description: str = ""
    allocations: tuple[Allocation, ...] = ()
    # Concur's own figures, None where the payload does not carry them (absent is not zero).
    # posted = what was charged/spent in the report currency; claimed = what the employee asked
    # for; approved = what the approvers accepted (``amount`` above is approved, else posted).
    is_personal: bool = False
    is_billable: bool | None = None  # v4 ``isExpenseBillable`` (detail only), v3 ``IsBillable``
    approved_amount: Decimal | None = None
    claimed_amount: Decimal | None = None
    posted_amount: Decimal | None = None
    transaction_amount: Decimal | None = None
    transaction_currency: str = ""
    exchange_rate: Decimal | None = None  # v4 ``exchangeRate.value``, applied as ``exchange_rate_operation``
    exchange_rate_operation: str = ""  # MULTIPLY | DIVIDE
    payment_type_name: str = ""
    itemizations: tuple[Itemization, ...] = ()


@dataclass(frozen=True)
class Employee:
    employee_id: str  # Concur user UUID (the report owner, never the acting approver)
    name: str
    email: str = ""
    employee_code: str = ""


@dataclass(frozen=True)
class ExpenseReport:
    report_id: str
    name: str
    owner: Employee
    currency: str
    approval_status: str  # Concur code, e.g. A_APPR
    total: Decimal
    report_date: dt.date
    payment_status: str = ""
    modified_at: str = ""
    expenses: tuple[Expense, ...] = ()
    # The v4 report header as Concur states it (None = absent from the payload, NOT zero):
    # who is owed what, computed by Concur from the tenant's payment-type setup.
    amount_due_employee: Decimal | None = None
    amount_due_company_card: Decimal | None = None
    amount_company_paid: Decimal | None = None
    amount_due_company: Decimal | None = None
    personal_amount: Decimal | None = None
    total_approved_amount: Decimal | None = None
    claimed_amount: Decimal | None = None
    amount_not_approved: Decimal | None = None
    report_total: Decimal | None = None
    # No public v4/v3 report field states the cash advance applied (FIS ``cashAdvance…`` does);
    # None unless a source that states it is read.
    cash_advance_applied: Decimal | None = None
    paid_date: dt.date | None = None  # v3 ``PaidDate`` (v4 has no paid date)
    paid_amount: Decimal | None = None  # v4 ``totalAmountPaidEmployee``

    kind = DocKind.EXPENSE_REPORT

    @property
    def concur_id(self) -> str:
        return self.report_id


@dataclass(frozen=True)
class InvoiceLine:
    line_id: str
    description: str
    expense_type: str  # account code used for mapping (expense type or GL code)
    amount: Decimal
    allocations: tuple[Allocation, ...] = ()
    is_billable: bool | None = None  # line ``IsBillable`` where the payload has it
    tax: Decimal | None = None  # line ``Tax`` (informative: the header TaxAmount is what is owed)


@dataclass(frozen=True)
class RemitAddress:
    """Invoice v3 ``VendorRemitAddress`` (where the vendor wants to be paid)."""

    name: str = ""
    address1: str = ""
    address2: str = ""
    address3: str = ""
    city: str = ""
    state: str = ""
    postal_code: str = ""
    country_code: str = ""


@dataclass(frozen=True)
class Invoice:
    request_id: str
    invoice_number: str
    vendor_name: str
    vendor_code: str
    currency: str
    approval_status: str
    total: Decimal
    invoice_date: dt.date
    due_date: dt.date | None = None
    terms: str = ""
    description: str = ""
    payment_status: str = ""
    modified_at: str = ""
    lines: tuple[InvoiceLine, ...] = ()
    # Header figures as the payment request states them (None = absent, NOT zero).
    tax_amount: Decimal | None = None
    shipping_amount: Decimal | None = None
    calculated_amount: Decimal | None = None  # lines + tax + shipping, by Concur
    total_approved_amount: Decimal | None = None
    invoice_amount: Decimal | None = None  # what the vendor's invoice says
    line_item_total_amount: Decimal | None = None
    terms_days: int | None = None  # ``PaymentTermsDays``
    remit_address: RemitAddress | None = None
    exchange_rate: Decimal | None = None  # no public v3 field carries one; kept for other sources
    paid_date: dt.date | None = None
    paid_amount: Decimal | None = None

    kind = DocKind.INVOICE

    @property
    def concur_id(self) -> str:
        return self.request_id


Document = ExpenseReport | Invoice


def _encode(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if dataclasses.is_dataclass(value):
        return {f.name: _encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (list, tuple)):
        return [_encode(v) for v in value]
    if isinstance(value, dict):
        return {k: _encode(v) for k, v in value.items()}
    return value


def to_json(doc: Document) -> dict[str, Any]:
    return {"kind": str(doc.kind), **_encode(doc)}


@functools.cache
def _shape(hint: Any) -> tuple[str, Any]:
    """What decoding a field of type ``hint`` takes: (kind, inner type); worked out once per type."""
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    origin = typing.get_origin(hint)
    if origin in (types.UnionType, typing.Union):
        return _shape(args[0])
    if origin is tuple:
        return "tuple", args[0]
    if origin is dict:
        return "dict", None
    if hint is Decimal:
        return "decimal", None
    if hint is dt.date:
        return "date", None
    if dataclasses.is_dataclass(hint):
        return "dataclass", hint
    return "plain", None


def _decode(hint: Any, value: Any) -> Any:
    """JSON value -> the field's declared type (Decimal, date, nested dataclass, tuple, optional)."""
    if value is None:
        return None
    kind, inner = _shape(hint)
    if kind == "plain":
        return value
    if kind == "tuple":
        return tuple(_decode(inner, v) for v in value)
    if kind == "decimal":
        return Decimal(value)
    if kind == "date":
        return dt.date.fromisoformat(value)
    if kind == "dataclass":
        return _build(inner, value)
    return dict(value)


@functools.cache
def _declared(cls: Any) -> tuple[tuple[str, Any], ...]:
    """(field name, declared type) of a dataclass; resolving the hints is slow, so once per class."""
    hints = typing.get_type_hints(cls)
    return tuple((f.name, hints[f.name]) for f in dataclasses.fields(cls))


def _build(cls: Any, data: dict[str, Any]) -> Any:
    """Keys absent from stored JSON (written before a field existed) take the field's default."""
    return cls(**{name: _decode(hint, data[name]) for name, hint in _declared(cls) if name in data})


def from_json(data: dict[str, Any]) -> Document:
    kind = DocKind(data["kind"])
    body = {k: v for k, v in data.items() if k != "kind"}
    if kind is DocKind.EXPENSE_REPORT:
        return typing.cast(ExpenseReport, _build(ExpenseReport, body))
    return typing.cast(Invoice, _build(Invoice, body))
