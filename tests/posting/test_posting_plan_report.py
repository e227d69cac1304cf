"""Expense reports: journal entry mode, bill mode, company card, credits, holds."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from shared.config import MappingConfig
from worker.posting.plan import (
    BillAdd,
    Hold,
    JournalEntryAdd,
    ListsView,
    NotPostable,
    Plan,
    journal_balance,
    plan_document,
    plan_to_json,
)
from worker.posting.vendors import CreateVendor, QbVendor, ReactivateVendor, UseVendor, VendorDirectory
from worker.qbxml.model import Ref

from posting_factories import JANE_VENDOR, alloc, company, directory, expense, facts, lists, report

D = Decimal


def plan(doc, comp=None, qb=None, lv=None, vendors=None, links=None):
    return plan_document(doc, comp or company(), qb or facts(), lv or lists(), vendors or directory(), links or {})


def lines_of(txn, side=None):
    return [(line.account.full_name, line.amount) for line in txn.lines if side is None or getattr(line, "side", None) == side]


# --- journal entry mode -----------------------------------------------------------------


def test_out_of_pocket_report_is_one_balanced_journal_entry():
    doc = report(expense("120.00", "AIRFR"), expense("30.50", "MEALS"))
    result = plan(doc)
    assert isinstance(result, Plan)
    assert result.total == D("150.50")
    assert result.vendor_action == UseVendor(JANE_VENDOR.list_id, "Jane Doe")
    (je,) = result.transactions
    assert isinstance(je, JournalEntryAdd)
    assert lines_of(je, "debit") == [("Travel:Airfare", D("120.00")), ("Meals", D("30.50"))]
    assert lines_of(je, "credit") == [("Accounts Payable", D("150.50"))]
    ap = je.lines[-1]
    assert ap.entity == Ref(list_id=JANE_VENDOR.list_id)
    assert journal_balance(je) == 0
    assert je.txn_date == dt.date(2026, 3, 10)
    assert len(je.ref_number) <= 11 and je.external_guid.startswith("{")
    assert je.memo == "Concur report 9F1A2B3C4D5E6F708192"


def test_report_date_is_the_transaction_date_and_it_is_said():
    result = plan(report(expense("10.00", date=dt.date(2026, 3, 1))))
    assert result.transactions[0].txn_date == dt.date(2026, 3, 10)
    assert any("dated 2026-03-10 (the report date)" in d for d in result.decisions)


def test_company_card_expenses_credit_the_card_account():
    doc = report(expense("200.00", "LODGING", "CBCP"), expense("45.00", "MEALS", "CASH"))
    result = plan(doc)
    (je,) = result.transactions
    assert lines_of(je, "debit") == [("Travel:Lodging", D("200.00")), ("Meals", D("45.00"))]
    credits = [line for line in je.lines if line.side == "credit"]
    assert [(line.account.full_name, line.amount) for line in credits] == [("Accounts Payable", D("45.00")), ("Company Card", D("200.00"))]
    assert credits[0].entity is not None and credits[1].entity is None
    assert journal_balance(je) == 0


def test_all_company_card_needs_no_vendor():
    doc = report(expense("200.00", "LODGING", "CBCP"))
    result = plan(doc, vendors=VendorDirectory.of([]), comp=company(vendor_policy="match_only"))
    assert isinstance(result, Plan) and result.vendor_action is None
    (je,) = result.transactions
    assert lines_of(je, "credit") == [("Company Card", D("200.00"))]


def test_configured_company_paid_payment_types_and_card_account():
    comp = company(company_paid_payment_types=("IBCP", "CBCP"), company_card_account="Amex")
    result = plan(report(expense("10.00", payment_type="IBCP")), comp=comp, lv=lists(accounts=["Travel:Airfare", "Amex"]))
    assert lines_of(result.transactions[0], "credit") == [("Amex", D("10.00"))]


def test_allocations_become_debit_lines_with_class_and_customer():
    e = expense("100.00", allocations=(alloc("50", None, custom1="CC-100", custom2="PRJ-7"), alloc("50", None, custom1="CC-200")))
    result = plan(report(e))
    (je,) = result.transactions
    debits = [line for line in je.lines if line.side == "debit"]
    assert [(line.amount, line.klass, line.entity) for line in debits] == [
        (D("50.00"), Ref(full_name="Consulting"), Ref(full_name="Client A:Project X")),
        (D("50.00"), Ref(full_name="Sales"), None),
    ]
    assert any("Consulting" in d and "mapping.classes" in d for d in result.decisions)


def test_uneven_three_way_split_to_the_cent():
    e = expense("100.00", allocations=(alloc("33.33", None, custom1="CC-100"), alloc("33.33", None, custom1="CC-200"), alloc("33.34")))
    (je,) = plan(report(e)).transactions
    assert [line.amount for line in je.lines if line.side == "debit"] == [D("33.33"), D("33.33"), D("33.34")]
    assert journal_balance(je) == 0


def test_one_cent_split_three_ways_drops_zero_lines_and_still_balances():
    e = expense("0.01", allocations=(alloc("1", None, custom1="CC-100"), alloc("1", None, custom1="CC-200"), alloc("1")))
    result = plan(report(e))
    (je,) = result.transactions
    assert [(line.side, line.amount, line.klass) for line in je.lines] == [("debit", D("0.01"), Ref(full_name="Consulting")), ("credit", D("0.01"), None)]


def test_concur_allocation_amounts_are_posted_as_stated():
    e = expense("100.00", allocations=(alloc("50", "40.00", custom1="CC-100"), alloc("50", "60.00", custom1="CC-200")))
    (je,) = plan(report(e)).transactions
    assert [line.amount for line in je.lines if line.side == "debit"] == [D("40.00"), D("60.00")]


def test_allocation_amounts_that_do_not_add_up_fall_back_with_a_decision():
    e = expense("100.00", allocations=(alloc("50", "40.00"), alloc("50", "50.00")))
    result = plan(report(e))
    assert [line.amount for line in result.transactions[0].lines if line.side == "debit"] == [D("50.00"), D("50.00")]
    assert any("90.00, not 100.00" in d and "percentage" in d for d in result.decisions)


def test_negative_expense_moves_to_the_credit_side():
    doc = report(expense("100.00", "AIRFR"), expense("-20.00", "MEALS"))
    (je,) = plan(doc).transactions
    assert [(line.side, line.account.full_name, line.amount) for line in je.lines] == [
        ("debit", "Travel:Airfare", D("100.00")),
        ("credit", "Meals", D("20.00")),
        ("credit", "Accounts Payable", D("80.00")),
    ]


def test_negative_out_of_pocket_total_debits_ap():
    doc = report(expense("-20.00", "MEALS"), expense("50.00", "LODGING", "CBCP"))
    (je,) = plan(doc).transactions
    assert journal_balance(je) == 0
    ap = next(line for line in je.lines if line.account.full_name == "Accounts Payable")
    assert (ap.side, ap.amount) == ("debit", D("20.00"))


def test_new_employee_vendor_is_created_and_referenced_by_name():
    result = plan(report(expense("10.00")), vendors=VendorDirectory.of([]))
    assert isinstance(result.vendor_action, CreateVendor)
    ap = result.transactions[0].lines[-1]
    assert ap.entity == Ref(full_name="Jane Doe")


def test_inactive_employee_vendor_is_reactivated_in_the_plan():
    inactive = QbVendor(JANE_VENDOR.list_id, "Jane Doe", is_active=False, edit_sequence="77", account_number="E042")
    result = plan(report(expense("10.00")), vendors=VendorDirectory.of([inactive]))
    assert isinstance(result.vendor_action, ReactivateVendor)
    assert result.vendor_name == "Jane Doe"


def test_match_only_without_vendor_holds():
    result = plan(report(expense("10.00")), comp=company(vendor_policy="match_only"), vendors=VendorDirectory.of([]))
    assert isinstance(result, Hold) and "match_only" in result.reason


# --- bill mode ----------------------------------------------------------------------------


def test_bill_mode_out_of_pocket_is_a_bill_to_the_employee():
    comp = company(expense_report_as="bill")
    e = expense("100.00", allocations=(alloc("50", None, custom1="CC-100"), alloc("50", None, custom2="PRJ-8")))
    result = plan(report(e, expense("20.00", "MEALS")), comp=comp)
    (bill,) = result.transactions
    assert isinstance(bill, BillAdd)
    assert bill.vendor == Ref(list_id=JANE_VENDOR.list_id)
    assert [(line.account.full_name, line.amount, line.klass, line.customer) for line in bill.lines] == [
        ("Travel:Airfare", D("50.00"), Ref(full_name="Consulting"), None),
        ("Travel:Airfare", D("50.00"), None, Ref(full_name="Client B")),
        ("Meals", D("20.00"), None, None),
    ]
    assert len(bill.ref_number) == 20 and bill.ref_number.startswith("CNC-")
    assert bill.ap_account == Ref(full_name="Accounts Payable")
    assert bill.memo.startswith("Concur report 9F1A2B3C4D5E6F708192")
    assert result.total == D("120.00")


def test_bill_mode_company_paid_part_is_a_journal_entry():
    comp = company(expense_report_as="bill")
    result = plan(report(expense("80.00", "AIRFR"), expense("300.00", "LODGING", "CBCP")), comp=comp)
    bill, je = result.transactions
    assert isinstance(bill, BillAdd) and isinstance(je, JournalEntryAdd)
    assert [line.amount for line in bill.lines] == [D("80.00")]
    assert [(line.side, line.account.full_name, line.amount) for line in je.lines] == [
        ("debit", "Travel:Lodging", D("300.00")),
        ("credit", "Company Card", D("300.00")),
    ]
    assert bill.external_guid != je.external_guid
    assert result.total == D("380.00")


def test_bill_mode_only_company_paid_omits_the_bill():
    comp = company(expense_report_as="bill")
    result = plan(report(expense("300.00", "LODGING", "CBCP")), comp=comp)
    assert [type(t) for t in result.transactions] == [JournalEntryAdd]
    assert result.vendor_action is None


def test_bill_mode_only_out_of_pocket_omits_the_journal_entry():
    comp = company(expense_report_as="bill")
    result = plan(report(expense("30.00")), comp=comp)
    assert [type(t) for t in result.transactions] == [BillAdd]


def test_bill_mode_negative_out_of_pocket_total_holds():
    comp = company(expense_report_as="bill")
    result = plan(report(expense("-30.00"), expense("100.00", "LODGING", "CBCP")), comp=comp)
    assert isinstance(result, Hold) and "negative" in result.reason and "-30.00" in result.reason


def test_bill_mode_credit_line_with_positive_total_is_kept():
    comp = company(expense_report_as="bill")
    result = plan(report(expense("100.00"), expense("-30.00", "MEALS")), comp=comp)
    (bill,) = result.transactions
    assert [line.amount for line in bill.lines] == [D("100.00"), D("-30.00")]
    assert any("credit (negative) lines" in d for d in result.decisions)


def test_bill_mode_out_of_pocket_netting_to_zero_goes_to_the_journal_entry():
    comp = company(expense_report_as="bill")
    result = plan(report(expense("30.00", "AIRFR"), expense("-30.00", "MEALS"), expense("10.00", "LODGING", "CBCP")), comp=comp)
    (je,) = result.transactions
    assert journal_balance(je) == 0
    assert {line.account.full_name for line in je.lines} == {"Travel:Airfare", "Meals", "Travel:Lodging", "Company Card"}
    assert result.vendor_action is None


# --- holds and skips ------------------------------------------------------------------------


def test_unmapped_codes_hold_naming_each_code_and_the_company():
    e1 = expense("10.00", "TAXI")
    e2 = expense("10.00", "PARKING", allocations=(alloc("100", None, custom1="CC-9", custom2="PRJ-99"),))
    result = plan(report(e1, e2))
    assert isinstance(result, Hold)
    for code in ('"TAXI"', '"PARKING"', '"CC-9"', '"PRJ-99"'):
        assert code in result.reason
    assert "company demo" in result.reason
    assert "[companies.mapping.expense_types]" in result.reason


def test_status_not_postable():
    result = plan(report(expense("10.00"), approval_status="A_PEND"))
    assert isinstance(result, NotPostable) and "A_PEND" in result.reason and "A_APPR" in result.reason


def test_post_on_status_is_configurable():
    result = plan(report(expense("10.00"), approval_status="A_PROC"), comp=company(post_on_status=("A_APPR", "A_PROC")))
    assert isinstance(result, Plan)


def test_zero_report_is_not_postable():
    assert isinstance(plan(report(expense("0.00"))), NotPostable)
    assert isinstance(plan(report()), NotPostable)


def test_report_total_disagreeing_with_expenses_holds_with_both_numbers():
    result = plan(report(expense("10.00"), total="12.00"))
    assert isinstance(result, Hold) and "10.00" in result.reason and "12.00" in result.reason


def test_foreign_currency_without_multicurrency_holds():
    result = plan(report(expense("10.00"), currency="EUR"))
    assert isinstance(result, Hold) and "EUR" in result.reason and "USD" in result.reason


def test_foreign_currency_journal_entry_holds_even_with_multicurrency():
    result = plan(report(expense("10.00"), currency="EUR"), qb=facts(multicurrency=True))
    assert isinstance(result, Hold) and "journal entries in a foreign currency" in result.reason


def test_foreign_currency_bill_is_allowed_with_multicurrency():
    result = plan(
        report(expense("10.00"), currency="EUR"), comp=company(expense_report_as="bill", ap_accounts={"EUR": "Accounts Payable"}), qb=facts(multicurrency=True)
    )
    assert isinstance(result, Plan)
    assert any("EUR" in d and "vendor" in d for d in result.decisions)
    held = plan(report(expense("10.00"), currency="EUR"), comp=company(expense_report_as="bill"), qb=facts(multicurrency=True))
    assert isinstance(held, Hold) and "ap_accounts" in held.reason


def test_home_currency_compared_ignoring_case():
    assert isinstance(plan(report(expense("10.00"), currency="usd")), Plan)


def test_unknown_home_currency_is_not_checked_but_said():
    result = plan(report(expense("10.00"), currency="EUR"), qb=facts(home_currency=None))
    assert isinstance(result, Plan) and any("not known" in d for d in result.decisions)


def test_closing_date_holds_by_default():
    result = plan(report(expense("10.00")), qb=facts(closing_date=dt.date(2026, 3, 31)))
    assert isinstance(result, Hold)
    assert "2026-03-10" in result.reason and "2026-03-31" in result.reason and "first_open_day" in result.reason


def test_closing_date_itself_is_closed():
    assert isinstance(plan(report(expense("10.00")), qb=facts(closing_date=dt.date(2026, 3, 10))), Hold)
    assert isinstance(plan(report(expense("10.00")), qb=facts(closing_date=dt.date(2026, 3, 9))), Plan)


def test_closing_date_first_open_day_moves_the_date():
    comp = company(closed_period="first_open_day", expense_report_as="bill")
    result = plan(report(expense("10.00"), expense("5.00", payment_type="CBCP")), comp=comp, qb=facts(closing_date=dt.date(2026, 3, 31)))
    assert isinstance(result, Plan)
    assert {t.txn_date for t in result.transactions} == {dt.date(2026, 4, 1)}
    assert any("first open day" in d and "2026-03-31" in d for d in result.decisions)


def test_missing_and_inactive_accounts_hold_naming_them():
    lv = ListsView.of(accounts={"Travel:Airfare": False, "Accounts Payable": True}, classes=None, customers=None)
    result = plan(report(expense("10.00"), expense("5.00", "MEALS")), lv=lv)
    assert isinstance(result, Hold)
    assert 'account "Travel:Airfare" is inactive' in result.reason
    assert 'account "Meals" does not exist' in result.reason


def test_missing_ap_or_card_account_holds():
    lv = lists(accounts=["Travel:Airfare"])
    result = plan(report(expense("10.00"), expense("5.00", payment_type="CBCP")), lv=lv)
    assert isinstance(result, Hold)
    assert "Accounts Payable" in result.reason and "Company Card" in result.reason


def test_missing_class_and_customer_hold():
    e = expense("10.00", allocations=(alloc("100", None, custom1="CC-100", custom2="PRJ-7"),))
    result = plan(report(e), lv=lists(classes={"Consulting": False}, customers=[]))
    assert isinstance(result, Hold)
    assert 'class "Consulting" is inactive' in result.reason
    assert 'customer:job "Client A:Project X" does not exist' in result.reason


def test_lists_not_synced_do_not_hold():
    e = expense("10.00", allocations=(alloc("100", None, custom1="CC-100"),))
    assert isinstance(plan(report(e), lv=ListsView()), Plan)


def test_list_names_compare_ignoring_case():
    assert isinstance(plan(report(expense("10.00")), lv=lists(accounts=["travel:airfare", "ACCOUNTS PAYABLE"])), Plan)


def test_class_tracking_off_drops_classes_with_a_decision():
    e = expense("10.00", allocations=(alloc("100", None, custom1="CC-100", custom2="PRJ-7"),))
    result = plan(report(e), qb=facts(class_tracking=False))
    (je,) = result.transactions
    assert all(line.klass is None for line in je.lines)
    assert je.lines[0].entity == Ref(full_name="Client A:Project X")
    assert any("class tracking is off" in d for d in result.decisions)


def test_every_problem_is_in_one_reason():
    comp = company(vendor_policy="match_only")
    result = plan(report(expense("10.00", "TAXI"), currency="EUR"), comp=comp, qb=facts(closing_date=dt.date(2026, 12, 31)), vendors=VendorDirectory.of([]))
    assert isinstance(result, Hold)
    assert result.reason.startswith('unmapped expense type "TAXI"')
    for part in ("EUR", "closing date", "match_only"):
        assert part in result.reason


def test_planning_is_deterministic():
    doc = report(expense("100.00", allocations=(alloc("1"), alloc("1"), alloc("1"))), expense("3.00", payment_type="CBCP"))
    assert plan(doc) == plan(doc)


def test_plan_to_json_is_plain_data():
    import json

    result = plan(report(expense("10.00")), vendors=VendorDirectory.of([]))
    data = plan_to_json(result)
    text = json.dumps(data)
    assert data["outcome"] == "plan" and data["total"] == "10.00"
    assert data["vendor"]["action"] == "create"
    assert data["transactions"][0]["type"] == "JournalEntryAdd"
    assert '"amount": "10.00"' in text
    held = plan_to_json(plan(report(expense("1.00", "TAXI"))))
    assert held["outcome"] == "hold" and "TAXI" in held["reason"]


def test_mapping_table_change_releases_the_hold():
    doc = report(expense("10.00", "TAXI"))
    assert isinstance(plan(doc), Hold)
    mapping = MappingConfig(expense_types={"TAXI": "Travel:Airfare"})
    assert isinstance(plan(doc, comp=company(mapping=mapping)), Plan)


def test_unbalanced_journal_entry_is_refused_by_the_guard():
    import pytest

    from worker.posting.plan import _checked
    from worker.qbxml.model import JournalLine

    je = JournalEntryAdd(dt.date(2026, 1, 1), "C1", (JournalLine("debit", Ref("A"), D("1.00")), JournalLine("credit", Ref("B"), D("0.99"))))
    with pytest.raises(AssertionError, match=r"off by 0\.01"):
        _checked(je)


def test_stale_link_to_an_uncached_vendor_is_used_by_list_id():
    links = {"employee:0b5c1f2e-1111-2222-3333-444455556666": "8000000F-1"}
    result = plan(report(expense("10.00")), vendors=VendorDirectory.of([]), links=links)
    assert result.vendor_action == UseVendor("8000000F-1", "Jane Doe")
    assert result.transactions[0].lines[-1].entity == Ref(list_id="8000000F-1")
