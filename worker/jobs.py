"""Background jobs of the worker, all in one nursery (filled in by the Concur and posting sides)."""

from __future__ import annotations

import trio

from worker.context import WorkerContext


async def run_all(ctx: WorkerContext) -> None:
    async with trio.open_nursery() as nursery:
        nursery.start_soon(trio.sleep_forever)
