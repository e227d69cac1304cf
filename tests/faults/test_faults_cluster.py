"""Three worker processes on one store behind a load balancer, SIGKILLed at random and restarted
while documents drain: QuickBooks ends with one transaction per document, the totals equal
Concur's, and every lease a killed worker held was taken over by another worker.

The balancer has no stickiness, so the calls of one Web Connector session land on all three
workers and a session outlives the worker that began it. Half of the kills hit the worker that
is about to receive QuickBooks' answer right after QuickBooks applied a message set (the
balancer then hands the answer to the next worker, which continues the session from the store).
Leases are short here (``MLC_LEASE_SECONDS``) so that takeovers happen within the test.

The short form runs on both backends (``store_url``: SQLite in the shared data_dir, and a
PostgreSQL database); it goes into every worker's ``[store] url``.
Short form in ``make test``; ``MLC_SOAK=1`` runs more kills over more documents.
"""

from __future__ import annotations

import random
import socket
import time
from pathlib import Path

import pytest
import trio

from mlc import harness
from mlc.balancer import Balancer
from shared.config import load_config
from sim.quickbooks.latency import LatencyModel
from sim.webconnector.client import run_session
from sim.webconnector.knobs import FaultKnobs
from worker import cluster
from worker.store import audit, leases
from worker.store.db import open_store

from faults_helpers import DEMO_CONFIG, WorkerProcess, all_posted, assert_exactly_once, free_port, pending_postings, soak_only, states, until

LATENCY = LatencyModel(per_message_set=0.01, per_query=0.003, per_record_returned=0.0, per_write=0.04, per_line=0.0)
LEASE_S = "2"
WORKERS = 3

pytestmark = [
    pytest.mark.filterwarnings("ignore:Async generator 'httpx._content.ByteStream.__aiter__':ResourceWarning"),
    pytest.mark.filterwarnings("ignore:Exception ignored in. <async_generator object ByteStream.__aiter__:pytest.PytestUnraisableExceptionWarning"),
]


def read_leases(h: harness.Harness) -> list[leases.Lease]:
    store = open_store(h.config)
    try:
        return store.run_sync(leases.all_leases)
    finally:
        store.close()


def pid_of(holder: str) -> int | None:
    parts = holder.split(":")
    return int(parts[1]) if len(parts) == 3 and parts[0] == socket.gethostname() and parts[1].isdigit() else None


def job_leases(all_: list[leases.Lease]) -> list[leases.Lease]:
    return [lease for lease in all_ if not lease.name.startswith(leases.MEMBER_PREFIX)]


async def drill(tmp_path: Path, *, reports: int, invoices: int, kills: int, seed: int, deadline_s: float, store_url: str | None = None) -> dict:
    rng = random.Random(seed)
    ports = [free_port() for _ in range(WORKERS)]
    stats = {"kills": 0, "kills_before_answer": 0, "sessions": 0, "failed_sessions": 0, "leases_killed": 0}
    async with trio.open_nursery() as nursery:
        h = await harness.start(
            nursery,
            load_config(DEMO_CONFIG),
            tmp_path / "run",
            reports=reports,
            invoices=invoices,
            seed=seed,
            worker_port=ports[0],
            concur_port=0,
            latency=LATENCY,
            clock_scale=1.0,
            start_worker=False,
            concur_profile="mixed",
            store_url=store_url,
        )
        urls = [f"http://127.0.0.1:{port}" for port in ports]
        workers = [
            WorkerProcess(path, url, tmp_path / f"worker-{n}.log")
            for n, (path, url) in enumerate(zip(harness.worker_configs(h.config.path, ports, ""), urls, strict=True))
        ]
        balancer = Balancer(urls)
        url = await balancer.serve(nursery)
        applied = trio.Event()
        process = h.company_file.process

        def watched_process(text: str):
            result = process(text)
            if result.writes:
                applied.set()
            return result

        h.company_file.process = watched_process
        killed: list[tuple[str, int, str]] = []  # (lease, generation, holder) a killed worker held
        try:
            for worker in workers:
                worker.start()
            for worker in workers:
                await worker.wait_healthy()
            expected = harness.approve_everything(h)
            company = h.config.companies[0]
            stop = trio.Event()

            async def web_connector() -> None:
                while not stop.is_set():
                    report = await run_session(
                        url + "/qbwc",
                        company.qbwc.username,
                        h.password,
                        h.company_file,
                        FaultKnobs(network_latency_s=0.002),
                        h.clock,
                        owner_id=company.qbwc.owner_id,
                    )
                    stats["sessions"] += 1
                    stats["failed_sessions"] += report.ended_by == "failure"
                    await trio.sleep(0.03)

            async def deliver() -> None:
                while h.concur.events:
                    await h.concur.deliver_events(url + "/webhooks/concur", duplicates=1, shuffle=True, max_attempts=2, timeout=2.0)
                    await trio.sleep(0.1)

            nursery.start_soon(web_connector)
            nursery.start_soon(deliver)
            for number in range(kills):
                victim = workers[rng.randrange(WORKERS)]
                if number % 2 == 0 and not all_posted(h, expected):
                    applied = trio.Event()
                    with trio.move_on_after(5.0) as waited:
                        await applied.wait()  # QuickBooks applied a set; its answer goes to the next worker in turn
                    victim = workers[urls.index(balancer.backends[balancer._next % WORKERS])]
                    stats["kills_before_answer"] += not waited.cancelled_caught
                else:
                    await trio.sleep(rng.uniform(0.2, 1.0))
                held = [(lease.name, lease.generation, lease.holder) for lease in job_leases(read_leases(h)) if pid_of(lease.holder) == victim.pid]
                victim.kill()
                killed += held
                stats["kills"] += 1
                await trio.sleep(rng.uniform(0.0, 0.5))
                victim.start()
                await victim.wait_healthy()
                if h.concur.events:
                    nursery.start_soon(deliver)
            await until(
                lambda: all_posted(h, expected) and not h.concur.events, deadline_s, f"every document posted after the kills (states {states(h)})", pause_s=0.2
            )

            live = {w.pid for w in workers}

            def taken_over() -> bool:
                now = {lease.name: lease for lease in job_leases(read_leases(h))}
                return all(now[name].generation > generation and pid_of(now[name].holder) in live for name, generation, _ in killed) and all(
                    pid_of(lease.holder) in live for lease in now.values()
                )

            await until(taken_over, 15, f"every lease of a killed worker held by a live one ({read_leases(h)}, killed {killed})", pause_s=0.2)
            stop.set()
            assert_exactly_once(h, expected)
            store = open_store(h.config)
            try:
                assert store.run_sync(audit.verify) == []
            finally:
                store.close()
            final = job_leases(read_leases(h))
            stats.update(
                documents=expected,
                leases_killed=len(killed),
                takeovers=sum(lease.takeovers for lease in final),
                workers_holding=len({lease.holder for lease in final}),
                balancer_retries=balancer.refused,
                pending=pending_postings(h),
            )
        except BaseException:
            for worker in workers:
                print(f"--- {worker.log_path.name}\n{worker.log_tail(40)}")
            raise
        finally:
            for worker in workers:
                worker.kill()
            nursery.cancel_scope.cancel()
    return stats


@pytest.mark.trio
async def test_three_workers_killed_at_random_keep_exactly_once_and_take_over_every_lease(tmp_path, monkeypatch, store_url):
    monkeypatch.setenv(cluster.LEASE_ENV, LEASE_S)
    started = time.monotonic()
    stats = await drill(tmp_path, reports=20, invoices=10, kills=6, seed=11, deadline_s=45, store_url=store_url)
    print(f"cluster short: {stats}, {time.monotonic() - started:.1f}s")
    assert stats["kills"] == 6 and stats["documents"] == 30
    assert stats["leases_killed"] >= 1 and stats["takeovers"] >= 1, stats
    assert stats["workers_holding"] >= 2, "the jobs are shared out, not all on one worker"


@pytest.mark.slow
@soak_only
@pytest.mark.trio
async def test_soak_three_workers_killed_30_times(tmp_path, monkeypatch):
    monkeypatch.setenv(cluster.LEASE_ENV, LEASE_S)
    started = time.monotonic()
    stats = await drill(tmp_path, reports=150, invoices=50, kills=30, seed=23, deadline_s=600)
    print(f"cluster soak: {stats}, {time.monotonic() - started:.1f}s")
    assert stats["kills"] == 30 and stats["documents"] == 200
    assert stats["leases_killed"] >= 5 and stats["takeovers"] >= 5, stats
