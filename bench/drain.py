"""Drain benchmark: N expense reports (3-way allocations) and N invoices through the real worker, the
Web Connector simulator and the QuickBooks simulator with a latency model in real time.

Figures, each against a one-request-per-round-trip baseline run in the same benchmark:
QuickBooks busy share (QuickBooks busy seconds / drain wall time), SOAP round trips per document,
wall time per document, and the largest message set's QuickBooks time against the budget that keeps
it well inside QBWC's ~60 s wait.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import trio

from bench.common import Figure
from mlc import harness
from shared.config import load_config
from sim.concur import data as concur_data
from sim.quickbooks.latency import LatencyModel
from sim.webconnector.knobs import FaultKnobs
from worker import main as worker_main
from worker.outbox import BatchLimits
from worker.qbwc.service import QbwcService

REPO = Path(__file__).resolve().parents[1]
# ~30 ms a write, ~10 ms a query; small costs for opening a message set, each record returned and
# each transaction line (a 3-way allocated report has many).
LATENCY = LatencyModel(per_message_set=0.01, per_query=0.01, per_record_returned=0.0005, per_write=0.03, per_line=0.001)
NETWORK_S = 0.02  # per SOAP call
MESSAGE_SET_BUDGET_S = 10.0  # QBWC waits about 60 s for QuickBooks; stay well inside it
BUSY_TARGET = 0.95  # issue 17: QuickBooks never waits
THREE_WAY = (Decimal("33.33"), Decimal("33.33"), Decimal("33.34"))


@dataclass
class DrainRun:
    documents: int
    wall_s: float
    busy_s: float
    soap_calls: int
    sessions: int
    message_sets: int
    max_set_busy_s: float
    noops: int
    posted: int
    quickbooks_transactions: int
    quickbooks_duplicates: int
    totals_match: bool
    planning_s: float  # intake + fetch + plan before the drain clock started
    sim_cpu_s: float = 0.0  # the QuickBooks simulator's own Python time (same process, not product time)
    sim_over_s: float = 0.0  # the part of it beyond the latency model's time for the set (QuickBooks idle meanwhile)
    worker_s: dict[str, float] = field(default_factory=dict)  # worker time answering each callback kind
    set_busy: list[float] = field(default_factory=list)

    @property
    def busy_share(self) -> float:
        return self.busy_s / self.wall_s if self.wall_s else 0.0

    @property
    def calls_per_doc(self) -> float:
        return self.soap_calls / self.documents

    @property
    def wall_per_doc(self) -> float:
        return self.wall_s / self.documents


def _force_three_way() -> None:
    # Every expense and invoice line gets a 3-way allocation (the generator otherwise picks 1-3).
    concur_data.SPLITS[:] = [THREE_WAY]


def _with_batch(batch: BatchLimits | None):
    """``create_app`` that installs a QbwcService with ``batch`` before the first SOAP call."""
    original = worker_main.create_app

    def create_app(ctx):
        app = original(ctx)
        if batch is not None:
            app.extensions["qbwc"] = QbwcService(ctx, batch=batch)
        return app

    return original, create_app


async def _run(reports: int, invoices: int, batch: BatchLimits | None, run_dir: Path, timeout_s: float) -> DrainRun:
    config = load_config(REPO / "mlc.toml")
    original, patched = _with_batch(batch)
    worker_main.create_app = patched
    try:
        async with trio.open_nursery() as nursery:
            started = time.perf_counter()
            h = await harness.start(
                nursery, config, run_dir, reports=reports, invoices=invoices, worker_port=0, concur_port=0, latency=LATENCY, clock_scale=1.0
            )
            set_busy: list[float] = []
            sim_cpu = [0.0, 0.0]
            process = h.company_file.process

            def recording_process(text: str):
                began = time.perf_counter()
                result = process(text)
                spent = time.perf_counter() - began
                sim_cpu[0] += spent
                sim_cpu[1] += max(0.0, spent - result.busy_seconds)  # the simulator sleeps the rest of the model's time
                set_busy.append(result.busy_seconds)
                return result

            h.company_file.process = recording_process

            expected = harness.approve_everything(h)
            await harness.deliver(h, duplicates=0, shuffle=False)
            # Intake, fetch and planning happen before the clock: the drain measures the QuickBooks side.
            with trio.fail_after(timeout_s):
                while True:
                    counts = await harness.progress(h)
                    if sum(counts.values()) >= expected and not counts.get("received"):
                        break
                    await trio.sleep(0.1)
            planning_s = time.perf_counter() - started
            before = _callback_seconds(h)
            sim_cpu[:] = [0.0, 0.0]
            t0 = time.perf_counter()
            counts = await harness.drain(h, expected=expected, knobs=FaultKnobs(network_latency_s=NETWORK_S), pause_s=0.0, timeout_s=timeout_s)
            wall = time.perf_counter() - t0
            summary = harness.summary(h, wall)
            run = DrainRun(
                documents=expected,
                wall_s=wall,
                busy_s=sum(s.quickbooks_busy_s for s in h.sessions),
                soap_calls=sum(len(s.soap_calls) for s in h.sessions),
                sessions=len(h.sessions),
                message_sets=len(set_busy),
                max_set_busy_s=max(set_busy, default=0.0),
                noops=sum(s.noops for s in h.sessions),
                posted=counts.get("posted", 0),
                quickbooks_transactions=summary["quickbooks_transactions"],
                quickbooks_duplicates=summary["quickbooks_duplicates"],
                totals_match=summary["concur_total"] == summary["quickbooks_total"],
                planning_s=planning_s,
                set_busy=set_busy,
                sim_cpu_s=sim_cpu[0],
                sim_over_s=sim_cpu[1],
                worker_s={k: v - before.get(k, 0.0) for k, v in _callback_seconds(h).items()},
            )
            await harness.stop_worker(h)
            nursery.cancel_scope.cancel()
    finally:
        worker_main.create_app = original
    return run


def _callback_seconds(h: harness.Harness) -> dict[str, float]:
    """Seconds the worker spent answering each SOAP callback kind so far (its own histogram)."""
    totals: dict[str, float] = {}
    for metric in h.worker.ctx.metrics.soap_seconds.collect():
        for sample in metric.samples:
            if sample.name.endswith("_sum"):
                totals[sample.labels["method"]] = sample.value
    return totals


def run_once(reports: int, invoices: int, batch: BatchLimits | None, timeout_s: float = 1800.0) -> DrainRun:
    _force_three_way()
    logging.getLogger().setLevel(logging.WARNING)
    run_dir = Path(tempfile.mkdtemp(prefix="mlc-bench-drain-"))
    try:
        return trio.run(_run, reports, invoices, batch, run_dir / "run", timeout_s)
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)


def describe(label: str, run: DrainRun) -> str:
    return (
        f"{label}: {run.documents} docs, {run.posted} posted, wall {run.wall_s:.1f}s, QuickBooks busy {run.busy_s:.1f}s "
        f"({run.busy_share:.2f}), {run.soap_calls} SOAP calls in {run.sessions} session(s), {run.message_sets} message sets "
        f"(largest {run.max_set_busy_s:.2f}s), NoOps {run.noops}, QB transactions {run.quickbooks_transactions} "
        f"(duplicates {run.quickbooks_duplicates}), totals match: {run.totals_match}; before the clock {run.planning_s:.1f}s"
    )


def bench(quick: bool, *, size: int | None = None, baseline_size: int | None = None) -> tuple[list[Figure], list[str]]:
    n = size or (100 if quick else 1000)
    # One write per round trip costs ~4 network legs per document: the baseline drains a subset
    # (per-document figures are what is compared), so the full benchmark stays minutes, not an hour.
    nb = baseline_size or min(n, 100 if quick else 200)
    run = run_once(n, n, None)
    base = run_once(nb, nb, BatchLimits(max_requests=1))
    notes = [
        describe(f"batched (default BatchLimits {BatchLimits()})", run),
        describe("baseline (max_requests=1)", base),
        f"latency model: {LATENCY}, network {NETWORK_S * 1000:.0f} ms per SOAP call, SimClock(scale=1) (real time)",
    ]
    correct = run.posted == run.documents and run.quickbooks_duplicates == 0 and run.totals_match
    idle = run.wall_s - run.busy_s
    worker = sum(run.worker_s.values())
    top = ", ".join(f"{k} {v:.2f}s" for k, v in sorted(run.worker_s.items(), key=lambda kv: -kv[1])[:3])
    breakdown = (
        f"QuickBooks idle {idle:.1f}s of {run.wall_s:.1f}s: network {run.soap_calls} SOAP calls x {NETWORK_S * 1000:.0f} ms = "
        f"{run.soap_calls * NETWORK_S:.1f}s; worker answering callbacks {worker:.1f}s ({top}); QuickBooks simulator's own "
        f"Python time beyond the model's {run.sim_over_s:.1f}s (of {run.sim_cpu_s:.1f}s; same process, a harness cost); rest (HTTP, "
        f"scheduling, between sessions) {max(0.0, idle - run.soap_calls * NETWORK_S - worker - run.sim_over_s):.1f}s; NoOps: {run.noops}"
    )
    notes.append(breakdown)
    limits = breakdown if run.busy_share < BUSY_TARGET else ""
    figures = [
        Figure("drain: QuickBooks busy share", run.busy_share, base.busy_share, "", f">= {BUSY_TARGET}", run.busy_share >= BUSY_TARGET, limits),
        Figure("drain: SOAP round trips / document", run.calls_per_doc, base.calls_per_doc, "", "<= baseline/10", run.calls_per_doc * 10 <= base.calls_per_doc),
        Figure(
            "drain: wall time / document",
            run.wall_per_doc * 1000,
            base.wall_per_doc * 1000,
            "ms",
            "",
            None,
            f"batched {run.documents} docs in {run.wall_s:.1f}s; baseline {base.documents} docs in {base.wall_s:.1f}s",
        ),
        Figure(
            "drain: largest message set, QuickBooks time",
            run.max_set_busy_s,
            base.max_set_busy_s,
            "s",
            f"< {MESSAGE_SET_BUDGET_S:.0f} s",
            run.max_set_busy_s < MESSAGE_SET_BUDGET_S,
        ),
        Figure(
            "drain: posted once, totals equal Concur",
            1.0 if correct else 0.0,
            None,
            "",
            "= 1",
            correct,
            f"{run.posted}/{run.documents} posted, {run.quickbooks_duplicates} duplicates, totals match {run.totals_match}",
        ),
    ]
    return figures, notes
