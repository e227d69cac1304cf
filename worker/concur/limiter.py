"""How many Concur calls one company may have in flight: at most its configured bound, fewer after
Concur said 429 (additive increase, multiplicative decrease, as TCP does with congestion).

Concur publishes no general rate limit (CONCUR-API.md, "Rate limits") and its 429 says
``Retry-After: 0``, so the only signal is the 429 itself. Each 429 halves the company's window
(never below one call), unless the refused call was sent before the last halving: a burst of 429s
from one window of calls halves it once, not once per call. Each answered call grows the window by
1/window, so a full window of answers adds one call, back up to the configured bound. A positive
``Retry-After`` holds every call of the company until it has passed.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import trio


@dataclass
class Slot:
    """One call's place in the window; the caller says how Concur answered."""

    epoch: int
    throttled: bool = False  # Concur answered 429
    retry_after: float = 0.0  # its Retry-After, when positive


class AdaptiveLimit:
    def __init__(self, ceiling: int, floor: int = 1) -> None:
        if ceiling < 1:
            raise ValueError("at least one call must be allowed in flight")
        self.ceiling = ceiling
        self.floor = min(floor, ceiling)
        self.window = float(ceiling)  # start at the bound the operator configured
        self.in_flight = 0
        self.max_in_flight = 0
        self.throttled = 0  # 429s seen
        self.decreases = 0
        self._epoch = 0  # bumped by each decrease
        self._resume_at = 0.0  # trio time before which no call starts (a positive Retry-After)
        self._lot = trio.lowlevel.ParkingLot()

    @property
    def allowed(self) -> int:
        return max(self.floor, math.floor(self.window))

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[Slot]:
        """Wait for room in the window (and for any Retry-After hold), then hold a place in it for
        the duration of one HTTP call."""
        while True:
            if (wait := self._resume_at - trio.current_time()) > 0:
                await trio.sleep(wait)
                continue
            if self.in_flight < self.allowed:
                break
            await self._lot.park()
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        slot = Slot(self._epoch)
        try:
            yield slot
        finally:
            self.in_flight -= 1
            self._settle(slot)
            self._lot.unpark(count=max(0, self.allowed - self.in_flight))

    def _settle(self, slot: Slot) -> None:
        if not slot.throttled:
            self.window = min(float(self.ceiling), self.window + 1.0 / self.window)
            return
        self.throttled += 1
        if slot.retry_after > 0:
            self._resume_at = max(self._resume_at, trio.current_time() + slot.retry_after)
        if slot.epoch == self._epoch:  # sent after the last decrease: news about the current window
            self.window = max(float(self.floor), self.window / 2)
            self._epoch += 1
            self.decreases += 1
