"""Small named per-company values (the sweep's checkpoint): the only writer of ``checkpoints``."""

from __future__ import annotations

import sqlite3


def get(conn: sqlite3.Connection, company: str, name: str) -> str | None:
    row = conn.execute("SELECT value FROM checkpoints WHERE company = ? AND name = ?", (company, name)).fetchone()
    return None if row is None else str(row[0])


def put(conn: sqlite3.Connection, company: str, name: str, value: str) -> None:
    conn.execute(
        "INSERT INTO checkpoints (company, name, value) VALUES (?,?,?) ON CONFLICT (company, name) DO UPDATE SET value = excluded.value", (company, name, value)
    )


def forget(conn: sqlite3.Connection, name: str) -> None:
    """Drop ``name`` for every company (e.g. to make the next sweep list everything again)."""
    conn.execute("DELETE FROM checkpoints WHERE name = ?", (name,))
