"""The Concur side through the whole product: token expiry and revocation, 429 and 503, the worker
down while Concur sends events (and Concur's retention running out), and the webhook intake's
refusals. Every approved document is fetched exactly once, posted exactly once, none lost.
"""

from __future__ import annotations

import json

import httpx
import pytest
import trio

from mlc import concur_admin, harness
from sim.concur.server import Fault
from worker.concur import sync as concur_sync
from worker.concur.client import RetryPolicy
from worker.store.db import open_store

from e2e_posting_helpers import (
    COMPANY,
    approved_reports,
    by_account,
    concur_account_totals,
    document,
    pending_reports,
    qb_totals,
    qb_transactions,
    restart_worker,
    running,
    sql,
    wait_for,
    wait_state,
)

# Production logic with short waits: a 503 means "come back in minutes" in production.
FAST = RetryPolicy(max_attempts=6, backoff_base=0.01, backoff_max=0.05, retry_after_max=2.0, unavailable_wait=0.05, timeout=5.0)


@pytest.fixture
def fast_concur(monkeypatch):
    monkeypatch.setitem(concur_sync.CLIENT_OPTIONS, "policy", FAST)


async def _fetch_counts(h) -> dict[str, int]:
    rows = await sql(
        h,
        """SELECT d.concur_id, (SELECT COUNT(*) FROM audit a WHERE a.document_id = d.id AND a.action = 'fetched') AS n
                           FROM documents d""",
    )
    return {r["concur_id"]: r["n"] for r in rows}


def _all_approved(h) -> set[str]:
    ids = h.concur.approved_ids(COMPANY)
    return ids["expense_report"] | ids["invoice"]


async def _assert_each_posted_once(h, expected: int) -> None:
    assert await harness.drain(h, expected=expected, timeout_s=30) == {"posted": expected}
    counts = await _fetch_counts(h)
    assert set(counts) == _all_approved(h)
    assert set(counts.values()) == {1}, counts  # fetched exactly once each
    guids = [t["ExternalGUID"] for _, t in qb_transactions(h)]
    assert len(guids) == len(set(guids)) == expected
    assert by_account(qb_totals(h)) == concur_account_totals(h)


@pytest.mark.trio
async def test_token_expiry_429_and_503_mid_run_fetch_each_document_once(tmp_path, fast_concur):
    async with running(tmp_path, reports=6, invoices=2) as h:
        reports = pending_reports(h)
        h.concur.approve(reports[0].id)
        h.concur.approve(reports[1].id)
        await harness.deliver(h)
        await wait_state(h, reports[1].id, ("fetched", "queued"))
        await wait_state(h, reports[0].id, ("fetched", "queued"))

        h.concur.expire_access_tokens()  # mid-run: the next call gets 401, refreshes once, retries
        h.concur.add_fault(Fault(status=429, retry_after="1", count=2, path_prefix="/expensereports/"))
        h.concur.add_fault(Fault(status=503, count=2, path_prefix="/api/v3.0/invoice/"))
        expected = 2 + harness.approve_everything(h)
        await harness.deliver(h)
        with trio.fail_after(20):
            while any(f.count > 0 for f in h.concur.faults if f.status in (429, 503)):
                await trio.sleep(0.05)
        await _assert_each_posted_once(h, expected)
        statuses = [c.status for c in h.concur.calls()]
        assert statuses.count(429) == 2 and statuses.count(401) >= 1


@pytest.mark.trio
async def test_revoked_refresh_token_needs_reconnect_then_catches_up(tmp_path, fast_concur):
    async with running(tmp_path, reports=3, invoices=1) as h:
        await harness.web_connector_run(h)
        h.concur.expire_access_tokens()
        h.concur.revoke_refresh_tokens(COMPANY)
        expected = harness.approve_everything(h)
        report = await harness.deliver(h)
        assert report.delivered == expected  # events are still stored while Concur needs a reconnect

        async with httpx.AsyncClient() as http:
            with trio.fail_after(10):
                while True:
                    health = (await http.get(h.worker.url + "/healthz")).json()
                    if health["companies"][0]["concur"] == "needs_reconnect":
                        break
                    await trio.sleep(0.05)
        assert health["status"] == "ok"
        assert health["companies"][0]["concur_reason"]
        secrets = [t for t in h.concur.companies[COMPANY].refresh_tokens] + list(h.concur.access_tokens)
        assert secrets and not any(secret in json.dumps(health) for secret in secrets)
        events = await sql(h, "SELECT COUNT(*) AS n FROM events")
        assert events[0]["n"] == expected
        waiting = await wait_for(
            h,
            "SELECT * FROM documents",
            check=lambda rows: len(rows) == expected and all("reconnect" in r["reason"] for r in rows if r["kind"] == "expense_report"),
            what="documents waiting for the reconnect",
        )
        assert all(r["state"] == "received" for r in waiting)
        assert qb_transactions(h) == []

        # `mlc concur connect demo`, from another process' point of view (its own store connection).
        assert await trio.to_thread.run_sync(concur_admin.connect, h.config, h.config.companies[0]) == 0
        async with httpx.AsyncClient() as http:
            assert (await http.get(h.worker.url + "/healthz")).json()["companies"][0]["concur"] == "connected"
        # Fetched at once (not after the fetch backoff): the reconnect makes waiting fetches due.
        await wait_for(
            h,
            "SELECT COUNT(*) AS n FROM documents WHERE state = 'received'",
            check=lambda r: r[0]["n"] == 0,
            seconds=3.5,
            what="documents fetched after reconnecting",
        )
        await _assert_each_posted_once(h, expected)


@pytest.mark.trio
async def test_worker_down_while_events_are_sent_the_sweep_at_start_finds_them(tmp_path, fast_concur):
    async with running(tmp_path, reports=6, invoices=2) as h:
        first = pending_reports(h)[0]
        h.concur.approve(first.id)
        await harness.deliver(h)
        await harness.drain(h, expected=1, timeout_s=20)
        url = h.webhook_url
        await harness.stop_worker(h)  # returns once its store is closed

        # While it is down: some events are lost to Concur's retention, others stay pending.
        lost = [r.id for r in pending_reports(h)[:3]]
        for rid in lost:
            h.concur.approve(rid)
        down = await h.concur.deliver_events(url, max_attempts=2, retry_wait=0.001)
        assert down.delivered == 0 and down.pending == 3
        assert h.concur.drop_pending_events() == 3
        expected = 1 + len(lost) + harness.approve_everything(h)
        down = await h.concur.deliver_events(url, max_attempts=1, retry_wait=0.001)
        assert down.delivered == 0 and down.pending > 0

        await restart_worker(h)
        # The sweep at start finds every approved document, the lost ones included ...
        await wait_for(
            h,
            "SELECT concur_id FROM documents",
            check=lambda rows: {r["concur_id"] for r in rows} >= set(lost),
            what="the sweep found the documents whose events were lost",
        )
        # ... and the pending events, delivered late, overlap with it: still one posting each.
        await harness.deliver(h, duplicates=1)
        await _assert_each_posted_once(h, expected)
        assert (await document(h, first.id))["state"] == "posted"


@pytest.mark.trio
async def test_webhook_intake_refusals_and_events_stored_before_the_answer(tmp_path, fast_concur):
    async with running(tmp_path, reports=3, invoices=0) as h:
        url = h.webhook_url
        event = {
            "id": "11111111-2222-4333-8444-555555555555",
            "topic": "public.concur.travel.trip",
            "eventType": "tripCreated",
            "timeStamp": "2026-11-28T00:00:00Z",
            "facts": {"companyId": h.config.companies[0].concur.company_uuid},
        }
        raw = json.dumps(event).encode()
        async with httpx.AsyncClient() as http:
            missing = await http.post(url, content=raw, headers={"Content-Type": "application/json"})
            bad = await http.post(url, content=raw, headers={"Content-Type": "application/json", "Concur-Signature": h.concur.sign(raw + b" ")})
            garbage = b"{not json"
            malformed = await http.post(url, content=garbage, headers={"Concur-Signature": h.concur.sign(garbage)})
            unknown = await http.post(url, content=raw, headers={"Content-Type": "application/json", "Concur-Signature": h.concur.sign(raw)})
        async with httpx.AsyncClient() as http:  # the server may close the connection after a 413
            huge = b'{"id": "x", "pad": "' + b"a" * (1024 * 1024) + b'"}'
            too_big = await http.post(url, content=huge, headers={"Concur-Signature": h.concur.sign(huge)})
        assert (missing.status_code, bad.status_code, malformed.status_code, too_big.status_code) == (401, 401, 400, 413)
        assert unknown.status_code == 200
        rejections = {r["reason"]: r["count"] for r in await sql(h, "SELECT reason, count FROM webhook_rejections")}
        assert rejections == {"signature": 2, "malformed": 1, "too_large": 1}, rejections
        stored = await sql(h, "SELECT topic, processed_at FROM events")
        assert [r["topic"] for r in stored] == ["public.concur.travel.trip"] and stored[0]["processed_at"]
        assert await sql(h, "SELECT * FROM documents") == []

        # A tampered delivery is refused (and Concur keeps it pending); the genuine one is stored.
        target = pending_reports(h)[0]
        h.concur.approve(target.id)
        refused = await h.concur.deliver_events(url, tamper=True, max_attempts=1)
        assert refused.delivered == 0 and refused.pending == 1
        assert (await sql(h, "SELECT SUM(count) AS n FROM webhook_rejections"))[0]["n"] == 5

        # Stored before the 200: Concur hangs on every fetch, the worker stops right after the
        # deliveries were acknowledged, and a restart still processes everything.
        h.concur.add_fault(Fault(delay=30, count=1000, path_prefix="/expensereports/"))
        expected = len(pending_reports(h)) + 0
        harness.approve_everything(h)
        delivered = await harness.deliver(h)
        assert delivered.delivered == expected + 1
        await harness.stop_worker(h)  # returns once its store is closed
        store = open_store(h.config)  # the stopped worker's store, read from outside
        try:
            stored = store.run_sync(lambda conn: conn.execute("SELECT COUNT(*) FROM events WHERE object_kind = 'expense_report'").fetchone()[0])
        finally:
            store.close()
        assert stored == expected + 1
        h.concur.faults.clear()
        await restart_worker(h)
        await _assert_each_posted_once(h, expected + 1)
        assert {r.id for r in approved_reports(h)} == {r["concur_id"] for r in await sql(h, "SELECT concur_id FROM documents WHERE state = 'posted'")}
