"""Change counters between workers (the owner of ``bus_changes``): a worker that changed something
bumps its topic's counter; the others notice the counter moved and look again (worker/bus.py)."""

from __future__ import annotations

import sqlite3


def bump(conn: sqlite3.Connection, topic: str, worker_id: str) -> int:
    """Count one more change of ``topic`` by ``worker_id``; returns the new counter."""
    row = conn.execute(
        """INSERT INTO bus_changes (topic, seq, by_worker) VALUES (?, 1, ?)
           ON CONFLICT (topic) DO UPDATE SET seq = bus_changes.seq + 1, by_worker = excluded.by_worker
           RETURNING seq""",
        (topic, worker_id),
    ).fetchone()
    return int(row[0])


def counters(conn: sqlite3.Connection) -> dict[str, tuple[int, str]]:
    """topic -> (counter, the worker that moved it last)."""
    return {r[0]: (int(r[1]), r[2]) for r in conn.execute("SELECT topic, seq, by_worker FROM bus_changes")}
