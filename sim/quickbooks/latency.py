"""How long QuickBooks takes, and a clock tests can speed up.

The engine only *reports* busy seconds (pure); the Web Connector simulator sleeps them on a
:class:`SimClock`, whose ``scale`` shrinks every wait (``scale=0`` = no waiting at all).
Defaults are rough figures for QuickBooks Desktop on a small company file (unverified)."""

from __future__ import annotations

import time
from dataclasses import dataclass

import trio


@dataclass(frozen=True)
class LatencyModel:
    per_message_set: float = 0.05  # open the set, parse, validate
    per_query: float = 0.15
    per_record_returned: float = 0.002
    per_write: float = 0.40
    per_line: float = 0.03

    def busy_seconds(self, queries: int, records: int, writes: int, lines: int) -> float:
        return self.per_message_set + queries * self.per_query + records * self.per_record_returned + writes * self.per_write + lines * self.per_line


ZERO_LATENCY = LatencyModel(0, 0, 0, 0, 0)


@dataclass
class SimClock:
    """Simulated waits: ``await clock.sleep(5)`` sleeps ``5 * scale`` real seconds."""

    scale: float = 1.0

    def scaled(self, seconds: float) -> float:
        return max(0.0, seconds * self.scale)

    async def sleep(self, seconds: float) -> None:
        await trio.sleep(self.scaled(seconds))

    @staticmethod
    def monotonic() -> float:
        return time.monotonic()
