"""Any worker answers any request: two workers on one store behind a round-robin balancer.

The Web Connector's calls of one session alternate between the workers (sendRequestXML on one,
receiveResponseXML on the other), Concur's webhooks land on either, and the background jobs run
on whichever worker holds their lease: every document is still one QuickBooks transaction.
"""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest
import trio

from mlc import harness
from mlc.balancer import Balancer
from shared.config import load_config
from sim.webconnector.client import run_session
from worker import cluster
from worker.main import serve_worker
from worker.store import audit, leases

DEMO_CONFIG = Path(__file__).resolve().parents[2] / "mlc.toml"


def job_holders(conn) -> Counter:
    return Counter(lease.holder for lease in leases.all_leases(conn) if lease.holder and not lease.name.startswith(leases.MEMBER_PREFIX))


def _progress(conn):
    states = {r[0]: r[1] for r in conn.execute("SELECT state, COUNT(*) FROM documents GROUP BY state")}
    pending = conn.execute("SELECT COUNT(*) FROM postings WHERE state IN ('queued', 'sent', 'unknown')").fetchone()[0]
    return states, pending


@pytest.mark.trio
async def test_a_session_continues_on_another_worker_and_posts_each_document_once(tmp_path, monkeypatch):
    monkeypatch.setenv(cluster.LEASE_ENV, "1.5")  # short beats, so the workers share the jobs out quickly
    config = load_config(DEMO_CONFIG)
    async with trio.open_nursery() as nursery:
        h = await harness.start(nursery, config, tmp_path / "run", reports=6, invoices=3, seed=5, start_worker=False, concur_port=0)
        shutdown = trio.Event()
        a = await nursery.start(lambda task_status: serve_worker(h.config, shutdown, port=0, stderr_log=False, task_status=task_status))
        b = await nursery.start(lambda task_status: serve_worker(h.config, shutdown, port=0, stderr_log=False, task_status=task_status))
        # Each worker twice in a row: the alternating sendRequestXML/receiveResponseXML of one
        # session then reach both workers (a plain a, b rotation would pin each call kind to one).
        balancer = Balancer([a.url, a.url, b.url, b.url])
        url = await balancer.serve(nursery)
        expected = harness.approve_everything(h)
        await h.concur.deliver_events(url + "/webhooks/concur", duplicates=1, shuffle=True)
        company = h.config.companies[0]
        sessions = []
        with trio.fail_after(60):
            while True:
                states, pending = await a.ctx.store.run(_progress)
                if states == {"posted": expected} and not pending:
                    break
                report = await run_session(url + "/qbwc", company.qbwc.username, h.password, h.company_file, None, h.clock, owner_id=company.qbwc.owner_id)
                assert not report.errors, report.errors
                sessions.append(report)
                await trio.sleep(0.05)

        served = Counter(balancer.served)
        # No stickiness: both workers answered both halves of the exchange.
        for worker in (a.url, b.url):
            assert served[(worker, "sendRequestXML")] >= 1 and served[(worker, "receiveResponseXML")] >= 1, served
        txns = harness.quickbooks_transactions(h.company_file)
        guids = Counter(str(t.get("ExternalGUID")) for _, t in txns)
        assert len(txns) == expected and max(guids.values()) == 1
        aside = harness.settlement_accounts(h.config)
        total = sum((harness.transaction_total(kind, t, h.company_file, aside) for kind, t in txns), Decimal(0))
        assert total == h.concur.totals_approved(h.company)
        assert await a.ctx.store.run(audit.verify) == []
        # The two workers share the jobs out: each holds at least one lease.
        with trio.fail_after(10):
            while set(await a.ctx.store.run(job_holders)) != {a.ctx.worker_id, b.ctx.worker_id}:
                await trio.sleep(0.1)
        shutdown.set()
        await a.stopped.wait()
        await b.stopped.wait()
        nursery.cancel_scope.cancel()
