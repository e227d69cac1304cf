"""Webhook intake: signed Concur events per second, each stored durably (SQLite, synchronous
commit) before the 200, with p50/p99 latency, against a bare quart-trio + Hypercorn endpoint that
only answers 200, both driven by the same load generator in its own process; p99 at a paced
500 events/s, alone and while a Web Connector drain runs in the same worker.

The worker runs as a real process (``python -m mlc.cli --config … worker``). The events are for the
company the worker serves, on a Concur topic it keeps but has no work for (Concur Request status
changes, ``public.concur.request``): the worker verifies, parses and stores them durably exactly as
an expense-report approval, but has no fetch to do afterwards, so the figure is intake alone.
(Events of a company not served here are counted and not stored: they would measure another path.)

The machine these run on is shared, so the bare endpoint and the worker take turns (``ROUNDS``
rounds each, the best of each compared) and each server's CPU seconds per event are read from
``/proc`` (the worker's event-loop thread apart from its other threads): CPU per event moves far less
with the load of other processes than events per second do.

"While a drain runs": a second worker process, with the whole simulated world around it (Concur
with approved reports and invoices delivered as webhooks, fetched and planned first; the Web
Connector and the QuickBooks simulator with the drain benchmark's latency model in this process),
gets the same paced 500 events/s while Web Connector sessions drain its queue.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import closing
from pathlib import Path

import httpx
import trio

from bench.common import Figure, median, percentile
from mlc import harness
from shared.config import CompanyConfig, load_config
from sim.concur.server import CompanyParams, ConcurSim
from sim.webconnector.client import run_session
from sim.webconnector.knobs import FaultKnobs

REPO = Path(__file__).resolve().parents[1]
PACED_RATE = 500.0
ROUNDS = 2  # bare and worker take turns this many times; the best run of each is compared
IGNORED_TOPIC = "public.concur.request"  # kept, never fetched: see the module docstring
RATIO_TARGET = 0.8
P99_TARGET_MS = 50.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def signed_events(sim: ConcurSim, company_uuid: str, count: int, path: Path) -> Path:
    with path.open("w", encoding="utf-8") as out:
        for index in range(count):
            event_id = str(uuid.uuid4())
            body = json.dumps(
                {
                    "id": event_id,
                    "correlationId": event_id,
                    "route": "stable",
                    "eventType": "statusChanged",
                    "topic": IGNORED_TOPIC,
                    "timeStamp": "2026-03-10T12:00:00Z",
                    "facts": {
                        "companyId": company_uuid,
                        "requestId": f"{index:020X}",
                        "currentApprovalStatus": "A_APPR",
                        "previousApprovalStatus": "A_PEND",
                        "href": f"https://example.invalid/travelrequest/v4/requests/{index:020X}",
                    },
                },
                separators=(",", ":"),
            )
            out.write(json.dumps({"body": body, "signature": sim.sign(body.encode("utf-8"))}) + "\n")
    return path


def empty_concur(company: CompanyConfig) -> ConcurSim:
    """A Concur simulator that knows ``company`` and has no documents: it signs the events."""
    params = CompanyParams(
        id=company.id,
        uuid=company.concur.company_uuid,
        client_id=company.concur.client_id,
        client_secret=company.concur.client_secret.reveal(),
        request_token="demo-request-token",
        reports=0,
        invoices=0,
    )
    return ConcurSim(7, [params])


def cpu_seconds(pid: int) -> tuple[float, float] | None:
    """(whole process, its main thread) CPU seconds from /proc; None off Linux."""

    def ticks(path: str) -> float:
        with open(path, encoding="ascii") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    try:
        return ticks(f"/proc/{pid}/stat"), ticks(f"/proc/{pid}/task/{pid}/stat")
    except (OSError, ValueError, IndexError):
        return None


async def wait_healthy(url: str, timeout_s: float = 30.0) -> None:
    with trio.fail_after(timeout_s):
        async with httpx.AsyncClient() as http:
            while True:
                try:
                    if (await http.get(url + "/healthz")).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                await trio.sleep(0.1)


async def load(url: str, events: Path, mode: str, concurrency: int = 16, pid: int | None = None) -> dict:
    """One load generator run (``url``: a worker, or several separated by commas, round-robin);
    with ``pid``, the server's CPU seconds per answered event too."""
    command = [
        sys.executable,
        "-m",
        "bench.loadgen",
        ",".join(base + "/webhooks/concur" for base in url.split(",")),
        str(events),
        "--mode",
        mode,
        "--concurrency",
        str(concurrency),
        "--rate",
        str(PACED_RATE),
    ]
    before = cpu_seconds(pid) if pid else None
    done = await trio.run_process(command, capture_stdout=True, cwd=str(REPO))
    after = cpu_seconds(pid) if pid else None
    result = json.loads(done.stdout.decode().strip().splitlines()[-1])
    if before and after and result["ok"]:
        result["cpu_ms"] = (after[0] - before[0]) * 1000 / result["ok"]
        result["main_cpu_ms"] = (after[1] - before[1]) * 1000 / result["ok"]
    return result


async def serve_process(command: list[str], url: str, nursery: trio.Nursery, env: dict | None = None) -> trio.Process:
    process = await nursery.start(
        lambda task_status: trio.run_process(
            command, cwd=str(REPO), env=env, check=False, task_status=task_status, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
    )
    await wait_healthy(url)
    return process


def worker_command(config_path: Path) -> list[str]:
    return [sys.executable, "-m", "mlc.cli", "--config", str(config_path), "worker"]


def stored_events(db: Path) -> int:
    with closing(sqlite3.connect(db)) as conn:  # sqlite3's own "with" commits, never closes
        return conn.execute("SELECT COUNT(*) FROM events WHERE topic = ?", (IGNORED_TOPIC,)).fetchone()[0]


async def _intake(run_dir: Path, count: int) -> dict:
    """Bare endpoint and worker, taking turns at full speed, then each paced at 500/s."""
    config = load_config(REPO / "mlc.toml")
    company = config.companies[0]
    sim = empty_concur(company)
    results: dict = {"bare": [], "worker": []}
    run_dir.mkdir(parents=True, exist_ok=True)
    async with trio.open_nursery() as nursery:
        concur_url = await sim.serve(nursery, "127.0.0.1", 0)
        sim.write_public_key(run_dir / "concur-webhook.pem")
        port = free_port()
        run_config = harness.write_run_config(config, run_dir, concur_url, port)
        uuid_ = company.concur.company_uuid
        runs = [signed_events(sim, uuid_, count, run_dir / f"max{i}.jsonl") for i in range(ROUNDS)]
        paced_events = signed_events(sim, uuid_, count, run_dir / "paced.jsonl")

        bare_port = free_port()
        bare_url = f"http://127.0.0.1:{bare_port}"
        bare = await serve_process([sys.executable, "-m", "bench.bare_server", str(bare_port)], bare_url, nursery)
        worker_url = f"http://127.0.0.1:{port}"
        worker = await serve_process(worker_command(run_config.path), worker_url, nursery, dict(os.environ))
        for events in runs:  # the bare endpoint does not store: it can take the same events
            results["bare"].append(await load(bare_url, events, "max", pid=bare.pid))
            results["worker"].append(await load(worker_url, events, "max", pid=worker.pid))
        results["bare_paced"] = await load(bare_url, paced_events, "paced", pid=bare.pid)
        results["paced"] = await load(worker_url, paced_events, "paced", pid=worker.pid)
        bare.kill()
        worker.kill()
        await worker.wait()
        nursery.cancel_scope.cancel()
    results["stored"] = stored_events(run_dir / "mlc.sqlite3")
    return results


def _planned(db: Path) -> tuple[int, int]:
    """(documents, of which the planner still has to look at) in the worker's store; documents
    waiting for a vendor the drain creates are as planned as they can be before it."""
    with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        total = conn.execute("SELECT COUNT(*) FROM documents").fetchone()[0]
        waiting = conn.execute("SELECT COUNT(*) FROM documents WHERE state = 'received' OR (state = 'fetched' AND wait = 'none')").fetchone()[0]
    return total, waiting


def _posted(db: Path) -> int:
    with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        return conn.execute("SELECT COUNT(*) FROM documents WHERE state IN ('posted', 'held', 'failed', 'skipped')").fetchone()[0]


async def _during_drain(run_dir: Path, count: int, documents: int, timeout_s: float = 900.0) -> dict:
    """Paced intake into a worker whose queue the Web Connector drains at the same time."""
    from bench.drain import LATENCY, NETWORK_S, _force_three_way

    _force_three_way()
    config = load_config(REPO / "mlc.toml")
    port = free_port()
    result: dict = {}
    async with trio.open_nursery() as nursery:
        h = await harness.start(
            nursery,
            config,
            run_dir,
            reports=documents // 2,
            invoices=documents // 2,
            worker_port=port,
            concur_port=0,
            latency=LATENCY,
            clock_scale=1.0,
            start_worker=False,
        )
        company = h.config.companies[0]
        events = signed_events(h.concur, company.concur.company_uuid, count, run_dir / "paced-drain.jsonl")
        url = f"http://127.0.0.1:{port}"
        worker = await serve_process(worker_command(h.config.path), url, nursery, dict(os.environ))
        db = run_dir / "mlc.sqlite3"

        async def session() -> int:
            report = await run_session(
                url + "/qbwc",
                company.qbwc.username,
                h.password,
                h.company_file,
                FaultKnobs(network_latency_s=NETWORK_S),
                h.clock,
                owner_id=company.qbwc.owner_id,
            )
            return report.qbxml_requests

        # An installation in service knows QuickBooks' lists from its last session, so it plans as
        # documents arrive; the first session of this fresh one reads them before anything is approved.
        await session()
        expected = harness.approve_everything(h)
        await h.concur.deliver_events(url + "/webhooks/concur")
        with trio.fail_after(timeout_s):  # fetched and planned before the drain starts
            while (planned := _planned(db))[0] < expected or planned[1]:
                await trio.sleep(0.2)

        drain = {"started": 0.0, "ended": 0.0, "sessions": 0, "sets": 0}

        async def drain_queue() -> None:
            drain["started"] = time.perf_counter()
            with trio.move_on_after(timeout_s):
                while _posted(db) < expected:
                    drain["sets"] += await session()
                    drain["sessions"] += 1
            drain["ended"] = time.perf_counter()

        async with trio.open_nursery() as inner:
            inner.start_soon(drain_queue)
            await trio.sleep(1.0)  # the first message set is in QuickBooks' hands
            began = time.perf_counter()
            result["paced"] = await load(url, events, "paced", pid=worker.pid)
            ended = time.perf_counter()
        result["overlap"] = max(0.0, min(ended, drain["ended"]) - max(began, drain["started"])) / (ended - began)
        result["drain"] = drain | {"documents": expected, "posted": _posted(db), "wall_s": drain["ended"] - drain["started"]}
        worker.kill()
        await worker.wait()
        nursery.cancel_scope.cancel()
    result["stored"] = stored_events(run_dir / "mlc.sqlite3")
    return result


def _rate(run: dict) -> float:
    return run["ok"] / run["elapsed_s"]


def _cpu(run: dict) -> str:
    if "cpu_ms" not in run:
        return "CPU per event not measured (no /proc)"
    return f"{run['cpu_ms']:.3f} ms CPU per event ({run['main_cpu_ms']:.3f} ms on the event-loop thread)"


def bench(quick: bool, *, count: int | None = None, drain_documents: int | None = None) -> tuple[list, list[str]]:
    n = count or (1000 if quick else 5000)
    docs = drain_documents or (200 if quick else 400)
    tmp = Path(tempfile.mkdtemp(prefix="mlc-bench-intake-"))
    try:
        r = trio.run(_intake, tmp / "intake", n)
        d = trio.run(_during_drain, tmp / "drain", n, docs)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    bare = max(r["bare"], key=_rate)
    worker = max(r["worker"], key=_rate)
    paced, bare_paced, drain_paced = r["paced"], r["bare_paced"], d["paced"]
    bare_rate, rate = _rate(bare), _rate(worker)
    p99_paced = percentile(paced["latencies_ms"], 99)
    p99_drain = percentile(drain_paced["latencies_ms"], 99)
    all_ok = all(w["ok"] == n for w in r["worker"]) and paced["ok"] == n and r["stored"] == (ROUNDS + 1) * n
    drain_ok = drain_paced["ok"] == n and d["stored"] == n and d["drain"]["posted"] == d["drain"]["documents"]
    rounds = "; ".join(f"{_rate(b):,.0f} / {_rate(w):,.0f}" for b, w in zip(r["bare"], r["worker"], strict=True))
    figures = [
        Figure(
            "intake: events/s (16 concurrent)",
            rate,
            bare_rate,
            "/s",
            f">= {RATIO_TARGET} x bare",
            rate >= RATIO_TARGET * bare_rate,
            f"best of {ROUNDS} turns each (bare / worker per turn: {rounds}); worker {_cpu(worker)}; bare {_cpu(bare)}",
        ),
        Figure("intake: p50 latency (16 concurrent)", median(worker["latencies_ms"]), median(bare["latencies_ms"]), "ms", "", None),
        Figure("intake: p99 latency (16 concurrent)", percentile(worker["latencies_ms"], 99), percentile(bare["latencies_ms"], 99), "ms", "", None),
        Figure(
            f"intake: p99 latency at {PACED_RATE:.0f} events/s",
            p99_paced,
            percentile(bare_paced["latencies_ms"], 99),
            "ms",
            f"< {P99_TARGET_MS:.0f} ms",
            p99_paced < P99_TARGET_MS,
            f"achieved {paced['sent'] / paced['elapsed_s']:.0f} events/s; p50 {median(paced['latencies_ms']):.1f} ms "
            f"(bare {median(bare_paced['latencies_ms']):.1f} ms); worker {_cpu(paced)}",
        ),
        Figure(
            f"intake: p99 at {PACED_RATE:.0f} events/s during a drain",
            p99_drain,
            p99_paced,
            "ms",
            f"< {P99_TARGET_MS:.0f} ms",
            p99_drain < P99_TARGET_MS and d["overlap"] > 0.95,
            f"baseline: the same paced load with no drain (above); p50 {median(drain_paced['latencies_ms']):.1f} ms; "
            f"the drain ({d['drain']['documents']} documents, {d['drain']['sets']} message sets, {d['drain']['sessions']} session(s), "
            f"{d['drain']['wall_s']:.1f} s) ran during {d['overlap']:.0%} of the paced load; worker {_cpu(drain_paced)}",
        ),
        Figure(
            "intake: every 200 stored",
            1.0 if all_ok and drain_ok else 0.0,
            None,
            "",
            "= 1",
            all_ok and drain_ok,
            f"{sum(w['ok'] for w in r['worker']) + paced['ok']} answered 200, {r['stored']} rows in events; during the drain "
            f"{drain_paced['ok']} answered 200, {d['stored']} stored, {d['drain']['posted']}/{d['drain']['documents']} documents posted; "
            f"statuses {[w['statuses'] for w in r['worker']]} / {paced['statuses']} / {drain_paced['statuses']}",
        ),
    ]
    notes = [
        f"{n} distinct signed events per run; load generator: bench/loadgen.py (raw keep-alive HTTP/1.1 on trio, its own process); "
        f"bare statuses {[b['statuses'] for b in r['bare']]} / {bare_paced['statuses']}"
    ]
    return figures, notes
