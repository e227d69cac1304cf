"""Sim content -> Concur's JSON shapes (v4 expense, identity v4, list v4, v3 lists, v3 invoice)."""

from __future__ import annotations

import datetime as dt
import json
import re
from decimal import Decimal
from typing import Any

from sim.concur.data import Employee, Expense, Invoice, ListItem, Report

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
    zero = v4_amount(Decimal(0), report.currency)
    total = v4_amount(report.total, report.currency)
    due_employee = sum((e.amount for e in report.expenses if e.payment_code == "CASH" and not e.personal), Decimal(0))
    due_card = report.total - due_employee
    status_names = {"A_APPR": "Approved", "A_PEND": "Submitted & Pending Approval", "A_NOTF": "Not Submitted"}
    return {
        "approvalStatus": status_names.get(report.status, report.status),
        "approvalStatusId": report.status,
        "customData": [],
        "ledger": "DEFAULT",
        "paymentStatus": "Not Paid" if report.payment_status == "P_NOTP" else report.payment_status,
        "paymentStatusId": report.payment_status,
        "submitDate": iso_z(report.submitted).replace(".000Z", "Z") if report.submitted else None,
        "approvedAmount": total,
        "claimedAmount": total,
        "amountCompanyPaid": v4_amount(due_card, report.currency),
        "amountDueCompany": zero,
        "amountDueCompanyCard": v4_amount(due_card, report.currency),
        "amountDueEmployee": v4_amount(due_employee, report.currency),
        "personalAmount": zero,
        "reportTotal": total,
        "amountNotApproved": zero,
        "reportId": report.id,
        "currencyCode": report.currency,
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


def expense_v4(expense: Expense, report: Report, base: str) -> dict[str, Any]:
    cur = report.currency
    payment = {"CASH": {"id": "CASH", "name": "Cash", "code": "CASH"}, "CBCP": {"id": "1022", "name": "Mastercard", "code": "CBCP"}}
    return {
        "expenseId": expense.id,
        "approverAdjustedAmount": v4_amount(expense.amount, cur),
        "allocationState": "NOT_ALLOCATED" if all(a.system for a in expense.allocations) else "FULLY_ALLOCATED",
        "allocationSetId": None,
        "approvedAmount": v4_amount(expense.amount, cur),
        "businessPurpose": expense.purpose,
        "claimedAmount": v4_amount(expense.amount, cur),
        "exchangeRate": {"value": expense.exchange_rate.quantize(Decimal("1E-14")), "operation": "MULTIPLY"},
        "expenseType": {"id": expense.type_code, "name": expense.type_name, "code": "OTHER", "isDeleted": False},
        "isPersonalExpense": expense.personal,
        "paymentType": payment[expense.payment_code],
        "postedAmount": v4_amount(expense.amount, cur),
        "transactionAmount": v4_amount(expense.transaction_amount, expense.transaction_currency),
        "transactionDate": expense.date.isoformat(),
        # Free-text merchants arrive in vendor.description only.
        "vendor": {"id": None, "name": None, "description": expense.merchant} if expense.merchant else None,
        "attendeeCount": 1,
        "links": [{"rel": "self", "href": f"{report_path(base, report.owner, report.id)}/expenses/{expense.id}", "method": "GET", "isTemplated": False}],
    }


def allocations_v4(expense: Expense, currency: str) -> list[dict[str, Any]]:
    return [
        {
            "customData": [{"id": key, "value": value, "isValid": True} for key, value in sorted(a.custom.items())],
            "allocationId": a.id,
            "accountCode": None,
            "overLimitAccountCode": None,
            "allocationAmount": v4_amount(a.amount, currency),
            "approvedAmount": v4_amount(a.amount, currency),
            "claimedAmount": v4_amount(a.amount, currency),
            "expenseId": expense.id,
            "isSystemAllocation": a.system,
            "isPercentEdited": False,
            "percentage": a.percentage.quantize(EIGHT),
        }
        for a in expense.allocations
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
            "companyId": company_uuid, "costCenter": None, "employeeNumber": employee.employee_number,
        },
    }


def list_item_v4(item: ListItem) -> dict[str, Any]:
    return {"id": item.id, "code": item.code, "shortCode": item.code, "value": item.value, "parentId": None,
            "level": 1, "isDeleted": False, "lists": [{"id": item.list_id, "hasChildren": False}]}


def report_v3(report: Report, owner: Employee, base: str) -> dict[str, Any]:
    return {
        "Name": report.name, "Total": report.total, "CurrencyCode": report.currency,
        "OwnerLoginID": owner.login, "OwnerName": owner.display_name,
        "ApprovalStatusCode": report.status, "PaymentStatusCode": report.payment_status,
        "CreateDate": v3_datetime(report.created), "SubmitDate": v3_datetime(report.submitted) if report.submitted else None,
        "LastModifiedDate": v3_datetime(report.modified),
        "TotalApprovedAmount": report.total, "TotalClaimedAmount": report.total, "LedgerName": "DEFAULT",
        "ID": report.id, "URI": f"{base}/api/v3.0/expense/reports/{report.id}",
    }


def _s(value: Decimal) -> str:
    return f"{value:.2f}"


def digest_v3(invoice: Invoice, base: str) -> dict[str, Any]:
    return {
        "ID": invoice.id, "URI": f"{base}/api/v3.0/invoice/paymentrequestdigests/{invoice.id}",
        "PaymentRequestId": invoice.id, "PaymentRequestUri": f"{base}/api/v3.0/invoice/paymentrequest/{invoice.id}",
        "ApprovalStatusCode": invoice.status, "PaymentStatusCode": invoice.payment_status,
        "CreateDate": v3_datetime(invoice.created), "LastModifiedDate": v3_datetime(invoice.modified),
        "CurrencyCode": invoice.currency, "InvoiceNumber": invoice.invoice_number, "IsDeleted": "true" if invoice.deleted else "false",
        "OwnerLoginID": invoice.owner_login, "OwnerName": "", "PaidDate": None, "PurchaseOrderNumber": None,
        "Total": _s(invoice.total), "UserDefinedDate": invoice.invoice_date.isoformat() + "T00:00:00",
        "VendorName": invoice.vendor_name, "VendorCode": invoice.vendor_code,
    }


def _one_or_many(items: list[dict[str, Any]]) -> Any:
    """Concur's XML-style wrappers: one object for one item, a list for several (unverified)."""
    return items[0] if len(items) == 1 else items


def payment_request_v3(invoice: Invoice, base: str) -> dict[str, Any]:
    lines = []
    for line in invoice.lines:
        allocations = [
            {"Percentage": f"{a.percentage:.8f}", "AllocationAccountCode": a.account_code, **a.custom}
            for a in line.allocations
        ]
        lines.append({
            "LineItemId": line.id, "Description": line.description, "ExpenseTypeCode": line.type_code,
            "Quantity": str(line.quantity), "UnitPrice": _s(line.unit_price), "TotalPrice": _s(line.amount),
            "ApprovedLineItemAmount": _s(line.amount), "Tax": "0.00",
            "AllocationStatus": "Full" if len(allocations) > 1 else "None",
            "Allocations": {"Allocation": _one_or_many(allocations)},
        })
    total = _s(invoice.total)
    return {
        "ID": invoice.id, "URI": f"{base}/api/v3.0/invoice/paymentrequest/{invoice.id}",
        "InvoiceNumber": invoice.invoice_number, "InvoiceDate": invoice.invoice_date.isoformat() + "T00:00:00",
        "PaymentDueDate": invoice.due_date.isoformat() + "T00:00:00", "PaymentTermsDays": "30",
        "Description": invoice.description, "Name": f"{invoice.vendor_name} {invoice.invoice_number}",
        "InvoiceAmount": total, "CalculatedAmount": total, "LineItemTotalAmount": total, "TotalApprovedAmount": total,
        "ShippingAmount": "0.00", "TaxAmount": "0.00", "PaidAmount": "0.00", "CurrencyCode": invoice.currency,
        "ApprovalStatus": invoice.status, "PaymentStatus": invoice.payment_status, "PaymentMethod": "CHECK",
        "IsPaymentRequestDeleted": "true" if invoice.deleted else "false",
        "VendorRemitAddress": {"Name": invoice.vendor_name, "Address1": "1 Main St", "City": "Springfield", "State": "IL",
                               "PostalCode": "62701", "CountryCode": "US", "DiscountTerms": "Net 30"},
        "LineItems": {"LineItem": _one_or_many(lines)},
    }
