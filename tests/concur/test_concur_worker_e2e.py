"""The real worker (HTTP intake, store, fetcher, sweep) against the Concur simulator over HTTP.

Every approved document must be stored once and fetched once, none lost: webhooks arrive twice
and out of order, a 429 and a token expiry hit mid-run, the company lives in the second data
centre (code 16), and the worker is down while events are sent and Concur's retention passes, so
the sweep at the next start has to find the rest.
"""

from __future__ import annotations

from collections import Counter
from functools import partial

import pytest
import trio

from shared.config import load_config
from sim.concur.server import SECONDARY, Fault
from worker.main import serve_worker

from concur_helpers import company_params, fetched_counts, running, write_config


async def wait_for(ctx, wanted: set, seconds: float = 20.0) -> dict:
    with trio.fail_after(seconds):
        while True:
            counts = await ctx.store.run(fetched_counts)
            if wanted <= {k for k, (_amount, fetches) in counts.items() if fetches}:
                return counts
            await trio.sleep(0.05)


def sweep_listings(sim) -> list:
    """The sweep's listing calls the simulated Concur answered for acme."""
    return [r for r in sim.requests if r.company == "acme" and r.path == "/api/v3.0/expense/reports"]


@pytest.mark.trio
async def test_every_approved_document_fetched_exactly_once_through_faults_and_an_outage(tmp_path):
    params = company_params(home=SECONDARY, reports=8, invoices=3)
    async with running([params]) as env:
        sim = env.sim
        config = load_config(write_config(tmp_path, sim, params), environ={})
        data = sim.companies["acme"].data
        reports, invoices = list(data.reports), list(data.invoices)

        # --- run 1: webhooks, duplicated and shuffled, with a 429 and a token expiry in between
        shutdown = trio.Event()
        worker = await env.nursery.start(partial(serve_worker, config, shutdown, port=0, stderr_log=False))
        url = worker.url + "/webhooks/concur"
        sim.add_fault(Fault(status=429, retry_after="0.05", count=1, path_prefix="/expensereports/"))
        for rid in reports[:3]:
            sim.approve(rid)
        sim.approve_invoice(invoices[0])
        first = await sim.deliver_events(url, duplicates=1, shuffle=True)
        assert first.delivered == 4
        await wait_for(worker.ctx, {("expense_report", r) for r in reports[:3]})
        sim.expire_access_tokens("acme")
        sim.approve(reports[3])
        await sim.deliver_events(url, duplicates=2, shuffle=True)
        await wait_for(worker.ctx, {("expense_report", reports[3])})
        shutdown.set()
        await worker.stopped.wait()

        # --- the worker is down: deliveries fail, then Concur's retention drops the events
        for rid in reports[4:7]:
            sim.approve(rid)
        sim.approve_invoice(invoices[1])
        down = await sim.deliver_events(url, max_attempts=2, retry_wait=0.001)
        assert down.delivered == 0 and down.pending == 4
        sim.drop_pending_events()

        # --- run 2: the sweep at start finds what the lost webhooks never told
        shutdown = trio.Event()
        worker = await env.nursery.start(partial(serve_worker, config, shutdown, port=0, stderr_log=False))
        approved = sim.approved_ids("acme")
        expected = {("expense_report", r) for r in approved["expense_report"]} | {("invoice", i) for i in approved["invoice"]}
        assert len(expected) == 9
        await wait_for(worker.ctx, expected, seconds=30)
        # A few more sweeps run over what is known: known documents must not be read again.
        swept_before = len(sweep_listings(sim))
        with trio.fail_after(20):
            while len(sweep_listings(sim)) < swept_before + 3:
                await trio.sleep(0.05)
        counts = await worker.ctx.store.run(fetched_counts)
        shutdown.set()
        await worker.stopped.wait()

        assert set(counts) == expected  # nothing unapproved was taken in
        assert {k: fetches for k, (_a, fetches) in counts.items()} == {k: 1 for k in expected}
        for (kind, concur_id), (amount, _f) in counts.items():
            doc = data.reports[concur_id] if kind == "expense_report" else data.invoices[concur_id]
            assert amount == f"{doc.total:.2f}"
        api_calls = [r for r in sim.requests if r.company == "acme" and not r.path.startswith("/oauth2/")]
        assert {r.dc for r in api_calls} == {SECONDARY}  # code 16 routing held throughout
        report_reads = Counter(
            r.path.rsplit("/", 1)[1] for r in api_calls if r.status == 200 and r.path.startswith("/expensereports/") and r.path.count("/") == 8
        )
        invoice_reads = Counter(r.path.rsplit("/", 1)[1] for r in api_calls if r.path.startswith("/api/v3.0/invoice/paymentrequest/"))
        assert report_reads == {r: 1 for r in approved["expense_report"]}
        assert invoice_reads == {i: 1 for i in approved["invoice"]}
        assert len(sweep_listings(sim)) >= 3  # the sweep kept running
