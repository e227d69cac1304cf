"""Normalised Concur documents: what the Concur side produces and the posting planner consumes.

Amounts are Decimal. They are stored as JSON through ``to_json``/``from_json`` so that a document
fetched once can be re-planned (after a mapping change) without calling Concur again.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
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


@dataclass(frozen=True)
class Expense:
    expense_id: str
    expense_type: str  # Concur expense type code, e.g. AIRFR
    expense_type_name: str
    transaction_date: dt.date
    amount: Decimal  # approved amount in the report currency
    payment_type: str  # Concur payment type code, e.g. CASH (out of pocket) or CBCP (company card)
    merchant: str = ""
    description: str = ""
    allocations: tuple[Allocation, ...] = ()


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


def _date(value: str | None) -> dt.date | None:
    return dt.date.fromisoformat(value) if value else None


def _allocations(items: list[dict[str, Any]]) -> tuple[Allocation, ...]:
    return tuple(
        Allocation(
            percentage=Decimal(a["percentage"]),
            amount=Decimal(a["amount"]) if a.get("amount") is not None else None,
            fields=dict(a.get("fields") or {}),
        )
        for a in items
    )


def from_json(data: dict[str, Any]) -> Document:
    kind = DocKind(data["kind"])
    if kind is DocKind.EXPENSE_REPORT:
        return ExpenseReport(
            report_id=data["report_id"],
            name=data["name"],
            owner=Employee(**data["owner"]),
            currency=data["currency"],
            approval_status=data["approval_status"],
            total=Decimal(data["total"]),
            report_date=dt.date.fromisoformat(data["report_date"]),
            payment_status=data.get("payment_status", ""),
            modified_at=data.get("modified_at", ""),
            expenses=tuple(
                Expense(
                    expense_id=e["expense_id"],
                    expense_type=e["expense_type"],
                    expense_type_name=e["expense_type_name"],
                    transaction_date=dt.date.fromisoformat(e["transaction_date"]),
                    amount=Decimal(e["amount"]),
                    payment_type=e["payment_type"],
                    merchant=e.get("merchant", ""),
                    description=e.get("description", ""),
                    allocations=_allocations(e.get("allocations", [])),
                )
                for e in data.get("expenses", [])
            ),
        )
    return Invoice(
        request_id=data["request_id"],
        invoice_number=data["invoice_number"],
        vendor_name=data["vendor_name"],
        vendor_code=data["vendor_code"],
        currency=data["currency"],
        approval_status=data["approval_status"],
        total=Decimal(data["total"]),
        invoice_date=dt.date.fromisoformat(data["invoice_date"]),
        due_date=_date(data.get("due_date")),
        terms=data.get("terms", ""),
        description=data.get("description", ""),
        payment_status=data.get("payment_status", ""),
        modified_at=data.get("modified_at", ""),
        lines=tuple(
            InvoiceLine(
                line_id=li["line_id"],
                description=li["description"],
                expense_type=li["expense_type"],
                amount=Decimal(li["amount"]),
                allocations=_allocations(li.get("allocations", [])),
            )
            for li in data.get("lines", [])
        ),
    )
