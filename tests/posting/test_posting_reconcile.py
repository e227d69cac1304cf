from __future__ import annotations

from decimal import Decimal

from worker.posting.plan import Plan, plan_document
from worker.posting.reconcile import PostedLine, plan_lines, reconcile, transaction_lines

from posting_factories import alloc, company, directory, expense, facts, invoice, invoice_line, lists, report

D = Decimal


def planned(doc, comp=None):
    return doc, plan_document(doc, comp or company(), facts(), lists(), directory(), {})


def test_posting_exactly_the_plans_balances():
    docs = [
        planned(
            report(
                expense("100.00", allocations=(alloc("1", None, custom1="CC-100"), alloc("2", None, custom1="CC-200"))), expense("7.00", payment_type="CBCP")
            )
        ),
        planned(invoice(invoice_line("50.00"))),
    ]
    posted = [line for doc, result in docs for line in plan_lines(result, doc.currency)]
    result = reconcile(docs, posted)
    assert result.balanced
    assert result.concur_total == result.planned_total == D("157.00")
    rows = {(r.account, r.klass): r for r in result.rows}
    assert rows[("Travel:Airfare", "Consulting")].concur_total == D("33.33")
    assert rows[("Travel:Airfare", "Sales")].concur_total == D("66.67")
    assert rows[("Office Supplies", None)].concur_total == D("50.00")
    assert rows[("Accounts Payable", None)].concur_total == D("-150.00")  # report A/P + invoice bill
    assert rows[("Company Card", None)].concur_total == D("-7.00")
    assert all(r.difference == 0 for r in result.rows)


def test_a_missing_posting_shows_as_a_difference():
    docs = [planned(report(expense("100.00"))), planned(invoice(invoice_line("50.00")))]
    posted = plan_lines(docs[0][1], "USD")  # the invoice never reached QuickBooks
    result = reconcile(docs, posted)
    assert not result.balanced
    diff = {(r.account, r.klass): r.difference for r in result.rows if r.difference}
    assert diff == {("Office Supplies", None): D("50.00"), ("Accounts Payable", None): D("-50.00")}


def test_posted_with_another_class_is_unbalanced_per_row_but_not_in_sum():
    doc, result = planned(report(expense("10.00", allocations=(alloc("100", None, custom1="CC-100"),))))
    posted = [PostedLine("Travel:Airfare", "Sales", D("10.00")), PostedLine("Accounts Payable", None, D("-10.00"))]
    rec = reconcile([(doc, result)], posted)
    assert not rec.balanced
    assert {(r.klass, r.difference) for r in rec.rows if r.account == "Travel:Airfare"} == {("Consulting", D("10.00")), ("Sales", D("-10.00"))}


def test_quickbooks_capitalisation_does_not_matter():
    doc, result = planned(report(expense("10.00")))
    posted = [PostedLine("TRAVEL:AIRFARE", None, D("10.00"), "usd"), PostedLine("accounts payable", None, D("-10.00"), "USD")]
    assert reconcile([(doc, result)], posted).balanced


def test_held_document_is_unplanned_and_unbalanced():
    doc, result = planned(report(expense("10.00", "TAXI")))
    rec = reconcile([(doc, result)], [])
    assert not rec.balanced
    assert rec.unplanned[0].concur_id == doc.report_id and "TAXI" in rec.unplanned[0].reason
    assert rec.unplanned[0].total == D("10.00")


def test_extra_posting_not_from_concur_is_a_difference():
    rec = reconcile([], [PostedLine("Meals", None, D("5.00"))])
    assert not rec.balanced and rec.rows[0].posted_total == D("5.00") and rec.rows[0].difference == D("-5.00")


def test_bill_lines_include_the_ap_credit():
    _, result = planned(invoice(invoice_line("60.00"), invoice_line("40.00", "MEALS", line_id="2")))
    assert isinstance(result, Plan)
    lines = transaction_lines(result.transactions[0])
    assert sum(line.amount for line in lines) == 0
    assert lines[-1] == PostedLine("Accounts Payable", None, D("-100.00"))


def test_nothing_to_reconcile_is_balanced():
    rec = reconcile([], [])
    assert rec.balanced and rec.rows == ()


def test_amounts_in_different_currencies_are_rows_of_their_own():
    eur_company = company(ap_accounts={"EUR": "Accounts Payable"})
    eur = invoice(invoice_line("30.00"), currency="EUR", request_id="PR-EUR")
    docs = [planned(invoice(invoice_line("50.00"))), (eur, plan_document(eur, eur_company, facts(multicurrency=True), lists(), directory(), {}))]
    posted = [line for doc, result in docs for line in plan_lines(result, doc.currency)]
    result = reconcile(docs, posted)
    assert result.balanced
    rows = {(r.account, r.currency): r.concur_total for r in result.rows}
    assert rows[("Office Supplies", "USD")] == D("50.00") and rows[("Office Supplies", "EUR")] == D("30.00")
    # Posted in the wrong currency: a difference in both currencies, never netted away.
    wrong = [PostedLine(line.account, line.klass, line.amount, "USD") for line in posted]
    assert not reconcile(docs, wrong).balanced
