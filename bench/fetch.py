"""Fetch benchmark: approval to ready-to-post with Concur's latency. N expense reports and N invoices
are approved in the Concur simulator, delivered as signed webhooks to the real worker, and the clock
runs until every document is planned (its QuickBooks writes queued, or held for a person; or waiting
for another document's write of its vendor): intake, fetch over HTTP and planning, with every
Concur call taking ~200 ms. One Web Connector session reads QuickBooks' lists before the clock.

The baseline is the same run with one fetch at a time (``max_calls_in_flight = 1``) on a subset
(documents per second are compared: the full size at one call at a time would take over an hour).
The simulator's rate limit is on in both runs and the number of 429s is reported; a third, small
run puts the limit below the worker's bound to show that the worker slows down instead of storming.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import trio

from bench.common import Figure
from mlc import harness
from shared.config import load_config
from shared.types import Wait
from sim.concur.latency import LatencyModel, RateLimit
from worker.concur.sync import SWEEP_CHECKPOINT
from worker.store import checkpoints

REPO = Path(__file__).resolve().parents[1]
LATENCY = LatencyModel(fixed_s=0.1, jitter_s=0.2)  # 100-300 ms, 200 ms on average
RATE_LIMIT = RateLimit(max_in_flight=12, max_per_second=80, retry_after="0")  # above the default bound: should never bite
TIGHT_LIMIT = RateLimit(max_in_flight=4, retry_after="0")  # below it: the worker must back off
PLANNED = ("queued", "held", "skipped", "failed", "sent", "posted", "unknown")
TARGET = 6.0


@dataclass
class FetchRun:
    documents: int
    bound: int | None  # max_calls_in_flight (None: the shipped default)
    wall_s: float
    planned: int
    calls: int  # API calls Concur answered (429s included), tokens left out
    refused: int  # 429s
    max_in_flight: int  # the most calls in flight the simulator saw from the company
    report_reads: int  # 200 answers to GET report, one per report when nothing is read twice

    @property
    def per_second(self) -> float:
        return self.planned / self.wall_s if self.wall_s else 0.0


def _set_bound(bound: int | None):
    def change(raw: dict) -> None:
        for company in raw["companies"]:
            if bound is None:
                company["concur"].pop("max_calls_in_flight", None)
            else:
                company["concur"]["max_calls_in_flight"] = bound

    return change


def _planned(conn) -> int:
    """Documents the worker has taken as far as it can without QuickBooks: planned (writes queued,
    or held for a person), or fetched and waiting for another document's write of their vendor."""
    marks = ",".join("?" * len(PLANNED))
    sql = f"SELECT COUNT(*) FROM documents WHERE state IN ({marks}) OR (state = 'fetched' AND wait = ?)"
    return int(conn.execute(sql, (*PLANNED, str(Wait.VENDOR))).fetchone()[0])


async def _run(reports: int, invoices: int, bound: int | None, limit: RateLimit, run_dir: Path, timeout_s: float) -> FetchRun:
    config = load_config(REPO / "mlc.toml")
    async with trio.open_nursery() as nursery:
        h = await harness.start(nursery, config, run_dir, reports=reports, invoices=invoices, worker_port=0, concur_port=0, start_worker=False)
        harness.edit_run_config(h, _set_bound(bound))
        h.concur.set_latency(LATENCY, limit)
        await harness.start_worker_in(nursery, h)
        company = h.company
        assert h.worker is not None
        store = h.worker.ctx.store
        await harness.web_connector_run(h)  # the planner waits for QuickBooks' lists; read them first
        # The sweep at start lists what Concur has; one still listing while the approvals come in
        # would mention some of them again (a harmless second read, but not what is measured).
        with trio.fail_after(timeout_s):
            while not await store.run(checkpoints.get, company, SWEEP_CHECKPOINT):
                await trio.sleep(0.05)
        expected = harness.approve_everything(h)
        before = len(h.concur.requests)
        t0 = time.perf_counter()
        nursery.start_soon(harness.deliver, h)  # webhooks arrive while the worker already fetches
        planned = 0
        with trio.move_on_after(timeout_s):
            while planned < expected:
                await trio.sleep(0.05)
                planned = await store.run(_planned)
        wall = time.perf_counter() - t0
        calls = [r for r in h.concur.requests[before:] if r.company == company and not r.path.startswith("/oauth2/")]
        run = FetchRun(
            documents=expected,
            bound=bound,
            wall_s=wall,
            planned=planned,
            calls=len(calls),
            refused=sum(r.status == 429 for r in calls),
            max_in_flight=h.concur.traffic.traffic(company).max_in_flight,
            report_reads=sum(r.status == 200 and r.path.startswith("/expensereports/") and r.path.count("/") == 8 for r in calls),
        )
        await harness.stop_worker(h)
        nursery.cancel_scope.cancel()
    return run


def run_once(reports: int, invoices: int, bound: int | None, limit: RateLimit = RATE_LIMIT, timeout_s: float = 1800.0) -> FetchRun:
    logging.getLogger().setLevel(logging.ERROR)  # the tight run logs every 429 retry otherwise
    run_dir = Path(tempfile.mkdtemp(prefix="mlc-bench-fetch-"))
    try:
        return trio.run(_run, reports, invoices, bound, limit, run_dir / "run", timeout_s)
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)


def describe(label: str, run: FetchRun) -> str:
    return (
        f"{label}: {run.planned}/{run.documents} planned in {run.wall_s:.1f}s ({run.per_second:.1f} docs/s), "
        f"{run.calls} Concur calls ({run.calls / max(run.documents, 1):.1f}/doc), {run.refused} answered 429, "
        f"at most {run.max_in_flight} in flight, {run.report_reads} report reads"
    )


def bench(quick: bool, *, size: int | None = None, baseline_size: int | None = None) -> tuple[list[Figure], list[str]]:
    n = size or (100 if quick else 1000)  # reports, and as many invoices
    nb = baseline_size or (15 if quick else 50)
    default_bound = load_config(REPO / "mlc.toml").companies[0].concur.max_calls_in_flight
    run = run_once(n, n, None)
    base = run_once(nb, nb, 1)
    tight = run_once(nb, nb, None, TIGHT_LIMIT)
    speedup = run.per_second / base.per_second if base.per_second else 0.0
    once = run.report_reads == n and tight.report_reads == nb
    notes = [
        describe(f"pooled (max_calls_in_flight = {default_bound}, the default)", run),
        describe("baseline (max_calls_in_flight = 1)", base),
        describe(f"rate limit below the bound ({TIGHT_LIMIT})", tight),
        f"Concur latency {LATENCY} per call; simulator rate limit {RATE_LIMIT}; the clock runs from the first webhook to the last document planned",
    ]
    figures = [
        Figure(
            "fetch: documents planned / s",
            run.per_second,
            base.per_second,
            "/s",
            f">= {TARGET:.0f}x baseline",
            speedup >= TARGET,
            f"pooled {run.documents} docs in {run.wall_s:.1f}s; baseline {base.documents} docs in {base.wall_s:.1f}s",
        ),
        Figure(
            "fetch: Concur calls in flight (max seen by Concur)",
            run.max_in_flight,
            base.max_in_flight,
            "",
            f"<= {default_bound}",
            run.max_in_flight <= default_bound,
        ),
        Figure("fetch: 429s from Concur", run.refused, base.refused, "", "no storm", None, f"{run.calls} calls in all"),
        Figure(
            "fetch: 429s with the limit below the bound",
            tight.refused,
            None,
            "",
            "few; all fetched",
            tight.planned == tight.documents,
            f"{tight.calls} calls, {tight.planned}/{tight.documents} planned in {tight.wall_s:.1f}s, at most {tight.max_in_flight} in flight",
        ),
        Figure(
            "fetch: every document planned, each report read once",
            1.0 if once and run.planned == run.documents else 0.0,
            None,
            "",
            "= 1",
            once and run.planned == run.documents,
            f"{run.planned}/{run.documents} planned, {run.report_reads} report reads for {n} reports",
        ),
    ]
    return figures, notes
