"""Builders for posting-planner tests: a company config and Concur documents with few keystrokes."""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

from shared.config import CompanyConfig, ConcurConfig, MappingConfig, PostingConfig, QbwcConfig, Secret
from shared.domain import Allocation, Employee, Expense, ExpenseReport, Invoice, InvoiceLine
from worker.posting.plan import ListsView, QuickBooksFacts
from worker.posting.vendors import QbVendor, VendorDirectory

D = Decimal

MAPPING = MappingConfig(
    expense_types={"AIRFR": "Travel:Airfare", "LODGING": "Travel:Lodging", "MEALS": "Meals", "OFFICE": "Office Supplies"},
    dimensions={"class": "custom1", "customer_job": "custom2"},
    classes={"CC-100": "Consulting", "CC-200": "Sales"},
    customers={"PRJ-7": "Client A:Project X", "PRJ-8": "Client B"},
    terms={"Net 30": "Net 30"},
)

ACCOUNTS = ["Travel:Airfare", "Travel:Lodging", "Meals", "Office Supplies", "Accounts Payable", "Company Card"]
CLASSES = ["Consulting", "Sales"]
CUSTOMERS = ["Client A:Project X", "Client B"]


def company(**posting: Any) -> CompanyConfig:
    mapping = posting.pop("mapping", MAPPING)
    return CompanyConfig(
        id="demo",
        name="Demo Consulting LLC",
        concur=ConcurConfig(
            base_url="https://concur.invalid",
            client_id="client",
            client_secret=Secret("s"),
            company_uuid="c0ffee",
            request_token=Secret(""),
            webhook_public_keys=(Path("key.pem"),),
        ),
        qbwc=QbwcConfig(
            username="demo-sync",
            password_hash=None,
            password=Secret("pw"),
            file_id="{6B29FC40-CA47-1067-B31D-00DD010662DA}",
            owner_id="{6B29FC40-CA47-1067-B31D-00DD010662DB}",
        ),
        posting=PostingConfig(**posting),
        mapping=mapping,
    )


def facts(**kw: Any) -> QuickBooksFacts:
    base: dict[str, Any] = {"home_currency": "USD", "multicurrency": False, "class_tracking": True, "closing_date": None}
    base.update(kw)
    return QuickBooksFacts(**base)


def lists(**kw: Any) -> ListsView:
    base: dict[str, Any] = {"accounts": ACCOUNTS, "classes": CLASSES, "customers": CUSTOMERS}
    base.update(kw)
    return ListsView.of(**base)


JANE = Employee(employee_id="0B5C1F2E-1111-2222-3333-444455556666", name="Jane Doe", email="jane@example.com", employee_code="E042")
JANE_VENDOR = QbVendor(list_id="80000001-1700000000", name="Jane Doe", is_active=True, edit_sequence="1700000000", account_number="E042")


def directory(*vendors: QbVendor, other_names: tuple[str, ...] = ()) -> VendorDirectory:
    return VendorDirectory.of(vendors or (JANE_VENDOR,), other_names)


def alloc(percentage: str, amount: str | None = None, **fields: str) -> Allocation:
    return Allocation(percentage=D(percentage), amount=D(amount) if amount is not None else None, fields=dict(fields))


def expense(
    amount: str,
    expense_type: str = "AIRFR",
    payment_type: str = "CASH",
    allocations: tuple[Allocation, ...] = (),
    expense_id: str | None = None,
    date: dt.date = dt.date(2026, 3, 2),
) -> Expense:
    return Expense(
        expense_id=expense_id or f"E-{expense_type}-{amount}",
        expense_type=expense_type,
        expense_type_name=expense_type.title(),
        transaction_date=date,
        amount=D(amount),
        payment_type=payment_type,
        merchant="Merchant",
        allocations=allocations,
    )


def report(*expenses: Expense, total: str | None = None, **kw: Any) -> ExpenseReport:
    base: dict[str, Any] = {
        "report_id": "9F1A2B3C4D5E6F708192",
        "name": "March trip",
        "owner": JANE,
        "currency": "USD",
        "approval_status": "A_APPR",
        "total": D(total) if total is not None else sum((e.amount for e in expenses), D("0")),
        "report_date": dt.date(2026, 3, 10),
        "expenses": tuple(expenses),
    }
    base.update(kw)
    return ExpenseReport(**base)


def invoice_line(amount: str, expense_type: str = "OFFICE", allocations: tuple[Allocation, ...] = (), line_id: str = "1") -> InvoiceLine:
    return InvoiceLine(line_id=line_id, description=f"line {line_id}", expense_type=expense_type, amount=D(amount), allocations=allocations)


def invoice(*lines: InvoiceLine, total: str | None = None, **kw: Any) -> Invoice:
    base: dict[str, Any] = {
        "request_id": "PR$1234$ABCD",
        "invoice_number": "INV-2026-0042",
        "vendor_name": "Acme Supplies",
        "vendor_code": "ACME01",
        "currency": "USD",
        "approval_status": "A_APPR",
        "total": D(total) if total is not None else sum((li.amount for li in lines), D("0")),
        "invoice_date": dt.date(2026, 3, 5),
        "due_date": dt.date(2026, 4, 4),
        "terms": "Net 30",
        "lines": tuple(lines),
    }
    base.update(kw)
    return Invoice(**base)


ACME = QbVendor(list_id="80000002-1700000000", name="Acme Supplies", is_active=True, edit_sequence="1")


def replace(obj: Any, **kw: Any) -> Any:
    return dataclasses.replace(obj, **kw)
