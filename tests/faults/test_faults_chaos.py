"""Everything that goes wrong at once, through to QuickBooks, with the real worker (in-process),
the Concur simulator, the Web Connector simulator and the simulated company file:

1. Concur answers 401 (expired tokens), 429 with Retry-After, 500/502/504 and slow responses while the
   worker fetches; webhooks arrive 3× each, shuffled;
2. the worker is down while Concur sends more events (they stay queued at Concur and are resent);
3. QuickBooks is closed for a stretch of scheduled runs: every document waits "pending offline"
   (``qb_company.unreachable_since`` set, nothing posted, nothing lost);
4. QuickBooks comes back: runs with 10% of receiveResponseXML lost after QuickBooks applied the
   request, and small message sets so there are many answers to lose.

At the end: every document posted once (one transaction each, no ExternalGUID twice, QuickBooks'
totals equal Concur's) and fetched from Concur once. Short form in ``make test``; the soak runs 300
documents with more faults.
"""

from __future__ import annotations

import time

import pytest
import trio

from mlc import harness
from shared.config import load_config
from sim.concur.server import Fault
from sim.webconnector.knobs import FaultKnobs
from worker import main as worker_main
from worker.outbox import BatchLimits
from worker.qbwc.service import QbwcService

from faults_helpers import DEMO_CONFIG, assert_exactly_once, pending_postings, read_db, soak_only, states, until

ACTIVE = ("received", "fetched", "queued", "sent", "unknown")

# httpx leaves a request-body generator unfinished when the worker dies mid-request (the point of
# these tests); its ResourceWarning at garbage collection is not a failure.
pytestmark = [
    pytest.mark.filterwarnings("ignore:Async generator 'httpx._content.ByteStream.__aiter__':ResourceWarning"),
    pytest.mark.filterwarnings("ignore:Exception ignored in. <async_generator object ByteStream.__aiter__:pytest.PytestUnraisableExceptionWarning"),
]


@pytest.fixture
def small_batches(monkeypatch):
    """The worker's QBWC service hands QuickBooks at most 3 requests a set: many answers to lose."""
    original = worker_main.create_app

    def create_app(ctx):
        app = original(ctx)
        app.extensions["qbwc"] = QbwcService(ctx, batch=BatchLimits(max_requests=3))
        return app

    monkeypatch.setattr(worker_main, "create_app", create_app)


def concur_trouble(h: harness.Harness, rounds: int) -> None:
    for _ in range(rounds):
        h.concur.add_fault(Fault(status=429, retry_after="0.05", count=2, path_prefix="/expensereports/"))
        # 503 means maintenance: the worker then waits Concur's 5 minutes (unit-tested in tests/concur),
        # too long here; the other 5xx take the ordinary backoff.
        h.concur.add_fault(Fault(status=502, count=1, path_prefix="/expensereports/"))
        h.concur.add_fault(Fault(status=500, count=1, path_prefix="/api/v3.0/invoice/"))
        h.concur.add_fault(Fault(status=504, count=1, path_prefix="/expensereports/"))
        h.concur.add_fault(Fault(delay=0.3, count=2, path_prefix="/expensereports/"))  # slow, not failed
    h.concur.expire_access_tokens(h.company)  # the next call gets a 401 and must refresh


async def run_chaos(tmp_path, *, reports: int, invoices: int, seed: int, offline_runs: int, lost_seed_runs: int, deadline_s: float) -> dict:
    config = load_config(DEMO_CONFIG)
    stats: dict = {}
    async with trio.open_nursery() as nursery:
        h = await harness.start(
            nursery, config, tmp_path / "run", reports=reports, invoices=invoices, seed=seed, worker_port=0, concur_port=0, concur_profile="mixed"
        )  # with the report shapes of issue 12
        data = h.concur.companies[h.company].data
        report_ids, invoice_ids = list(data.reports), list(data.invoices)
        half_r, half_i = len(report_ids) // 2, len(invoice_ids) // 2

        # 1. Concur trouble while the first half arrives, each webhook 3 times, shuffled.
        concur_trouble(h, rounds=max(1, reports // 20))
        for rid in report_ids[:half_r]:
            h.concur.approve(rid)
        for iid in invoice_ids[:half_i]:
            h.concur.approve_invoice(iid)
        await harness.deliver(h, duplicates=2, shuffle=True)

        # 2. The worker goes down; Concur keeps approving and sending.
        url_while_down = h.webhook_url
        await harness.stop_worker(h)
        for rid in report_ids[half_r:]:
            h.concur.approve(rid)
        for iid in invoice_ids[half_i:]:
            h.concur.approve_invoice(iid)
        down = await h.concur.deliver_events(url_while_down, max_attempts=2, retry_wait=0.001, timeout=1.0)
        stats["sent_while_down"] = down.pending
        assert down.delivered == 0 and down.pending > 0
        await harness.start_worker_in(nursery, h, int(url_while_down.split(":")[2].split("/")[0]))  # same address
        concur_trouble(h, rounds=1)
        await harness.deliver(h, duplicates=2, shuffle=True)  # Concur's retries reach the restarted worker
        expected = reports + invoices
        assert h.concur.totals_approved(h.company) > 0

        # 3. QuickBooks closed for a stretch of scheduled runs.
        await until(lambda: not states(h).get("received"), 60, f"everything fetched ({states(h)})", pause_s=0.1)
        for run in range(offline_runs):
            report = await harness.web_connector_run(h, FaultKnobs(quickbooks_closed=True, seed=run))
            assert report.ended_by == "connectionError", report.summary()
        row = read_db(h, "SELECT unreachable_since, last_result FROM qb_company WHERE company = ?", h.company)[0]
        assert row["unreachable_since"] and row["last_result"] == "unreachable"
        waiting = states(h)
        assert not waiting.get("posted") and sum(waiting.values()) == expected, waiting
        assert not harness.quickbooks_transactions(h.company_file)
        stats["pending_offline"] = sum(waiting.get(s, 0) for s in ACTIVE)

        # 4. Back: answers lost 10% of the time, small sets.
        lost = 0
        started = time.monotonic()
        run = 0
        while time.monotonic() - started < deadline_s:
            report = await harness.web_connector_run(h, FaultKnobs(lose_response_probability=0.1, seed=lost_seed_runs + run))
            lost += report.lost_responses
            run += 1
            if states(h) == {"posted": expected} and not pending_postings(h):
                break
        stats.update(lost_responses=lost, sessions_after_offline=run, answers=sum(s.qbxml_requests for s in h.sessions) - lost)
        row = read_db(h, "SELECT unreachable_since, last_result FROM qb_company WHERE company = ?", h.company)[0]
        assert row["unreachable_since"] is None and row["last_result"] == "ok"
        assert_exactly_once(h, expected)
        fetches = read_db(h, "SELECT d.concur_id, (SELECT COUNT(*) FROM audit a WHERE a.document_id = d.id AND a.action = 'fetched') AS n FROM documents d")
        assert {r["n"] for r in fetches} == {1}, [tuple(r) for r in fetches if r["n"] != 1]
        stats["documents"] = expected
        stats["duplicate_events_skipped"] = read_db(h, "SELECT COUNT(*) FROM audit WHERE action = 'duplicate_skipped'")[0][0]
        await harness.stop_worker(h)
        nursery.cancel_scope.cancel()
    return stats


@pytest.mark.trio
async def test_concur_trouble_outage_offline_quickbooks_and_lost_answers(tmp_path, small_batches):
    started = time.monotonic()
    stats = await run_chaos(tmp_path, reports=20, invoices=10, seed=5, offline_runs=3, lost_seed_runs=100, deadline_s=45)
    print(f"chaos short: {stats}, {time.monotonic() - started:.1f}s")
    assert stats["lost_responses"] >= 1, "some answers were actually lost"
    assert stats["duplicate_events_skipped"] >= stats["documents"], "webhooks really arrived more than once"


@pytest.mark.slow
@soak_only
@pytest.mark.trio
async def test_soak_chaos_300_documents(tmp_path, small_batches):
    started = time.monotonic()
    stats = await run_chaos(tmp_path, reports=200, invoices=100, seed=23, offline_runs=10, lost_seed_runs=1000, deadline_s=600)
    print(f"chaos soak: {stats}, {time.monotonic() - started:.1f}s")
    assert stats["lost_responses"] >= 10
