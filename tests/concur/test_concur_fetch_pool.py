"""The real worker fetching through a Concur that answers slowly and rate-limits: a pool of
fetchers keeps at most ``max_calls_in_flight`` calls in flight for the company, backs off when
Concur says 429, and still fetches every approved document exactly once."""

from __future__ import annotations

from collections import Counter
from functools import partial

import pytest
import trio

from shared.config import load_config
from shared.types import Actor, DocKind
from sim.concur.latency import LatencyModel, RateLimit
from worker.concur import sync as concur_sync
from worker.main import serve_worker
from worker.store import documents

from concur_helpers import PATIENT, company_params, fetched_counts, running, write_config

BOUND = 5


@pytest.mark.trio
async def test_429s_slow_the_fetchers_down_and_every_document_is_fetched_once(tmp_path, monkeypatch):
    monkeypatch.setitem(concur_sync.CLIENT_OPTIONS, "policy", PATIENT)
    params = company_params(reports=16, invoices=4)
    # Concur takes 30-60 ms a call and refuses a fourth call in flight: the worker may send five.
    async with running([params], latency=LatencyModel(fixed_s=0.03, jitter_s=0.03), rate_limit=RateLimit(max_in_flight=3)) as env:
        sim = env.sim
        config = load_config(write_config(tmp_path, sim, params, f"max_calls_in_flight = {BOUND}\n"), environ={})
        assert config.companies[0].concur.max_calls_in_flight == BOUND
        shutdown = trio.Event()
        worker = await env.nursery.start(partial(serve_worker, config, shutdown, port=0, stderr_log=False))
        sim.approve_all("acme")
        approved = sim.approved_ids("acme")
        expected = {("expense_report", r) for r in approved["expense_report"]} | {("invoice", i) for i in approved["invoice"]}
        assert len(expected) == 20
        delivery = await sim.deliver_events(worker.url + "/webhooks/concur", duplicates=1, shuffle=True)
        assert delivery.delivered == 20
        with trio.fail_after(60):
            while True:
                counts = await worker.ctx.store.run(fetched_counts)
                if expected <= {k for k, (_amount, fetches) in counts.items() if fetches}:
                    break
                await trio.sleep(0.05)
        shutdown.set()
        await worker.stopped.wait()

    assert {k: fetches for k, (_a, fetches) in counts.items()} == {k: 1 for k in expected}
    calls = [r for r in sim.requests if r.company == "acme" and not r.path.startswith("/oauth2/")]
    report_reads = Counter(r.path.rsplit("/", 1)[1] for r in calls if r.status == 200 and r.path.startswith("/expensereports/") and r.path.count("/") == 8)
    assert report_reads == {r: 1 for r in approved["expense_report"]}
    traffic = sim.traffic.traffic("acme")
    assert 1 < traffic.max_in_flight <= BOUND  # fetchers ran side by side, never past the bound
    assert traffic.refused >= 1  # Concur did say 429 ...
    assert traffic.refused == sum(r.status == 429 for r in calls)
    # ... and the worker slowed down: a fixed window of five against a limit of three would have
    # been refused on about every other call; halving on 429 keeps refusals the exception.
    assert traffic.refused <= 3 + traffic.admitted // 4


@pytest.mark.trio
async def test_a_document_of_a_company_no_longer_configured_gets_a_clear_reason_and_backs_off(tmp_path):
    params = company_params(reports=1, invoices=0)
    async with running([params]) as env:
        config = load_config(write_config(tmp_path, env.sim, params), environ={})
        shutdown = trio.Event()
        worker = await env.nursery.start(partial(serve_worker, config, shutdown, port=0, stderr_log=False))
        document_id = await worker.ctx.store.run(documents.create, "gone", DocKind.INVOICE, "INV-1", None, Actor.CONCUR, "test")
        worker.ctx.inbox.notify()
        with trio.fail_after(20):
            while not (row := await worker.ctx.store.run(documents.get, document_id))["attempts"]:
                await trio.sleep(0.05)
        shutdown.set()
        await worker.stopped.wait()
    assert row["state"] == "received" and row["next_attempt_at"]
    assert "company 'gone' has no Concur configuration" in row["reason"]
