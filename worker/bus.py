"""Wake-ups between parts of the worker, and between workers: "something changed, look again".

Waiters compare a counter rather than receive messages, so a slow or absent listener never
blocks a writer and never misses that a change happened; what changed is read from the store.

Several workers on one store: a change one worker makes must wake the planner, the fetcher and
the operator streams of the others. ``relay`` is the seam: it publishes this worker's own rings
(``Pulse.notify``) through a ``CrossWorker`` and rings the local pulses when another worker
published (``Pulse.ring_from_elsewhere``, which is not published again, so rings never echo).
``StoreCounters`` works on any store by polling a counter table; ``PostgresNotify`` uses
PostgreSQL's LISTEN/NOTIFY, so a change reaches the other workers in milliseconds.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from typing import Protocol

import trio

from worker.store import changes

log = logging.getLogger(__name__)

CHANGED = "changed"  # documents changed state (planner, streams, confirmations)
INBOX = "inbox"  # new Concur events are stored (fetcher)
PUBLISH_GAP_S = 0.25  # a burst of local rings is published once per gap
POLL_S = 0.25  # StoreCounters: how often the counters are read


class Pulse:
    def __init__(self) -> None:
        self.count = 0  # every ring, from here or from another worker
        self.local = 0  # rings of this worker's own changes (what the relay publishes)
        self._event = trio.Event()

    def notify(self) -> None:
        """This worker changed something."""
        self.local += 1
        self._ring()

    def ring_from_elsewhere(self) -> None:
        """Another worker changed something (never published again)."""
        self._ring()

    def _ring(self) -> None:
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


class CrossWorker(Protocol):
    """How workers tell each other that a topic changed."""

    async def publish(self, topic: str) -> None: ...

    async def listen(self, deliver: Callable[[str], None]) -> None:
        """Forever: call ``deliver(topic)`` when another worker published ``topic``."""


class StoreCounters:
    """The portable fallback: a counter per topic in the store (``bus_changes``), read every
    ``poll_s``. Costs one small write per published burst and one read per poll."""

    def __init__(self, store, worker_id: str, poll_s: float = POLL_S) -> None:
        self.store, self.worker_id, self.poll_s = store, worker_id, poll_s

    async def publish(self, topic: str) -> None:
        await self.store.run(changes.bump, topic, self.worker_id)

    async def listen(self, deliver: Callable[[str], None]) -> None:
        seen = await self.store.run(changes.counters)
        while True:
            await trio.sleep(self.poll_s)
            now = await self.store.run(changes.counters)
            for topic, (seq, by) in now.items():
                before = seen.get(topic, (0, ""))[0]
                # Our own single bump is no news; anything else (another worker's, or several) is.
                if seq != before and not (by == self.worker_id and seq == before + 1):
                    deliver(topic)
            seen = now


class PostgresNotify:
    """LISTEN/NOTIFY on PostgreSQL. Publishing is ``pg_notify`` through the store (delivered when
    that transaction commits); listening holds one connection of its own, read in a thread.
    ``connect`` opens that connection (e.g. ``lambda: psycopg.connect(url, autocommit=True)``)."""

    CHANNEL = "mlc_bus"

    def __init__(self, store, worker_id: str, connect: Callable[[], object], reconnect_s: float = 2.0) -> None:
        self.store, self.worker_id, self.connect, self.reconnect_s = store, worker_id, connect, reconnect_s

    async def publish(self, topic: str) -> None:
        payload = f"{topic} {self.worker_id}"
        await self.store.run(lambda conn: conn.execute("SELECT pg_notify(?, ?)", (self.CHANNEL, payload)).fetchone())

    async def listen(self, deliver: Callable[[str], None]) -> None:
        while True:
            try:
                conn = await trio.to_thread.run_sync(self._open)
            except Exception as exc:
                log.warning("cannot listen for other workers' changes (%s); trying again in %.0f s", exc, self.reconnect_s)
                await trio.sleep(self.reconnect_s)
                continue
            try:
                for topic in (CHANGED, INBOX):
                    deliver(topic)  # whatever happened while not listening
                while True:
                    payloads = await trio.to_thread.run_sync(self._wait, conn, abandon_on_cancel=True)
                    for payload in payloads:
                        topic, _, by = payload.partition(" ")
                        if by != self.worker_id:
                            deliver(topic)
            except Exception as exc:
                log.warning("listening for other workers' changes broke off (%s); reconnecting", exc)
                await trio.sleep(self.reconnect_s)
            finally:
                with trio.CancelScope(shield=True):
                    await trio.to_thread.run_sync(_close_quietly, conn)

    def _open(self):
        conn = self.connect()
        conn.execute(f"LISTEN {self.CHANNEL}")
        return conn

    @staticmethod
    def _wait(conn) -> list[str]:
        return [n.payload for n in conn.notifies(timeout=1.0)]


def _close_quietly(conn) -> None:
    with contextlib.suppress(Exception):
        conn.close()


async def relay(store, worker_id: str, pulses: dict[str, Pulse], cross: CrossWorker | None = None, gap_s: float = PUBLISH_GAP_S) -> None:
    """Forever: this worker's rings go out through ``cross``; other workers' come in as rings."""
    cross = cross if cross is not None else StoreCounters(store, worker_id)

    def deliver(topic: str) -> None:
        if topic in pulses:
            pulses[topic].ring_from_elsewhere()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(cross.listen, deliver)
        for topic, pulse in pulses.items():
            nursery.start_soon(_publish_own, cross, topic, pulse, gap_s)


async def _publish_own(cross: CrossWorker, topic: str, pulse: Pulse, gap_s: float) -> None:
    published, seen = pulse.local, pulse.count
    while True:
        seen = await pulse.wait(seen)
        if pulse.local == published:
            continue  # only rings from elsewhere
        published = pulse.local
        try:
            await cross.publish(topic)
        except Exception:
            log.exception("could not tell other workers about a change of %s; they notice within their idle wait", topic)
        await trio.sleep(gap_s)
