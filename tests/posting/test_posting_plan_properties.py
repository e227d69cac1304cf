"""Properties over random reports and invoices: balanced, exact to the cent, deterministic."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.types import cents
from worker.posting.plan import BillAdd, JournalEntryAdd, Plan, journal_balance, plan_document
from worker.posting.reconcile import plan_lines

from posting_factories import alloc, company, directory, expense, facts, invoice, invoice_line, lists, report

D = Decimal
TYPES = ["AIRFR", "LODGING", "MEALS", "OFFICE"]
CODES1 = ["", "CC-100", "CC-200"]
CODES2 = ["", "PRJ-7", "PRJ-8"]

amounts = st.decimals(min_value=D("-500"), max_value=D("5000"), places=2)


@st.composite
def allocations(draw, amount: Decimal):
    n = draw(st.integers(0, 4))
    if n == 0:
        return ()
    percentages = draw(st.lists(st.decimals(min_value=D("0.01"), max_value=D("100"), places=8), min_size=n, max_size=n))
    stated = draw(st.sampled_from(["none", "exact", "wrong"]))
    result = []
    if stated == "exact":
        shares = [cents(amount * p / sum(percentages)) for p in percentages]
        shares[-1] += amount - sum(shares)
    for i, p in enumerate(percentages):
        value = None if stated == "none" else (str(shares[i]) if stated == "exact" else "1.00")
        result.append(alloc(str(p), value, custom1=draw(st.sampled_from(CODES1)), custom2=draw(st.sampled_from(CODES2))))
    return tuple(result)


@st.composite
def expenses(draw):
    amount = draw(amounts)
    return expense(
        str(amount),
        draw(st.sampled_from(TYPES)),
        draw(st.sampled_from(["CASH", "CBCP"])),
        draw(allocations(amount)),
        expense_id=f"E{draw(st.integers(0, 10**6))}",
    )


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(items=st.lists(expenses(), min_size=1, max_size=8), as_bill=st.booleans())
def test_report_plans_are_balanced_and_exact(items, as_bill):
    doc = report(*items)
    comp = company(expense_report_as="bill" if as_bill else "journal_entry")
    result = plan_document(doc, comp, facts(), lists(), directory(), {})
    total = sum((e.amount for e in items), D("0"))
    if total == 0 and all(e.amount == 0 for e in items):
        return  # not postable
    if as_bill and sum((e.amount for e in items if e.payment_type == "CASH"), D("0")) < 0:
        return  # held: a bill cannot be negative
    assert isinstance(result, Plan), result
    assert result.total == total
    for txn in result.transactions:
        if isinstance(txn, JournalEntryAdd):
            assert journal_balance(txn) == 0
            assert all(line.amount > 0 for line in txn.lines)
        else:
            assert isinstance(txn, BillAdd) and sum(line.amount for line in txn.lines) > 0
    # Expense-side lines (everything but A/P and the card account) add up to the report.
    expense_side = [line for line in plan_lines(result) if line.account not in ("Accounts Payable", "Company Card")]
    assert sum(line.amount for line in expense_side) == total
    # And per account, to the expenses of that type.
    by_account: dict[str, Decimal] = {}
    for e in items:
        account = comp.mapping.expense_types[e.expense_type]
        by_account[account] = by_account.get(account, D("0")) + e.amount
    planned: dict[str, Decimal] = {}
    for line in expense_side:
        planned[line.account] = planned.get(line.account, D("0")) + line.amount
    assert {k: v for k, v in planned.items() if v} == {k: v for k, v in by_account.items() if v}
    assert result == plan_document(doc, comp, facts(), lists(), directory(), {})


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), n=st.integers(1, 6))
def test_invoice_bills_sum_to_the_invoice_total(data, n):
    lines = []
    for i in range(n):
        amount = data.draw(st.decimals(min_value=D("0.01"), max_value=D("9999"), places=2))
        lines.append(invoice_line(str(amount), data.draw(st.sampled_from(TYPES)), data.draw(allocations(amount)), line_id=str(i)))
    doc = invoice(*lines)
    result = plan_document(doc, company(), facts(), lists(), directory(), {})
    assert isinstance(result, Plan)
    (bill,) = result.transactions
    assert sum(line.amount for line in bill.lines) == doc.total == result.total
