"""Several workers on one store: each background job runs on one worker at a time, by lease.

Every worker wants every job lease ("concur:acme", "posting:acme", "alerts:*", …); a keeper task
in each worker takes its fair share of them (jobs ÷ live workers, rounded up), renews what it
holds in one transaction per beat, runs the job of every lease it holds and stops it the moment
the lease is gone. A worker that dies stops renewing; once its leases expire another worker takes
them over. A worker on the same host can tell at once that a holder's process is gone (its pid no
longer exists) and takes over without waiting for the expiry, so a single worker restarted after a
crash picks up its jobs immediately. A worker stopping gracefully releases its leases.

With one worker (the default set-up) it simply holds every lease. The keeper's decision each beat
is ``tick``, one transaction; the rest is starting and cancelling tasks.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import secrets
import socket
import sqlite3
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import trio

from worker.store import leases

log = logging.getLogger(__name__)

DEFAULT_LEASE_S = 30.0
LEASE_ENV = "MLC_LEASE_SECONDS"  # a shorter lease (tests, fault drills): faster takeover, more renewals

Job = Callable[[], Awaitable[None]]


def new_worker_id() -> str:
    """host:pid:random — unique per process start, and tells a same-host reader the pid to check."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


def lease_seconds(environ: dict[str, str] | None = None) -> float:
    value = (environ if environ is not None else os.environ).get(LEASE_ENV, "")
    try:
        seconds = float(value) if value else DEFAULT_LEASE_S
    except ValueError:
        log.warning("%s=%r is not a number of seconds; using %s", LEASE_ENV, value, DEFAULT_LEASE_S)
        return DEFAULT_LEASE_S
    return max(seconds, 0.5)


def holder_gone(holder: str, host: str | None = None) -> bool:
    """The holder is a process on this host that no longer runs (its lease need not be waited out).
    Unknown hosts and unreadable ids are never judged gone."""
    parts = holder.split(":")
    if len(parts) != 3 or parts[0] != (host or socket.gethostname()) or not parts[1].isdigit():
        return False
    pid = int(parts[1])
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:  # exists but not ours to signal (PermissionError), or a platform without it
        return False
    return False


def _preference(holder: str, name: str) -> str:
    """Each worker tries the free leases in its own order, so workers starting together spread out."""
    return hashlib.sha256(f"{holder}|{name}".encode()).hexdigest()


@dataclass(frozen=True)
class Tick:
    held: dict[str, int]  # job lease -> generation, held after this beat
    release: list[str] = field(default_factory=list)  # more than a fair share: stop, then give back
    members: int = 1
    took_over: list[str] = field(default_factory=list)


def tick(conn: sqlite3.Connection, holder: str, wanted: list[str], now_ms: int, ttl_ms: int, gone: Callable[[str], bool] = holder_gone) -> Tick:
    """One beat of a worker's keeper, in one transaction: be present, renew, take a fair share."""
    member = leases.MEMBER_PREFIX + holder
    if not leases.renew(conn, holder, [member], now_ms, ttl_ms):
        leases.try_take(conn, member, holder, now_ms, ttl_ms)
    leases.forget_dead_members(conn, now_ms)
    held = leases.renew(conn, holder, wanted, now_ms, ttl_ms)
    members = max(len([m for m in leases.live_members(conn, now_ms) if m == holder or not gone(m)]), 1)
    fair = math.ceil(len(wanted) / members)
    took_over = []
    for name in sorted((n for n in wanted if n not in held), key=lambda n: _preference(holder, n)):
        if len(held) >= fair:
            break
        current = leases.get(conn, name)
        # A holder whose process is gone need not be waited out.
        dead = current.holder if current is not None and current.holder and current.expires_ms > now_ms and gone(current.holder) else ""
        generation = leases.try_take(conn, name, holder, now_ms, ttl_ms, gone_holder=dead)
        if generation is not None:
            held[name] = generation
            if current is not None and current.holder and current.holder != holder:
                took_over.append(name)
    release = sorted(held, key=lambda n: _preference(holder, n))[fair:] if len(held) > fair else []
    return Tick(held, release, members, took_over)


def _now_ms() -> int:
    return int(time.time() * 1000)


class LeaseKeeper:
    """Runs the jobs of the leases this worker holds; see the module docstring."""

    def __init__(self, store, holder: str, ttl_s: float, jobs: Callable[[], dict[str, Job]]) -> None:
        self.store = store
        self.holder = holder
        self.ttl_s = ttl_s
        self.beat_s = ttl_s / 3  # two beats may fail before the lease runs out
        self.jobs = jobs
        self.running: dict[str, tuple[trio.CancelScope, trio.Event]] = {}
        self.held: dict[str, int] = {}

    async def run(self) -> None:
        last_ok = trio.current_time()
        try:
            async with trio.open_nursery() as nursery:
                while True:
                    wanted = self.jobs()
                    try:
                        beat = await self.store.run(tick, self.holder, sorted(wanted), _now_ms(), int(self.ttl_s * 1000))
                        last_ok = trio.current_time()
                    except Exception:
                        log.exception("lease renewal failed; jobs keep running until the leases would run out")
                        if trio.current_time() - last_ok > self.ttl_s * 0.8:
                            await self._stop_all()  # another worker may hold them by now
                        await trio.sleep(self.beat_s)
                        continue
                    for name in beat.took_over:
                        log.info("took over lease %s (generation %d): its holder stopped renewing", name, beat.held[name])
                    lost = [n for n in self.running if n not in beat.held]
                    for name in lost:
                        log.warning("lease %s lost; stopping its job", name)
                        await self._stop(name)
                    if beat.release:
                        for name in beat.release:
                            await self._stop(name)
                        try:
                            await self.store.run(leases.release, self.holder, beat.release)
                        except Exception:
                            log.exception("could not hand leases back; they expire in %.0f s", self.ttl_s)
                        log.info("handed %s to other workers (%d workers share the jobs)", ", ".join(beat.release), beat.members)
                    self.held = {n: g for n, g in beat.held.items() if n not in beat.release}
                    for name in self.held:
                        if name not in self.running and name in wanted:
                            self._start(nursery, name, wanted[name])
                    await trio.sleep(self.beat_s)
        finally:
            with trio.CancelScope(shield=True), trio.move_on_after(2.0):
                try:
                    await self.store.run(leases.release, self.holder, [*self.held, leases.MEMBER_PREFIX + self.holder])
                except Exception:  # the store may be gone already; the leases then expire
                    log.warning("could not release leases on stop; they expire in %.0f s", self.ttl_s)

    def _start(self, nursery: trio.Nursery, name: str, job: Job) -> None:
        scope, done = trio.CancelScope(), trio.Event()
        self.running[name] = (scope, done)

        async def guarded() -> None:
            try:
                with scope:
                    await job()
            except Exception:
                log.exception("background job %s failed; it starts again on the next beat", name)
            finally:
                self.running.pop(name, None)
                done.set()

        nursery.start_soon(guarded)

    async def _stop(self, name: str) -> None:
        entry = self.running.get(name)
        if entry is not None:
            entry[0].cancel()
            await entry[1].wait()

    async def _stop_all(self) -> None:
        for name in list(self.running):
            await self._stop(name)
        self.held = {}
