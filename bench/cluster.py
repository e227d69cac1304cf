"""Cluster: intake and drain with one worker on SQLite, one on PostgreSQL and three on one
PostgreSQL database, in the same run (issue 18). Target on a 2-CPU machine: three workers on
PostgreSQL take webhooks at least as fast as one worker on SQLite (the shared store costs nothing),
and their drain stays bound by QuickBooks (busy share >= 0.85).

PostgreSQL is a real server from the OS binaries, started for the run on loopback
(``mlc/pgserver.py``, the test suite's server) but durable like a production one (fsync and
synchronous commit on, against SQLite's ``synchronous=FULL``); each case gets a database of its own.
Without server binaries the benchmark prints one "skipped" row.

Every worker is a real process (``python -m mlc.cli --config … worker``), as in
``tests/faults/test_faults_cluster.py``; the three of a cluster share the store and nothing else.

Intake: the load generator and event mix of ``bench/intake.py`` (16 concurrent keep-alive
connections, signed events on a topic the worker stores but does no fetch for). For three workers
the load generator spreads its connections round-robin over the three URLs (what a balancer that
keeps connections to each worker alive does), so the figure is the workers' and the store's, not a
balancer's. The cases take turns (``ROUNDS``), the best of each is compared; CPU seconds per event
of the workers and of the PostgreSQL server (postmaster and its backends) are read from ``/proc``.

Drain: ``bench/drain.py``'s world (3-way allocated reports and invoices, its QuickBooks latency
model and 20 ms of network per SOAP call, real time), the workers behind ``mlc/balancer.py``
(round-robin, no stickiness: one Web Connector session's calls land on every worker; sessions live
in the store). Webhooks go through the balancer too. The clock starts once every document is fetched
and planned; busy share = QuickBooks busy seconds / drain wall time. The balancer opens a connection
per request (as the fault test's does), a cost the single-worker cases pay as well.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import httpx
import trio

from bench.common import Figure
from bench.drain import LATENCY, NETWORK_S, _force_three_way
from bench.intake import IGNORED_TOPIC, _rate, cpu_seconds, empty_concur, free_port, load, serve_process, signed_events, worker_command
from mlc import harness
from mlc.balancer import Balancer
from mlc.pgserver import PostgresServer
from shared.config import Config, load_config
from sim.webconnector.client import run_session
from sim.webconnector.knobs import FaultKnobs

REPO = Path(__file__).resolve().parents[1]
ROUNDS = 2  # the intake cases take turns this many times; the best run of each is compared
CONCURRENCY = 16  # load generator connections, in all (bench/intake.py's)
INTAKE_TARGET = 1.0  # three workers on PostgreSQL against one on SQLite
BUSY_TARGET = 0.85


@dataclass(frozen=True)
class Case:
    label: str
    workers: int
    postgres: bool


CASES = (Case("1 x SQLite", 1, False), Case("1 x PostgreSQL", 1, True), Case("3 x PostgreSQL", 3, True))
SQLITE, PG1, PG3 = CASES


def loadavg() -> str:
    try:
        with open("/proc/loadavg", encoding="ascii") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return "?"


def server_cpu_seconds(server: PostgresServer) -> float | None:
    """CPU seconds of the PostgreSQL server so far: the postmaster and its children (backends,
    WAL writer, checkpointer) that are alive now; None off Linux."""
    try:
        assert server.root is not None
        postmaster = int((server.root / "data" / "postmaster.pid").read_text().split()[0])
        total = 0.0
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                with open(f"/proc/{entry.name}/stat", encoding="ascii") as stat:
                    fields = stat.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(entry.name) == postmaster or int(fields[1]) == postmaster:
                total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        return total
    except (OSError, ValueError, IndexError, AssertionError):
        return None


# What PostgreSQL logs when it aborts a transaction the store then runs again (worker/store/pg.py RETRYABLE).
CONFLICTS = {"serialization": "could not serialize access", "unique key": "duplicate key value", "deadlock": "deadlock detected"}


def pg_counters(server: PostgresServer) -> tuple[int, Counter[str]]:
    """(transaction ids handed out so far: one per writing transaction, aborted ones included; the
    conflicts the server logged so far, by kind)."""
    import psycopg

    assert server.root is not None
    with psycopg.connect(server.url("postgres"), autocommit=True) as conn:
        row = conn.execute("SELECT txid_current()").fetchone()
    text = (server.root / "server.log").read_text(errors="replace")
    return int(row[0]) if row else 0, Counter({kind: text.count(needle) for kind, needle in CONFLICTS.items()})


def pg_delta(before: tuple[int, Counter[str]], after: tuple[int, Counter[str]]) -> tuple[int, dict[str, int]]:
    """Writing transactions (less the probe's own) and conflicts between two ``pg_counters``."""
    return after[0] - before[0] - 1, {kind: n for kind, n in (after[1] - before[1]).items() if n}


def cluster_cpu(pids: list[int], server: PostgresServer) -> tuple[float, float] | None:
    """(workers, PostgreSQL server) CPU seconds so far."""
    workers = [cpu_seconds(pid) for pid in pids]
    pg = server_cpu_seconds(server)
    if any(w is None for w in workers) or pg is None:
        return None
    return sum(w[0] for w in workers if w), pg


@dataclass
class Cluster:
    """The worker processes of one case, on one store."""

    case: Case
    config: Config
    urls: list[str]
    pids: list[int] = field(default_factory=list)


async def start_workers(nursery: trio.Nursery, case: Case, run_config: Config, ports: list[int], store_url: str) -> Cluster:
    paths = harness.worker_configs(run_config.path, ports, store_url)
    cluster = Cluster(case, load_config(paths[0]), [f"http://127.0.0.1:{port}" for port in ports])
    for path, url in zip(paths, cluster.urls, strict=True):
        process = await serve_process(worker_command(path), url, nursery, dict(os.environ))
        cluster.pids.append(process.pid)
    return cluster


def store_url_for(case: Case, server: PostgresServer) -> str:
    return server.fresh_database() if case.postgres else ""


async def _intake(run_dir: Path, server: PostgresServer, count: int, rounds: int) -> dict:
    config = load_config(REPO / "mlc.toml")
    company = config.companies[0]
    sim = empty_concur(company)
    results: dict = {case: [] for case in CASES}
    async with trio.open_nursery() as nursery:
        concur_url = await sim.serve(nursery, "127.0.0.1", 0)
        clusters = []
        for number, case in enumerate(CASES):
            case_dir = run_dir / f"case{number}"
            case_dir.mkdir(parents=True)
            sim.write_public_key(case_dir / "concur-webhook.pem")
            ports = [free_port() for _ in range(case.workers)]
            store_url = store_url_for(case, server)
            run_config = harness.write_run_config(config, case_dir, concur_url, ports[0], store_url=store_url)
            clusters.append(await start_workers(nursery, case, run_config, ports, store_url))
        # Each store sees a run's events once: the same file serves every case of a round.
        runs = [signed_events(sim, company.concur.company_uuid, count, run_dir / f"round{i}.jsonl") for i in range(rounds)]
        await trio.sleep(1.0)  # the workers' start-up jobs (leases, first sweep) out of the way
        for events in runs:
            for cluster in clusters:
                load_before = loadavg()
                counters = pg_counters(server)
                before = cluster_cpu(cluster.pids, server)
                run = await load(",".join(cluster.urls), events, "max", CONCURRENCY)
                after = cluster_cpu(cluster.pids, server)
                if cluster.case.postgres:
                    run["pg_transactions"], run["pg_conflicts"] = pg_delta(counters, pg_counters(server))
                run["load"] = f"{load_before} -> {loadavg()}"
                if before and after and run["ok"]:
                    run["cpu_ms"] = (after[0] - before[0]) * 1000 / run["ok"]
                    run["pg_cpu_ms"] = (after[1] - before[1]) * 1000 / run["ok"]
                results[cluster.case].append(run)
        for cluster in clusters:
            rows = harness.read_store(cluster.config, "SELECT COUNT(*) FROM events WHERE topic = ?", IGNORED_TOPIC)
            results[cluster.case, "stored"] = rows[0][0]
        nursery.cancel_scope.cancel()  # the worker processes are killed with their nursery
    return results


@dataclass
class DrainRun:
    documents: int
    wall_s: float
    busy_s: float
    soap_calls: int
    sessions: int
    posted: int
    transactions: int
    duplicates: int
    totals_match: bool
    planning_s: float
    workers_served: int  # workers that answered Web Connector callbacks
    load: str
    conflicts: dict[str, int]  # transactions PostgreSQL aborted during the drain (run again by the store)
    worker_s: dict[str, float]  # the workers' time answering each callback kind during the drain

    def idle(self) -> str:
        """Where QuickBooks' idle time went (as bench/drain.py breaks it down)."""
        idle, network, worker = self.wall_s - self.busy_s, self.soap_calls * NETWORK_S, sum(self.worker_s.values())
        top = ", ".join(f"{k} {v:.2f}s" for k, v in sorted(self.worker_s.items(), key=lambda kv: -kv[1])[:3])
        return (
            f"QuickBooks idle {idle:.1f}s: network {network:.1f}s, workers answering callbacks {worker:.1f}s ({top}), "
            f"rest (balancer, HTTP, the simulators' own Python time) {max(0.0, idle - network - worker):.1f}s"
        )

    @property
    def busy_share(self) -> float:
        return self.busy_s / self.wall_s if self.wall_s else 0.0

    @property
    def correct(self) -> bool:
        return self.posted == self.documents == self.transactions and not self.duplicates and self.totals_match


async def callback_seconds(urls: list[str]) -> dict[str, float]:
    """Seconds the workers spent answering each Web Connector callback kind so far, summed over
    the workers (their ``/metrics`` histograms)."""
    totals: dict[str, float] = {}
    async with httpx.AsyncClient(timeout=10.0) as http:
        for url in urls:
            for line in (await http.get(url + "/metrics")).text.splitlines():
                if line.startswith("mlc_qbwc_callback_seconds_sum{"):
                    method = line.split('method="', 1)[1].split('"', 1)[0]
                    totals[method] = totals.get(method, 0.0) + float(line.rsplit(" ", 1)[1])
    return totals


def _states(config: Config) -> dict[str, int]:
    return {row[0]: row[1] for row in harness.read_store(config, "SELECT state, COUNT(*) FROM documents GROUP BY state")}


def _pending(config: Config) -> int:
    return harness.read_store(config, "SELECT COUNT(*) FROM postings WHERE state IN ('queued', 'sent', 'unknown')")[0][0]


async def _drain(case: Case, run_dir: Path, server: PostgresServer, documents: int, timeout_s: float) -> DrainRun:
    _force_three_way()
    ports = [free_port() for _ in range(case.workers)]
    store_url = store_url_for(case, server)
    async with trio.open_nursery() as nursery:
        started = time.perf_counter()
        h = await harness.start(
            nursery,
            load_config(REPO / "mlc.toml"),
            run_dir,
            reports=documents // 2,
            invoices=documents // 2,
            worker_port=ports[0],
            concur_port=0,
            latency=LATENCY,
            clock_scale=1.0,
            start_worker=False,
            store_url=store_url,
        )
        cluster = await start_workers(nursery, case, h.config, ports, store_url)
        balancer = Balancer(cluster.urls)
        url = await balancer.serve(nursery)
        company = h.config.companies[0]
        expected = harness.approve_everything(h)
        await h.concur.deliver_events(url + "/webhooks/concur", duplicates=0, shuffle=False)
        with trio.fail_after(timeout_s):  # fetched and planned before the clock starts (bench/drain.py)
            while sum((states := _states(cluster.config)).values()) < expected or states.get("received"):
                await trio.sleep(0.1)
        planning_s = time.perf_counter() - started
        load_before = loadavg()
        served_before = len(balancer.served)
        counters = pg_counters(server) if case.postgres else None
        callbacks = await callback_seconds(cluster.urls)
        t0 = time.perf_counter()
        with trio.move_on_after(timeout_s):
            while sum(_states(cluster.config).get(s, 0) for s in harness.FINAL_STATES) < expected or _pending(cluster.config):
                report = await run_session(
                    url + "/qbwc",
                    company.qbwc.username,
                    h.password,
                    h.company_file,
                    FaultKnobs(network_latency_s=NETWORK_S),
                    h.clock,
                    owner_id=company.qbwc.owner_id,
                )
                h.sessions.append(report)
        wall = time.perf_counter() - t0
        callbacks_after = await callback_seconds(cluster.urls)
        txns = harness.quickbooks_transactions(h.company_file)
        guids = Counter(str(t.get("ExternalGUID") or t.get("TxnID")) for _, t in txns)
        aside = harness.settlement_accounts(h.config)
        qb_total = sum((harness.transaction_total(kind, t, h.company_file, aside) for kind, t in txns), Decimal(0))
        run = DrainRun(
            documents=expected,
            wall_s=wall,
            busy_s=sum(s.quickbooks_busy_s for s in h.sessions),
            soap_calls=sum(len(s.soap_calls) for s in h.sessions),
            sessions=len(h.sessions),
            posted=_states(cluster.config).get("posted", 0),
            transactions=len(txns),
            duplicates=sum(n - 1 for n in guids.values()),
            totals_match=h.concur.totals_approved(h.company) == qb_total,
            planning_s=planning_s,
            workers_served=len({backend for backend, _ in balancer.served[served_before:]}),
            load=f"{load_before} -> {loadavg()}",
            conflicts=pg_delta(counters, pg_counters(server))[1] if counters else {},
            worker_s={k: v - callbacks.get(k, 0.0) for k, v in callbacks_after.items()},
        )
        nursery.cancel_scope.cancel()
    return run


def _cpu(run: dict) -> str:
    if "cpu_ms" not in run:
        return "CPU not measured"
    text = f"CPU per event: workers {run['cpu_ms']:.3f} ms, PostgreSQL server {run['pg_cpu_ms']:.3f} ms"
    if "pg_transactions" in run:
        text += f"; {run['pg_transactions'] / run['ok']:.3f} writing transactions per event, conflicts (run again) {run['pg_conflicts'] or 'none'}"
    return text


def _describe_drain(case: Case, run: DrainRun) -> str:
    return (
        f"{case.label}: {run.documents} docs, {run.posted} posted, wall {run.wall_s:.1f}s, QuickBooks busy {run.busy_s:.1f}s "
        f"({run.busy_share:.3f}), {run.soap_calls} SOAP calls in {run.sessions} session(s) answered by {run.workers_served} worker(s), "
        f"QB transactions {run.transactions} (duplicates {run.duplicates}), totals match {run.totals_match}; "
        f"before the clock {run.planning_s:.1f}s; PostgreSQL conflicts (run again) {run.conflicts or 'none'}; load avg {run.load}"
    )


def skipped(reason: str) -> tuple[list[Figure], list[str]]:
    what = "no PostgreSQL server binaries" if "not found" in reason else "PostgreSQL server could not start"
    return [Figure(f"cluster: skipped: {what}", float("nan"), None, "", "", None, reason)], []


def bench(quick: bool, *, count: int | None = None, documents: int | None = None, timeout_s: float = 900.0) -> tuple[list[Figure], list[str]]:
    n = count or (1000 if quick else 5000)
    docs = documents or (120 if quick else 600)
    server = PostgresServer(durable=True)
    tmp = Path(tempfile.mkdtemp(prefix="mlc-bench-cluster-"))
    try:
        try:
            server.start()
        except RuntimeError as exc:
            return skipped(str(exc))
        intake = trio.run(_intake, tmp / "intake", server, n, ROUNDS)
        drains = {case: trio.run(_drain, case, tmp / f"drain{number}", server, docs, timeout_s) for number, case in enumerate(CASES)}
    finally:
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    best = {case: max(intake[case], key=_rate) for case in CASES}
    rate = {case: _rate(best[case]) for case in CASES}
    turns = {case: ", ".join(f"{_rate(r):,.0f}/s (load avg {r['load']})" for r in intake[case]) for case in CASES}
    stored_ok = all(intake[case, "stored"] == ROUNDS * n and all(r["ok"] == n for r in intake[case]) for case in CASES)
    intake_note = {case: f"per turn {turns[case]}; best turn {_cpu(best[case])}" for case in CASES}
    figures = [
        Figure(f"intake: {SQLITE.label}, events/s", rate[SQLITE], None, "/s", "", None, intake_note[SQLITE]),
        Figure(f"intake: {PG1.label}, events/s (baseline 1 x SQLite)", rate[PG1], rate[SQLITE], "/s", "", None, intake_note[PG1]),
        Figure(
            f"intake: {PG3.label}, events/s (baseline 1 x SQLite)",
            rate[PG3],
            rate[SQLITE],
            "/s",
            f">= {INTAKE_TARGET} x 1 x SQLite",
            rate[PG3] >= INTAKE_TARGET * rate[SQLITE],
            intake_note[PG3] + f"; against 1 x PostgreSQL {rate[PG3] / rate[PG1]:.2f}x",
        ),
        Figure(
            "intake: every 200 stored",
            1.0 if stored_ok else 0.0,
            None,
            "",
            "= 1",
            stored_ok,
            "; ".join(
                f"{case.label}: {sum(r['ok'] for r in intake[case])} answered 200, {intake[case, 'stored']} stored, statuses {[r['statuses'] for r in intake[case]]}"
                for case in CASES
            ),
        ),
    ]
    base = drains[SQLITE]
    for case in CASES:
        run = drains[case]
        target = case is PG3
        figures.append(
            Figure(
                f"drain: {case.label}, QuickBooks busy share" + ("" if case is SQLITE else " (baseline 1 x SQLite)"),
                run.busy_share,
                None if case is SQLITE else base.busy_share,
                "",
                f">= {BUSY_TARGET}" if target else "",
                run.busy_share >= BUSY_TARGET if target else None,
                f"{run.documents} docs in {run.wall_s:.1f}s; load avg {run.load}; {run.idle()}",
            )
        )
    correct = all(drains[case].correct for case in CASES)
    figures.append(
        Figure(
            "drain: posted once, totals equal Concur (all cases)",
            1.0 if correct else 0.0,
            None,
            "",
            "= 1",
            correct,
            "; ".join(
                f"{c.label}: {drains[c].posted}/{drains[c].documents} posted, {drains[c].duplicates} duplicates, totals match {drains[c].totals_match}"
                for c in CASES
            ),
        )
    )
    notes = [
        f"intake: {n} distinct signed events per turn, {ROUNDS} turns per case, {CONCURRENCY} connections in all "
        "(three workers: round-robin over their URLs from bench/loadgen.py, no balancer process)",
        *(_describe_drain(case, drains[case]) for case in CASES),
        f"drain: latency model {LATENCY}, network {NETWORK_S * 1000:.0f} ms per SOAP call; Web Connector and webhooks through mlc/balancer.py (round-robin)",
        "PostgreSQL: durable server settings (fsync, synchronous_commit on); a database per case",
    ]
    return figures, notes
