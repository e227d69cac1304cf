"""Wake-ups between parts of the worker: "something changed, look again".

Waiters compare a counter rather than receive messages, so a slow or absent listener never
blocks a writer and never misses that a change happened; what changed is read from the store.
"""

from __future__ import annotations

import trio


class Pulse:
    def __init__(self) -> None:
        self.count = 0
        self._event = trio.Event()

    def notify(self) -> None:
        self.count += 1
        self._event.set()
        self._event = trio.Event()

    async def wait(self, seen: int, timeout: float | None = None) -> int:
        """Return the counter once it has moved past ``seen`` (or when ``timeout`` ends)."""
        if self.count != seen:
            return self.count
        event = self._event
        if timeout is None:
            await event.wait()
        else:
            with trio.move_on_after(timeout):
                await event.wait()
        return self.count
