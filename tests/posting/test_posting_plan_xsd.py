"""Every planned request builds to qbXML that the 13.0 XSD accepts."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from worker.posting.plan import Plan, plan_document
from worker.posting.vendors import CreateVendor, QbVendor, ReactivateVendor, VendorDirectory
from worker.qbxml import build
from worker.qbxml.model import Tagged

from posting_factories import alloc, company, directory, expense, facts, invoice, invoice_line, lists, report

XSD_PATH = Path(__file__).resolve().parents[2] / ".." / "shared" / "reference" / "qbxml" / "schema-13.0" / "qbxmlops130.xsd"
D = Decimal


@pytest.fixture(scope="module")
def xsd() -> etree.XMLSchema:
    if not XSD_PATH.exists():
        pytest.skip(f"qbXML XSD not available ({XSD_PATH.resolve()} is missing; it lives in /work/shared/reference)")
    return etree.XMLSchema(etree.parse(str(XSD_PATH)))


def requests_of(result: Plan) -> list:
    action = result.vendor_action
    out: list = []
    if isinstance(action, CreateVendor):
        out.append(action.add)
    elif isinstance(action, ReactivateVendor):
        out.append(action.mod)
    return out + list(result.transactions)


def assert_valid(xsd: etree.XMLSchema, result: Plan) -> None:
    assert isinstance(result, Plan), result
    tagged = [Tagged(str(i + 1), r) for i, r in enumerate(requests_of(result))]
    text = build.build_message_set(tagged)
    doc = etree.fromstring(text.encode("utf-8"))
    assert xsd.validate(doc), (xsd.error_log, text)


UNICODE_EMPLOYEE = report(
    expense("19.99", "MEALS", allocations=(alloc("1", None, custom1="CC-100", custom2="PRJ-7"), alloc("2"))),
    expense("250.00", "LODGING", "CBCP"),
    expense("-5.00", "OFFICE"),
    owner=report().owner.__class__("E-77", "Zoë “Ziggy” Łukasiewicz-Brzęczyszczykiewicz & Söhne <ltd>", "z@example.com"),
)

CASES = {
    "journal entry, existing vendor": (report(expense("120.00"), expense("30.00", "MEALS", "CBCP")), company(), directory()),
    "journal entry, new unicode vendor": (UNICODE_EMPLOYEE, company(), VendorDirectory.of([])),
    "bill mode with card part": (report(expense("80.00"), expense("20.00", "LODGING", "CBCP")), company(expense_report_as="bill"), directory()),
    "bill mode, vendor reactivated": (
        report(expense("80.00")),
        company(expense_report_as="bill"),
        VendorDirectory.of([QbVendor("80000001-1700000000", "Jane Doe", is_active=False, edit_sequence="1700000001", account_number="E042")]),
    ),
    "invoice, long number, suffixed vendor": (
        invoice(
            invoice_line("99.99", allocations=(alloc("50", None, custom1="CC-200"), alloc("50", None, custom2="PRJ-8"))),
            invoice_number="INV/2026/ACME & SONS/000042",
        ),
        company(),
        VendorDirectory.of([], ["Acme Supplies"]),
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_planned_requests_validate(xsd, name):
    doc, comp, vendors = CASES[name]
    assert_valid(xsd, plan_document(doc, comp, facts(), lists(), vendors, {}))


def test_first_open_day_and_no_class_tracking_validate(xsd):
    doc = report(expense("10.00", allocations=(alloc("100", None, custom1="CC-100"),)))
    comp = company(closed_period="first_open_day")
    result = plan_document(doc, comp, facts(closing_date=dt.date(2026, 12, 31), class_tracking=False), lists(), directory(), {})
    assert_valid(xsd, result)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(
    items=st.lists(
        st.tuples(
            st.decimals(min_value=D("0.01"), max_value=D("99999"), places=2),
            st.sampled_from(["AIRFR", "MEALS"]),
            st.sampled_from(["CASH", "CBCP"]),
            st.integers(0, 3),
        ),
        min_size=1,
        max_size=5,
    ),
    as_bill=st.booleans(),
    name=st.text(min_size=1, max_size=60).filter(lambda s: s.strip()),
)
def test_random_reports_validate(xsd, items, as_bill, name):
    expenses = [
        expense(str(a), t, p, tuple(alloc(str(k + 1), None, custom1="CC-100") for k in range(n)), expense_id=f"E{i}") for i, (a, t, p, n) in enumerate(items)
    ]
    doc = report(*expenses, owner=report().owner.__class__("E-1", name))
    result = plan_document(doc, company(expense_report_as="bill" if as_bill else "journal_entry"), facts(), lists(), VendorDirectory.of([]), {})
    if not isinstance(result, Plan):
        assert "no name usable" in result.reason  # e.g. a name of only CJK characters
        return
    assert_valid(xsd, result)
