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

from shared.domain import Allocation, Employee, Expense, ExpenseReport, Invoice, InvoiceLine, Itemization, RemitAddress
from worker.concur.errors import BadConcurData

ListLookup = Callable[[str], "str | None"]  # list item id -> item code (None: not a list item / unknown)

_REPORT_PATH = re.compile(r"/expensereports/v4/users/(?P<user>[^/]+)/context/(?P<context>[A-Za-z]+)/reports/(?P<report>[^/?#]+)")
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


def _code(value: Any) -> str:
    return str(value).strip() if value not in (None, "") else ""


def normalise_allocations(expense_amount: Decimal, allocations: list[dict[str, Any]], lookup: ListLookup) -> tuple[Allocation, ...]:
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
        account_code = _code(allocation.get("accountCode"))
        if account_code:
            fields.setdefault("accountCode", account_code)
        result.append(
            Allocation(
                percentage=to_decimal(percentage, "allocation percentage"),
                amount=amount,
                fields=fields,
                account_code=account_code,
                over_limit_account_code=_code(allocation.get("overLimitAccountCode")),
            )
        )
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


def report_paid_date(report_v3: Mapping[str, Any] | None) -> dt.date | None:
    """v3 report ``PaidDate`` (``2026-01-05T00:00:00``), where the v4 report states none."""
    if not report_v3 or not report_v3.get("PaidDate"):
        return None
    return _opt_date(report_v3.get("PaidDate"), f"report {report_v3.get('ID') or ''} PaidDate")


def _flag(value: Any) -> bool | None:
    """JSON booleans, v3 strings ("true"/"Y") -> bool; absent -> None (the payload does not say)."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("true", "y", "yes", "1")


def has_itemizations_link(expense: Mapping[str, Any]) -> bool:
    """v4 expense summaries carry a ``rel: itemizations`` link "for each parent expense" (Reports v4
    swagger, GET …/expenses); v4 has no ``hasItemizations`` flag (v3 entries do)."""
    return any(isinstance(link, dict) and link.get("rel") == "itemizations" for link in expense.get("links") or [])


def _expense_amounts(expense: Mapping[str, Any], what: str) -> tuple[Decimal, Decimal | None, Decimal | None, Decimal | None]:
    """(amount used for posting, approved, claimed, posted): approved where stated, else posted."""
    approved = amount_value(expense.get("approvedAmount"))
    claimed = amount_value(expense.get("claimedAmount"))
    posted = amount_value(expense.get("postedAmount"))
    amount = approved if approved is not None else posted
    if amount is None:
        raise BadConcurData(f"{what}: no approved or posted amount")
    return amount, approved, claimed, posted


def _expense_type(expense: Mapping[str, Any]) -> tuple[str, str]:
    # expenseType.id is the tenant's expense type key (AIRFR, LODNG); .code is a coarse category.
    expense_type = expense.get("expenseType") or {}
    return str(expense_type.get("id") or expense_type.get("code") or ""), str(expense_type.get("name") or "")


def normalise_itemization(itemization: Mapping[str, Any], allocations: list[dict[str, Any]], lookup: ListLookup) -> Itemization:
    """One v4 itemization (an expense-shaped object with its own expenseId and expenseType)."""
    item_id = itemization.get("expenseId")
    if not item_id:
        raise BadConcurData("itemization without expenseId")
    what = f"itemization {item_id}"
    amount, approved, claimed, posted = _expense_amounts(itemization, what)
    type_code, type_name = _expense_type(itemization)
    date = itemization.get("transactionDate")
    return Itemization(
        itemization_id=str(item_id),
        expense_type=type_code,
        expense_type_name=type_name,
        amount=amount,
        transaction_date=_date(date, f"{what} transactionDate") if date else None,
        is_personal=bool(itemization.get("isPersonalExpense")),
        is_billable=_flag(itemization.get("isExpenseBillable")),
        approved_amount=approved,
        claimed_amount=claimed,
        posted_amount=posted,
        description=str(itemization.get("businessPurpose") or "").strip(),
        allocations=normalise_allocations(amount, allocations, lookup),
    )


def normalise_expense(
    expense: Mapping[str, Any],
    allocations: list[dict[str, Any]],
    lookup: ListLookup,
    itemizations: list[dict[str, Any]] | None = None,
    itemization_allocations: Mapping[str, list[dict[str, Any]]] | None = None,
) -> Expense:
    """One v4 expense (summary or detail) with its allocations and, if itemized, its itemizations
    (each with its own allocations, keyed by the itemization's expenseId)."""
    expense_id = expense.get("expenseId")
    if not expense_id:
        raise BadConcurData("expense without expenseId")
    amount, approved, claimed, posted = _expense_amounts(expense, f"expense {expense_id}")
    type_code, type_name = _expense_type(expense)
    payment_type = expense.get("paymentType") or {}
    vendor = expense.get("vendor") or {}
    # A free-text merchant arrives only in vendor.description; name is set for vendor-list items.
    merchant = vendor.get("description") or vendor.get("name") or ""
    transaction = expense.get("transactionAmount") or {}
    rate = expense.get("exchangeRate") or {}
    item_allocations = itemization_allocations or {}
    return Expense(
        expense_id=str(expense_id),
        expense_type=type_code,
        expense_type_name=type_name,
        transaction_date=_date(expense.get("transactionDate"), f"expense {expense_id} transactionDate"),
        amount=amount,
        # paymentType.code is the stable code (CASH, CBCP); .id can be a tenant number ("1022").
        payment_type=str(payment_type.get("code") or payment_type.get("id") or ""),
        merchant=str(merchant).strip(),
        description=str(expense.get("businessPurpose") or "").strip(),
        allocations=normalise_allocations(amount, allocations, lookup),
        is_personal=bool(expense.get("isPersonalExpense")),
        is_billable=_flag(expense.get("isExpenseBillable")),
        approved_amount=approved,
        claimed_amount=claimed,
        posted_amount=posted,
        transaction_amount=amount_value(transaction),
        transaction_currency=str(transaction.get("currencyCode") or "") if isinstance(transaction, dict) else "",
        exchange_rate=_opt_decimal(rate.get("value"), f"expense {expense_id} exchangeRate") if isinstance(rate, dict) else None,
        exchange_rate_operation=str(rate.get("operation") or "") if isinstance(rate, dict) else "",
        payment_type_name=str(payment_type.get("name") or ""),
        itemizations=tuple(normalise_itemization(item, list(item_allocations.get(str(item.get("expenseId")), [])), lookup) for item in itemizations or []),
    )


def normalise_report(
    report: Mapping[str, Any],
    expenses: list[dict[str, Any]],
    allocations_by_expense: Mapping[str, list[dict[str, Any]]],
    owner: Mapping[str, Any] | None,
    lookup: ListLookup = lambda _id: None,
    modified_at: str = "",
    itemizations_by_expense: Mapping[str, list[dict[str, Any]]] | None = None,
    *,
    cash_advance_applied: Decimal | None = None,
    paid_date: dt.date | None = None,
) -> ExpenseReport:
    """v4 report + its expenses + their allocations (and itemizations, whose allocations are in
    ``allocations_by_expense`` under the itemization's expenseId) + the owner -> ExpenseReport.

    Every expense is kept, personal ones flagged ``is_personal``: Concur's header figures count
    them (``personalAmount``, ``amountDueCompany``), so the planner needs them to balance. An
    expense listed again as an itemization of another (``parentExpenseId``) is not a top-level
    expense. ``cash_advance_applied`` and ``paid_date`` come from sources other than the v4 report
    (no public v4 field states them).
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
    itemizations = itemizations_by_expense or {}
    parents = [e for e in expenses if not e.get("parentExpenseId")]
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
            normalise_expense(
                e,
                list(allocations_by_expense.get(str(e.get("expenseId")), [])),
                lookup,
                list(itemizations.get(str(e.get("expenseId")), [])),
                allocations_by_expense,
            )
            for e in parents
        ),
        amount_due_employee=amount_value(report.get("amountDueEmployee")),
        amount_due_company_card=amount_value(report.get("amountDueCompanyCard")),
        amount_company_paid=amount_value(report.get("amountCompanyPaid")),
        amount_due_company=amount_value(report.get("amountDueCompany")),
        personal_amount=amount_value(report.get("personalAmount")),
        total_approved_amount=amount_value(report.get("approvedAmount")),
        claimed_amount=amount_value(report.get("claimedAmount")),
        amount_not_approved=amount_value(report.get("amountNotApproved")),
        report_total=amount_value(report.get("reportTotal")),
        cash_advance_applied=cash_advance_applied,
        paid_date=paid_date,
        paid_amount=amount_value(report.get("totalAmountPaidEmployee")),
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


def _opt_date(value: Any, what: str) -> dt.date | None:
    return _date(value, what) if value not in (None, "") else None


def _opt_int(value: Any, what: str) -> int | None:
    number = _opt_decimal(value, what)
    if number is None:
        return None
    if number != number.to_integral_value():
        raise BadConcurData(f"{what} is not a whole number")
    return int(number)


def _remit_address(remit: Any) -> RemitAddress | None:
    if not isinstance(remit, dict) or not any(v not in (None, "") for v in remit.values()):
        return None

    def text(key: str) -> str:
        return str(remit.get(key) or "").strip()

    return RemitAddress(
        name=text("Name"),
        address1=text("Address1"),
        address2=text("Address2"),
        address3=text("Address3"),
        city=text("City"),
        state=text("State"),
        postal_code=text("PostalCode"),
        country_code=text("CountryCode"),
    )


def _invoice_line(line: Mapping[str, Any], index: int, what: str) -> InvoiceLine:
    allocations = []
    for allocation in unwrap(line.get("Allocations"), "Allocation"):
        fields = _invoice_custom(allocation)
        account_code = _code(allocation.get("AllocationAccountCode"))
        if account_code:
            fields["accountCode"] = account_code
        allocations.append(
            Allocation(
                percentage=to_decimal(allocation.get("Percentage"), f"{what} allocation Percentage"), amount=None, fields=fields, account_code=account_code
            )
        )
    return InvoiceLine(
        line_id=str(line.get("LineItemId") or line.get("RequestLineItemNumber") or index),
        description=str(line.get("Description") or "").strip(),
        expense_type=str(line.get("ExpenseTypeCode") or ""),
        amount=_first_amount(line, ("ApprovedLineItemAmount", "TotalPrice", "RequestedLineItemAmount"), f"{what} line {index}"),
        allocations=tuple(allocations),
        # IsBillable is not in the PaymentRequest swagger; read where a tenant's payload has it.
        is_billable=_flag(line.get("IsBillable")),
        tax=_opt_decimal(line.get("Tax"), f"{what} line {index} Tax"),
    )


def invoice_approval_status(request: Mapping[str, Any], digest: Mapping[str, Any] | None) -> tuple[str, str]:
    """The invoice's approval status and, when the two disagree, a sentence saying so.

    The digest's ``ApprovalStatusCode`` is what the sweep filters on (and lists by), so it decides;
    the detail's ``ApprovalStatusCode``/``ApprovalStatus`` is the fallback when the digest has none.
    A disagreement is reported for the log, never a reason to drop the invoice (issue 13 §2)."""
    listed = str((digest or {}).get("ApprovalStatusCode") or "").strip()
    detail = str(request.get("ApprovalStatusCode") or request.get("ApprovalStatus") or "").strip()
    if listed and detail and listed != detail:
        return listed, f"payment request {request.get('ID') or ''}: the digest says approval status {listed}, the detail {detail}; using the digest's"
    return listed or detail, ""


def normalise_invoice(request: Mapping[str, Any], digest: Mapping[str, Any] | None = None, modified_at: str = "") -> Invoice:
    """Invoice v3 payment request (+ its digest) -> Invoice. Every value is a string; ``LineItems``
    and ``Allocations`` hold one object or a list. Absent header amounts stay None (not zero)."""
    digest = digest or {}
    request_id = request.get("ID") or digest.get("PaymentRequestId") or digest.get("ID")
    if not request_id:
        raise BadConcurData("payment request without ID")
    what = f"payment request {request_id}"
    lines = [_invoice_line(line, index, what) for index, line in enumerate(unwrap(request.get("LineItems"), "LineItem"), start=1)]
    remit = request.get("VendorRemitAddress") or {}
    vendor_name = remit.get("Name") or digest.get("VendorName") or ""
    if not vendor_name:
        raise BadConcurData(f"{what}: no vendor name")

    def money(key: str) -> Decimal | None:
        return _opt_decimal(request.get(key), f"{what} {key}")

    paid_date = request.get("PaidDate") or digest.get("PaidDate")
    return Invoice(
        request_id=str(request_id),
        invoice_number=str(request.get("InvoiceNumber") or digest.get("InvoiceNumber") or ""),
        vendor_name=str(vendor_name).strip(),
        vendor_code=str(request.get("VendorCode") or digest.get("VendorCode") or ""),
        currency=str(request.get("CurrencyCode") or digest.get("CurrencyCode") or ""),
        approval_status=invoice_approval_status(request, digest)[0],
        total=_first_amount(request, ("TotalApprovedAmount", "InvoiceAmount", "CalculatedAmount"), what),
        invoice_date=_date(request.get("InvoiceDate") or digest.get("UserDefinedDate") or digest.get("CreateDate"), f"{what} InvoiceDate"),
        due_date=_opt_date(request.get("PaymentDueDate"), f"{what} PaymentDueDate"),
        terms=str(request.get("DiscountTerms") or remit.get("DiscountTerms") or "").strip(),
        description=str(request.get("Description") or "").strip(),
        payment_status=str(request.get("PaymentStatusCode") or request.get("PaymentStatus") or digest.get("PaymentStatusCode") or ""),
        modified_at=modified_at or str(digest.get("LastModifiedDate") or ""),
        lines=tuple(lines),
        tax_amount=money("TaxAmount"),
        shipping_amount=money("ShippingAmount"),
        calculated_amount=money("CalculatedAmount"),
        total_approved_amount=money("TotalApprovedAmount"),
        invoice_amount=money("InvoiceAmount"),
        line_item_total_amount=money("LineItemTotalAmount"),
        terms_days=_opt_int(request.get("PaymentTermsDays"), f"{what} PaymentTermsDays"),
        remit_address=_remit_address(remit),
        exchange_rate=money("ExchangeRate"),  # not in the swagger: read only if a payload carries it
        paid_date=_opt_date(paid_date, f"{what} PaidDate"),
        paid_amount=money("PaidAmount"),
    )
