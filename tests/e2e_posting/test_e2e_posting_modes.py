"""Each posting mode end to end: Concur simulator -> real worker -> Web Connector simulator ->
simulated QuickBooks. QuickBooks must hold exactly one transaction set per approved document,
with per-account totals equal to what Concur approved (computed from the simulator's own data)
and per account-and-class totals equal to the worker's plans, to the cent.
"""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

import pytest

from mlc import harness
from worker.store import audit

from e2e_posting_helpers import (
    approved_reports,
    by_account,
    concur_account_totals,
    documents,
    plan_totals,
    qb_signed_lines,
    qb_totals,
    qb_transactions,
    qb_txns_for,
    running,
    sql,
)

CARD = "Company Card"
AP = "Accounts Payable"


def _parts(report) -> tuple[Decimal, Decimal]:
    """(out-of-pocket, company card) totals of a simulated Concur report."""
    card = sum((e.amount for e in report.expenses if e.payment_code == "CBCP"), Decimal(0))
    return report.total - card, card


def _assert_uneven_splits_to_the_cent(h, report, lines: list[dict]) -> int:
    """Debit lines of one expense (same date and type in the memo) sum exactly to its amount."""
    checked = 0
    groups: Counter = Counter()
    for expense in report.expenses:
        groups[f"{expense.date.isoformat()} - {expense.type_name}"] += expense.amount
    for key, amount in groups.items():
        posted = sum((Decimal(line["Amount"]) for line in lines if (line.get("Memo") or "").startswith(key)), Decimal(0))
        assert posted == amount, f"{report.id} {key}: lines {posted} != expense {amount}"
    for expense in report.expenses:
        shares = len(expense.allocations)
        if shares > 1 and (expense.amount * 100) % shares:
            checked += 1
    return checked


@pytest.mark.trio
async def test_journal_entry_mode_posts_every_document_once_to_the_cent(tmp_path, store_url):
    async with running(tmp_path, store_url=store_url, reports=8, invoices=3) as h:
        expected = harness.approve_everything(h)
        await harness.deliver(h)
        counts = await harness.drain(h, expected=expected)
        assert counts == {"posted": expected}

        txns = qb_transactions(h)
        assert Counter(kind for kind, _ in txns) == {"JournalEntry": 8, "Bill": 3}
        assert len({t["ExternalGUID"] for _, t in txns}) == len(txns)
        # Per account: what Concur approved (independent of the planner); per account and class: the plans.
        assert by_account(qb_totals(h)) == concur_account_totals(h)
        assert qb_totals(h) == await plan_totals(h)

        uneven = 0
        for report in approved_reports(h):
            [(kind, je)] = await qb_txns_for(h, report.id)
            assert kind == "JournalEntry"
            signed = qb_signed_lines(h, kind, je)
            assert sum(amount for _, _, amount in signed) == 0, "journal entry not balanced"
            debits = [line for line in je["Lines"] if line["_tag"] == "JournalDebitLine"]
            assert sum(Decimal(line["Amount"]) for line in debits) == report.total
            own, card = _parts(report)
            credits = Counter()
            for account, _klass, amount in signed:
                if amount < 0:
                    credits[account] -= amount
            assert credits == Counter({k: v for k, v in {AP: own, CARD: card}.items() if v}), report.id
            ap_lines = [line for line in je["Lines"] if line["_tag"] == "JournalCreditLine" and h.company_file.ref_name(line["AccountRef"]) == AP]
            for line in ap_lines:  # the A/P credit names the employee's vendor
                assert h.company_file.ref_name(line["EntityRef"]), line
            uneven += _assert_uneven_splits_to_the_cent(h, report, debits)
        assert uneven >= 1, "the generated data should contain at least one split that does not divide evenly"

        summary = harness.summary(h, 0.0)
        assert summary["quickbooks_duplicates"] == 0
        assert summary["concur_total"] == summary["quickbooks_total"]
        problems = await h.worker.ctx.store.run(audit.verify)
        assert problems == []


@pytest.mark.trio
async def test_bill_mode_bills_the_employee_and_journals_the_card_part(tmp_path):
    def as_bill(raw: dict) -> None:
        raw["companies"][0]["posting"]["expense_report_as"] = "bill"

    async with running(tmp_path, reports=8, invoices=2, seed=11, change=as_bill) as h:
        expected = harness.approve_everything(h)
        await harness.deliver(h)
        counts = await harness.drain(h, expected=expected)
        assert counts == {"posted": expected}

        reports = approved_reports(h)
        with_own = [r for r in reports if _parts(r)[0]]
        with_card = [r for r in reports if _parts(r)[1]]
        assert with_own and with_card, "the seed should give both out-of-pocket and company-card expenses"
        assert Counter(kind for kind, _ in qb_transactions(h)) == {"Bill": 2 + len(with_own), "JournalEntry": len(with_card)}
        assert by_account(qb_totals(h)) == concur_account_totals(h)
        assert qb_totals(h) == await plan_totals(h)

        docs = {d["concur_id"]: d for d in await documents(h)}
        for report in reports:
            own, card = _parts(report)
            found = dict((kind, t) for kind, t in await qb_txns_for(h, report.id))
            assert set(found) == {k for k, v in (("Bill", own), ("JournalEntry", card)) if v}, report.id
            if own:
                bill = found["Bill"]
                assert Decimal(bill["AmountDue"]) == own
                assert h.company_file.ref_name(bill["VendorRef"]) == docs[report.id]["vendor"]
                assert h.company_file.ref_name(bill["APAccountRef"]) == AP
            if card:
                signed = qb_signed_lines(h, "JournalEntry", found["JournalEntry"])
                assert sum(a for _, _, a in signed) == 0
                assert [(acct, -a) for acct, _, a in signed if a < 0] == [(CARD, card)]
        # Two reports of one new employee never race to create the same vendor (3100).
        assert await sql(h, "SELECT op, state FROM postings WHERE status_code = 3100") == []
