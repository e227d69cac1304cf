import copy
import datetime as dt
import json
from decimal import Decimal

import pytest

from worker.concur import normalise
from worker.concur.errors import BadConcurData

from concur_helpers import reference


def load(*parts):
    return normalise.loads(reference(*parts).read_bytes())


@pytest.fixture
def report_parts():
    report = load("expense_v4", "report.get.json")
    expenses = load("expense_v4", "report_expenses.list.json")
    allocations = load("expense_v4", "expense_allocations.list.json")
    user = load("identity_v4", "user.get.json")
    return report, expenses, {"29EE3C62F5D844458828A5C1086072D1": allocations}, user


def test_amounts_parse_as_decimal_including_0e8():
    report = load("expense_v4", "report.get.json")
    assert normalise.amount_value(report["amountDueEmployee"]) == Decimal(0)
    assert str(normalise.amount_value(report["amountDueEmployee"])) == "0E-8"
    assert normalise.amount_value(report["reportTotal"]) == Decimal("525.00000000")
    assert isinstance(report["reportTotal"]["value"], Decimal)


def test_report_fixture_normalises(report_parts):
    report, expenses, allocations, user = report_parts
    item = load("list_v4", "list_item.get.json")
    codes = {"D3954B47BCEC9446A4FFC49E0000B46E": item["code"]}
    doc = normalise.normalise_report(report, expenses, allocations, user, codes.get, modified_at="2020-03-25T20:42:39Z")
    assert doc.report_id == "764428DD6A664AF0BFCB"
    assert doc.total == Decimal("525") and doc.currency == "USD"
    assert doc.approval_status == "A_NOTF" and doc.payment_status == "P_NOTP"
    assert doc.report_date == dt.date(2020, 3, 25)
    assert doc.owner.name == "John Doe" and doc.owner.employee_code == "1234_employeeNumber"
    assert doc.owner.email == "John11_17_1@sap.com"
    lunch, supplies = doc.expenses
    assert (lunch.expense_type, lunch.payment_type, lunch.merchant, lunch.amount) == ("LUNCH", "CASH", "", Decimal("25"))
    assert (supplies.expense_type, supplies.payment_type) == ("OFCSP", "CBCP")  # code, not the tenant id "1022"
    assert supplies.merchant == "Antioch Construction"  # free text lives in vendor.description
    assert supplies.expense_type_name == "Office Supplies"
    assert lunch.allocations == ()
    first, second = supplies.allocations
    assert first.amount == Decimal("250") and first.percentage == Decimal("50")
    assert first.fields["custom9"] == "ITEM-SECOND LEVEL ITEM"  # resolved list item code
    assert second.fields["custom9"] == "88EACA3116581248BCE27956DE67647D"  # unknown id kept raw
    assert first.fields["accountCode"] == "Pending Client"
    assert sum(a.amount for a in supplies.allocations) == supplies.amount


def test_allocation_amount_is_the_truth_and_system_allocations_yield(report_parts):
    _report, expenses, _, _user = report_parts
    total = Decimal("100.01")
    expense = copy.deepcopy(expenses[1])
    expense["approvedAmount"]["value"] = total
    shares = [("33.33", "33.33"), ("33.33", "33.33"), ("33.34", "33.35")]
    allocations = [{"allocationId": str(i), "percentage": Decimal(p), "allocationAmount": {"value": Decimal(a), "currencyCode": "USD"},
                    "isSystemAllocation": False, "customData": []} for i, (p, a) in enumerate(shares)]
    allocations.append({"allocationId": "sys", "percentage": Decimal(100), "isSystemAllocation": True,
                        "allocationAmount": {"value": total, "currencyCode": "USD"}, "customData": []})
    result = normalise.normalise_expense(expense, allocations, lambda _id: None)
    assert [a.amount for a in result.allocations] == [Decimal("33.33"), Decimal("33.33"), Decimal("33.35")]
    only_system = normalise.normalise_expense(expense, allocations[-1:], lambda _id: None)
    assert len(only_system.allocations) == 1 and only_system.allocations[0].amount == total


def test_personal_expenses_are_left_out_and_actor_is_not_owner(report_parts):
    report, expenses, allocations, user = report_parts
    expenses = copy.deepcopy(expenses)
    expenses[0]["isPersonalExpense"] = True
    doc = normalise.normalise_report(report, expenses, allocations, user)
    assert [e.expense_id for e in doc.expenses] == ["29EE3C62F5D844458828A5C1086072D1"]
    assert normalise.parse_report_href(report["links"][0]["href"]) == (
        "32C2FCC3-B2E8-4907-9672-5B3F49B1C643", "TRAVELER", "764428DD6A664AF0BFCB")


def test_missing_pieces_raise_bad_concur_data(report_parts):
    report, expenses, allocations, user = report_parts
    broken = copy.deepcopy(expenses)
    del broken[0]["approvedAmount"], broken[0]["postedAmount"]
    with pytest.raises(BadConcurData):
        normalise.normalise_report(report, broken, allocations, user)
    with pytest.raises(BadConcurData):
        normalise.normalise_report({**report, "reportId": None}, expenses, allocations, user)


def _invoice(lines, allocations_as_list=True):
    return {
        "ID": "gWa$1", "InvoiceNumber": "INV-1", "InvoiceDate": "2026-01-05T00:00:00", "PaymentDueDate": "2026-02-04T00:00:00",
        "CurrencyCode": "USD", "ApprovalStatus": "A_APPR", "PaymentStatus": "P_NOTP", "TotalApprovedAmount": "100.01",
        "InvoiceAmount": "100.01", "Description": "Supplies", "DiscountTerms": "Net 30",
        "VendorRemitAddress": {"Name": "Müller & Söhne GmbH"}, "LineItems": {"LineItem": lines},
    }


def test_invoice_with_single_objects_and_strings():
    line = {"LineItemId": "7", "Description": "Paper", "ExpenseTypeCode": "OFFSP", "ApprovedLineItemAmount": "100.01",
            "Allocations": {"Allocation": {"Percentage": "100.00000000", "Custom1": "CC-100", "AllocationAccountCode": "6100"}}}
    doc = normalise.normalise_invoice(_invoice(line), {"VendorCode": "V-1", "LastModifiedDate": "2026-01-06T10:00:00"})
    assert doc.request_id == "gWa$1" and doc.vendor_name == "Müller & Söhne GmbH" and doc.vendor_code == "V-1"
    assert doc.total == Decimal("100.01") and doc.invoice_date == dt.date(2026, 1, 5) and doc.due_date == dt.date(2026, 2, 4)
    assert doc.modified_at == "2026-01-06T10:00:00"
    (only,) = doc.lines
    assert only.amount == Decimal("100.01") and only.expense_type == "OFFSP"
    assert only.allocations[0].amount is None  # percentage only: the planner splits
    assert only.allocations[0].fields == {"custom1": "CC-100", "accountCode": "6100"}


def test_invoice_with_lists_of_lines_and_allocations():
    lines = [{"LineItemId": str(i), "TotalPrice": "10.00", "Allocations": {"Allocation": [
        {"Percentage": "33.33"}, {"Percentage": "33.33"}, {"Percentage": "33.34"}]}} for i in range(3)]
    doc = normalise.normalise_invoice(_invoice(lines))
    assert [li.amount for li in doc.lines] == [Decimal("10.00")] * 3
    assert sum(a.percentage for a in doc.lines[0].allocations) == Decimal(100)


def test_invoice_fields_read_exist_in_the_swagger_skeleton():
    skeleton = json.loads(reference("invoice_v3", "paymentrequest.get.schema_skeleton.json").read_text())
    for key in ("ID", "InvoiceNumber", "InvoiceDate", "PaymentDueDate", "CurrencyCode", "ApprovalStatus", "PaymentStatus",
                "TotalApprovedAmount", "InvoiceAmount", "CalculatedAmount", "Description", "DiscountTerms", "VendorRemitAddress", "LineItems"):
        assert key in skeleton, key
    line = skeleton["LineItems"]["LineItem"]
    for key in ("LineItemId", "Description", "ExpenseTypeCode", "ApprovedLineItemAmount", "TotalPrice", "Allocations"):
        assert key in line, key
    assert {"Percentage", "AllocationAccountCode", "Custom1"} <= set(line["Allocations"]["Allocation"])
    digest = json.loads(reference("invoice_v3", "paymentrequestdigests.list.schema_skeleton.json").read_text())
    assert {"PaymentRequestId", "ApprovalStatusCode", "IsDeleted"} <= set(digest["PaymentRequestDigest"][0])


def test_invoice_bad_amount_is_bad_data():
    with pytest.raises(BadConcurData):
        normalise.normalise_invoice({**_invoice([]), "TotalApprovedAmount": "string", "InvoiceAmount": None})
