"""The pure FIS normaliser (issue 16) on SAP's public example, on the simulator's documents, and
the FIS region rule."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest

from shared.types import DocKind
from sim.concur.data import generate
from sim.concur.fis import expense_document, invoice_document
from worker.concur.errors import BadConcurData
from worker.concur.fis_normalise import normalise_expense_document, normalise_fis_document, normalise_invoice_document, region_problem

from concur_helpers import reference


def example() -> dict:
    raw = json.loads(reference("fis", "expense_document.example_4.1_cost_allocation.json").read_text(encoding="utf-8"), parse_float=Decimal)
    [item] = raw["fIDocuments"]
    return item


def test_public_example_4_1_becomes_an_expense_report_with_journal_codes_as_account_codes():
    item = example()
    report = normalise_fis_document(item["docType"], item)
    assert report.kind is DocKind.EXPENSE_REPORT
    assert report.report_id == "460EFDDC98634EA9A0AD"  # the Concur report id: the RefNumber keys match the expense API path
    assert (report.currency, report.total, report.approval_status) == ("USD", Decimal(325), "A_APPR")
    assert report.report_date == dt.date(2019, 5, 28)
    assert report.owner.employee_id == "1017001" and report.owner.name == "Dp1 CTE"
    assert sum(e.amount for e in report.expenses) == report.total
    lodging = next(e for e in report.expenses if e.expense_id == "9A9DD654D3A10549AC0D2D50E36777B5")
    assert (lodging.expense_type, lodging.amount, lodging.payment_type, lodging.merchant) == ("LODNG", Decimal(250), "COPD", "All Suites International")
    [allocation] = lodging.allocations
    assert allocation.account_code == "474230" and allocation.fields["accountCode"] == "474230"
    assert allocation.fields["custom4"] == "21-BELLEV1" and allocation.amount == Decimal(250)
    assert report.cash_advance_applied is None  # an empty cashAdvanceApplication states nothing
    # The 50/50 cost allocation of the example: each share carries its own journal amount.
    split = [e for e in report.expenses if len(e.allocations) > 1]
    for expense in split:
        assert sum(a.amount or 0 for a in expense.allocations) == expense.amount
        assert sum(a.percentage for a in expense.allocations) == 100


def test_the_document_may_come_as_a_json_string():
    item = example()
    as_text = {**item, "document": json.dumps(item["document"], default=str)}
    assert normalise_fis_document("expense", as_text) == normalise_fis_document("expense", item)


def test_bad_documents_get_a_clear_error():
    with pytest.raises(BadConcurData, match="reportId"):
        normalise_expense_document({"report": {}})
    with pytest.raises(BadConcurData, match="vendor"):
        normalise_invoice_document({"requestHeader": {"requestId": "X", "totalApprovedAmount": 1, "invoiceDate": "2026-01-01"}, "vendor": {}})
    with pytest.raises(BadConcurData, match="not posted"):
        normalise_fis_document("payroll", {"id": "1", "document": {}})
    with pytest.raises(BadConcurData, match="not JSON"):
        normalise_fis_document("expense", {"id": "1", "document": "{oops"})


def test_simulator_documents_match_its_v4_and_v3_data():
    generator = generate(3, "demo", now=dt.datetime(2026, 5, 1, tzinfo=dt.UTC), reports=4, invoices=3, profile="realistic")
    data = generator.data
    for source in data.reports.values():
        report = normalise_expense_document(json.loads(json.dumps(expense_document(source, data), default=str), parse_float=Decimal))
        assert report.report_id == source.id and report.total == source.total
        for expense in report.expenses:
            for allocation in expense.allocations:
                assert allocation.fields.get("custom1", "").startswith("CC-")  # codes, as the v4 path resolves list items
        if source.cash_advance:
            assert report.cash_advance_applied == source.header()["cashAdvanceApplied"]
    for source in data.invoices.values():
        invoice = normalise_invoice_document(json.loads(json.dumps(invoice_document(source), default=str), parse_float=Decimal))
        assert (invoice.request_id, invoice.total, invoice.vendor_code) == (source.id, source.total, source.vendor_code)
        assert sum(line.amount for line in invoice.lines) == source.line_total
        assert all(a.account_code for line in invoice.lines for a in line.allocations)


@pytest.mark.parametrize(
    "geolocation",
    [
        "https://us.api.concursolutions.com",
        "https://www-us2.api.concursolutions.com",
        "https://emea.api.concursolutions.com",
        "https://eu2.api.concursolutions.com",
        "http://127.0.0.1:8760",
    ],
)
def test_fis_is_offered_in_north_america_and_emea(geolocation):
    assert region_problem(geolocation) is None


@pytest.mark.parametrize("geolocation", ["https://apj1.api.concursolutions.com", "https://cn.api.concurcdc.cn", "https://usg.api.concursolutions.com"])
def test_elsewhere_fis_is_refused_with_a_clear_message(geolocation):
    problem = region_problem(geolocation)
    assert problem and "North America and EMEA only" in problem and 'source = "expense_api"' in problem
