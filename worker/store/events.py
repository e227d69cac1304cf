"""Concur events as received and webhooks refused: the only writer of ``events`` and
``webhook_rejections``."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from shared.clock import now_iso

# Values per row of ``events`` written by ``store_webhooks``: 80 rows stay under 999 parameters,
# SQLite's smallest build limit.
_WEBHOOK_COLUMNS = "company, event_id, source, topic, event_type, object_kind, object_id, href, received_at, processed_at, body"
_ROWS_PER_INSERT = 80


@dataclass(frozen=True)
class Webhook:
    """One delivered event as ``events`` keeps it."""

    company: str
    event_id: str
    topic: str
    event_type: str
    kind: str | None
    object_id: str | None
    href: str | None
    body: str
    needs_work: bool


def store_webhooks(conn: sqlite3.Connection, webhooks: list[Webhook]) -> list[bool]:
    """Keep a batch of delivered events; per event, False when it was stored before (a re-delivery,
    also the second copy of an event twice in the batch).

    One multi-row ``INSERT ... ON CONFLICT DO NOTHING RETURNING`` per 80 events, whatever was
    stored before: each statement on the writer thread hands the GIL back and forth with the event
    loop (under load up to a switch interval every time), and on PostgreSQL a look-up of the ids
    first made concurrent intakes of several workers abort each other (serializable predicate
    reads) where the insert alone does not."""
    now = now_iso()
    first: dict[tuple[str, str], int] = {}
    rows: list[tuple[object, ...]] = []
    for number, w in enumerate(webhooks):
        if (w.company, w.event_id) not in first:
            first[(w.company, w.event_id)] = number
            rows.append((w.company, w.event_id, "webhook", w.topic, w.event_type, w.kind, w.object_id, w.href, now, None if w.needs_work else now, w.body))
    inserted: set[tuple[str, str]] = set()
    for start in range(0, len(rows), _ROWS_PER_INSERT):
        batch = rows[start : start + _ROWS_PER_INSERT]
        values = ",".join(["(?,?,?,?,?,?,?,?,?,?,?)"] * len(batch))
        sql = f"INSERT INTO events ({_WEBHOOK_COLUMNS}) VALUES {values} ON CONFLICT (company, event_id) DO NOTHING RETURNING company, event_id"
        inserted.update((row[0], row[1]) for row in conn.execute(sql, [value for row in batch for value in row]).fetchall())
    return [first[(w.company, w.event_id)] == number and (w.company, w.event_id) in inserted for number, w in enumerate(webhooks)]


def mark_processed(conn: sqlite3.Connection, event_row_id: int) -> None:
    conn.execute("UPDATE events SET processed_at = ? WHERE id = ?", (now_iso(), event_row_id))


def record_rejection(conn: sqlite3.Connection, source: str, reason: str) -> None:
    """A webhook refused before storage (bad signature, malformed, a company not served here):
    one row per (reason, source), whatever the number of refusals — a count and the last time."""
    now = now_iso()
    conn.execute(
        "INSERT INTO webhook_rejections (company, received_at, source, reason, count, last_at) VALUES (NULL, ?, ?, ?, 1, ?)"
        " ON CONFLICT (reason, source) DO UPDATE SET count = webhook_rejections.count + 1, last_at = excluded.last_at",
        (now, source[:64], reason, now),
    )
