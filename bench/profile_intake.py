"""Where one webhook's time goes: the worker in this process under a profiler, the load generator
in its own process (``python -m bench.profile_intake [--events N] [--cprofile]``).

Prints pyinstrument's tree of the event loop thread (request handling, signature, parsing, the
store hand-off, logging, metrics) and, beside it, the writer thread's seconds in SQLite, which a
sampling profiler of the main thread does not see. Needs ``pip install pyinstrument`` (not a
dependency of the product); ``--cprofile`` uses the standard library's profiler instead.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import trio

from bench.intake import PACED_RATE, REPO, empty_concur, load, signed_events
from mlc import harness
from shared.config import load_config
from worker.main import SWITCH_INTERVAL_S, serve_worker
from worker.store import db


def _timed_transactions() -> list[float]:
    """Wrap Store._transaction to add up the writer thread's seconds (fsync included)."""
    spent: list[float] = []
    original = db.Store._transaction

    def timed(self, fn, args, durable):
        began = time.perf_counter()
        try:
            return original(self, fn, args, durable)
        finally:
            spent.append(time.perf_counter() - began)

    db.Store._transaction = timed  # type: ignore[method-assign]
    return spent


async def _serve_bare(nursery: trio.Nursery) -> str:
    """The benchmark's baseline app (bench/bare_server.py) in this process, for the same profile."""
    from hypercorn.config import Config as HyperConfig
    from hypercorn.trio import serve

    from bench.bare_server import app

    hc = HyperConfig()
    hc.bind = ["127.0.0.1:0"]
    hc.accesslog = None
    hc.keep_alive_timeout = 75
    binds = await nursery.start(lambda task_status: serve(app, hc, task_status=task_status))
    return binds[0]


async def _run(run_dir: Path, count: int, mode: str, profiler, bare: bool = False) -> dict:
    config = load_config(REPO / "mlc.toml")
    company = config.companies[0]
    sim = empty_concur(company)
    async with trio.open_nursery() as nursery:
        concur_url = await sim.serve(nursery, "127.0.0.1", 0)
        sim.write_public_key(run_dir / "concur-webhook.pem")
        run_config = harness.write_run_config(config, run_dir, concur_url, 0)
        events = signed_events(sim, company.concur.company_uuid, count, run_dir / "events.jsonl")
        shutdown = trio.Event()
        if bare:
            url = await _serve_bare(nursery)
        else:
            worker = await nursery.start(lambda task_status: serve_worker(run_config, shutdown, port=0, stderr_log=False, task_status=task_status))
            url = worker.url
        spent = _timed_transactions()
        profiler.enable() if isinstance(profiler, cProfile.Profile) else profiler.start()
        began = time.perf_counter()
        result = await load(url, events, mode)
        elapsed = time.perf_counter() - began
        profiler.disable() if isinstance(profiler, cProfile.Profile) else profiler.stop()
        if not bare:
            shutdown.set()
            await worker.stopped.wait()
        nursery.cancel_scope.cancel()
    result["store_s"] = sum(spent)
    result["transactions"] = len(spent)
    result["wall_s"] = elapsed
    return result


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.profile_intake", description=__doc__)
    parser.add_argument("--events", type=int, default=3000)
    parser.add_argument("--mode", choices=["max", "paced"], default="max")
    parser.add_argument("--cprofile", action="store_true")
    parser.add_argument("--bare", action="store_true", help="profile the bare quart-trio endpoint (the baseline) instead")
    parser.add_argument("--show-all", action="store_true", help="pyinstrument: show library frames too")
    args = parser.parse_args()
    profiler: Any
    if args.cprofile:
        profiler = cProfile.Profile()
    else:
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.0005, async_mode="disabled")
    sys.setswitchinterval(SWITCH_INTERVAL_S)  # as the worker process has it (worker.main.run_forever)
    run_dir = Path(tempfile.mkdtemp(prefix="mlc-profile-intake-"))
    try:
        r = trio.run(_run, run_dir, args.events, args.mode, profiler, args.bare)
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)
    ok = r["ok"]
    print(
        f"{ok} of {args.events} events answered 200 in {r['elapsed_s']:.2f}s ({ok / r['elapsed_s']:.0f}/s, mode {args.mode}"
        f"{f' at {PACED_RATE:.0f}/s' if args.mode == 'paced' else ', 16 concurrent'}); writer thread: {r['transactions']} transactions, "
        f"{r['store_s']:.2f}s ({r['store_s'] / max(ok, 1) * 1000:.3f} ms an event)"
    )
    if args.cprofile:
        pstats.Stats(profiler).sort_stats("tottime").print_stats(40)
    else:
        print(profiler.output_text(unicode=False, color=False, show_all=args.show_all))


if __name__ == "__main__":
    main()
