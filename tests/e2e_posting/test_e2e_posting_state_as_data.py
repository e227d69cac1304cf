"""What the worker decides on lives in columns, never in the human ``reason`` text or the audit
trail: rewrite every reason to nonsense (and add audit entries after the holds) and planning,
re-planning, reopening and vendor waits behave exactly the same."""

from __future__ import annotations

import pytest

from mlc import harness
from shared.types import Actor, DocState, Wait
from worker.posting import engine
from worker.qbwc.service import _planner_busy
from worker.store import documents

from e2e_posting_helpers import (
    COMPANY,
    document,
    dumps,
    raw_config,
    running,
    sql,
    wait_for,
    wait_state,
    write_raw_config,
)

GARBAGE = "waiting for the vendor not_postable: duplicate recheck"  # every prefix the old code read


def scramble(conn) -> None:
    """Every reason becomes the same words; every held document gets a later audit entry."""
    conn.execute("UPDATE documents SET reason = ?", (GARBAGE,))
    for (document_id,) in conn.execute("SELECT id FROM documents WHERE state = 'held'").fetchall():
        documents.note(conn, document_id, Actor.WORKER, "looked_at", {"by": "a test"})


@pytest.mark.trio
async def test_replanning_held_documents_ignores_reason_and_audit(tmp_path):
    removed: dict[str, str] = {}

    def drop_first_type(h) -> None:
        code = next(iter(h.concur.companies[COMPANY].data.reports.values())).expenses[0].type_code

        def edit(raw: dict) -> None:
            removed[code] = raw["companies"][0]["mapping"]["expense_types"].pop(code)

        harness.edit_run_config(h, edit)

    async with running(tmp_path, reports=3, invoices=0, before_worker=drop_first_type) as h:
        expected = harness.approve_everything(h)
        await harness.deliver(h)
        await harness.drain(h, expected=expected, timeout_s=30)
        held = await wait_for(h, "SELECT id, hold_kind FROM documents WHERE state = 'held'", check=lambda r: len(r) >= 1, what="a mapping hold")
        assert {r["hold_kind"] for r in held} == {"mapping"}
        await h.worker.ctx.store.run(scramble)

        good = raw_config(h)
        good["companies"][0]["mapping"]["expense_types"].update(removed)
        write_raw_config(h, dumps(good))
        await wait_for(
            h,
            "SELECT COUNT(*) AS n FROM documents WHERE state = 'held'",
            check=lambda r: r[0]["n"] == 0,
            what="held documents re-planned although their reason and latest audit entry say otherwise",
        )
        assert await harness.drain(h, expected=expected, timeout_s=30) == {"posted": expected}


@pytest.mark.trio
async def test_not_postable_reopens_and_operator_skips_stay_whatever_the_reason_says(tmp_path):
    async with running(tmp_path, reports=0, invoices=0) as h:
        await harness.web_connector_run(h)
        pending = h.concur.create_report(COMPANY)  # A_PEND: not postable yet
        await harness.deliver(h)
        assert (await wait_state(h, pending.id, ("skipped",)))["hold_kind"] == "not_postable"
        await h.worker.ctx.store.run(scramble)
        h.concur.approve(pending.id)
        await harness.deliver(h)
        await wait_state(h, pending.id, ("queued", "posted"))
        assert await harness.drain(h, expected=1, timeout_s=20) == {"posted": 1}
        assert (await document(h, pending.id))["hold_kind"] == "none"


@pytest.mark.trio
async def test_vendor_waits_are_a_column(tmp_path):
    async with running(tmp_path, reports=2, invoices=0) as h:
        await harness.web_connector_run(h)  # the lists are known: fetched documents are the planner's
        store = h.worker.ctx.store

        def fetched_waiting(conn, wait: Wait, reason: str) -> bool:
            document_id = documents.create(conn, COMPANY, "expense_report", "RPT-WAIT", None, Actor.CONCUR, "test")
            documents.set_state(conn, document_id, DocState.FETCHED, "", Actor.CONCUR, "fetched")
            documents.set_wait(conn, document_id, wait, reason)
            # Another document's vendor write, still in the outbox (rolled back below).
            vendor = conn.execute(
                "INSERT INTO postings (company, op, ref_number, request_xml, state, created_at) VALUES (?, 'VendorAdd', 'New Vendor', '', 'queued', '') RETURNING id",
                (COMPANY,),
            ).fetchone()[0]
            busy = _planner_busy(conn, COMPANY)
            conn.execute("DELETE FROM documents WHERE id = ?", (document_id,))
            conn.execute("DELETE FROM postings WHERE id = ?", (vendor,))
            return busy

        # Waiting for another document's vendor write, still in the outbox, keeps no session going
        # whatever the text says; a document waiting for nothing does, whatever its text says.
        assert await store.run(fetched_waiting, Wait.VENDOR, "anything at all") is False
        assert await store.run(fetched_waiting, Wait.NONE, GARBAGE) is True


@pytest.mark.trio
async def test_a_vendor_wait_names_the_write_and_is_not_planned_again_before_its_answer(tmp_path, monkeypatch):
    """Reports of new employees: the first of each creates the vendor; the others wait for that
    write, named in ``wait_posting``, and the planner leaves them alone (no plan at all) until
    QuickBooks has answered it. Planning them after every answer only to find them still waiting
    held the store for hundreds of milliseconds while QuickBooks waited (issue 17)."""
    plans: list[int] = []
    plan_one = engine.plan_one

    def counted(conn, document_id, company):
        plans.append(document_id)
        return plan_one(conn, document_id, company)

    monkeypatch.setattr(engine, "plan_one", counted)
    async with running(tmp_path, reports=12, invoices=0) as h:
        await harness.web_connector_run(h)  # the lists are known; nothing approved yet
        expected = harness.approve_everything(h)
        await harness.deliver(h)
        waiting = "SELECT * FROM documents WHERE state = 'fetched' AND wait = 'vendor'"
        rows = await wait_for(
            h,
            "SELECT * FROM documents",
            check=lambda rows: len(rows) == expected and all(r["state"] == "queued" or r["wait"] == "vendor" for r in rows),
            what="every report planned or waiting for its vendor",
        )
        waits = [r for r in rows if r["wait"] == "vendor"]
        assert waits, "12 reports of 6 employees: some share a new vendor"
        writes = {p["id"]: p for p in await sql(h, "SELECT * FROM postings WHERE op = 'VendorAdd'")}
        for row in waits:
            write = writes[row["wait_posting"]]
            assert write["state"] == "queued" and write["document_id"] != row["id"]

        plans.clear()
        companies = {c.id: c for c in h.worker.ctx.config.companies}
        assert await h.worker.ctx.store.run(engine.plan_batch, companies) == 0
        assert not set(plans) & {r["id"] for r in waits}, "a document waiting for an unanswered vendor write was planned again"
        assert [r["id"] for r in await sql(h, waiting)] == [r["id"] for r in waits]

        assert await harness.drain(h, expected=expected, timeout_s=30) == {"posted": expected}
