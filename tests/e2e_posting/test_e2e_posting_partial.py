"""A document is posted only when all of it is in QuickBooks (issue 12 §1).

Bill mode plans two transactions per report with a company-card part: a bill to the employee for
the out-of-pocket part and a journal entry for the card part. QuickBooks refuses the journal
entry (the card account was made inactive after the lists were read) and takes the bill. Once
the cause is fixed, a release, a replay or a mapping edit plans the report again: only the
missing journal entry is sent, the bill is never sent twice, and the report is posted only then.
"""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

import pytest
import trio
from click.testing import CliRunner

from mlc import harness
from mlc.cli import main

from e2e_posting_helpers import (
    approved_reports,
    by_account,
    concur_account_totals,
    documents,
    qb_signed_lines,
    qb_totals,
    qb_transactions,
    qb_txns_for,
    running,
    sql,
    wait_for,
)

CARD = "Company Card"
CLEARING = "Corporate Card Clearing"


def as_bill(raw: dict) -> None:
    raw["companies"][0]["posting"]["expense_report_as"] = "bill"


async def mlc(h, *args: str) -> tuple[int, str]:
    def invoke():
        result = CliRunner().invoke(main, ["--config", str(h.config.path), *args], catch_exceptions=False)
        return result.exit_code, result.output

    return await trio.to_thread.run_sync(invoke)


async def card_entries_refused(h) -> tuple[int, dict[str, int]]:
    """Lists read while the card account is active; then someone makes it inactive in QuickBooks
    and every report is approved and drained: bills go in, card journal entries are refused."""
    await harness.web_connector_run(h)
    h.company_file.find_list("Account", CARD)["IsActive"] = False
    expected = harness.approve_everything(h)
    await harness.deliver(h)
    return expected, await harness.drain(h, expected=expected, timeout_s=60)


def parts(report) -> tuple[Decimal, Decimal]:
    card = sum((e.amount for e in report.expenses if e.payment_code == "CBCP"), Decimal(0))
    return report.total - card, card


@pytest.mark.trio
@pytest.mark.parametrize("fix", ["release", "replay", "mapping_edit"])
async def test_refused_card_entry_fixed_then_only_the_missing_entry_is_posted(tmp_path, fix):
    async with running(tmp_path, reports=8, invoices=0, seed=11, change=as_bill) as h:
        expected, counts = await card_entries_refused(h)

        both = {r.id: r for r in approved_reports(h) if all(parts(r))}
        assert both, "the seed should give reports with both out-of-pocket and card expenses"
        held = {d["concur_id"]: d for d in await documents(h) if d["state"] == "held"}
        with_card = {r.id for r in approved_reports(h) if parts(r)[1]}
        assert set(held) == with_card, counts
        for concur_id in both:
            assert CARD in held[concur_id]["reason"] and "JournalEntryAdd" in held[concur_id]["reason"], held[concur_id]["reason"]
            assert [kind for kind, _ in await qb_txns_for(h, concur_id)] == ["Bill"], "the bill went in; the card entry was refused"
        bills_before = Counter(t["RefNumber"] for kind, t in qb_transactions(h) if kind == "Bill")

        # The fix, then the re-plan.
        if fix == "mapping_edit":
            harness.edit_run_config(h, lambda raw: raw["companies"][0]["posting"].update(company_card_account=CLEARING))
            await wait_for(
                h,
                "SELECT COUNT(*) AS n FROM documents WHERE state = 'held'",
                check=lambda r: r[0]["n"] == 0,
                what="held documents re-planned after the mapping edit",
            )
        else:
            h.company_file.find_list("Account", CARD)["IsActive"] = True
            for concur_id in held:
                code, out = await mlc(h, fix, concur_id, "--reason", "card account active again")
                assert code == 0, out
        counts = await harness.drain(h, expected=expected, timeout_s=60)
        assert counts == {"posted": expected}

        credit = CLEARING if fix == "mapping_edit" else CARD
        for concur_id, report in both.items():
            found = Counter(kind for kind, _ in await qb_txns_for(h, concur_id))
            assert found == {"Bill": 1, "JournalEntry": 1}, (concur_id, found)
            own, card = parts(report)
            txns = dict(await qb_txns_for(h, concur_id))
            assert Decimal(txns["Bill"]["AmountDue"]) == own
            signed = qb_signed_lines(h, "JournalEntry", txns["JournalEntry"])
            assert [(account, -amount) for account, _, amount in signed if amount < 0] == [(credit, card)]
            doc = (await sql(h, "SELECT id, state, quickbooks_txn_id FROM documents WHERE concur_id = ?", concur_id))[0]
            assert doc["state"] == "posted" and len(doc["quickbooks_txn_id"].split(",")) == 2
            # The bill was sent once: one done BillAdd row; the refused entry is kept for the record.
            rows = await sql(h, "SELECT op, state FROM postings WHERE document_id = ? AND op IN ('BillAdd', 'JournalEntryAdd') ORDER BY id", doc["id"])
            assert [(r["op"], r["state"]) for r in rows] == [("BillAdd", "done"), ("JournalEntryAdd", "cancelled"), ("JournalEntryAdd", "done")], rows
        # Never a second bill; one transaction per RefNumber; the books match Concur.
        bills_after = Counter(t["RefNumber"] for kind, t in qb_transactions(h) if kind == "Bill")
        assert bills_after == bills_before
        guids = Counter(t["ExternalGUID"] for _, t in qb_transactions(h))
        assert max(guids.values()) == 1
        if fix != "mapping_edit":
            assert by_account(qb_totals(h)) == concur_account_totals(h)


@pytest.mark.trio
async def test_replan_that_no_longer_holds_a_posted_bill_is_held_not_booked_twice(tmp_path):
    """The posting mode changes while a report's bill is in QuickBooks and its card entry is not: the
    new plan (one journal entry for everything) would book the out-of-pocket part a second time."""
    async with running(tmp_path, reports=8, invoices=0, seed=11, change=as_bill) as h:
        expected, _ = await card_entries_refused(h)
        both = [r.id for r in approved_reports(h) if all(parts(r))]
        assert both
        before = Counter((kind, t["RefNumber"]) for kind, t in qb_transactions(h))

        h.company_file.find_list("Account", CARD)["IsActive"] = True
        harness.edit_run_config(h, lambda raw: raw["companies"][0]["posting"].update(expense_report_as="journal_entry"))
        rows = await wait_for(
            h,
            "SELECT concur_id, state, reason FROM documents WHERE state = 'held'",
            check=lambda rows: (
                bool(rows) and all("already has" in r["reason"] for r in rows if r["concur_id"] in both) and {r["concur_id"] for r in rows} >= set(both)
            ),
            what="re-planned and held for the bill already in QuickBooks",
        )
        for row in rows:
            if row["concur_id"] in both:
                assert "BillAdd" in row["reason"], row["reason"]
        await harness.drain(h, expected=expected, timeout_s=60)
        for concur_id in both:
            assert (await sql(h, "SELECT state FROM documents WHERE concur_id = ?", concur_id))[0]["state"] == "held"
        after = Counter((kind, t["RefNumber"]) for kind, t in qb_transactions(h))
        assert not any(kind == "Bill" and n > 1 for (kind, _), n in after.items())
        assert [key for key in after if key not in before and key[0] == "Bill"] == []
