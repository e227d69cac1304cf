"""The payment planner (worker/posting/payments.py): what Concur paid becomes one bill payment from
the clearing account, applied to the posted bill or journal entry A/P credit; QuickBooks' answer to
the open-balance check holds a payment someone already made."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from worker.posting.payments import NoPayment, PaidElsewhere, Payable, PaymentPlan, Proceed, check_verdict, payable_of, plan_payment
from worker.posting.plan import Plan, plan_document, plan_to_json
from worker.qbxml.build import build_request
from worker.qbxml.model import BillToPayQuery, Ref, Tagged, TxnQuery

from posting_factories import company, directory, expense, facts, invoice, invoice_line, lists, replace, report

D = Decimal
TODAY = dt.date(2026, 3, 10)
PAYS = dict(concur_pays=True, concur_payment_account="Concur Clearing")
BILL = Payable("TX-1", "Bill", Ref(full_name="Office Depot"), "Accounts Payable", D("120.00"))


def paid(doc, amount: str | None, on: dt.date | None = dt.date(2026, 3, 5)):
    return replace(doc, payment_status="P_PAID", paid_amount=None if amount is None else D(amount), paid_date=on)


def test_a_paid_invoice_gets_one_payment_for_what_concur_paid_dated_when_it_paid() -> None:
    doc = paid(invoice(invoice_line("120.00")), "120.00")
    result = plan_payment(doc, company(**PAYS), BILL, D("0"), 0, TODAY)
    assert isinstance(result, PaymentPlan)
    write = result.write
    assert write.bank_account == Ref(full_name="Concur Clearing") and write.payee == BILL.payee
    assert write.ap_account == Ref(full_name="Accounts Payable")
    assert [(a.txn_id, a.payment_amount) for a in write.applied] == [("TX-1", D("120.00"))]
    assert write.txn_date == dt.date(2026, 3, 5)
    assert len(write.ref_number) == 11 and write.external_guid.startswith("{")
    assert not result.partial and result.expected_open == D("120.00")
    assert isinstance(result.check, TxnQuery) and result.check.txn_ids == ("TX-1",) and result.check.include_linked_txns
    build_request(Tagged("1", write))  # valid for the qbXML builder
    build_request(Tagged("b:1", result.check))


def test_identity_is_deterministic_and_differs_per_payment() -> None:
    doc = paid(invoice(invoice_line("120.00")), "60.00")
    first = plan_payment(doc, company(**PAYS), BILL, D("0"), 0, TODAY)
    again = plan_payment(doc, company(**PAYS), BILL, D("0"), 0, TODAY)
    second = plan_payment(paid(doc, "120.00"), company(**PAYS), BILL, D("60.00"), 1, TODAY)
    assert isinstance(first, PaymentPlan) and isinstance(again, PaymentPlan) and isinstance(second, PaymentPlan)
    assert first.write == again.write
    assert second.write.ref_number != first.write.ref_number and second.write.external_guid != first.write.external_guid
    assert second.amount == D("60.00") and second.expected_open == D("60.00") and not second.partial


def test_partial_payment_pays_what_concur_paid_and_says_partial() -> None:
    result = plan_payment(paid(invoice(invoice_line("120.00")), "50.00"), company(**PAYS), BILL, D("0"), 0, TODAY)
    assert isinstance(result, PaymentPlan) and result.partial and result.amount == D("50.00")
    assert any("partial" in d for d in result.decisions)


def test_nothing_when_concur_has_not_paid_or_concur_pays_is_off_or_already_recorded() -> None:
    unpaid = invoice(invoice_line("120.00"))
    assert isinstance(plan_payment(unpaid, company(**PAYS), BILL, D("0"), 0, TODAY), NoPayment)
    assert isinstance(plan_payment(paid(unpaid, "120.00"), company(), BILL, D("0"), 0, TODAY), NoPayment)
    done = plan_payment(paid(unpaid, "120.00"), company(**PAYS), BILL, D("120.00"), 1, TODAY)
    assert isinstance(done, NoPayment) and not done.hold


def test_concur_paying_more_than_is_owed_is_held() -> None:
    result = plan_payment(paid(invoice(invoice_line("120.00")), "130.00"), company(**PAYS), BILL, D("0"), 0, TODAY)
    assert isinstance(result, NoPayment) and result.hold and "130.00" in result.reason


def test_no_paid_date_is_dated_today_and_no_amount_is_the_whole_amount() -> None:
    result = plan_payment(paid(invoice(invoice_line("120.00")), None, on=None), company(**PAYS), BILL, D("0"), 0, TODAY)
    assert isinstance(result, PaymentPlan) and result.write.txn_date == TODAY and result.amount == D("120.00")


def test_journal_entry_mode_pays_the_entrys_ap_credit_to_the_employee() -> None:
    cfg = company(**PAYS)
    doc = report(expense("80.00"), expense("20.00", payment_type="CBCP"))
    plan = plan_document(doc, cfg, facts(), lists(), directory(), {})
    assert isinstance(plan, Plan)
    picture = plan_to_json(plan)
    [je] = picture["transactions"]
    payable = payable_of(picture, {je["ref_number"]: "JE-1"}, cfg.posting.ap_account)
    assert payable is not None and payable.txn_type == "JournalEntry" and payable.txn_id == "JE-1" and payable.owed == D("80.00")
    assert plan.vendor_action is not None and payable.payee == plan.vendor_action.ref
    result = plan_payment(paid(doc, "80.00"), cfg, payable, D("0"), 0, TODAY)
    assert isinstance(result, PaymentPlan) and isinstance(result.check, BillToPayQuery)
    assert result.write.applied[0].txn_id == "JE-1"


def test_bill_mode_pays_the_bill_not_the_card_journal_entry() -> None:
    cfg = company(expense_report_as="bill", **PAYS)
    doc = report(expense("80.00"), expense("20.00", payment_type="CBCP"))
    plan = plan_document(doc, cfg, facts(), lists(), directory(), {})
    assert isinstance(plan, Plan)
    picture = plan_to_json(plan)
    ids = {t["ref_number"]: f"T-{t['type']}" for t in picture["transactions"]}
    payable = payable_of(picture, ids, cfg.posting.ap_account)
    assert payable is not None and payable.txn_id == "T-BillAdd" and payable.owed == D("80.00")


def test_nothing_payable_without_a_posted_txn_id_or_anything_owed() -> None:
    cfg = company(**PAYS)
    doc = report(expense("20.00", payment_type="CBCP"))
    plan = plan_document(doc, cfg, facts(), lists(), directory(), {})
    assert isinstance(plan, Plan)
    picture = plan_to_json(plan)
    assert payable_of(picture, {t["ref_number"]: "X" for t in picture["transactions"]}, cfg.posting.ap_account) is None
    assert payable_of(picture, {}, cfg.posting.ap_account) is None


def test_check_verdict_holds_what_quickbooks_shows_paid() -> None:
    assert check_verdict(D("120.00"), D("120.00"), D("120.00"), [], []) == Proceed()
    # Paid by hand in full: IsPaid / nothing open; the hand payment's TxnID is kept.
    held = check_verdict(D("120.00"), D("120.00"), D("0.00"), [("PAY-9", "1001")], [])
    assert isinstance(held, PaidElsewhere) and held.txn_id == "PAY-9"
    # Partly paid by hand: less open than expected.
    assert isinstance(check_verdict(D("120.00"), D("50.00"), D("100.00"), [("PAY-9", "1001")], []), PaidElsewhere)
    # Our own earlier payment is expected, not someone else's.
    assert check_verdict(D("60.00"), D("60.00"), D("60.00"), [("PAY-1", "PABC")], ["PABC"]) == Proceed()
    # Not among the open items at all (BillToPayQuery): paid.
    assert isinstance(check_verdict(D("80.00"), D("80.00"), None, [], []), PaidElsewhere)


def test_the_clearing_account_must_be_an_active_bank_account_when_the_list_is_known() -> None:
    doc = paid(invoice(invoice_line("120.00")), "120.00")
    bank = {"concur clearing": (True, "Bank")}
    assert isinstance(plan_payment(doc, company(**PAYS), BILL, D("0"), 0, TODAY, bank), PaymentPlan)
    assert isinstance(plan_payment(doc, company(**PAYS), BILL, D("0"), 0, TODAY, None), PaymentPlan)  # not synced yet: QuickBooks answers
    for accounts, words in (
        ({}, "does not exist"),
        ({"concur clearing": (False, "Bank")}, "inactive"),
        ({"concur clearing": (True, "OtherCurrentAsset")}, "OtherCurrentAsset account"),
    ):
        result = plan_payment(doc, company(**PAYS), BILL, D("0"), 0, TODAY, accounts)
        assert isinstance(result, NoPayment) and result.hold and words in result.reason
