"""Duplicates and changes end to end: at-least-once webhooks, re-approvals, sweep overlaps, and
documents changed or deleted in Concur before and after posting. One posting per document, always.
"""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

import pytest

from mlc import harness
from worker.concur.sync import sweep_company

from e2e_posting_helpers import (
    all_duplicates,
    api_get,
    approved_reports,
    audit_count,
    by_account,
    concur_account_totals,
    document,
    documents,
    qb_totals,
    qb_transactions,
    qb_txns_for,
    running,
    sql,
    wait_for,
    wait_state,
)


def _one_per_document(h) -> None:
    guids = Counter(t["ExternalGUID"] for _, t in qb_transactions(h))
    assert guids and max(guids.values()) == 1, guids


@pytest.mark.trio
async def test_each_webhook_three_times_shuffled_posts_each_document_once(tmp_path, store_url):
    async with running(tmp_path, store_url=store_url, reports=5, invoices=2) as h:
        expected = harness.approve_everything(h)
        report = await harness.deliver(h, duplicates=2, shuffle=True)
        assert report.delivered == expected
        counts = await harness.drain(h, expected=expected, timeout_s=30)
        assert counts == {"posted": expected}
        assert len(qb_transactions(h)) == expected  # journal entry mode: one transaction each
        _one_per_document(h)
        # Every extra copy is counted where operators look.
        assert await audit_count(h, "duplicate_skipped") == 2 * expected
        # ... as records: one per event (delivered three times: counted twice), newest first,
        # each naming its document; the summary counts the records (the contract), `mlc demo`
        # every skipped delivery.
        items = await all_duplicates(h)
        assert len(items) == expected and len({i["concur_id"] for i in items}) == expected
        assert {(i["source"], i["count"], i["why"]) for i in items} == {("webhook", 2, "event delivered again")}
        assert all(i["document_id"] and i["company"] == h.company for i in items)
        assert [i["last_at"] for i in items] == sorted((i["last_at"] for i in items), reverse=True)
        summary = await api_get(h, "/summary")
        assert summary["companies"][0]["duplicates_skipped"] == len(items) == expected
        assert harness.harness_counts(h)[1] == 2 * expected  # `mlc demo`'s skipped_duplicates agrees
        stored = await sql(h, "SELECT COUNT(*) AS n FROM events")
        assert stored[0]["n"] == expected
        assert by_account(qb_totals(h)) == concur_account_totals(h)


# Nothing left for the fetcher: no unprocessed event, no document waiting for a fetch or a recheck.
SETTLED_SQL = """SELECT (SELECT COUNT(*) FROM events WHERE processed_at IS NULL)
                      + (SELECT COUNT(*) FROM documents WHERE state = 'received' OR recheck IS NOT NULL) AS n"""


@pytest.mark.trio
async def test_reapproval_and_sweep_overlap_never_post_twice(tmp_path):
    async with running(tmp_path, reports=3, invoices=1) as h:
        expected = harness.approve_everything(h)
        await harness.deliver(h)
        assert await harness.drain(h, expected=expected, timeout_s=30) == {"posted": expected}
        before = len(qb_transactions(h))
        target = approved_reports(h)[0]
        doc = await document(h, target.id)
        skipped_before = await audit_count(h, "duplicate_skipped", doc["id"])

        # Concur approves the posted report again (a new statusChanged event, modified time moves on).
        h.concur.approve(target.id)
        await harness.deliver(h, duplicates=0)
        # Fetched again and found unchanged: a duplicate (not an event re-delivery, which the intake counts).
        await wait_for(
            h,
            "SELECT COUNT(*) AS n FROM audit WHERE action = 'duplicate_skipped' AND document_id = ? AND detail LIKE '%unchanged%'",
            doc["id"],
            check=lambda rows: rows[0]["n"] == 1,
            what="re-approval counted as duplicate",
        )
        assert await audit_count(h, "duplicate_skipped", doc["id"]) == skipped_before + 1
        mine = [i for i in await all_duplicates(h) if i["document_id"] == doc["id"]]
        assert [i["source"] for i in mine if i["source"] != "webhook"] == ["reapproval"], mine
        # A sweep listing everything again (the checkpoint reset) overlaps the webhooks.
        await h.worker.ctx.store.run(lambda conn: conn.execute("DELETE FROM checkpoints WHERE name = 'concur_sweep'"))
        from worker.concur.sync import make_client

        async with make_client(h.worker.ctx) as client:
            await sweep_company(h.worker.ctx, client, h.config.companies[0])
        await wait_for(h, SETTLED_SQL, check=lambda rows: rows[0]["n"] == 0, what="the sweep's rechecks fetched")
        await harness.drain(h, expected=expected, timeout_s=20)

        after = await document(h, target.id)
        assert after["state"] == "posted" and after["flag"] == "", after
        assert len(qb_transactions(h)) == before
        _one_per_document(h)
        flagged = await sql(h, "SELECT concur_id FROM documents WHERE flag != ''")
        assert flagged == []

        # The same listing again finds nothing new: a version seen once is not re-read on every
        # sweep, so "duplicates skipped" does not creep up every interval.
        duplicates = await audit_count(h, "duplicate_skipped")
        await h.worker.ctx.store.run(lambda conn: conn.execute("DELETE FROM checkpoints WHERE name = 'concur_sweep'"))
        async with make_client(h.worker.ctx) as client:
            noted = await sweep_company(h.worker.ctx, client, h.config.companies[0])
        await wait_for(h, SETTLED_SQL, check=lambda rows: rows[0]["n"] == 0, what="the sweep's rechecks fetched")
        assert noted == 0
        assert await audit_count(h, "duplicate_skipped") == duplicates


@pytest.mark.trio
async def test_changed_or_deleted_after_posting_is_flagged_and_quickbooks_keeps_one(tmp_path):
    async with running(tmp_path, reports=3, invoices=0) as h:
        expected = harness.approve_everything(h)
        await harness.deliver(h)
        assert await harness.drain(h, expected=expected, timeout_s=30) == {"posted": expected}
        changed, deleted = approved_reports(h)[:2]
        posted_amount = (await document(h, changed.id))["amount"]

        h.concur.modify(changed.id, Decimal("12.34"))
        h.concur.delete(deleted.id)
        await harness.deliver(h, duplicates=1)
        rows = await wait_for(h, "SELECT concur_id, flag FROM documents WHERE flag != ''", check=lambda rows: len(rows) == 2, what="both documents flagged")
        assert {r["concur_id"]: r["flag"] for r in rows} == {changed.id: "changed_after_posting", deleted.id: "deleted_in_concur"}
        changed_doc = await document(h, changed.id)
        assert changed_doc["state"] == "posted" and changed_doc["amount"] == posted_amount
        assert await audit_count(h, "changed_after_posting", changed_doc["id"]) == 1
        assert await audit_count(h, "deleted_after_posting", (await document(h, deleted.id))["id"]) >= 1

        await harness.drain(h, expected=expected, timeout_s=10)
        assert len(await qb_txns_for(h, changed.id)) == 1
        assert len(await qb_txns_for(h, deleted.id)) == 1
        assert len(qb_transactions(h)) == expected


@pytest.mark.trio
async def test_changed_before_posting_is_replanned_with_the_new_amount(tmp_path):
    async with running(tmp_path, reports=2, invoices=0) as h:
        # One session first so the lists are known and the documents get planned (queued).
        await harness.web_connector_run(h)
        expected = harness.approve_everything(h)
        await harness.deliver(h)
        target = approved_reports(h)[0]
        queued = await wait_state(h, target.id, ("queued",))
        old_amount = Decimal(queued["amount"])

        h.concur.modify(target.id, Decimal("5.01"))
        await harness.deliver(h)
        await wait_for(
            h,
            "SELECT amount, state FROM documents WHERE concur_id = ?",
            target.id,
            check=lambda rows: rows[0]["state"] == "queued" and Decimal(rows[0]["amount"]) == old_amount + Decimal("5.01"),
            what="re-planned with the new amount",
        )
        assert await harness.drain(h, expected=expected, timeout_s=30) == {"posted": expected}
        [(_kind, je)] = await qb_txns_for(h, target.id)
        debits = sum(Decimal(line["Amount"]) for line in je["Lines"] if line["_tag"] == "JournalDebitLine")
        assert debits == target.total == old_amount + Decimal("5.01")
        assert len(qb_transactions(h)) == expected
        assert by_account(qb_totals(h)) == concur_account_totals(h)
        doc = await document(h, target.id)
        assert doc["flag"] == ""
        assert await audit_count(h, "changed_before_posting", doc["id"]) == 1
        assert all(d["state"] == "posted" for d in await documents(h))
