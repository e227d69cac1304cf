"""Leases: which worker runs a background job, until when (the owner of ``leases``).

A lease is a row per job name ("concur:acme", "alerts:*"). A worker takes a free or expired one,
renews it well before it expires, and releases it when it stops. A worker that dies simply stops
renewing: once ``expires_ms`` has passed another worker takes the lease over (``takeovers``
counts those takes). Every take bumps ``generation``, a fencing token: a stalled worker that comes
back with an old generation finds it no longer matches and stops (``holds``).

Every statement is portable (SQLite and PostgreSQL) and safe under concurrent transactions: a
take is one conditional ``UPDATE ... WHERE holder = '' OR expires_ms <= now``, so of two workers
racing for one expired lease exactly one updates the row (PostgreSQL re-checks the condition on
the row the winner committed). Times are unix milliseconds by the workers' clocks: keep them in
step (NTP); a lease's length covers a few seconds of difference.

Leases decide who does the work, not whether it is correct: QuickBooks writes are handed out by
the outbox in the transaction that marks them sent, so two workers briefly both running a job
(a stalled holder before it notices) can repeat a Concur read, never a QuickBooks write.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass

MEMBER_PREFIX = "worker:"  # a worker's own presence: "worker:<id>", held by itself
FORGET_MEMBERS_MS = 3600_000  # a dead worker's presence row is removed an hour after it expired


@dataclass(frozen=True)
class Lease:
    name: str
    holder: str
    expires_ms: int
    generation: int
    takeovers: int


def _lease(row) -> Lease:
    return Lease(row["name"], row["holder"], int(row["expires_ms"]), int(row["generation"]), int(row["takeovers"]))


def get(conn: sqlite3.Connection, name: str) -> Lease | None:
    row = conn.execute("SELECT name, holder, expires_ms, generation, takeovers FROM leases WHERE name = ?", (name,)).fetchone()
    return _lease(row) if row else None


def all_leases(conn: sqlite3.Connection) -> list[Lease]:
    return [_lease(r) for r in conn.execute("SELECT name, holder, expires_ms, generation, takeovers FROM leases ORDER BY name")]


def try_take(conn: sqlite3.Connection, name: str, holder: str, now_ms: int, ttl_ms: int, gone_holder: str = "") -> int | None:
    """Take ``name`` if it is free, released or expired (or already ours), or still held by
    ``gone_holder`` (a holder known to be dead); its generation, or None."""
    expires = now_ms + ttl_ms
    created = conn.execute(
        "INSERT INTO leases (name, holder, expires_ms, generation, takeovers, taken_ms) VALUES (?, ?, ?, 1, 0, ?) ON CONFLICT (name) DO NOTHING",
        (name, holder, expires, now_ms),
    ).rowcount
    if created:
        return 1
    row = conn.execute(
        """UPDATE leases SET holder = ?, expires_ms = ?, generation = generation + 1, taken_ms = ?,
                  takeovers = takeovers + CASE WHEN holder = '' OR holder = ? THEN 0 ELSE 1 END
           WHERE name = ? AND (holder = '' OR holder = ? OR expires_ms <= ? OR holder = ?)
           RETURNING generation""",
        (holder, expires, now_ms, holder, name, holder, now_ms, gone_holder),
    ).fetchone()
    return int(row[0]) if row else None


def renew(conn: sqlite3.Connection, holder: str, names: Iterable[str], now_ms: int, ttl_ms: int) -> dict[str, int]:
    """Extend every lease of ``names`` still held by ``holder``; name -> generation of those.

    A lease that expired but nobody took is still ours to renew (nobody else ran the job)."""
    wanted = list(names)
    if not wanted:
        return {}
    marks = ",".join("?" * len(wanted))
    rows = conn.execute(
        f"UPDATE leases SET expires_ms = ? WHERE holder = ? AND name IN ({marks}) RETURNING name, generation", (now_ms + ttl_ms, holder, *wanted)
    ).fetchall()
    return {r[0]: int(r[1]) for r in rows}


def release(conn: sqlite3.Connection, holder: str, names: Iterable[str]) -> int:
    """Give leases back at once (a graceful stop, or handing work to another worker)."""
    wanted = list(names)
    if not wanted:
        return 0
    marks = ",".join("?" * len(wanted))
    return conn.execute(f"UPDATE leases SET holder = '', expires_ms = 0 WHERE holder = ? AND name IN ({marks})", (holder, *wanted)).rowcount


def holds(conn: sqlite3.Connection, name: str, holder: str, generation: int, now_ms: int) -> bool:
    """The fence: is this still ``holder``'s lease, of this generation, and unexpired? Call it in
    a transaction whose writes must not outlive the lease."""
    row = conn.execute(
        "SELECT 1 FROM leases WHERE name = ? AND holder = ? AND generation = ? AND expires_ms > ?", (name, holder, generation, now_ms)
    ).fetchone()
    return row is not None


def live_members(conn: sqlite3.Connection, now_ms: int) -> list[str]:
    """The ids of workers whose presence lease is unexpired."""
    return [r[0] for r in conn.execute("SELECT holder FROM leases WHERE name LIKE ? AND expires_ms > ? AND holder != ''", (MEMBER_PREFIX + "%", now_ms))]


def forget_dead_members(conn: sqlite3.Connection, now_ms: int) -> int:
    """Presence rows of workers long gone (each start has a new id) are removed."""
    return conn.execute("DELETE FROM leases WHERE name LIKE ? AND expires_ms < ?", (MEMBER_PREFIX + "%", now_ms - FORGET_MEMBERS_MS)).rowcount
