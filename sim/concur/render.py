"""Sim content -> Concur's JSON shapes (v4 expense, identity v4, list v4, v3 lists, v3 invoice)."""

from __future__ import annotations

import datetime as dt
import json
import re
from decimal import Decimal
from typing import Any

from sim.concur.data import PAYMENT_TYPES, Allocation, Employee, Expense, Invoice, ListItem, Report

EIGHT = Decimal("1E-8")
_DEC = re.compile(r'"@@DEC@@([^"@]+)@@"')


def dumps(obj: Any) -> bytes:
    """JSON with Decimals as bare numbers, as Concur sends them (``525.00000000``, ``0E-8``)."""

    def default(value: Any) -> Any:
        if isinstance(value, Decimal):
            return f"@@DEC@@{value}@@"
        raise TypeError(type(value).__name__)

    return _DEC.sub(r"\1", json.dumps(obj, default=default, ensure_ascii=False)).encode("utf-8")


def v4_amount(value: Decimal, currency: str) -> dict[str, Any]:
    return {"value": value.quantize(EIGHT), "currencyCode": currency}


def v3_datetime(value: dt.datetime) -> str:
    """v3 dates carry no zone: ``2016-04-04T23:33:08.21``."""
    return value.astimezone(dt.UTC).replace(tzinfo=None).isoformat(timespec="milliseconds").rstrip("0").rstrip(".")


def iso_z(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def report_path(base: str, owner: str, report_id: str, upper: bool = False) -> str:
    user = owner.upper() if upper else owner
    return f"{base}/expensereports/v4/users/{user}/context/TRAVELER/reports/{report_id}"


def report_v4(report: Report, base: str) -> dict[str, Any]:
    cur = report.currency
    figures = report.header()
    status_names = {"A_APPR": "Approved", "A_PEND": "Submitted & Pending Approval", "A_NOTF": "Not Submitted"}
    payment_names = {"P_NOTP": "Not Paid", "P_PROC": "Processing Payment", "P_PAID": "Paid"}
    paid = report.paid_amount if report.payment_status == "P_PAID" and report.paid_amount is not None else Decimal(0)
    return {
        "approvalStatus": status_names.get(report.status, report.status),
        "approvalStatusId": report.status,
        "customData": [],
        "ledger": "DEFAULT",
        "paymentStatus": payment_names.get(report.payment_status, report.payment_status),
        "paymentStatusId": report.payment_status,
        "submitDate": iso_z(report.submitted).replace(".000Z", "Z") if report.submitted else None,
        "approvedAmount": v4_amount(figures["approvedAmount"], cur),
        "claimedAmount": v4_amount(figures["claimedAmount"], cur),
        "amountCompanyPaid": v4_amount(figures["amountCompanyPaid"], cur),
        "paymentConfirmedAmount": v4_amount(paid, cur),
        "amountDueCompany": v4_amount(figures["amountDueCompany"], cur),
        "amountDueCompanyCard": v4_amount(figures["amountDueCompanyCard"], cur),
        "amountDueEmployee": v4_amount(figures["amountDueEmployee"], cur),
        # In the swagger (ReportForm), not in the doc example; assumption: what Expense Pay paid.
        "totalAmountPaidEmployee": v4_amount(paid, cur),
        "personalAmount": v4_amount(figures["personalAmount"], cur),
        "reportTotal": v4_amount(figures["reportTotal"], cur),
        "amountNotApproved": v4_amount(figures["amountNotApproved"], cur),
        "reportId": report.id,
        "currencyCode": cur,
        "links": [{"rel": "self", "href": report_path(base, report.owner, report.id, upper=True), "method": "GET", "isTemplated": False}],
        "reportDate": report.report_date.isoformat(),
        "businessPurpose": "Travel",
        "name": report.name,
        "userId": report.owner.lower(),  # Concur echoes it in lower case
        "reportType": "Regular",
        "creationDate": iso_z(report.created).replace(".000Z", "Z"),
        "canRecall": False,
        "reportVersion": 0,
    }


def _link(rel: str, href: str) -> dict[str, Any]:
    return {"rel": rel, "href": href, "method": "GET", "isTemplated": False}


def _expense_shape(
    expense_id: str, type_code: str, type_name: str, approved: Decimal, claimed: Decimal, posted: Decimal, personal: bool, payment_code: str, cur: str
) -> dict[str, Any]:
    """The fields an expense and an itemization share (Reports v4 ReportEntrySummary /
    ReportEntryItemizationSummary). A personal expense: approved and claimed 0 (assumption)."""
    payment_id, payment_name = PAYMENT_TYPES[payment_code]
    return {
        "expenseId": expense_id,
        "approverAdjustedAmount": v4_amount(approved, cur),
        "approvedAmount": v4_amount(approved, cur),
        "claimedAmount": v4_amount(claimed, cur),
        "postedAmount": v4_amount(posted, cur),
        "expenseType": {"id": type_code, "name": type_name, "code": "OTHER", "isDeleted": False},
        "isPersonalExpense": personal,
        "paymentType": {"id": payment_id, "name": payment_name, "code": payment_code},
    }


def expense_v4(expense: Expense, report: Report, base: str, *, detail: bool = False) -> dict[str, Any]:
    """One expense. ``detail`` (GET …/expenses/{id}) adds the detail-only fields such as
    ``isExpenseBillable`` (CONCUR-API.md §3.1: "Detail only")."""
    cur = report.currency
    href = f"{report_path(base, report.owner, report.id)}/expenses/{expense.id}"
    body = _expense_shape(
        expense.id,
        expense.type_code,
        expense.type_name,
        expense.amount,
        expense.claimed_amount,
        expense.posted_amount,
        expense.personal,
        expense.payment_code,
        cur,
    )
    body.update(
        {
            "allocationState": "NOT_ALLOCATED" if all(a.system for a in expense.allocations) else "FULLY_ALLOCATED",
            "allocationSetId": None,
            "businessPurpose": expense.purpose,
            "exchangeRate": {"value": expense.exchange_rate.quantize(Decimal("1E-14")), "operation": "MULTIPLY"},
            "transactionAmount": v4_amount(expense.transaction_amount, expense.transaction_currency),
            "transactionDate": expense.date.isoformat(),
            # Free-text merchants arrive in vendor.description only.
            "vendor": {"id": None, "name": None, "description": expense.merchant} if expense.merchant else None,
            "attendeeCount": 1,
            # The swagger: "a link to itemizations for each parent expense" (so on every one, itemized or not).
            "links": [_link("self", href), _link("itemizations", f"{href}/itemizations"), _link("comments", f"{href}/comments")],
        }
    )
    if detail:
        body.update({"isExpenseBillable": expense.billable, "parentExpenseId": None, "lastModifiedDate": None})
    return body


def itemizations_v4(expense: Expense, report: Report, base: str) -> list[dict[str, Any]]:
    """``…/expenses/{id}/itemizations`` (shape: expense_v4/expense_itemizations.list.json, plus
    ``parentExpenseId`` from the swagger's ReportEntryItemizationSummary)."""
    cur = report.currency
    result = []
    for item in expense.itemizations:
        approved = Decimal(0) if item.personal else item.amount
        body = _expense_shape(item.id, item.type_code, item.type_name, approved, approved, item.amount, item.personal, expense.payment_code, cur)
        body.update(
            {
                "parentExpenseId": expense.id,
                "allocationState": "NOT_ALLOCATED" if all(a.system for a in item.allocations) else "FULLY_ALLOCATED",
                "allocationSetId": None,
                "businessPurpose": expense.purpose,
                "exchangeRate": {"value": Decimal(1).quantize(Decimal("1E-14")), "operation": "MULTIPLY"},
                "transactionAmount": v4_amount(item.amount, cur),
                "transactionDate": expense.date.isoformat(),
                "vendor": None,
                "attendeeCount": 1,
                "links": [_link("self", f"{report_path(base, report.owner, report.id)}/expenses/{item.id}")],
            }
        )
        result.append(body)
    return result


def allocations_v4(expense_id: str, allocations: list[Allocation], currency: str) -> list[dict[str, Any]]:
    return [
        {
            "customData": [{"id": key, "value": value, "isValid": True} for key, value in sorted(a.custom.items())],
            "allocationId": a.id,
            "accountCode": a.account_code,
            "overLimitAccountCode": a.over_limit_account_code,
            "allocationAmount": v4_amount(a.amount, currency),
            "approvedAmount": v4_amount(a.amount, currency),
            "claimedAmount": v4_amount(a.amount, currency),
            "expenseId": expense_id,
            "isSystemAllocation": a.system,
            "isPercentEdited": False,
            "percentage": a.percentage.quantize(EIGHT),
        }
        for a in allocations
    ]


def user_v4(employee: Employee, base: str, company_uuid: str) -> dict[str, Any]:
    return {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
        "id": employee.uuid,
        "meta": {"resourceType": "User", "location": f"{base}/profile/identity/v4/Users/{employee.uuid}"},
        "displayName": employee.display_name,
        "name": {"familyName": employee.family, "givenName": employee.given, "honorificSuffix": None, "familyNamePrefix": None},
        "active": True,
        "emails": [{"verified": False, "type": "work", "value": employee.email, "notifications": True}],
        "userName": employee.login,
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
            "companyId": company_uuid,
            "costCenter": None,
            "employeeNumber": employee.employee_number,
        },
    }


def list_item_v4(item: ListItem) -> dict[str, Any]:
    return {
        "id": item.id,
        "code": item.code,
        "shortCode": item.code,
        "value": item.value,
        "parentId": None,
        "level": 1,
        "isDeleted": False,
        "lists": [{"id": item.list_id, "hasChildren": False}],
    }


def report_v3(report: Report, owner: Employee, base: str) -> dict[str, Any]:
    figures = report.header()
    return {
        "Name": report.name,
        "Total": report.total,
        "CurrencyCode": report.currency,
        "OwnerLoginID": owner.login,
        "OwnerName": owner.display_name,
        "ApprovalStatusCode": report.status,
        "PaymentStatusCode": report.payment_status,
        "CreateDate": v3_datetime(report.created),
        "SubmitDate": v3_datetime(report.submitted) if report.submitted else None,
        "PaidDate": f"{report.paid_date.isoformat()}T00:00:00" if report.paid_date else None,
        "LastModifiedDate": v3_datetime(report.modified),
        "PersonalAmount": figures["personalAmount"],
        "AmountDueEmployee": figures["amountDueEmployee"],
        "AmountDueCompanyCard": figures["amountDueCompanyCard"],
        "TotalApprovedAmount": figures["approvedAmount"],
        "TotalClaimedAmount": figures["claimedAmount"],
        "LedgerName": "DEFAULT",
        "ID": report.id,
        "URI": f"{base}/api/v3.0/expense/reports/{report.id}",
    }


def _s(value: Decimal) -> str:
    return f"{value:.2f}"


def _v3_date(value: dt.date | None) -> str | None:
    return f"{value.isoformat()}T00:00:00" if value else None


def digest_v3(invoice: Invoice, base: str) -> dict[str, Any]:
    return {
        "ID": invoice.id,
        "URI": f"{base}/api/v3.0/invoice/paymentrequestdigests/{invoice.id}",
        "PaymentRequestId": invoice.id,
        "PaymentRequestUri": f"{base}/api/v3.0/invoice/paymentrequest/{invoice.id}",
        "ApprovalStatusCode": invoice.status,
        "PaymentStatusCode": invoice.payment_status,
        "CreateDate": v3_datetime(invoice.created),
        "LastModifiedDate": v3_datetime(invoice.modified),
        "CurrencyCode": invoice.currency,
        "InvoiceNumber": invoice.invoice_number,
        "IsDeleted": "true" if invoice.deleted else "false",
        "OwnerLoginID": invoice.owner_login,
        "OwnerName": "",
        "PaidDate": _v3_date(invoice.paid_date),
        "PurchaseOrderNumber": None,
        "Total": _s(invoice.total),
        "UserDefinedDate": invoice.invoice_date.isoformat() + "T00:00:00",
        "VendorName": invoice.vendor_name,
        "VendorCode": invoice.vendor_code,
    }


def _one_or_many(items: list[dict[str, Any]]) -> Any:
    """Concur's XML-style wrappers: one object for one item, a list for several (unverified)."""
    return items[0] if len(items) == 1 else items


def payment_request_v3(invoice: Invoice, base: str) -> dict[str, Any]:
    lines = []
    for line in invoice.lines:
        allocations = [{"Percentage": f"{a.percentage:.8f}", "AllocationAccountCode": a.account_code, **a.custom} for a in line.allocations]
        body = {
            "LineItemId": line.id,
            "Description": line.description,
            "ExpenseTypeCode": line.type_code,
            "Quantity": str(line.quantity),
            "UnitPrice": _s(line.unit_price),
            "TotalPrice": _s(line.amount),
            "ApprovedLineItemAmount": _s(line.amount),
            "Tax": "0.00",
            "AllocationStatus": "Full" if len(allocations) > 1 else "None",
            "Allocations": {"Allocation": _one_or_many(allocations)},
        }
        if line.billable is not None:
            # Not in the PaymentRequest swagger; tenants' line payloads carry it (issue 12 §6). Assumption.
            body["IsBillable"] = "true" if line.billable else "false"
        lines.append(body)
    total = _s(invoice.total)
    remit = invoice.remit
    address = (
        {
            "Address1": remit.address1,
            "Address2": remit.address2 or None,
            "Address3": remit.address3 or None,
            "City": remit.city,
            "State": remit.state or None,
            "PostalCode": remit.postal_code,
            "CountryCode": remit.country_code,
        }
        if remit
        else {"Address1": "1 Main St", "City": "Springfield", "State": "IL", "PostalCode": "62701", "CountryCode": "US"}
    )
    paid = invoice.payment_status == "P_PAID" and invoice.paid_amount is not None
    return {
        "ID": invoice.id,
        "URI": f"{base}/api/v3.0/invoice/paymentrequest/{invoice.id}",
        "InvoiceNumber": invoice.invoice_number,
        "InvoiceDate": invoice.invoice_date.isoformat() + "T00:00:00",
        "PaymentDueDate": invoice.due_date.isoformat() + "T00:00:00",
        "PaymentTermsDays": str(invoice.terms_days),
        "Description": invoice.description,
        "Name": f"{invoice.vendor_name} {invoice.invoice_number}",
        # CalculatedAmount = lines + tax + shipping (CONCUR-API.md §4.1 lists the fields; the sum
        # is issue 13's reading). Assumption: InvoiceAmount and TotalApprovedAmount equal it.
        "InvoiceAmount": total,
        "CalculatedAmount": total,
        "LineItemTotalAmount": _s(invoice.line_total),
        "TotalApprovedAmount": total,
        "ShippingAmount": _s(invoice.shipping),
        "TaxAmount": _s(invoice.tax),
        "PaidAmount": _s(invoice.paid_amount) if paid and invoice.paid_amount is not None else "0.00",
        "PaidDate": _v3_date(invoice.paid_date) if paid else None,
        "CurrencyCode": invoice.currency,
        "ApprovalStatus": invoice.status,
        "PaymentStatus": invoice.payment_status,
        "PaymentMethod": "CHECK",
        "IsPaymentRequestDeleted": "true" if invoice.deleted else "false",
        "VendorRemitAddress": {"Name": invoice.vendor_name, **address, "DiscountTerms": invoice.terms},
        "LineItems": {"LineItem": _one_or_many(lines)},
    }
