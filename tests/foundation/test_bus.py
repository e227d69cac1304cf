"""Wake-ups between parts of the worker: the urgency background work steps aside for."""

from __future__ import annotations

import pytest
import trio
import trio.testing

from worker.bus import Urgency


@pytest.mark.trio
async def test_background_work_waits_while_something_urgent_runs_and_resumes_when_it_ends() -> None:
    urgency = Urgency()
    await urgency.wait_clear()  # nothing urgent: no wait
    resumed = trio.Event()

    async def background() -> None:
        await urgency.wait_clear()
        resumed.set()

    urgency.begin("ticket-1", 60)
    urgency.begin("ticket-2", 60)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(background)
        await trio.testing.wait_all_tasks_blocked()
        urgency.end("ticket-1")
        await trio.testing.wait_all_tasks_blocked()
        assert not resumed.is_set()  # another stretch still runs
        urgency.end("ticket-2")
    assert resumed.is_set()


@pytest.mark.trio
async def test_an_urgent_stretch_nobody_ends_lapses(autojump_clock) -> None:
    urgency = Urgency()
    urgency.begin("gone", 1.0)  # the Web Connector went away mid-exchange
    started = trio.current_time()
    await urgency.wait_clear()
    assert trio.current_time() - started == pytest.approx(1.0)
