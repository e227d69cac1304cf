"""Scale: 100,000 documents in the store (inserted with executemany in the real schema), against the
same worker on an empty store in the same run:

* worker RSS (``/proc/<pid>/status`` VmRSS; skipped off Linux) after serving pages and the console;
* ``GET /api/v1/documents?limit=50`` p99: newest first, following ``next_cursor`` 20 pages deep,
  and with filters (state, company, a search);
* console first paint: the Textual console (``App.run_test()``, headless) against the worker, from
  start until the first frame that shows queue rows is rendered.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from bench.common import Figure, percentile, rss_mb_of
from mlc import harness
from shared.config import load_config
from shared.tokens import read_tokens
from sim.concur.server import CompanyParams, ConcurSim

REPO = Path(__file__).resolve().parents[1]
SMALL = 100  # the baseline store
STATES = ["posted"] * 14 + ["held", "failed", "skipped", "queued", "held", "posted"]
CONTENT = json.dumps(
    {
        "kind": "expense_report",
        "expenses": [
            {
                "expense_type": "AIRFR",
                "amount": "412.50",
                "merchant": "Air Canada",
                "allocations": [{"percentage": "33.33", "fields": {"custom1": "CC-100"}}] * 3,
            }
        ]
        * 3,
    }
)
PLAN = json.dumps(
    {"outcome": "plan", "total": "412.50", "transactions": [{"type": "JournalEntryAdd", "lines": [{"account": "Travel:Airfare", "amount": "137.50"}] * 4}]}
)


def seed(db: Path, count: int) -> None:
    base = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    conn = sqlite3.connect(db)
    try:
        rows = []
        for i in range(count):
            stamp = (base + dt.timedelta(seconds=i * 13 // 7)).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
            kind = "expense_report" if i % 3 else "invoice"
            state = STATES[i % len(STATES)]
            rows.append(
                (
                    "demo",
                    kind,
                    f"SCALE-{i:07d}",
                    state,
                    "no account mapped for expense type XYZ" if state == "held" else "",
                    f"{i % 5000}.{i % 100:02d}",
                    "USD",
                    f"Employee {i % 700}",
                    f"Vendor {i % 90}" if kind == "invoice" else "",
                    "A_APPR",
                    stamp,
                    CONTENT,
                    f"{i:064x}",
                    PLAN,
                    f"TXN-{i}" if state == "posted" else None,
                    stamp,
                    stamp,
                )
            )
        with conn:
            conn.executemany(
                "INSERT INTO documents (company, kind, concur_id, state, reason, amount, currency, employee, vendor, approval_status,"
                " concur_modified_at, content, content_hash, plan, quickbooks_txn_id, created_at, updated_at)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                rows,
            )
    finally:
        conn.close()


def _wait_healthy(url: str, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/healthz", timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"worker at {url} did not come up")


def page_latencies(url: str, token: str, rounds: int) -> tuple[list[float], list[float], int, dict[str, float]]:
    times: list[float] = []
    searches: list[float] = []  # q= (substring search), reported apart from paging and filters
    slowest: dict[str, float] = {}  # request kind -> slowest time
    seen = 0
    with httpx.Client(base_url=url + "/api/v1", headers={"Authorization": f"Bearer {token}"}, timeout=30) as http:

        def get(params: dict) -> dict:
            began = time.perf_counter()
            response = http.get("/documents", params=params)
            took = (time.perf_counter() - began) * 1000
            (searches if "q" in params else times).append(took)
            kind = "&".join(
                "cursor" if k == "cursor" else "q=SCALE-id" if str(v).startswith("SCALE-") else f"{k}={v}" for k, v in sorted(params.items()) if k != "limit"
            )
            slowest[kind] = max(slowest.get(kind, 0.0), took)
            response.raise_for_status()
            return response.json()

        for round_ in range(rounds):
            cursor = None
            for _ in range(20):  # newest first, 20 pages deep with the cursor
                page = get({"limit": "50", **({"cursor": cursor} if cursor else {})})
                seen += len(page["items"])
                cursor = page.get("next_cursor")
                if not cursor:
                    break
            for params in (
                {"state": "held"},
                {"state": "failed"},
                {"company": "demo", "state": "posted"},
                {"q": f"SCALE-{round_ * 37:07d}"},
                {"q": "Employee 42"},
                {"state": "duplicates"},
            ):
                page = get({"limit": "50", **params})
                if page.get("next_cursor"):
                    get({"limit": "50", **params, "cursor": page["next_cursor"]})
    return times, searches, seen, slowest


async def console_paint(url: str, token: str) -> float:
    """Seconds from creating the console until a frame showing queue rows was rendered.

    The key "2" is sent as a terminal would send it; ``Pilot.press`` would also wait for every
    animation to finish (the tabs' underline slides for ~0.3 s), which is not part of the paint."""
    from textual import events

    from console.app import ConsoleApp
    from console.client import ApiClient
    from console.screens.queue import QueueScreen

    began = time.perf_counter()
    app = ConsoleApp(ApiClient(url, token), label="bench")
    painted: list[float] = []
    display = app._display

    def recording_display(screen, renderable) -> None:
        display(screen, renderable)
        if renderable is not None and not painted and isinstance(screen, QueueScreen) and screen.table.row_count > 0:
            painted.append(time.perf_counter() - began)

    app._display = recording_display  # type: ignore[method-assign]
    async with app.run_test(size=(140, 45)) as pilot:
        key = events.Key("2", "2")
        key.set_sender(app)
        app._driver.send_message(key)  # type: ignore[union-attr]
        deadline = time.monotonic() + 30
        while not painted:
            if time.monotonic() > deadline:
                raise RuntimeError("the console's queue never showed rows")
            await asyncio.sleep(0.005)
        await pilot.pause()
    return painted[0]


def measure(run_dir: Path, count: int, rounds: int) -> dict:
    config = load_config(REPO / "mlc.toml")
    company = config.companies[0]
    sim = ConcurSim(
        7,
        [
            CompanyParams(
                id=company.id, uuid=company.concur.company_uuid, client_id=company.concur.client_id, client_secret="x", request_token="x", reports=0, invoices=0
            )
        ],
    )
    sim.write_public_key(run_dir / "concur-webhook.pem")
    from bench.intake import free_port

    port = free_port()
    # Concur unreachable on purpose (port 9, discard): the worker's background jobs stay idle.
    run_config = harness.write_run_config(config, run_dir, "http://127.0.0.1:9", port)
    from worker.store.db import Store

    Store.in_dir(run_dir).close()  # the real schema, migrations applied
    seeded = time.perf_counter()
    if count:
        seed(run_dir / "mlc.sqlite3", count)
    seed_s = time.perf_counter() - seeded
    url = f"http://127.0.0.1:{port}"
    worker = subprocess.Popen(
        [sys.executable, "-m", "mlc.cli", "--config", str(run_config.path), "worker"], cwd=str(REPO), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        _wait_healthy(url)
        token = read_tokens(run_dir / "operator.token")[0].token
        rss_start = rss_mb_of(worker.pid)
        times, searches, seen, slowest = page_latencies(url, token, rounds)
        try:
            paint = asyncio.run(console_paint(url, token))
            paint_error = ""
        except Exception as exc:  # the console is measured if it works; the report says why not
            paint, paint_error = float("nan"), f"{type(exc).__name__}: {exc}"
        rss_end = rss_mb_of(worker.pid)
    finally:
        worker.terminate()
        try:
            worker.wait(15)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
    return {
        "times": times,
        "searches": searches,
        "seen": seen,
        "slowest": slowest,
        "paint": paint,
        "paint_error": paint_error,
        "rss_start": rss_start,
        "rss_end": rss_end,
        "seed_s": seed_s,
        "db_mb": (run_dir / "mlc.sqlite3").stat().st_size / 1e6,
    }


def bench(quick: bool, *, count: int = 100_000) -> tuple[list[Figure], list[str]]:
    rounds = 3 if quick else 10
    tmp = Path(tempfile.mkdtemp(prefix="mlc-bench-scale-"))
    try:
        (tmp / "small").mkdir()
        (tmp / "big").mkdir()
        empty = measure(tmp / "small", SMALL, rounds)
        big = measure(tmp / "big", count, rounds)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    p99, p99_empty = percentile(big["times"], 99), percentile(empty["times"], 99)
    rss = big["rss_end"]
    figures = [
        Figure(
            "scale: worker RSS (MB)",
            rss,
            empty["rss_end"],
            "MB",
            "< 300 MB",
            None if rss is None else rss < 300,
            "" if rss is not None else "not measured (no /proc on this platform)",
        ),
        Figure(
            "scale: documents page p99 (limit=50, cursors, state/company filters)",
            p99,
            p99_empty,
            "ms",
            "< 50 ms",
            p99 < 50,
            f"{len(big['times'])} requests; p50 {percentile(big['times'], 50):.1f} ms, max {max(big['times']):.1f} ms; slowest by kind: "
            + ", ".join(f"{k or 'newest'} {v:.0f} ms" for k, v in sorted(big["slowest"].items(), key=lambda kv: -kv[1])[:4]),
        ),
        Figure(
            "scale: search page p99 (q=, limit=50)",
            percentile(big["searches"], 99),
            percentile(empty["searches"], 99),
            "ms",
            "< 50 ms",
            percentile(big["searches"], 99) < 50,
            f"{len(big['searches'])} searches, p50 {percentile(big['searches'], 50):.1f} ms; q= is a substring match (LIKE '%q%' on "
            "concur_id, employee, vendor) found through the narrow documents_search index, so a search matching few documents "
            "scans that index, not the wide rows",
        ),
        Figure(
            "scale: console first paint (queue rows)",
            big["paint"],
            empty["paint"],
            "s",
            "< 0.5 s",
            None if big["paint_error"] else big["paint"] < 0.5,
            big["paint_error"] or empty["paint_error"],
        ),
    ]
    notes = [
        f"{count:,} documents seeded in {big['seed_s']:.1f}s (database {big['db_mb']:.0f} MB); baseline: the same worker and console "
        f"on a store of {SMALL} documents; worker RSS at start {big['rss_start'] or 0:.0f} MB, after the pages and the console {big['rss_end'] or 0:.0f} MB"
    ]
    return figures, notes
