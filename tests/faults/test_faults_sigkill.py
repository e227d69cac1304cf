"""The worker killed with SIGKILL (TerminateProcess on Windows) at random moments while documents
drain, restarted each time: QuickBooks ends with exactly one transaction per document and the totals
equal Concur's.

The worker is a real child process (``python -m mlc.cli --config … worker``); the Concur simulator,
the simulated QuickBooks company file and the Web Connector simulator live in the test process and
keep going across kills, as they would at a customer's site. Half of the kills land right after
QuickBooks applied a message set and before its answer reached the worker (the worst moment: the
worker must settle those writes by querying, never resend them blindly); the other half at random.
Short form in ``make test``; ``MLC_SOAK=1`` (``make soak``) runs ≥ 30 kills over 300 documents.
"""

from __future__ import annotations

import random
import time

import pytest
import trio

from mlc import harness
from shared.config import load_config
from sim.quickbooks.latency import LatencyModel
from sim.webconnector.client import SessionReport, run_session
from sim.webconnector.knobs import FaultKnobs

from faults_helpers import DEMO_CONFIG, WorkerProcess, all_posted, assert_exactly_once, free_port, pending_postings, read_db, soak_only, states, until

# Slow enough that kills land inside sessions, fast enough for CI.
LATENCY = LatencyModel(per_message_set=0.01, per_query=0.003, per_record_returned=0.0, per_write=0.04, per_line=0.0)

# httpx leaves a request-body generator unfinished when the worker dies mid-request (the point of
# these tests); its ResourceWarning at garbage collection is not a failure.
pytestmark = [
    pytest.mark.filterwarnings("ignore:Async generator 'httpx._content.ByteStream.__aiter__':ResourceWarning"),
    pytest.mark.filterwarnings("ignore:Exception ignored in. <async_generator object ByteStream.__aiter__:pytest.PytestUnraisableExceptionWarning"),
]


async def kill_and_restart_while_draining(tmp_path, *, reports: int, invoices: int, kills: int, seed: int, deadline_s: float, store_url: str = "") -> dict:
    rng = random.Random(seed)
    port = free_port()
    config = load_config(DEMO_CONFIG)
    stats = {"kills": 0, "kills_after_quickbooks_applied": 0, "sessions": 0, "failed_sessions": 0, "pending_at_kill": 0}
    async with trio.open_nursery() as nursery:
        h = await harness.start(
            nursery,
            config,
            tmp_path / "run",
            reports=reports,
            invoices=invoices,
            seed=seed,
            worker_port=port,
            concur_port=0,
            latency=LATENCY,
            clock_scale=1.0,
            start_worker=False,
            concur_profile="mixed",
            store_url=store_url,
        )
        url = f"http://127.0.0.1:{port}"
        worker = WorkerProcess(h.config.path, url, tmp_path / "worker.log")
        applied = trio.Event()
        process = h.company_file.process

        def watched_process(text: str):
            result = process(text)
            if result.writes:
                applied.set()
            return result

        h.company_file.process = watched_process

        try:
            worker.start()
            await worker.wait_healthy()
            expected = harness.approve_everything(h)
            company = h.config.companies[0]
            stop = trio.Event()

            async def web_connector() -> None:
                # QBWC's scheduled runs; a session against a dead or dying worker just fails.
                while not stop.is_set():
                    report: SessionReport = await run_session(
                        url + "/qbwc",
                        company.qbwc.username,
                        h.password,
                        h.company_file,
                        FaultKnobs(network_latency_s=0.002),
                        h.clock,
                        owner_id=company.qbwc.owner_id,
                    )
                    stats["sessions"] += 1
                    if report.ended_by == "failure":
                        stats["failed_sessions"] += 1
                    await trio.sleep(0.03)

            async def deliver() -> None:
                # Concur retries undelivered events; those sent while the worker is down stay queued.
                while h.concur.events:
                    await h.concur.deliver_events(url + "/webhooks/concur", duplicates=1, shuffle=True, max_attempts=2, timeout=2.0)
                    await trio.sleep(0.1)

            nursery.start_soon(web_connector)
            nursery.start_soon(deliver)
            for number in range(kills):
                if number % 2 == 0 and not all_posted(h, expected):
                    applied = trio.Event()
                    with trio.move_on_after(5.0) as waited:
                        await applied.wait()  # QuickBooks just applied a message set...
                    await trio.sleep(rng.uniform(0.0, 0.02))  # ...and its answer is on its way
                    if not waited.cancelled_caught:
                        stats["kills_after_quickbooks_applied"] += 1
                else:
                    await trio.sleep(rng.uniform(0.02, 0.6))
                stats["pending_at_kill"] += pending_postings(h)
                worker.kill()
                stats["kills"] += 1
                await trio.sleep(rng.uniform(0.0, 0.2))
                worker.start()
                await worker.wait_healthy()
                if h.concur.events:
                    nursery.start_soon(deliver)
            await until(
                lambda: all_posted(h, expected) and not h.concur.events, deadline_s, f"every document posted after the kills (states {states(h)})", pause_s=0.2
            )
            stop.set()
            assert_exactly_once(h, expected)
            stats["documents"] = expected
            # Writes QuickBooks had applied when the worker died were settled by a query, not resent.
            stats["restarts_with_writes_in_flight"] = read_db(h, "SELECT COUNT(*) FROM audit WHERE action = 'uncertain'")[0][0]
            stats["settled_found"] = read_db(h, "SELECT COUNT(*) FROM audit WHERE action = 'settled_found'")[0][0]
        except BaseException:
            print(worker.log_tail(80))
            raise
        finally:
            worker.kill()
            nursery.cancel_scope.cancel()
    return stats


@pytest.mark.trio
async def test_sigkill_at_random_moments_keeps_exactly_once(tmp_path, store_url):
    started = time.monotonic()
    stats = await kill_and_restart_while_draining(tmp_path, reports=28, invoices=12, kills=6, seed=3, deadline_s=60, store_url=store_url)
    print(f"sigkill short: {stats}, {time.monotonic() - started:.1f}s")
    assert stats["kills"] >= 5 and stats["documents"] == 40
    assert stats["kills_after_quickbooks_applied"] >= 1, "at least one kill landed between QuickBooks applying a set and its answer"
    assert stats["restarts_with_writes_in_flight"] >= 1 and stats["settled_found"] >= 1, stats


@pytest.mark.slow
@soak_only
@pytest.mark.trio
async def test_soak_sigkill_30_times_over_300_documents(tmp_path):
    started = time.monotonic()
    stats = await kill_and_restart_while_draining(tmp_path, reports=200, invoices=100, kills=32, seed=17, deadline_s=600)
    print(f"sigkill soak: {stats}, {time.monotonic() - started:.1f}s")
    assert stats["kills"] >= 30 and stats["documents"] == 300
    assert stats["kills_after_quickbooks_applied"] >= 5
