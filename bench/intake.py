"""Webhook intake: signed Concur events per second, each stored durably (SQLite, synchronous
commit) before the 200, with p50/p99 latency, against a bare quart-trio + Hypercorn endpoint that
only answers 200, both driven by the same load generator in its own process; plus p99 at a paced
500 events/s.

The worker runs as a real process (``python -m mlc.cli --config … worker``). The events name a
Concur company this installation does not serve: the worker verifies, parses and stores them exactly
as any other event, but has no fetch to do afterwards, so the figure is intake alone.
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
import uuid
from contextlib import closing
from pathlib import Path

import httpx
import trio

from bench.common import Figure, median, percentile
from mlc import harness
from shared.config import load_config
from sim.concur.server import CompanyParams, ConcurSim

REPO = Path(__file__).resolve().parents[1]
PACED_RATE = 500.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def signed_events(sim: ConcurSim, count: int, path: Path) -> Path:
    other_company = str(uuid.uuid4())
    with path.open("w", encoding="utf-8") as out:
        for index in range(count):
            event_id = str(uuid.uuid4())
            body = json.dumps(
                {
                    "id": event_id,
                    "correlationId": event_id,
                    "route": "stable",
                    "eventType": "statusChanged",
                    "topic": "public.concur.expense.report",
                    "timeStamp": "2026-03-10T12:00:00Z",
                    "facts": {
                        "reportType": "Regular",
                        "companyId": other_company,
                        "reportId": f"{index:020X}",
                        "currentApprovalStatus": "A_APPR",
                        "previousApprovalStatus": "A_PEND",
                        "href": f"https://example.invalid/expensereports/v4/users/x/context/TRAVELER/reports/{index:020X}",
                    },
                },
                separators=(",", ":"),
            )
            out.write(json.dumps({"body": body, "signature": sim.sign(body.encode("utf-8"))}) + "\n")
    return path


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


async def load(url: str, events: Path, mode: str, concurrency: int = 16) -> dict:
    command = [
        sys.executable,
        "-m",
        "bench.loadgen",
        url + "/webhooks/concur",
        str(events),
        "--mode",
        mode,
        "--concurrency",
        str(concurrency),
        "--rate",
        str(PACED_RATE),
    ]
    done = await trio.run_process(command, capture_stdout=True, cwd=str(REPO))
    return json.loads(done.stdout.decode().strip().splitlines()[-1])


async def serve_process(command: list[str], url: str, nursery: trio.Nursery, env: dict | None = None) -> trio.Process:
    process = await nursery.start(
        lambda task_status: trio.run_process(
            command, cwd=str(REPO), env=env, check=False, task_status=task_status, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
    )
    await wait_healthy(url)
    return process


async def _run(run_dir: Path, count: int) -> dict:
    config = load_config(REPO / "mlc.toml")
    company = config.companies[0]
    sim = ConcurSim(
        7,
        [
            CompanyParams(
                id=company.id,
                uuid=company.concur.company_uuid,
                client_id=company.concur.client_id,
                client_secret=company.concur.client_secret.reveal(),
                request_token="demo-request-token",
                reports=0,
                invoices=0,
            )
        ],
    )
    results: dict = {}
    async with trio.open_nursery() as nursery:
        concur_url = await sim.serve(nursery, "127.0.0.1", 0)
        sim.write_public_key(run_dir / "concur-webhook.pem")
        port = free_port()
        run_config = harness.write_run_config(config, run_dir, concur_url, port)
        max_events = signed_events(sim, count, run_dir / "max.jsonl")
        paced_events = signed_events(sim, count, run_dir / "paced.jsonl")
        bare_events = signed_events(sim, count, run_dir / "bare.jsonl")

        bare_port = free_port()
        bare_url = f"http://127.0.0.1:{bare_port}"
        bare = await serve_process([sys.executable, "-m", "bench.bare_server", str(bare_port)], bare_url, nursery)
        results["bare"] = await load(bare_url, bare_events, "max")
        bare.kill()

        worker_url = f"http://127.0.0.1:{port}"
        env = dict(os.environ)
        worker = await serve_process([sys.executable, "-m", "mlc.cli", "--config", str(run_config.path), "worker"], worker_url, nursery, env)
        results["worker"] = await load(worker_url, max_events, "max")
        results["paced"] = await load(worker_url, paced_events, "paced")
        worker.kill()
        await worker.wait()
        nursery.cancel_scope.cancel()
    with closing(sqlite3.connect(run_dir / "mlc.sqlite3")) as conn:  # sqlite3's own "with" commits, never closes
        results["stored"] = conn.execute("SELECT COUNT(*) FROM events").fetchone()[0]
    return results


def bench(quick: bool, *, count: int | None = None) -> tuple[list, list[str]]:
    n = count or (1000 if quick else 5000)
    tmp = Path(tempfile.mkdtemp(prefix="mlc-bench-intake-"))
    try:
        r = trio.run(_run, tmp, n)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    bare, worker, paced = r["bare"], r["worker"], r["paced"]
    bare_rate = bare["ok"] / bare["elapsed_s"]
    rate = worker["ok"] / worker["elapsed_s"]
    paced_rate = paced["sent"] / paced["elapsed_s"]
    p99_paced = percentile(paced["latencies_ms"], 99)
    all_ok = worker["ok"] == n and paced["ok"] == n and r["stored"] == 2 * n
    figures = [
        Figure("intake: events/s (16 concurrent)", rate, bare_rate, "/s", ">= 0.6 x bare", rate >= 0.6 * bare_rate),
        Figure("intake: p50 latency (16 concurrent)", median(worker["latencies_ms"]), median(bare["latencies_ms"]), "ms", "", None),
        Figure("intake: p99 latency (16 concurrent)", percentile(worker["latencies_ms"], 99), percentile(bare["latencies_ms"], 99), "ms", "", None),
        Figure(
            f"intake: p99 latency at {PACED_RATE:.0f} events/s",
            p99_paced,
            percentile(bare["latencies_ms"], 99),
            "ms",
            "< 50 ms",
            p99_paced < 50,
            f"achieved {paced_rate:.0f} events/s; p50 {median(paced['latencies_ms']):.1f} ms",
        ),
        Figure(
            "intake: every 200 stored",
            1.0 if all_ok else 0.0,
            None,
            "",
            "= 1",
            all_ok,
            f"{worker['ok'] + paced['ok']} answered 200, {r['stored']} rows in events; statuses {worker['statuses']} / {paced['statuses']}",
        ),
    ]
    notes = [
        f"{n} distinct signed events per run; load generator: bench/loadgen.py (raw keep-alive HTTP/1.1 on trio, its own process); "
        f"bare statuses {bare['statuses']}"
    ]
    return figures, notes
