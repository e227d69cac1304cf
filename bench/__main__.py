"""``python -m bench [drain|intake|scale|cpu|fetch|cluster ...] [--quick]``: run benchmarks and print their tables.

Exit status 0 even when a target is missed: these are measurements, not tests; the table says
PASS/FAIL per figure and the notes say what limits a missed one."""

from __future__ import annotations

import argparse
import importlib
import json
import platform
import sys
import time

from bench.common import table

BENCHMARKS = {
    "drain": "Drain: reports + invoices through worker, Web Connector and QuickBooks simulators",
    "intake": "Webhook intake: signed Concur events stored durably before the 200",
    "scale": "Scale: 100,000 documents in the store",
    "cpu": "CPU per document: plan + qbXML build + response parse",
    "fetch": "Fetch: approval to ready-to-post with Concur's latency (200 ms a call)",
    "cluster": "Cluster: intake and drain, 1 worker on SQLite / 1 on PostgreSQL / 3 on one PostgreSQL",
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("names", nargs="*", metavar="NAME", help="benchmarks to run (default: all): " + ", ".join(BENCHMARKS))
    parser.add_argument("--quick", action="store_true", help="small sizes (seconds, not minutes)")
    parser.add_argument("--json", metavar="PATH", help="also write the figures as JSON")
    args = parser.parse_args(argv)
    names = args.names or list(BENCHMARKS)
    for name in names:
        if name not in BENCHMARKS:
            parser.error(f"unknown benchmark {name!r}; choose from {', '.join(BENCHMARKS)}")
    print(
        f"# ml-connector benchmarks ({'quick' if args.quick else 'full'}) — Python {platform.python_version()}, "
        f"{platform.system()} {platform.machine()}, {_cpus()} CPU(s)",
        flush=True,
    )
    results = {}
    for name in names:
        started = time.perf_counter()
        module = importlib.import_module(f"bench.{name}")
        figures, notes = module.bench(args.quick)
        print()
        print(table(BENCHMARKS[name], figures))
        for note in notes:
            print(f"  {note}")
        print(f"  ({time.perf_counter() - started:.0f} s)", flush=True)
        results[name] = {"figures": [f.__dict__ | {"ratio": f.ratio} for f in figures], "notes": notes}
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump(results, out, indent=2, default=str)
    return 0


def _cpus() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


if __name__ == "__main__":
    sys.exit(main())
