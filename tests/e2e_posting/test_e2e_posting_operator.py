"""Operator tools against a running worker, through the real ``mlc`` CLI (click's CliRunner in a
thread, as if typed in another terminal): hold / release / replay / skip, ``mlc plan``,
``mlc reconcile`` and ``mlc audit verify`` (which must catch an edited audit row).
"""

from __future__ import annotations

import pytest

from mlc import harness
from worker.store.db import open_store

from e2e_posting_helpers import (
    COMPANY,
    audit_count,
    document,
    mlc,
    pending_reports,
    qb_transactions,
    qb_txns_for,
    running,
    sql,
    wait_for,
    wait_state,
)


@pytest.mark.trio
async def test_operator_actions_plan_reconcile_and_audit_verify_through_the_cli(tmp_path, store_url):
    async with running(tmp_path, store_url=store_url, reports=4, invoices=1) as h:
        await harness.web_connector_run(h)  # lists known: documents get planned as soon as fetched
        expected = harness.approve_everything(h)
        await harness.deliver(h)
        # Queued (or fetched, waiting for another report's new vendor): nothing sent yet.
        await wait_for(
            h,
            "SELECT state FROM documents",
            check=lambda rows: (
                len(rows) == expected and all(r["state"] in ("fetched", "queued") for r in rows) and sum(r["state"] == "queued" for r in rows) >= expected - 1
            ),
            what="all planned",
        )
        held, skipped = (r.id for r in list(h.concur.companies[COMPANY].data.reports.values())[:2])

        # mlc plan: lines and the exact qbXML, nothing posted.
        code, out = await mlc(h, "plan", held)
        assert code == 0, out
        assert "JournalEntryAdd" in out and "<JournalEntryAddRq" in out and "debit" in out and "credit" in out, out

        code, out = await mlc(h, "hold", held, "--reason", "receipt missing")
        assert code == 0 and "held" in out, out
        code, out = await mlc(h, "skip", skipped, "--reason", "paid by hand")
        assert code == 0 and "skipped" in out, out
        counts = await harness.drain(h, expected=expected, timeout_s=30)
        assert counts == {"posted": expected - 2, "held": 1, "skipped": 1}
        assert await qb_txns_for(h, held) == [] and await qb_txns_for(h, skipped) == []
        held_doc = await document(h, held)
        assert held_doc["reason"] == "receipt missing"
        actors = await sql(h, "SELECT actor FROM audit WHERE document_id = ? AND action = 'hold'", held_doc["id"])
        assert [a["actor"].startswith("cli:") for a in actors] == [True]

        # A held document makes reconcile report a difference.
        code, out = await mlc(h, "reconcile", COMPANY)
        assert code == 1, out

        code, out = await mlc(h, "release", held)
        assert code == 0, out
        await wait_state(h, held, ("queued",))
        counts = await harness.drain(h, expected=expected, timeout_s=30)
        assert counts == {"posted": expected - 1, "skipped": 1}
        assert len(await qb_txns_for(h, held)) == 1

        code, out = await mlc(h, "replay", held)
        assert code == 1 and "force" in out, out
        assert (await document(h, held))["state"] == "posted"
        code, out = await mlc(h, "skip", held)
        assert code == 1, out  # a posted document cannot be skipped either

        code, out = await mlc(h, "reconcile", COMPANY)
        assert code == 0 and "balanced" in out, out
        assert len(qb_transactions(h)) == expected - 1
        assert await audit_count(h, "release") == 1

        code, out = await mlc(h, "audit", "verify")
        assert code == 0 and "intact" in out, out

        # Someone edits one audit row behind the worker's back (dropping the guard first).
        def tamper(conn) -> None:
            conn.execute("ALTER TABLE audit DISABLE TRIGGER audit_no_update" if h.config.store.postgres else "DROP TRIGGER audit_no_update")
            row_id = conn.execute("SELECT id FROM audit WHERE action = 'hold'").fetchone()[0]
            conn.execute("UPDATE audit SET detail = '{}' WHERE id = ?", (row_id,))

        store = open_store(h.config)  # a connection of its own, beside the worker's
        try:
            store.run_sync(tamper)
        finally:
            store.close()
        code, out = await mlc(h, "audit", "verify")
        assert code == 1, out


@pytest.mark.trio
async def test_replay_with_force_of_a_posted_document_is_not_posted_twice(tmp_path):
    async with running(tmp_path, reports=2, invoices=0) as h:
        expected = harness.approve_everything(h)
        await harness.deliver(h)
        assert await harness.drain(h, expected=expected, timeout_s=30) == {"posted": expected}
        target = next(iter(h.concur.companies[COMPANY].data.reports))
        code, out = await mlc(h, "replay", target, "--force", "--reason", "operator thinks it is missing")
        assert code == 0, out
        # QuickBooks has it: settlement finds it and the document is posted again, never re-sent.
        counts = await harness.drain(h, expected=expected, timeout_s=30)
        assert counts == {"posted": expected}
        assert len(await qb_txns_for(h, target)) == 1
        assert len(qb_transactions(h)) == expected
        assert pending_reports(h) == []
