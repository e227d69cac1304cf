"""FIS financial documents -> the same shared.domain documents the v4/v3 normaliser produces. Pure.

The Financial Integration Service (CONCUR-API.md §3.3) hands out one JSON document per expense
report or invoice, already carrying the ledger view: each allocation has ``journal[]`` entries with
``journalAccountCode`` and ``amountGross``. Those become the allocation's ``account_code`` and
amount, and ``allocationCustomNCode`` becomes ``fields["customN"]`` (the code, as the v4 path
resolves list items to codes), so the planner and the mapping rules see the same shapes whichever
source a company uses. The ids are Concur's report id and payment request id, which is what the
deterministic RefNumber / ExternalGUID keys (worker/posting/keys.py) are built from: a company that
switches source keeps its keys.

Shapes: the expense document follows SAP's public example 4.1 (``concur/fis/expense_document…``).
No invoice document is public; the invoice shape below (``requestHeader``, ``vendor``,
``lineItem[]`` with ``allocation[]`` and ``journal[]``) is an ASSUMPTION built from the field names
the FIS guide lists and the Invoice v3 names, and is what the simulator serves.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from shared.domain import Allocation, Document, Employee, Expense, ExpenseReport, Invoice, InvoiceLine, RemitAddress
from worker.concur.errors import BadConcurData
from worker.concur.normalise import _code, _date, _opt_date, _opt_decimal, to_decimal

_CUSTOM_CODE = re.compile(r"^allocationCustom(\d+)Code$")
ZERO = Decimal(0)


def document_body(item: Mapping[str, Any]) -> dict[str, Any]:
    """The ``document`` of a transactions item: an object, or a JSON string (``DocumentFormatAs: text``,
    and the envelope example shows a string)."""
    body = item.get("document")
    if isinstance(body, str):
        try:
            body = json.loads(body, parse_float=Decimal)
        except ValueError as exc:
            raise BadConcurData(f"FIS document {item.get('id')}: document is not JSON") from exc
    if not isinstance(body, dict):
        raise BadConcurData(f"FIS document {item.get('id')}: no document")
    return body


def _yes(value: Any) -> bool | None:
    if value in (None, ""):
        return None
    return str(value).strip().upper() in ("Y", "YES", "TRUE", "1")


def _list(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, dict):
        return [value]
    return [v for v in value or [] if isinstance(v, dict)]


def _allocation(raw: Mapping[str, Any], what: str) -> Allocation:
    fields = {f"custom{m.group(1)}": str(v) for k, v in raw.items() if (m := _CUSTOM_CODE.match(k)) and v not in (None, "")}
    journals = _list(raw.get("journal"))
    account_code = next((_code(j.get("journalAccountCode")) for j in journals if _code(j.get("journalAccountCode"))), "")
    if account_code:
        fields["accountCode"] = account_code
    amounts = [_opt_decimal(j.get("amountGross"), f"{what} journal amountGross") for j in journals]
    amount = sum((a for a in amounts if a is not None), ZERO) if any(a is not None for a in amounts) else None
    return Allocation(
        percentage=to_decimal(raw.get("allocationPercentage"), f"{what} allocationPercentage"), amount=amount, fields=fields, account_code=account_code
    )


def _expense(entry: Mapping[str, Any], report_id: str) -> Expense:
    entry_id = str(entry.get("entryId") or entry.get("legacyEntryId") or "")
    what = f"FIS report {report_id} entry {entry_id}"
    if not entry_id:
        raise BadConcurData(f"FIS report {report_id}: an expense entry without entryId")
    approved = to_decimal(entry.get("entryApprovedAmount"), f"{what} entryApprovedAmount")
    return Expense(
        expense_id=entry_id,
        expense_type=str(entry.get("expenseTypeCode") or ""),
        expense_type_name=str(entry.get("expenseTypeName") or "").strip(),
        transaction_date=_date(entry.get("entryDate"), f"{what} entryDate"),
        amount=approved,
        payment_type=str(entry.get("reportEntryPatKey") or ""),
        merchant=str(entry.get("entryVendorDescription") or entry.get("entryVendorCode") or "").strip(),
        description=str(entry.get("entryDescription") or "").strip(),
        allocations=tuple(_allocation(a, what) for a in _list(entry.get("allocation"))),
        is_personal=bool(_yes(entry.get("entryIsPersonal"))),
        is_billable=_yes(entry.get("entryIsBillable")),
        approved_amount=approved,
        transaction_amount=_opt_decimal(entry.get("reportEntryTransactionAmount"), f"{what} reportEntryTransactionAmount"),
        transaction_currency=str(entry.get("entryCurrAlphaCode") or ""),
        exchange_rate=_opt_decimal(entry.get("entryExchangeRate"), f"{what} entryExchangeRate"),
        exchange_rate_operation="MULTIPLY" if str(entry.get("entryExchangeRateDirection") or "M").upper().startswith("M") else "DIVIDE",
    )


def cash_advance_applied(applications: Any, what: str) -> Decimal | None:
    """Sum of ``cashAdvanceApplication[]``. The public example shows only an empty list; the amount
    field's name is an ASSUMPTION (``amountApplied``, else ``applicationAmount``)."""
    items = _list(applications)
    if not items:
        return None
    total = ZERO
    for item in items:
        value = item.get("amountApplied", item.get("applicationAmount"))
        total += to_decimal(value, f"{what} cashAdvanceApplication amountApplied")
    return total


def _object(doc: Mapping[str, Any], key: str) -> dict[str, Any]:
    value = doc.get(key)
    return value if isinstance(value, dict) else {}


def _part_with_id(doc: Mapping[str, Any], key: str, id_key: str, what: str) -> tuple[dict[str, Any], str]:
    """The document's ``key`` object and its ``id_key`` (the Concur id), or a clear error."""
    part = _object(doc, key)
    if not part.get(id_key):
        raise BadConcurData(f"FIS {what} document without {key}.{id_key}")
    return part, str(part[id_key])


def normalise_expense_document(doc: Mapping[str, Any], modified_at: str = "") -> ExpenseReport:
    """FIS expense document -> ExpenseReport. FIS documents are approved and queued for posting, so
    the approval status is ``A_APPR``; header figures FIS does not state stay None."""
    report, report_id = _part_with_id(doc, "report", "reportId", "expense")
    what = f"FIS report {report_id}"
    employee = _object(doc, "employee")
    name = " ".join(str(employee.get(k) or "").strip() for k in ("employeeFirstName", "employeeLastName")).strip()
    currency = str(report.get("employeeCurrencyAlphaCode") or "")
    if not currency:
        raise BadConcurData(f"{what}: no employeeCurrencyAlphaCode")
    total = to_decimal(report.get("totalApprovedAmount"), f"{what} totalApprovedAmount")
    return ExpenseReport(
        report_id=report_id,
        name=str(report.get("reportName") or "").strip(),
        # FIS names the employee by employee id (not the Concur user UUID): the vendor identity
        # of the employee is built from it as employee_code, like the v4 path's employeeNumber.
        owner=Employee(
            employee_id=str(employee.get("employeeId") or ""),
            name=name or str(employee.get("employeeId") or ""),
            employee_code=str(employee.get("employeeId") or ""),
        ),
        currency=currency,
        approval_status="A_APPR",
        total=total,
        report_date=_date(report.get("reportUserDefinedDate") or report.get("reportSubmitDate") or report.get("reportCreationDate"), f"{what} report date"),
        modified_at=modified_at or str(report.get("reportPaymentProcessingDate") or report.get("reportSubmitDate") or ""),
        expenses=tuple(_expense(e, report_id) for e in _list(doc.get("expenseEntry"))),
        total_approved_amount=total,
        cash_advance_applied=cash_advance_applied(doc.get("cashAdvanceApplication"), what),
    )


def _invoice_line(line: Mapping[str, Any], index: int, what: str) -> InvoiceLine:
    amount = _opt_decimal(line.get("lineItemApprovedAmount"), f"{what} line {index} lineItemApprovedAmount")
    if amount is None:
        amount = to_decimal(line.get("lineItemTotalPrice"), f"{what} line {index} lineItemTotalPrice")
    return InvoiceLine(
        line_id=str(line.get("lineItemId") or index),
        description=str(line.get("lineItemDescription") or "").strip(),
        expense_type=str(line.get("expenseTypeCode") or ""),
        amount=amount,
        allocations=tuple(_allocation(a, f"{what} line {index}") for a in _list(line.get("allocation"))),
        is_billable=_yes(line.get("lineItemIsBillable")),
        tax=_opt_decimal(line.get("lineItemTaxAmount"), f"{what} line {index} lineItemTaxAmount"),
    )


def normalise_invoice_document(doc: Mapping[str, Any], modified_at: str = "") -> Invoice:
    """FIS invoice document (ASSUMED shape, see the module doc) -> Invoice. ``requestId`` is taken
    to be the payment request id the Invoice v3 API uses, so RefNumbers match across sources."""
    header, request_id = _part_with_id(doc, "requestHeader", "requestId", "invoice")
    what = f"FIS invoice {request_id}"
    vendor = _object(doc, "vendor")
    vendor_name = str(vendor.get("vendorName") or "").strip()
    if not vendor_name:
        raise BadConcurData(f"{what}: no vendor name")
    remit = _object(vendor, "remitAddress")

    def money(key: str) -> Decimal | None:
        return _opt_decimal(header.get(key), f"{what} {key}")

    total = to_decimal(header.get("totalApprovedAmount"), f"{what} totalApprovedAmount")
    return Invoice(
        request_id=request_id,
        invoice_number=str(header.get("invoiceNumber") or ""),
        vendor_name=vendor_name,
        vendor_code=str(vendor.get("vendorCode") or ""),
        currency=str(header.get("currencyAlphaCode") or ""),
        approval_status="A_APPR",
        total=total,
        invoice_date=_date(header.get("invoiceDate"), f"{what} invoiceDate"),
        due_date=_opt_date(header.get("paymentDueDate"), f"{what} paymentDueDate"),
        terms=str(header.get("paymentTerms") or "").strip(),
        description=str(header.get("description") or "").strip(),
        modified_at=modified_at,
        lines=tuple(_invoice_line(line, i, what) for i, line in enumerate(_list(doc.get("lineItem")), start=1)),
        tax_amount=money("taxAmount"),
        shipping_amount=money("shippingAmount"),
        total_approved_amount=total,
        line_item_total_amount=money("lineItemTotalAmount"),
        remit_address=RemitAddress(
            name=vendor_name,
            address1=str(remit.get("address1") or ""),
            address2=str(remit.get("address2") or ""),
            city=str(remit.get("city") or ""),
            state=str(remit.get("state") or ""),
            postal_code=str(remit.get("postalCode") or ""),
            country_code=str(remit.get("countryCode") or ""),
        )
        if remit
        else None,
    )


def normalise_fis_document(doc_type: str, item: Mapping[str, Any]) -> Document:
    """One FIS transactions item (``{id, docType, document, docStatus, …}``) -> a domain document."""
    body = document_body(item)
    if doc_type == "expense":
        return normalise_expense_document(body)
    if doc_type == "invoice":
        return normalise_invoice_document(body)
    raise BadConcurData(f"FIS document type {doc_type!r} is not posted by ml-connector")


# --- region ------------------------------------------------------------------------------------

# FIS is offered in North America and EMEA only (CONCUR-API.md §3.3). Hosts by data centre.
FIS_HOSTS = ("us", "us2", "us-impl", "emea", "eu", "eu2", "emea-impl")
_CONCUR_DOMAINS = (".api.concursolutions.com", ".api.concurcdc.cn", ".api.cnqr-cn.com")


def region_problem(geolocation: str) -> str | None:
    """None when FIS can be used at the token's ``geolocation``; otherwise the reason in words.

    Hosts outside Concur's domains (a simulator, a proxy) are not judged."""
    host = re.sub(r"^[a-z]+://", "", geolocation.strip().lower()).split("/")[0].split(":")[0]
    domain = next((d for d in _CONCUR_DOMAINS if host.endswith(d)), None)
    if domain is None:
        return None
    dc = host[: -len(domain)].removeprefix("www-")
    if dc in FIS_HOSTS:
        return None
    return (
        f"Concur's Financial Integration Service is offered in North America and EMEA only; this company's "
        f'Concur data centre is {host}. Use source = "expense_api" for this company.'
    )
