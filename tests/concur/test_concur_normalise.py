import copy
import datetime as dt
import json
from decimal import Decimal

import pytest

from shared.domain import from_json, to_json
from sim.concur import render
from sim.concur.data import INVOICE_ACCOUNT_CODES
from worker.concur import normalise
from worker.concur.errors import BadConcurData
from worker.concur.fetch import fetch_document

from concur_helpers import company_params, reference, running


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
    allocations = [
        {
            "allocationId": str(i),
            "percentage": Decimal(p),
            "allocationAmount": {"value": Decimal(a), "currencyCode": "USD"},
            "isSystemAllocation": False,
            "customData": [],
        }
        for i, (p, a) in enumerate(shares)
    ]
    allocations.append(
        {
            "allocationId": "sys",
            "percentage": Decimal(100),
            "isSystemAllocation": True,
            "allocationAmount": {"value": total, "currencyCode": "USD"},
            "customData": [],
        }
    )
    result = normalise.normalise_expense(expense, allocations, lambda _id: None)
    assert [a.amount for a in result.allocations] == [Decimal("33.33"), Decimal("33.33"), Decimal("33.35")]
    only_system = normalise.normalise_expense(expense, allocations[-1:], lambda _id: None)
    assert len(only_system.allocations) == 1 and only_system.allocations[0].amount == total


def test_personal_expenses_are_kept_flagged_and_actor_is_not_owner(report_parts):
    """Personal expenses stay in the document, flagged: Concur's header figures count them."""
    report, expenses, allocations, user = report_parts
    expenses = copy.deepcopy(expenses)
    expenses[0]["isPersonalExpense"] = True
    doc = normalise.normalise_report(report, expenses, allocations, user)
    assert [(e.expense_id, e.is_personal) for e in doc.expenses] == [("84FCBB92BD4E5342B849DAC29FD163A1", True), ("29EE3C62F5D844458828A5C1086072D1", False)]
    assert normalise.parse_report_href(report["links"][0]["href"]) == ("32C2FCC3-B2E8-4907-9672-5B3F49B1C643", "TRAVELER", "764428DD6A664AF0BFCB")


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
        "ID": "gWa$1",
        "InvoiceNumber": "INV-1",
        "InvoiceDate": "2026-01-05T00:00:00",
        "PaymentDueDate": "2026-02-04T00:00:00",
        "CurrencyCode": "USD",
        "ApprovalStatus": "A_APPR",
        "PaymentStatus": "P_NOTP",
        "TotalApprovedAmount": "100.01",
        "InvoiceAmount": "100.01",
        "Description": "Supplies",
        "DiscountTerms": "Net 30",
        "VendorRemitAddress": {"Name": "Müller & Söhne GmbH"},
        "LineItems": {"LineItem": lines},
    }


def test_invoice_with_single_objects_and_strings():
    line = {
        "LineItemId": "7",
        "Description": "Paper",
        "ExpenseTypeCode": "OFFSP",
        "ApprovedLineItemAmount": "100.01",
        "Allocations": {"Allocation": {"Percentage": "100.00000000", "Custom1": "CC-100", "AllocationAccountCode": "6100"}},
    }
    doc = normalise.normalise_invoice(_invoice(line), {"VendorCode": "V-1", "LastModifiedDate": "2026-01-06T10:00:00"})
    assert doc.request_id == "gWa$1" and doc.vendor_name == "Müller & Söhne GmbH" and doc.vendor_code == "V-1"
    assert doc.total == Decimal("100.01") and doc.invoice_date == dt.date(2026, 1, 5) and doc.due_date == dt.date(2026, 2, 4)
    assert doc.modified_at == "2026-01-06T10:00:00"
    (only,) = doc.lines
    assert only.amount == Decimal("100.01") and only.expense_type == "OFFSP"
    assert only.allocations[0].amount is None  # percentage only: the planner splits
    assert only.allocations[0].fields == {"custom1": "CC-100", "accountCode": "6100"}


def test_invoice_with_lists_of_lines_and_allocations():
    lines = [
        {
            "LineItemId": str(i),
            "TotalPrice": "10.00",
            "Allocations": {"Allocation": [{"Percentage": "33.33"}, {"Percentage": "33.33"}, {"Percentage": "33.34"}]},
        }
        for i in range(3)
    ]
    doc = normalise.normalise_invoice(_invoice(lines))
    assert [li.amount for li in doc.lines] == [Decimal("10.00")] * 3
    assert sum(a.percentage for a in doc.lines[0].allocations) == Decimal(100)


def test_invoice_fields_read_exist_in_the_swagger_skeleton():
    skeleton = json.loads(reference("invoice_v3", "paymentrequest.get.schema_skeleton.json").read_text())
    for key in (
        "ID",
        "InvoiceNumber",
        "InvoiceDate",
        "PaymentDueDate",
        "CurrencyCode",
        "ApprovalStatus",
        "PaymentStatus",
        "TotalApprovedAmount",
        "InvoiceAmount",
        "CalculatedAmount",
        "Description",
        "DiscountTerms",
        "VendorRemitAddress",
        "LineItems",
    ):
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


# ---- the shapes of issues 12, 13, 19 and 20, from the public examples ----


def test_report_header_figures_as_concur_states_them_absent_is_not_zero(report_parts):
    report, expenses, allocations, user = report_parts
    doc = normalise.normalise_report(report, expenses, allocations, user)
    assert doc.amount_due_employee == 0 and doc.amount_due_employee is not None  # 0E-8 in the example
    assert (doc.amount_due_company_card, doc.amount_company_paid, doc.amount_due_company, doc.personal_amount) == (0, 0, 0, 0)
    assert (doc.total_approved_amount, doc.claimed_amount, doc.report_total) == (Decimal(525), Decimal(525), Decimal(525))
    assert doc.amount_not_approved == 0
    assert doc.paid_amount is None and doc.cash_advance_applied is None and doc.paid_date is None
    stripped = {k: v for k, v in report.items() if k not in ("amountDueEmployee", "amountDueCompanyCard", "personalAmount")}
    bare = normalise.normalise_report(stripped, expenses, allocations, user)
    assert (bare.amount_due_employee, bare.amount_due_company_card, bare.personal_amount) == (None, None, None)
    assert bare.total == doc.total


def test_expense_amounts_billable_and_payment_type_from_the_examples(report_parts):
    _, expenses, allocations, _ = report_parts
    lunch = normalise.normalise_expense(expenses[0], [], lambda _id: None)
    assert (lunch.approved_amount, lunch.claimed_amount, lunch.posted_amount) == (Decimal(25),) * 3
    assert (lunch.transaction_amount, lunch.transaction_currency) == (Decimal(25), "USD")
    assert (lunch.exchange_rate, lunch.exchange_rate_operation) == (Decimal(1), "MULTIPLY")
    assert lunch.is_billable is None  # the summary does not carry isExpenseBillable
    assert lunch.is_personal is False and lunch.payment_type_name == "Cash"
    detail = normalise.normalise_expense(load("expense_v4", "expense.get.json"), [], lambda _id: None)
    assert detail.is_billable is False and detail.expense_type == "ONLIN"  # detail: isExpenseBillable false
    cut = copy.deepcopy(expenses[1])
    cut["approvedAmount"]["value"] = Decimal("400.00000000")  # an approver cut the claim
    partly = normalise.normalise_expense(cut, allocations["29EE3C62F5D844458828A5C1086072D1"], lambda _id: None)
    assert (partly.amount, partly.approved_amount, partly.claimed_amount, partly.posted_amount) == (Decimal(400), Decimal(400), Decimal(500), Decimal(500))
    assert partly.payment_type == "CBCP" and partly.payment_type_name == "Mastercard"


def test_allocation_account_codes_from_the_example(report_parts):
    _, expenses, allocations, _ = report_parts
    supplies = normalise.normalise_expense(expenses[1], allocations["29EE3C62F5D844458828A5C1086072D1"], lambda _id: None)
    assert [(a.account_code, a.over_limit_account_code) for a in supplies.allocations] == [("Pending Client", "")] * 2
    single = load("expense_v4", "allocation.get.json")
    over = normalise.normalise_allocations(Decimal(500), [{**single, "overLimitAccountCode": "6139"}], lambda _id: None)
    assert over[0].over_limit_account_code == "6139" and over[0].account_code == "Pending Client"


def test_itemizations_from_the_example_with_their_own_types_and_allocations(report_parts):
    _, expenses, allocations, _ = report_parts
    items = load("expense_v4", "expense_itemizations.list.json")
    assert all(not normalise.has_itemizations_link(i) for i in items)  # only parents carry the link
    assert normalise.has_itemizations_link(expenses[0])
    items[0]["isPersonalExpense"] = True
    item_allocations = {"30FF3C62F5D844458828A5C1086072D1": allocations["29EE3C62F5D844458828A5C1086072D1"]}
    parent = normalise.normalise_expense(expenses[1], [], lambda _id: None, items, item_allocations)
    personal, supplies = parent.itemizations
    assert (personal.itemization_id, personal.expense_type, personal.is_personal, personal.amount) == (
        "95GCBB92AE4E5342B849DAC29FD163A1",
        "LUNCH",
        True,
        Decimal(25),
    )
    assert (supplies.expense_type, supplies.expense_type_name, supplies.is_personal) == ("OFCSP", "Office Supplies", False)
    assert [a.amount for a in supplies.allocations] == [Decimal(250), Decimal(250)]
    assert supplies.transaction_date == dt.date(2020, 3, 11)
    # An itemization also listed among the report's expenses (includeItemizations) is not a parent.
    child = {**items[1], "parentExpenseId": expenses[1]["expenseId"]}
    report = load("expense_v4", "report.get.json")
    doc = normalise.normalise_report(report, [*expenses, child], {}, None, itemizations_by_expense={expenses[1]["expenseId"]: items})
    assert len(doc.expenses) == 2 and len(doc.expenses[1].itemizations) == 2


def test_invoice_header_tax_shipping_terms_remit_and_payment():
    line = {
        "LineItemId": "7",
        "ApprovedLineItemAmount": "100.00",
        "IsBillable": "true",
        "Tax": "8.25",
        "Allocations": {"Allocation": {"Percentage": "100", "AllocationAccountCode": "6210"}},
    }
    request = {
        **_invoice(line),
        "TaxAmount": "8.25",
        "ShippingAmount": "12.00",
        "CalculatedAmount": "120.25",
        "TotalApprovedAmount": "120.25",
        "InvoiceAmount": "120.25",
        "LineItemTotalAmount": "100.00",
        "PaymentTermsDays": "30",
        "PaymentStatus": "P_PAID",
        "PaidDate": "2026-02-01T00:00:00",
        "PaidAmount": "120.25",
        "VendorRemitAddress": {
            "Name": "Müller & Söhne GmbH",
            "Address1": "Königsallee 12",
            "Address2": None,
            "City": "Düsseldorf",
            "PostalCode": "40212",
            "CountryCode": "DE",
            "DiscountTerms": "2% 10 Net 30",
        },
    }
    doc = normalise.normalise_invoice(request)
    assert (doc.tax_amount, doc.shipping_amount, doc.calculated_amount) == (Decimal("8.25"), Decimal("12.00"), Decimal("120.25"))
    assert (doc.total, doc.total_approved_amount, doc.line_item_total_amount) == (Decimal("120.25"), Decimal("120.25"), Decimal("100.00"))
    assert (doc.terms, doc.terms_days) == ("Net 30", 30)  # header DiscountTerms wins over the remit-to's
    remit = doc.remit_address
    assert remit is not None and (remit.name, remit.address1, remit.address2, remit.city, remit.country_code) == (
        "Müller & Söhne GmbH",
        "Königsallee 12",
        "",
        "Düsseldorf",
        "DE",
    )
    assert (doc.payment_status, doc.paid_date, doc.paid_amount) == ("P_PAID", dt.date(2026, 2, 1), Decimal("120.25"))
    (only,) = doc.lines
    assert only.is_billable is True and only.tax == Decimal("8.25") and only.allocations[0].account_code == "6210"
    bare = normalise.normalise_invoice(_invoice(line))
    assert (bare.tax_amount, bare.shipping_amount, bare.paid_amount, bare.paid_date, bare.terms_days) == (None,) * 5
    zero = normalise.normalise_invoice({**_invoice(line), "TaxAmount": "0.00", "ShippingAmount": ""})
    assert zero.tax_amount == 0 and zero.tax_amount is not None and zero.shipping_amount is None
    digest_paid = normalise.normalise_invoice(_invoice(line), {"PaidDate": "2026-03-01T00:00:00"})
    assert digest_paid.paid_date == dt.date(2026, 3, 1)


def test_invoice_payment_and_header_fields_read_exist_in_the_swagger_skeleton():
    skeleton = json.loads(reference("invoice_v3", "paymentrequest.get.schema_skeleton.json").read_text())
    for key in ("TaxAmount", "ShippingAmount", "LineItemTotalAmount", "PaymentTermsDays", "PaidAmount", "PaidDate", "PaymentStatus"):
        assert key in skeleton, key
    assert {"Name", "Address1", "Address2", "Address3", "City", "State", "PostalCode", "CountryCode", "DiscountTerms"} <= set(skeleton["VendorRemitAddress"])
    assert "Tax" in skeleton["LineItems"]["LineItem"]
    assert "IsBillable" not in skeleton["LineItems"]["LineItem"]  # read only where a payload has it (README)
    digest = json.loads(reference("invoice_v3", "paymentrequestdigests.list.schema_skeleton.json").read_text())
    assert {"PaidDate", "PaymentStatusCode"} <= set(digest["PaymentRequestDigest"][0])


def test_invoice_with_a_bad_header_amount_is_bad_data():
    with pytest.raises(BadConcurData, match="TaxAmount"):
        normalise.normalise_invoice({**_invoice([]), "TaxAmount": "eight"})
    with pytest.raises(BadConcurData, match="PaymentTermsDays"):
        normalise.normalise_invoice({**_invoice([]), "PaymentTermsDays": "30.5"})


# ---- the same shapes as the simulator renders them over real HTTP (profile "realistic") ----


@pytest.mark.trio
async def test_realistic_reports_over_http_carry_concur_figures_that_balance():
    async with running([company_params(reports=8, profile="realistic")]) as env:
        company = env.sim.companies["acme"]
        payment_types, seen = set(), set()
        for report in company.data.reports.values():
            doc = await fetch_document(env.client, "acme", "expense_report", env.client.report_path(report.owner, report.id))
            figures = report.header()
            assert (doc.amount_due_employee, doc.amount_due_company_card, doc.amount_company_paid, doc.amount_due_company) == (
                figures["amountDueEmployee"],
                figures["amountDueCompanyCard"],
                figures["amountCompanyPaid"],
                figures["amountDueCompany"],
            )
            assert (doc.personal_amount, doc.claimed_amount, doc.amount_not_approved) == (
                figures["personalAmount"],
                figures["claimedAmount"],
                figures["amountNotApproved"],
            )
            business = sum((e.amount for e in doc.expenses if not e.is_personal), Decimal(0))
            assert business == doc.total_approved_amount == doc.total
            # Debits (business + owed back) = credits (employee + card + company paid) + the advance,
            # which no public v4 field states: the gap is exactly the advance the sim applied.
            gap = business + doc.amount_due_company - doc.amount_due_employee - doc.amount_due_company_card - doc.amount_company_paid
            assert gap == figures["cashAdvanceApplied"] == min(report.cash_advance, gap)
            if gap:
                seen.add("cash advance")
            if doc.currency == "EUR":
                seen.add("EUR")
            for expense in doc.expenses:
                payment_types.add(expense.payment_type)
                if expense.is_personal:
                    seen.add("personal")
                    assert expense.amount == 0 and expense.posted_amount and not expense.allocations
                    continue
                if expense.approved_amount < expense.claimed_amount:
                    seen.add("partly approved")
                want = next(e for e in report.expenses if e.id == expense.expense_id)
                # isExpenseBillable is in the expense detail only: the fetch reads it there (issue 12).
                assert expense.is_billable is want.billable
                if want.billable:
                    path = f"{env.client.report_path(report.owner, report.id)}/expenses/{expense.expense_id}"
                    detail = normalise.loads(render.dumps(await env.client.get("acme", path)))
                    assert normalise.normalise_expense(detail, [], lambda _id: None).is_billable is True
                    seen.add("billable")
                if expense.itemizations:
                    seen.add("itemized")
                    assert sum(i.amount for i in expense.itemizations) == expense.posted_amount  # the whole folio
                    assert sum(i.amount for i in expense.itemizations if not i.is_personal) == expense.amount
                    assert any(i.is_personal for i in expense.itemizations)
                    for item in expense.itemizations:
                        assert item.is_personal or sum(a.amount for a in item.allocations) == item.amount
                        assert item.is_personal or all(a.account_code for a in item.allocations)
                else:
                    assert sum(a.amount for a in expense.allocations) == expense.amount
                    assert all(a.account_code for a in expense.allocations)  # tenant codes per type/cost centre
            assert from_json(to_json(doc)) == doc
        assert payment_types == {"CASH", "CBCP", "IBCP", "IBIP"}
        assert seen == {"cash advance", "EUR", "personal", "partly approved", "billable", "itemized"}


@pytest.mark.trio
async def test_realistic_invoices_over_http_with_tax_shipping_terms_and_remit_to():
    async with running([company_params(invoices=6, profile="realistic")]) as env:
        company = env.sim.companies["acme"]
        shapes = set()
        for invoice in company.data.invoices.values():
            doc = await fetch_document(env.client, "acme", "invoice", invoice.id)
            lines = sum((li.amount for li in doc.lines), Decimal(0))
            assert doc.calculated_amount == lines + doc.tax_amount + doc.shipping_amount == doc.total
            assert doc.line_item_total_amount == lines
            assert (doc.terms, doc.terms_days, doc.due_date) == (invoice.terms, invoice.terms_days, invoice.due_date)
            assert doc.remit_address.address1 == invoice.remit.address1 and doc.remit_address.name == invoice.vendor_name
            assert doc.vendor_code == invoice.vendor_code and doc.currency == invoice.currency
            assert all(li.is_billable is not None for li in doc.lines)
            assert all(a.account_code == INVOICE_ACCOUNT_CODES[li.expense_type] for li in doc.lines for a in li.allocations)
            shapes |= {"one line" if len(doc.lines) == 1 else "many lines", doc.currency}
            shapes |= {name for name, value in (("tax", doc.tax_amount), ("shipping", doc.shipping_amount)) if value}
            assert (doc.paid_amount, doc.paid_date) == (Decimal(0), None)  # "0.00" as Invoice states it before payment
        assert shapes == {"one line", "many lines", "USD", "EUR", "tax", "shipping"}


@pytest.mark.trio
async def test_payment_moves_to_p_paid_with_date_and_amount_in_payloads_and_events():
    async with running([company_params(reports=3, invoices=2, profile="realistic")]) as env:
        company = env.sim.companies["acme"]
        report = next(iter(company.data.reports.values()))
        invoice = next(iter(company.data.invoices.values()))
        env.sim.approve(report.id)
        event = env.sim.pay(report.id, on=dt.date(2026, 3, 2))
        assert event["facts"]["currentPaymentStatus"] == "P_PAID" and event["facts"]["stepCode"] == "PAIDREPORT"
        doc = await fetch_document(env.client, "acme", "expense_report", env.client.report_path(report.owner, report.id))
        assert (doc.payment_status, doc.paid_amount) == ("P_PAID", doc.amount_due_employee)
        rows = await env.client.list_reports_modified_since("acme", dt.date(2000, 1, 1))
        row = next(r for r in rows if r["ID"] == report.id)
        assert (row["PaymentStatusCode"], row["PaidDate"]) == ("P_PAID", "2026-03-02T00:00:00")  # v3 carries the date
        env.sim.approve_invoice(invoice.id)
        partial = invoice.total - Decimal("10.00")
        event = env.sim.pay_invoice(invoice.id, partial, on=dt.date(2026, 3, 3))
        assert event["facts"]["currentPaymentStatus"] == "P_PAID"
        doc = await fetch_document(env.client, "acme", "invoice", invoice.id)
        assert (doc.payment_status, doc.paid_date, doc.paid_amount) == ("P_PAID", dt.date(2026, 3, 3), partial)
        digests = await env.client.list_payment_request_digests_since("acme", dt.date(2000, 1, 1))
        digest = next(d for d in digests if d["PaymentRequestId"] == invoice.id)
        assert (digest["PaymentStatusCode"], digest["PaidDate"]) == ("P_PAID", "2026-03-03T00:00:00")


@pytest.mark.trio
async def test_simple_profile_keeps_todays_posting_shapes():
    async with running([company_params(reports=6, invoices=4)]) as env:
        company = env.sim.companies["acme"]
        for report in company.data.reports.values():
            doc = await fetch_document(env.client, "acme", "expense_report", env.client.report_path(report.owner, report.id))
            assert {e.payment_type for e in doc.expenses} <= {"CASH", "CBCP"}
            assert not any(e.is_personal or e.itemizations or e.is_billable for e in doc.expenses)
            assert all(e.approved_amount == e.claimed_amount == e.amount for e in doc.expenses)
            assert doc.amount_due_employee + doc.amount_due_company_card == doc.total and doc.amount_company_paid == 0
        for invoice in company.data.invoices.values():
            doc = await fetch_document(env.client, "acme", "invoice", invoice.id)
            assert (doc.tax_amount, doc.shipping_amount) == (0, 0) and doc.total == sum(li.amount for li in doc.lines)


def test_documents_stored_before_the_new_fields_still_load(report_parts):
    """JSON written by the previous version (no header figures, no itemizations, no account codes)
    loads with the new fields absent (None / empty), never as zero."""
    report, expenses, allocations, user = report_parts
    doc = normalise.normalise_report(report, expenses, allocations, user)
    old_expense_keys = {
        "expense_id",
        "expense_type",
        "expense_type_name",
        "transaction_date",
        "amount",
        "payment_type",
        "merchant",
        "description",
        "allocations",
    }
    stored = to_json(doc)
    old = {
        k: v
        for k, v in stored.items()
        if k in {"kind", "report_id", "name", "owner", "currency", "approval_status", "total", "report_date", "payment_status", "modified_at", "expenses"}
    }
    old["expenses"] = [{k: v for k, v in e.items() if k in old_expense_keys} for e in stored["expenses"]]
    for e in old["expenses"]:
        e["allocations"] = [{"percentage": a["percentage"], "amount": a["amount"], "fields": a["fields"]} for a in e["allocations"]]
    loaded = from_json(old)
    assert loaded.total == doc.total and loaded.amount_due_employee is None and loaded.expenses[1].itemizations == ()
    assert loaded.expenses[1].allocations[0].account_code == "" and loaded.expenses[1].approved_amount is None
    invoice = normalise.normalise_invoice(_invoice({"LineItemId": "1", "TotalPrice": "100.01"}))
    old_invoice = {k: v for k, v in to_json(invoice).items() if k not in ("tax_amount", "remit_address", "paid_amount", "terms_days")}
    assert from_json(old_invoice).tax_amount is None and from_json(old_invoice).remit_address is None
    assert from_json(to_json(invoice)) == invoice
