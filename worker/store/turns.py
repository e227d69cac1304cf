"""Whose turn it is at the store's one writer: calls someone is waiting for go first.

The store runs one transaction at a time. A webhook's 200 and QuickBooks' next message set wait
for their transaction; the planner, the payer and the fetchers do not have anyone waiting. With a
first-come queue a webhook waited behind every planning slice already queued (p99 over 100 ms at
500 events/s during a drain); with two lanes it waits at most for the transaction that is running.
Within a lane the order stays first come, first served, and a background call is never starved:
the urgent lane is empty whenever the urgent callers are between calls.
"""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import trio


class Turns:
    """One holder at a time; waiters in the urgent lane are handed the turn before the others."""

    def __init__(self) -> None:
        self._held = False
        self._urgent: deque[trio.Event] = deque()
        self._normal: deque[trio.Event] = deque()

    @asynccontextmanager
    async def turn(self, urgent: bool = False) -> AsyncIterator[None]:
        if self._held:
            lane = self._urgent if urgent else self._normal
            handed = trio.Event()
            lane.append(handed)
            try:
                await handed.wait()
            except BaseException:
                if handed.is_set():
                    self._hand_on()  # the turn reached us as we were cancelled: pass it on
                else:
                    lane.remove(handed)
                raise
        else:
            self._held = True
        try:
            yield
        finally:
            self._hand_on()

    def _hand_on(self) -> None:
        lane = self._urgent or self._normal
        if lane:
            lane.popleft().set()  # still held: the turn passes straight to the next waiter
        else:
            self._held = False
