"""The store's turns: one holder at a time, urgent callers before background ones, nobody lost."""

from __future__ import annotations

import pytest
import trio
import trio.testing

from worker.store.turns import Turns


async def _take(turns: Turns, name: str, urgent: bool, order: list[str], release: trio.Event) -> None:
    async with turns.turn(urgent):
        order.append(name)
        await release.wait()


@pytest.mark.trio
async def test_urgent_waiters_go_before_background_ones_queued_earlier():
    turns, order, release = Turns(), [], trio.Event()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(_take, turns, "holder", False, order, release)
        await trio.testing.wait_all_tasks_blocked()
        for name, urgent in (("plan-1", False), ("plan-2", False), ("webhook-1", True), ("webhook-2", True)):
            nursery.start_soon(_take, turns, name, urgent, order, release)
            await trio.testing.wait_all_tasks_blocked()
        assert order == ["holder"]  # one holder at a time
        release.set()
    assert order == ["holder", "webhook-1", "webhook-2", "plan-1", "plan-2"]


@pytest.mark.trio
async def test_a_waiter_cancelled_in_the_queue_leaves_it_and_the_turn_moves_on():
    turns, order, release = Turns(), [], trio.Event()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(_take, turns, "holder", False, order, release)
        await trio.testing.wait_all_tasks_blocked()
        nursery.start_soon(_take, turns, "next", False, order, release)
        await trio.testing.wait_all_tasks_blocked()
        gone = trio.CancelScope()

        async def cancelled_waiter() -> None:
            with gone:
                await _take(turns, "cancelled", True, order, release)

        nursery.start_soon(cancelled_waiter)
        await trio.testing.wait_all_tasks_blocked()
        gone.cancel()
        await trio.testing.wait_all_tasks_blocked()
        release.set()
    assert order == ["holder", "next"]
    async with turns.turn():  # free again: taken at once
        pass
