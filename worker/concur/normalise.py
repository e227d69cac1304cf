"""Concur JSON -> shared.domain documents. Pure: the list-item lookup is a passed-in callable.

Money: v4 amounts are JSON numbers with 8 decimals (``525.00000000``, ``0E-8``), so bodies must be
parsed with ``loads`` below (``parse_float=Decimal``); v3 invoice values are strings. Never float.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlsplit

from shared.domain import Allocation, Employee, Expense, ExpenseReport, Invoice, InvoiceLine
from worker.concur.errors import BadConcurData

ListLookup = Callable[[str], "str | None"]  # list item id -> item code (None: not a list item / unknown)

_REPORT_PATH = re.compile(
    r"/expensereports/v4/users/(?P<user>[^/]+)/context/(?P<context>[A-Za-z]+)/reports/(?P<report>[^/?#]+)"
)
# Allocation customData carries no listItemUrl: list item ids look like 32 hex digits or a UUID.
_LIST_ITEM_ID = re.compile(r"^(?:[0-9A-Fa-f]{32}|[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12})$")
_HUNDRED = Decimal(100)


def loads(raw: bytes | str) -> Any:
    return json.loads(raw, parse_float=Decimal)


def to_decimal(value: Any, what: str = "amount") -> Decimal:
    """Numbers and numeric strings -> Decimal (a float, if one slipped in, goes through str)."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, bool) or value is None:
        raise BadConcurData(f"{what} is missing")
    try:
        return Decimal(str(value).strip())
    except InvalidOperation as exc:
        raise BadConcurData(f"{what} is not a number") from exc


def amount_value(obj: Any) -> Decimal | None:
    """v4 ``{"value": 525.00000000, "currencyCode": "USD"}`` -> Decimal, or None when absent."""
    if not isinstance(obj, dict) or obj.get("value") is None:
        return None
    return to_decimal(obj["value"])


def parse_report_href(href: str) -> tuple[str, str, str]:
    """v4 report href (absolute URL or path) -> (owner user id, context, report id)."""
    match = _REPORT_PATH.search(urlsplit(href).path or href)
    if not match:
        raise ValueError("not a v4 expense report href")
    return match["user"], match["context"], match["report"]


def looks_like_list_item_id(value: Any) -> bool:
    return isinstance(value, str) and bool(_LIST_ITEM_ID.match(value))


def allocation_list_item_ids(allocations: list[dict[str, Any]]) -> set[str]:
    """Values in allocation customData that may be list item ids (to resolve before normalising)."""
    ids: set[str] = set()
    for allocation in allocations:
        for custom in allocation.get("customData") or []:
            if looks_like_list_item_id(custom.get("value")):
                ids.add(custom["value"])
    return ids


def _date(value: Any, what: str) -> dt.date:
    if not value:
        raise BadConcurData(f"{what} is missing")
    text = str(value).strip()
    try:
        return dt.date.fromisoformat(text[:10])
    except ValueError as exc:
        raise BadConcurData(f"{what} is not a date") from exc


def _custom_fields(custom_data: Any, lookup: ListLookup) -> dict[str, str]:
    fields: dict[str, str] = {}
    for custom in custom_data or []:
        if not isinstance(custom, dict) or not custom.get("id") or custom.get("value") in (None, ""):
            continue
        value = str(custom["value"])
        code = lookup(value) if looks_like_list_item_id(value) or custom.get("listItemUrl") else None
        fields[str(custom["id"])] = code if code is not None else value
    return fields


def normalise_allocations(
    expense_amount: Decimal, allocations: list[dict[str, Any]], lookup: ListLookup
) -> tuple[Allocation, ...]:
    """v4 allocations of one expense. ``allocationAmount`` is Concur's own figure and is kept as
    the truth; the percentage comes along. A hidden system allocation is kept only when it is the
    only one (an unallocated expense: it carries the default cost objects)."""
    visible = [a for a in allocations if not a.get("isSystemAllocation")]
    chosen = visible or list(allocations)
    result = []
    for allocation in chosen:
        amount = amount_value(allocation.get("allocationAmount"))
        if amount is None:
            amount = amount_value(allocation.get("approvedAmount"))
        percentage = allocation.get("percentage")
        if percentage is None:
            if amount is None or not expense_amount:
                raise BadConcurData("allocation has neither percentage nor amount")
            percentage = amount * _HUNDRED / expense_amount
        fields = _custom_fields(allocation.get("customData"), lookup)
        if allocation.get("accountCode"):
            fields.setdefault("accountCode", str(allocation["accountCode"]))
        result.append(Allocation(percentage=to_decimal(percentage, "allocation percentage"), amount=amount, fields=fields))
    return tuple(result)


def _employee_name(user: Mapping[str, Any]) -> str:
    if user.get("displayName"):
        return str(user["displayName"]).strip()
    name = user.get("name") or {}
    parts = [name.get("givenName"), name.get("familyName")]
    return " ".join(str(p).strip() for p in parts if p) or str(user.get("userName") or "")


def normalise_employee(user_id: str, user: Mapping[str, Any] | None) -> Employee:
    """Identity v4 user -> Employee. ``user_id`` is the report owner from the report itself."""
    if not user:
        return Employee(employee_id=user_id.lower(), name="")
    emails = [e for e in user.get("emails") or [] if isinstance(e, dict) and e.get("value")]
    work = [e for e in emails if e.get("type") == "work"] or emails
    enterprise = user.get("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User") or {}
    return Employee(
        employee_id=str(user.get("id") or user_id).lower(),
        name=_employee_name(user),
        email=str(work[0]["value"]) if work else "",
        employee_code=str(enterprise.get("employeeNumber") or ""),
    )


def normalise_expense(expense: Mapping[str, Any], allocations: list[dict[str, Any]], lookup: ListLookup) -> Expense:
    expense_id = expense.get("expenseId")
    if not expense_id:
        raise BadConcurData("expense without expenseId")
    amount = amount_value(expense.get("approvedAmount"))
    if amount is None:
        amount = amount_value(expense.get("postedAmount"))
    if amount is None:
        raise BadConcurData(f"expense {expense_id}: no approved or posted amount")
    expense_type = expense.get("expenseType") or {}
    payment_type = expense.get("paymentType") or {}
    vendor = expense.get("vendor") or {}
    # A free-text merchant arrives only in vendor.description; name is set for vendor-list items.
    merchant = vendor.get("description") or vendor.get("name") or ""
    return Expense(
        expense_id=str(expense_id),
        # expenseType.id is the tenant's expense type key (AIRFR, LODNG); .code is a coarse category.
        expense_type=str(expense_type.get("id") or expense_type.get("code") or ""),
        expense_type_name=str(expense_type.get("name") or ""),
        transaction_date=_date(expense.get("transactionDate"), f"expense {expense_id} transactionDate"),
        amount=amount,
        # paymentType.code is the stable code (CASH, CBCP); .id can be a tenant number ("1022").
        payment_type=str(payment_type.get("code") or payment_type.get("id") or ""),
        merchant=str(merchant).strip(),
        description=str(expense.get("businessPurpose") or "").strip(),
        allocations=normalise_allocations(amount, allocations, lookup),
    )


def normalise_report(
    report: Mapping[str, Any],
    expenses: list[dict[str, Any]],
    allocations_by_expense: Mapping[str, list[dict[str, Any]]],
    owner: Mapping[str, Any] | None,
    lookup: ListLookup = lambda _id: None,
    modified_at: str = "",
) -> ExpenseReport:
    """v4 report + its expenses + their allocations + the owner's identity -> ExpenseReport.

    Personal expenses are left out: the company neither pays nor reimburses them.
    """
    report_id = report.get("reportId")
    if not report_id:
        raise BadConcurData("report without reportId")
    user_id = str(report.get("userId") or "")
    currency = report.get("currencyCode") or (report.get("reportTotal") or {}).get("currencyCode")
    if not currency:
        raise BadConcurData(f"report {report_id}: no currency")
    total = amount_value(report.get("approvedAmount"))
    if total is None:
        total = amount_value(report.get("reportTotal"))
    if total is None:
        raise BadConcurData(f"report {report_id}: no total")
    kept = [e for e in expenses if not e.get("isPersonalExpense")]
    return ExpenseReport(
        report_id=str(report_id),
        name=str(report.get("name") or "").strip(),
        owner=normalise_employee(user_id, owner),
        currency=str(currency),
        approval_status=str(report.get("approvalStatusId") or ""),
        total=total,
        report_date=_date(report.get("reportDate") or report.get("submitDate") or report.get("creationDate"), f"report {report_id} reportDate"),
        payment_status=str(report.get("paymentStatusId") or ""),
        modified_at=modified_at or str(report.get("lastModifiedDate") or ""),
        expenses=tuple(
            normalise_expense(e, list(allocations_by_expense.get(str(e.get("expenseId")), [])), lookup) for e in kept
        ),
    )


# ---- Invoice v3 payment request: every value is a string; wrappers hold an object or a list ----


def as_list(value: Any) -> list[Any]:
    if value is None or value == "":
        return []
    return list(value) if isinstance(value, list) else [value]


def unwrap(container: Any, key: str) -> list[dict[str, Any]]:
    """``{"LineItem": {...}}`` / ``{"LineItem": [...]}`` / ``[...]`` -> list of dicts."""
    if isinstance(container, dict) and key in container:
        container = container[key]
    return [item for item in as_list(container) if isinstance(item, dict)]


def _opt_decimal(value: Any, what: str) -> Decimal | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return to_decimal(value, what)


def _first_amount(data: Mapping[str, Any], keys: tuple[str, ...], what: str) -> Decimal:
    for key in keys:
        value = _opt_decimal(data.get(key), f"{what} {key}")
        if value is not None:
            return value
    raise BadConcurData(f"{what}: no amount ({', '.join(keys)})")


def _invoice_custom(item: Mapping[str, Any]) -> dict[str, str]:
    fields = {}
    for key, value in item.items():
        if re.fullmatch(r"Custom\d+", key) and value not in (None, ""):
            fields[key.lower()] = str(value)
    return fields


def normalise_invoice(request: Mapping[str, Any], digest: Mapping[str, Any] | None = None, modified_at: str = "") -> Invoice:
    digest = digest or {}
    request_id = request.get("ID") or digest.get("PaymentRequestId") or digest.get("ID")
    if not request_id:
        raise BadConcurData("payment request without ID")
    what = f"payment request {request_id}"
    lines = []
    for index, line in enumerate(unwrap(request.get("LineItems"), "LineItem"), start=1):
        allocations = []
        for allocation in unwrap(line.get("Allocations"), "Allocation"):
            fields = _invoice_custom(allocation)
            if allocation.get("AllocationAccountCode"):
                fields["accountCode"] = str(allocation["AllocationAccountCode"])
            allocations.append(
                Allocation(percentage=to_decimal(allocation.get("Percentage"), f"{what} allocation Percentage"), amount=None, fields=fields)
            )
        lines.append(
            InvoiceLine(
                line_id=str(line.get("LineItemId") or line.get("RequestLineItemNumber") or index),
                description=str(line.get("Description") or "").strip(),
                expense_type=str(line.get("ExpenseTypeCode") or ""),
                amount=_first_amount(line, ("ApprovedLineItemAmount", "TotalPrice", "RequestedLineItemAmount"), f"{what} line {index}"),
                allocations=tuple(allocations),
            )
        )
    remit = request.get("VendorRemitAddress") or {}
    vendor_name = remit.get("Name") or digest.get("VendorName") or ""
    if not vendor_name:
        raise BadConcurData(f"{what}: no vendor name")
    due = request.get("PaymentDueDate")
    return Invoice(
        request_id=str(request_id),
        invoice_number=str(request.get("InvoiceNumber") or digest.get("InvoiceNumber") or ""),
        vendor_name=str(vendor_name).strip(),
        vendor_code=str(request.get("VendorCode") or digest.get("VendorCode") or ""),
        currency=str(request.get("CurrencyCode") or digest.get("CurrencyCode") or ""),
        approval_status=str(request.get("ApprovalStatusCode") or request.get("ApprovalStatus") or digest.get("ApprovalStatusCode") or ""),
        total=_first_amount(request, ("TotalApprovedAmount", "InvoiceAmount", "CalculatedAmount"), what),
        invoice_date=_date(request.get("InvoiceDate") or digest.get("UserDefinedDate") or digest.get("CreateDate"), f"{what} InvoiceDate"),
        due_date=_date(due, f"{what} PaymentDueDate") if due else None,
        terms=str(request.get("DiscountTerms") or remit.get("DiscountTerms") or ""),
        description=str(request.get("Description") or "").strip(),
        payment_status=str(request.get("PaymentStatusCode") or request.get("PaymentStatus") or digest.get("PaymentStatusCode") or ""),
        modified_at=modified_at or str(digest.get("LastModifiedDate") or ""),
        lines=tuple(lines),
    )
