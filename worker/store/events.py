"""Concur events as received and webhooks refused: the only writer of ``events`` and
``webhook_rejections``."""

from __future__ import annotations

import sqlite3

from shared.clock import now_iso


def store_webhook(
    conn: sqlite3.Connection,
    company: str,
    event_id: str,
    topic: str,
    event_type: str,
    kind: str | None,
    object_id: str | None,
    href: str | None,
    body: str,
    needs_work: bool,
) -> bool:
    """Keep one delivered event; False when the same event was stored before (a re-delivery)."""
    cur = conn.execute(
        """INSERT INTO events (company, event_id, source, topic, event_type, object_kind, object_id, href, received_at, processed_at, body)
           VALUES (?, ?, 'webhook', ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (company, event_id) DO NOTHING""",
        (company, event_id, topic, event_type, kind, object_id, href, now_iso(), None if needs_work else now_iso(), body),
    )
    return bool(cur.rowcount)


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
