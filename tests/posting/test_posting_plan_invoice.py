"""Invoices (payment requests): one bill to the invoice's vendor."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from worker.posting.plan import BillAdd, Hold, NotPostable, Plan, plan_document
from worker.posting.vendors import CreateVendor, QbVendor, ReactivateVendor, UseVendor, VendorDirectory
from worker.qbxml.model import Ref

from posting_factories import ACME, alloc, company, facts, invoice, invoice_line, lists

D = Decimal


def plan(doc, comp=None, qb=None, lv=None, vendors=None, links=None):
    return plan_document(doc, comp or company(), qb or facts(), lv or lists(), vendors if vendors is not None else VendorDirectory.of([ACME]), links or {})


def test_invoice_is_a_bill_to_its_vendor():
    doc = invoice(invoice_line("60.00", line_id="1"), invoice_line("40.00", "MEALS", line_id="2"))
    result = plan(doc)
    assert isinstance(result, Plan)
    (bill,) = result.transactions
    assert isinstance(bill, BillAdd)
    assert result.vendor_action == UseVendor(ACME.list_id, "Acme Supplies")
    assert bill.vendor == Ref(list_id=ACME.list_id)
    assert bill.ref_number == "INV-2026-0042"
    assert bill.txn_date == dt.date(2026, 3, 5) and bill.due_date == dt.date(2026, 4, 4)
    assert bill.terms == Ref(full_name="Net 30")
    assert bill.memo == "Concur invoice PR$1234$ABCD"
    assert [(line.account.full_name, line.amount, line.memo) for line in bill.lines] == [
        ("Office Supplies", D("60.00"), "line 1"),
        ("Meals", D("40.00"), "line 2"),
    ]
    assert result.total == D("100.00")
    assert bill.external_guid.startswith("{")


def test_no_terms_no_terms_ref():
    (bill,) = plan(invoice(invoice_line("10.00"), terms="")).transactions
    assert bill.terms is None


def test_line_allocations_split_by_percentage_to_the_cent():
    line = invoice_line(
        "100.00",
        allocations=(alloc("33.33333333", None, custom1="CC-100"), alloc("33.33333333", None, custom1="CC-200"), alloc("33.33333334", None, custom2="PRJ-7")),
    )
    (bill,) = plan(invoice(line)).transactions
    assert [line.amount for line in bill.lines] == [D("33.33"), D("33.33"), D("33.34")]
    assert [line.klass for line in bill.lines] == [Ref(full_name="Consulting"), Ref(full_name="Sales"), None]
    assert bill.lines[2].customer == Ref(full_name="Client A:Project X")
    assert sum(line.amount for line in bill.lines) == D("100.00")


def test_lines_not_adding_up_to_the_total_hold_with_both_numbers():
    result = plan(invoice(invoice_line("60.00"), invoice_line("39.00", line_id="2"), total="100.00"))
    assert isinstance(result, Hold)
    assert "99.00" in result.reason and "100.00" in result.reason


def test_invoice_without_lines_but_a_total_holds():
    result = plan(invoice(total="50.00"))
    assert isinstance(result, Hold) and "0.00" in result.reason and "50.00" in result.reason


def test_zero_invoice_is_not_postable():
    assert isinstance(plan(invoice(invoice_line("0.00"))), NotPostable)


def test_negative_invoice_holds():
    result = plan(invoice(invoice_line("-10.00")))
    assert isinstance(result, Hold) and "negative" in result.reason


def test_discount_line_on_a_positive_invoice_is_kept():
    result = plan(invoice(invoice_line("100.00"), invoice_line("-5.00", line_id="2")))
    (bill,) = result.transactions
    assert [line.amount for line in bill.lines] == [D("100.00"), D("-5.00")]


def test_long_invoice_number_is_cut_deterministically_with_a_decision():
    number = "2026/ACME/INVOICE/000000000042"
    result = plan(invoice(invoice_line("10.00"), invoice_number=number))
    (bill,) = result.transactions
    assert len(bill.ref_number) == 20 and bill.ref_number.startswith("2026/ACME/INVOI")
    assert any("cut to 20" in d and number in d for d in result.decisions)
    other = plan(invoice(invoice_line("10.00"), invoice_number=number[:-1] + "3")).transactions[0]
    assert other.ref_number != bill.ref_number


def test_missing_invoice_number_uses_a_derived_ref_number():
    result = plan(invoice(invoice_line("10.00"), invoice_number=" "))
    (bill,) = result.transactions
    assert bill.ref_number.startswith("CNC-") and len(bill.ref_number) == 20


def test_unknown_vendor_is_created_with_its_code():
    result = plan(invoice(invoice_line("10.00")), vendors=VendorDirectory.of([]))
    assert isinstance(result.vendor_action, CreateVendor)
    assert result.vendor_action.add.account_number == "ACME01"
    assert result.transactions[0].vendor == Ref(full_name="Acme Supplies")


def test_vendor_name_taken_by_a_customer_gets_suffix():
    result = plan(invoice(invoice_line("10.00")), vendors=VendorDirectory.of([], ["Acme Supplies"]))
    assert result.vendor_action.name == "Acme Supplies (V)"
    assert result.transactions[0].vendor == Ref(full_name="Acme Supplies (V)")


def test_inactive_invoice_vendor_is_reactivated():
    inactive = QbVendor(ACME.list_id, "Acme Supplies", is_active=False, edit_sequence="9")
    result = plan(invoice(invoice_line("10.00")), vendors=VendorDirectory.of([inactive]))
    assert isinstance(result.vendor_action, ReactivateVendor)


def test_match_only_holds_for_unknown_invoice_vendor():
    result = plan(invoice(invoice_line("10.00")), comp=company(vendor_policy="match_only"), vendors=VendorDirectory.of([]))
    assert isinstance(result, Hold) and "Acme Supplies" in result.reason


def test_unmapped_line_type_holds():
    result = plan(invoice(invoice_line("10.00", "GL-6100")))
    assert isinstance(result, Hold) and '"GL-6100"' in result.reason


def test_foreign_currency_invoice():
    assert isinstance(plan(invoice(invoice_line("10.00"), currency="CAD")), Hold)
    assert isinstance(
        plan(invoice(invoice_line("10.00"), currency="CAD"), comp=company(ap_accounts={"CAD": "Accounts Payable"}), qb=facts(multicurrency=True)), Plan
    )


def test_invoice_closing_date_both_options():
    closed = facts(closing_date=dt.date(2026, 3, 31))
    held = plan(invoice(invoice_line("10.00")), qb=closed)
    assert isinstance(held, Hold) and "2026-03-05" in held.reason
    moved = plan(invoice(invoice_line("10.00")), comp=company(closed_period="first_open_day"), qb=closed)
    assert moved.transactions[0].txn_date == dt.date(2026, 4, 1)


def test_not_approved_invoice_is_not_postable():
    assert isinstance(plan(invoice(invoice_line("10.00"), approval_status="R_PEND")), NotPostable)
