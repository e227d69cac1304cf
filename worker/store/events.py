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
_IDS_PER_SELECT = 500


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

    A fixed number of statements whatever the batch size (one look-up of the ids already known,
    one multi-row insert): each statement on the writer thread hands the GIL back and forth with
    the event loop, which under load costs up to a switch interval every time."""
    known: set[tuple[str, str]] = set()
    by_company: dict[str, list[str]] = {}
    for w in webhooks:
        by_company.setdefault(w.company, []).append(w.event_id)
    for company, ids in by_company.items():
        for start in range(0, len(ids), _IDS_PER_SELECT):
            chunk = ids[start : start + _IDS_PER_SELECT]
            sql = f"SELECT event_id FROM events WHERE company = ? AND event_id IN ({','.join('?' * len(chunk))})"
            known.update((company, row[0]) for row in conn.execute(sql, (company, *chunk)))
    now = now_iso()
    stored: list[bool] = []
    rows: list[tuple[object, ...]] = []
    for w in webhooks:
        key = (w.company, w.event_id)
        stored.append(key not in known)
        if key not in known:
            known.add(key)
            rows.append((w.company, w.event_id, "webhook", w.topic, w.event_type, w.kind, w.object_id, w.href, now, None if w.needs_work else now, w.body))
    for start in range(0, len(rows), _ROWS_PER_INSERT):
        batch = rows[start : start + _ROWS_PER_INSERT]
        values = ",".join(["(?,?,?,?,?,?,?,?,?,?,?)"] * len(batch))
        conn.execute(f"INSERT INTO events ({_WEBHOOK_COLUMNS}) VALUES {values}", [value for row in batch for value in row])
    return stored


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
