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


class Urgency:
    """Lets background work that holds the store (the planner) step aside while something that
    someone waits for runs: QuickBooks idles from handing over its answer (receiveResponseXML)
    until it has the next message set (sendRequestXML), so nothing else should queue for the store
    in between. Each urgent stretch has a key (a QBWC ticket) and lapses after ``hold_s`` if
    nobody ends it (the Web Connector went away), so background work is delayed, never stopped."""

    def __init__(self) -> None:
        self._until: dict[str, float] = {}
        self._event = trio.Event()

    def begin(self, key: str, hold_s: float) -> None:
        self._until[key] = trio.current_time() + hold_s

    def end(self, key: str) -> None:
        if self._until.pop(key, None) is not None:
            self._event.set()
            self._event = trio.Event()

    async def wait_clear(self) -> None:
        """Return once no urgent stretch is running (at the latest when the last one lapses)."""
        while True:
            now = trio.current_time()
            self._until = {key: until for key, until in self._until.items() if until > now}
            if not self._until:
                return
            event = self._event
            with trio.move_on_after(max(self._until.values()) - now):
                await event.wait()
