"""What Concur pays is paid in QuickBooks (issue 20), end to end: Concur simulator -> real worker ->
Web Connector simulator -> simulated QuickBooks. A paid report and a paid invoice each get one
bill payment from the clearing account and are left with nothing open; the payment event twice,
or an answer lost between send and answer, still pays once; a bill paid by hand is held with that
payment's TxnID; the clearing account's total equals what Concur paid."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest

from mlc import harness
from sim.quickbooks.seed import pay_bill_by_hand
from sim.webconnector.knobs import FaultKnobs
from worker.posting.actions import apply_action
from worker.posting.reconciling import reconcile_company

from e2e_posting_helpers import api_get, document, running, sql, wait_for

CLEARING = "Concur Clearing"
PAYMENT = "BillPaymentCheckAdd"


def concur_pays(mode: str = "journal_entry"):
    def change(raw: dict) -> None:
        posting = raw["companies"][0].setdefault("posting", {})
        posting.update(concur_pays=True, concur_payment_account=CLEARING, expense_report_as=mode)

    return change


def owed_to_employee(report) -> Decimal:
    return sum((e.amount for e in report.expenses if e.payment_code != "CBCP" and not e.personal), Decimal(0))


def paid_report(h):
    """An approved report that owes its employee something (Expense Pay has something to pay)."""
    data = h.concur.companies[h.company].data
    return next(r for r in data.reports.values() if r.status == "A_APPR" and not r.deleted and owed_to_employee(r) > 0)


def an_invoice(h):
    data = h.concur.companies[h.company].data
    return next(i for i in data.invoices.values() if i.status == "A_APPR" and not i.deleted)


def payments(h) -> list[dict]:
    return h.company_file.state.txns.get("BillPaymentCheck", [])


def clearing_total(h) -> Decimal:
    """What left the clearing account: the sum of the checks written from it."""
    account = next(a for a in h.company_file.state.lists["Account"] if a["FullName"] == CLEARING)
    return sum((Decimal(p["Amount"]) for p in payments(h) if p["BankAccountRef"]["ListID"] == account["ListID"]), Decimal(0))


def open_amount(h, txn_id: str) -> Decimal:
    for bill in h.company_file.state.txns["Bill"]:
        if bill["TxnID"] == txn_id:
            return Decimal(bill["OpenAmount"])
    je = next(j for j in h.company_file.state.txns["JournalEntry"] if j["TxnID"] == txn_id)
    return sum((Decimal(e["Open"]) for e in je.get("_APOpen", [])), Decimal(0))


async def posted(h) -> int:
    expected = harness.approve_everything(h)
    await harness.deliver(h)
    assert await harness.drain(h, expected=expected, timeout_s=60) == {"posted": expected}
    return expected


async def queued_payments(h, count: int) -> list[dict]:
    return await wait_for(h, "SELECT * FROM postings WHERE op = ?", PAYMENT, check=lambda rows: len(rows) >= count, what=f"{count} payment rows")


async def reconciled(h):
    """``mlc reconcile``'s result, and its clearing-account row as (Concur paid, recorded) credits."""
    company = h.worker.ctx.config.companies[0]
    result = await h.worker.ctx.store.run(reconcile_company, company, dt.date.min, dt.date.max)
    [row] = [r for r in result.rows if r.account == CLEARING]
    return result, (row.concur_total, row.posted_total)


async def txn_of(h, concur_id: str) -> str:
    doc = await document(h, concur_id)
    return doc["quickbooks_txn_id"].split(",")[0]


@pytest.mark.trio
@pytest.mark.parametrize("mode", ["journal_entry", "bill"])
async def test_paid_report_and_invoice_each_get_one_payment_and_nothing_stays_open(tmp_path, mode):
    async with running(tmp_path, reports=3, invoices=2, change=concur_pays(mode)) as h:
        expected = await posted(h)
        report, invoice = paid_report(h), an_invoice(h)
        # Nothing paid yet: posted documents are open, no payment planned.
        assert (await document(h, report.id))["payment"] == ""
        paid_on = dt.date(2026, 2, 2)
        h.concur.pay(report.id, on=paid_on)
        h.concur.pay_invoice(invoice.id, on=paid_on)
        await harness.deliver(h, duplicates=2)  # each payment event delivered twice
        await queued_payments(h, 2)
        assert await harness.drain(h, expected=expected, timeout_s=60) == {"posted": expected}

        assert len(payments(h)) == 2
        for concur_id, paid in ((report.id, owed_to_employee(report)), (invoice.id, invoice.total)):
            doc = await document(h, concur_id)
            assert doc["payment"] == "payment_posted", doc
            assert Decimal(doc["payment_recorded"]) == paid == Decimal(doc["concur_paid_amount"])
            assert open_amount(h, await txn_of(h, concur_id)) == 0
        assert clearing_total(h) == owed_to_employee(report) + invoice.total
        # Dated when Concur paid: the report's date from v3 PaidDate, the invoice's from PaidDate.
        assert {p["TxnDate"] for p in payments(h)} == {paid_on.isoformat()}
        assert (await document(h, report.id))["concur_paid_date"] == paid_on.isoformat()
        result, clearing = await reconciled(h)
        assert clearing == (-clearing_total(h), -clearing_total(h)) and result.balanced
        # Concur says it again (a second event, the same news): still one payment each.
        h.concur.pay(report.id, on=paid_on)
        await harness.deliver(h)
        await wait_for(h, "SELECT recheck FROM documents WHERE concur_id = ?", report.id, check=lambda rows: rows[0]["recheck"] is None)
        await harness.drain(h, expected=expected, timeout_s=30)
        assert len(payments(h)) == 2
        rows = await sql(h, "SELECT COUNT(*) AS n FROM postings WHERE op = ?", PAYMENT)
        assert rows[0]["n"] == 2
        # The API shows it per document.
        page = await api_get(h, "/documents", search=report.id)
        [item] = [d for d in page["items"] if d["concur_id"] == report.id]
        assert item["payment"] == "payment_posted" and item["payment_txn_id"]


@pytest.mark.trio
async def test_lost_answer_to_the_payment_is_settled_and_pays_once(tmp_path, store_url):
    async with running(tmp_path, store_url=store_url, reports=2, invoices=1, change=concur_pays()) as h:
        expected = await posted(h)
        report = paid_report(h)
        h.concur.pay(report.id)
        await harness.deliver(h)
        await queued_payments(h, 1)
        # Set 1 asks what is still open; set 2 carries the payment, applied by QuickBooks, whose
        # answer never reaches the worker.
        lost = await harness.web_connector_run(h, FaultKnobs(lose_responses=frozenset({2})))
        assert lost.lost_responses == 1
        assert len(payments(h)) == 1, "QuickBooks applied the payment before the answer was lost"
        await harness.drain(h, expected=expected, timeout_s=30)
        assert len(payments(h)) == 1
        [row] = await sql(h, "SELECT * FROM postings WHERE op = ?", PAYMENT)
        # Settled by BillPaymentCheckQuery by RefNumber: found, never sent again.
        settled = await sql(h, "SELECT detail FROM audit WHERE action = 'settled_found'")
        assert row["id"] in {json.loads(r["detail"])["posting"] for r in settled}
        assert row["state"] == "done" and row["txn_id"] == payments(h)[0]["TxnID"]
        assert (await document(h, report.id))["payment"] == "payment_posted"
        assert clearing_total(h) == owed_to_employee(report)


@pytest.mark.trio
async def test_bill_paid_by_hand_is_held_with_that_payment(tmp_path):
    async with running(tmp_path, reports=1, invoices=1, change=concur_pays()) as h:
        expected = await posted(h)
        invoice = an_invoice(h)
        bill_txn = await txn_of(h, invoice.id)
        by_hand = pay_bill_by_hand(h.company_file, bill_txn)  # accounts payable paid it by check
        h.concur.pay_invoice(invoice.id)
        await harness.deliver(h)
        await queued_payments(h, 1)
        await harness.drain(h, expected=expected, timeout_s=30)
        doc = await wait_for(h, "SELECT * FROM documents WHERE concur_id = ?", invoice.id, check=lambda rows: rows[0]["payment"] == "held")
        assert doc[0]["payment_txn_id"] == by_hand["TxnID"]
        assert doc[0]["state"] == "posted"
        assert len(payments(h)) == 1  # only the one by hand
        assert clearing_total(h) == 0
        # Reconcile shows what Concur paid that was not recorded from the clearing account.
        result, clearing = await reconciled(h)
        assert clearing == (-invoice.total, 0) and not result.balanced
        # Released by the operator: QuickBooks is asked again, and it is held again, not paid.
        await h.worker.ctx.store.run(apply_action, doc[0]["id"], "release", "try again", "operator")
        assert (await document(h, invoice.id))["payment"] == "paid_in_concur"
        await queued_payments(h, 2)
        await harness.drain(h, expected=expected, timeout_s=30)
        again = await wait_for(h, "SELECT * FROM documents WHERE concur_id = ?", invoice.id, check=lambda rows: rows[0]["payment"] == "held")
        assert again[0]["payment_txn_id"] == by_hand["TxnID"] and len(payments(h)) == 1


@pytest.mark.trio
async def test_partial_payment_is_recorded_as_partial(tmp_path):
    async with running(tmp_path, reports=1, invoices=1, change=concur_pays()) as h:
        expected = await posted(h)
        invoice = an_invoice(h)
        part = (invoice.total / 2).quantize(Decimal("0.01"))
        h.concur.pay_invoice(invoice.id, amount=part)
        await harness.deliver(h)
        await queued_payments(h, 1)
        await harness.drain(h, expected=expected, timeout_s=30)
        doc = await document(h, invoice.id)
        assert doc["payment"] == "partial" and Decimal(doc["payment_recorded"]) == part
        assert open_amount(h, await txn_of(h, invoice.id)) == invoice.total - part
        assert clearing_total(h) == part


@pytest.mark.trio
async def test_paid_before_posted_is_posted_then_paid(tmp_path):
    async with running(tmp_path, reports=1, invoices=1, change=concur_pays()) as h:
        expected = harness.approve_everything(h)
        invoice = an_invoice(h)
        h.concur.pay_invoice(invoice.id)
        await harness.deliver(h)
        await wait_for(h, "SELECT * FROM documents WHERE concur_id = ?", invoice.id, check=lambda rows: bool(rows) and rows[0]["payment"] == "paid_in_concur")
        await harness.drain(h, expected=expected, timeout_s=60)
        await queued_payments(h, 1)
        await harness.drain(h, expected=expected, timeout_s=30)
        doc = await document(h, invoice.id)
        assert doc["state"] == "posted" and doc["payment"] == "payment_posted"
        assert open_amount(h, await txn_of(h, invoice.id)) == 0
        assert len(payments(h)) == 1


async def sweep_again(h) -> None:
    """A sweep listing everything again (checkpoint reset), as after a long outage."""
    from worker.concur.sync import make_client, sweep_company

    await h.worker.ctx.store.run(lambda conn: conn.execute("DELETE FROM checkpoints WHERE name = 'concur_sweep'"))
    async with make_client(h.worker.ctx) as client:
        await sweep_company(h.worker.ctx, client, h.worker.ctx.config.companies[0])


@pytest.mark.trio
async def test_payment_found_by_the_sweep_and_swept_again_pays_once(tmp_path):
    async with running(tmp_path, reports=2, invoices=1, change=concur_pays()) as h:
        expected = await posted(h)
        report = paid_report(h)
        # Paid a while after the approval (the sweep tells versions apart by LastModifiedDate, to
        # the second); its event is never delivered: the sweep finds the payment.
        later = h.concur.now() + dt.timedelta(minutes=1)
        h.concur.now = lambda: later
        h.concur.pay(report.id)
        await sweep_again(h)
        await queued_payments(h, 1)
        await harness.drain(h, expected=expected, timeout_s=30)
        assert (await document(h, report.id))["payment"] == "payment_posted"
        await sweep_again(h)
        await wait_for(h, "SELECT recheck FROM documents WHERE concur_id = ?", report.id, check=lambda rows: rows[0]["recheck"] is None)
        await harness.drain(h, expected=expected, timeout_s=30)
        assert len(payments(h)) == 1
        doc = await document(h, report.id)
        assert doc["payment"] == "payment_posted" and doc["flag"] == ""


@pytest.mark.trio
async def test_payment_quickbooks_refuses_is_held_and_the_document_stays_posted(tmp_path):
    async with running(tmp_path, reports=1, invoices=1, change=concur_pays()) as h:
        expected = await posted(h)
        # Someone makes the clearing account inactive in QuickBooks after the worker read the lists.
        account = next(a for a in h.company_file.state.lists["Account"] if a["FullName"] == CLEARING)
        account["IsActive"] = False
        invoice = an_invoice(h)
        h.concur.pay_invoice(invoice.id)
        await harness.deliver(h)
        await queued_payments(h, 1)
        assert await harness.drain(h, expected=expected, timeout_s=30) == {"posted": expected}
        doc = await document(h, invoice.id)
        assert doc["state"] == "posted" and doc["payment"] == "held"
        assert doc["reason"].startswith("payment held: QuickBooks refused the bill payment")
        [row] = await sql(h, "SELECT * FROM postings WHERE op = ?", PAYMENT)
        assert row["state"] == "failed" and row["status_code"] == 3140
        assert payments(h) == []


@pytest.mark.trio
async def test_a_clearing_account_that_is_not_a_bank_account_holds_the_payment_before_quickbooks(tmp_path):
    def not_a_bank(raw: dict) -> None:
        concur_pays()(raw)
        raw["companies"][0]["posting"]["concur_payment_account"] = "Accounts Receivable"

    async with running(tmp_path, reports=1, invoices=1, change=not_a_bank) as h:
        expected = await posted(h)
        invoice = an_invoice(h)
        h.concur.pay_invoice(invoice.id)
        await harness.deliver(h)
        doc = (await wait_for(h, "SELECT * FROM documents WHERE concur_id = ?", invoice.id, check=lambda rows: rows[0]["payment"] == "held"))[0]
        assert doc["state"] == "posted" and "AccountsReceivable account" in doc["reason"]
        assert await sql(h, "SELECT * FROM postings WHERE op = ?", PAYMENT) == []
        await harness.drain(h, expected=expected, timeout_s=30)
        assert payments(h) == []
