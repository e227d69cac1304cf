from __future__ import annotations

import os
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
import trio

from worker.store import audit
from worker.store.db import Store, StoreError, latest_version


def test_fresh_store_is_migrated_to_the_latest_version(tmp_path: Path) -> None:
    store = Store.in_dir(tmp_path)
    try:
        version = store.run_sync(lambda conn: conn.execute("PRAGMA user_version").fetchone()[0])
        mode = store.run_sync(lambda conn: conn.execute("PRAGMA journal_mode").fetchone()[0])
        tables = store.run_sync(lambda conn: {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")})
    finally:
        store.close()
    assert version == latest_version() >= 1
    assert mode == "wal"
    assert {"events", "documents", "postings", "audit", "qb_lists", "concur_tokens", "qbwc_sessions"} <= tables


def test_reopening_applies_nothing_twice(tmp_path: Path) -> None:
    def schema(conn: sqlite3.Connection) -> list[tuple[str, str, str]]:
        return [tuple(r) for r in conn.execute("SELECT type, name, sql FROM sqlite_master ORDER BY type, name")]

    store = Store.in_dir(tmp_path)
    try:
        store.run_sync(lambda conn: conn.execute("INSERT INTO checkpoints (company, name, value) VALUES ('c', 'n', 'kept')"))
        before = store.run_sync(schema)
    finally:
        store.close()
    reopened = Store.in_dir(tmp_path)
    try:
        version = reopened.run_sync(lambda conn: conn.execute("PRAGMA user_version").fetchone()[0])
        after = reopened.run_sync(schema)
        kept = reopened.run_sync(lambda conn: conn.execute("SELECT value FROM checkpoints WHERE company = 'c'").fetchall())
    finally:
        reopened.close()
    assert version == latest_version()
    assert after == before  # no migration ran again (one that did would fail on its CREATE or alter the schema)
    assert [tuple(r) for r in kept] == [("kept",)]


def test_a_newer_database_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    Store.in_dir(tmp_path).close()
    with closing(sqlite3.connect(tmp_path / "mlc.sqlite3")) as conn:
        conn.execute(f"PRAGMA user_version = {latest_version() + 1}")
    with pytest.raises(StoreError, match="newer than this mlc supports"):
        Store.in_dir(tmp_path)


def open_handles(path: Path) -> list[str]:
    """This process's open file descriptors on ``path`` (Linux: /proc/self/fd)."""
    fds = Path("/proc/self/fd")
    if not fds.is_dir():
        pytest.skip("needs /proc/self/fd to see open files")
    found = []
    for fd in fds.iterdir():
        try:
            if Path(os.readlink(fd)) == path:
                found.append(fd.name)
        except OSError:
            pass  # the descriptor of the directory listing itself, already closed
    return found


def test_not_a_database_is_refused_and_leaves_no_connection_open(tmp_path: Path) -> None:
    path = tmp_path / "mlc.sqlite3"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="not a usable SQLite database"):
        Store.in_dir(tmp_path)
    # The refused file's connection is closed at once (Python 3.13 warns about one left to the GC).
    assert open_handles(path.resolve()) == []


@pytest.mark.trio
async def test_async_calls_are_serialised_and_durable(tmp_path: Path) -> None:
    store = Store.in_dir(tmp_path)

    def bump(conn: sqlite3.Connection, i: int) -> None:
        row = conn.execute("SELECT value FROM checkpoints WHERE company = 'c' AND name = 'n'").fetchone()
        value = int(row[0]) + 1 if row else 1
        conn.execute("INSERT OR REPLACE INTO checkpoints (company, name, value) VALUES ('c', 'n', ?)", (str(value),))

    async with trio.open_nursery() as nursery:
        for i in range(50):
            nursery.start_soon(lambda i=i: store.run(bump, i, durable=i % 2 == 0))
    value = await store.run(lambda conn: conn.execute("SELECT value FROM checkpoints").fetchone()[0])
    store.close()
    # Read-modify-write from 50 concurrent tasks loses no update: one transaction at a time.
    assert value == "50"


def test_audit_chain_detects_edits_and_removals(tmp_path: Path) -> None:
    store = Store.in_dir(tmp_path)
    try:
        for i in range(5):
            store.run_sync(audit.append, "demo", None, "worker", "test", {"i": i})
        assert store.run_sync(audit.verify) == []
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            store.run_sync(lambda conn: conn.execute("UPDATE audit SET detail = '{}' WHERE id = 2"))

        def tamper(conn: sqlite3.Connection) -> None:
            conn.execute("DROP TRIGGER audit_no_update")
            conn.execute("DROP TRIGGER audit_no_delete")
            conn.execute("""UPDATE audit SET detail = '{"i":99}' WHERE id = 2""")
            conn.execute("DELETE FROM audit WHERE id = 4")

        store.run_sync(tamper)
        problems = store.run_sync(audit.verify)
    finally:
        store.close()
    messages = [p.message for p in problems]
    assert "entry 2 was edited after it was written" in messages
    assert "entry 5 does not follow entry 3 (an entry was removed or reordered)" in messages


def test_a_batch_of_webhooks_is_kept_once_each(tmp_path: Path) -> None:
    # The intake's group commit hands whole batches over: events known before, and the second copy
    # of an event twice in the same batch, are re-deliveries; the others are kept once, in order.
    from worker.store import events

    def hook(event_id: str, company: str = "acme", needs_work: bool = True) -> events.Webhook:
        return events.Webhook(company, event_id, "public.concur.expense.report", "statusChanged", "expense_report", "R" + event_id, None, "{}", needs_work)

    store = Store.in_dir(tmp_path)
    try:
        assert store.run_sync(events.store_webhooks, [hook("old")]) == [True]
        many = [hook(f"e{i}") for i in range(200)]  # more than one multi-row insert holds
        batch = [hook("a"), hook("old"), hook("a"), hook("b", needs_work=False), hook("a", company="other"), *many]
        assert store.run_sync(events.store_webhooks, batch) == [True, False, False, True, True] + [True] * 200
        rows = store.run_sync(lambda conn: conn.execute("SELECT company, event_id, processed_at IS NULL AS open FROM events ORDER BY id").fetchall())
        assert [(r["company"], r["event_id"]) for r in rows] == [("acme", "old"), ("acme", "a"), ("acme", "b"), ("other", "a")] + [
            ("acme", f"e{i}") for i in range(200)
        ]
        assert [r["open"] for r in rows[:4]] == [1, 1, 0, 1]  # an event needing no work is kept as processed
    finally:
        store.close()
