"""A seeded worker in its own process, for console tests (the console is asyncio, the worker trio).

    python -m tests.helpers.serve_seeded DIR [PORT [BULK [hostile]]]

writes ``DIR/mlc.toml`` and ``DIR/operator.token``, seeds the store (tests.helpers.seed, plus BULK plain documents, plus one document full of markup with ``hostile``), serves
on PORT (default: a free loopback port) and prints ``URL <url>`` on stdout. It stops when stdin closes (the test
ended) or on SIGINT/SIGTERM.
"""

from __future__ import annotations

import sys
from pathlib import Path

import trio

from tests.helpers.config import test_config
from tests.helpers.seed import seed, seed_bulk, seed_hostile
from worker.main import serve_worker, watch_signals
from worker.store.db import open_store


async def main(directory: Path, port: int = 0, bulk: int = 0, hostile: bool = False) -> None:
    config = test_config(directory)
    store = open_store(config)
    try:
        if store.run_sync(lambda conn: conn.execute("SELECT COUNT(*) FROM documents").fetchone()[0]) == 0:
            store.run_sync(seed)
            if bulk:
                store.run_sync(seed_bulk, bulk)
            if hostile:
                store.run_sync(seed_hostile)
    finally:
        store.close()
    shutdown = trio.Event()

    async def stdin_closed() -> None:
        await trio.to_thread.run_sync(sys.stdin.read, abandon_on_cancel=True)
        shutdown.set()

    async with trio.open_nursery() as nursery:

        async def run_worker(*, task_status: trio.TaskStatus = trio.TASK_STATUS_IGNORED) -> None:
            await serve_worker(config, shutdown, port=port, background=False, stderr_log=False, task_status=task_status)
            nursery.cancel_scope.cancel()  # stopped: end the signal and stdin watchers too

        nursery.start_soon(watch_signals, shutdown)
        nursery.start_soon(stdin_closed)
        running = await nursery.start(run_worker)
        print(f"URL {running.url}", flush=True)


if __name__ == "__main__":
    args = sys.argv[1:]
    trio.run(main, Path(args[0]), int(args[1]) if len(args) > 1 else 0, int(args[2]) if len(args) > 2 else 0, args[3:4] == ["hostile"])
