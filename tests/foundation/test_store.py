from __future__ import annotations

import sqlite3
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
    Store.in_dir(tmp_path).close()
    store = Store.in_dir(tmp_path)
    store.close()


def test_a_newer_database_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    Store.in_dir(tmp_path).close()
    conn = sqlite3.connect(tmp_path / "mlc.sqlite3")
    conn.execute(f"PRAGMA user_version = {latest_version() + 1}")
    conn.close()
    with pytest.raises(StoreError, match="newer than this mlc supports"):
        Store.in_dir(tmp_path)


def test_not_a_database(tmp_path: Path) -> None:
    (tmp_path / "mlc.sqlite3").write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError):
        Store.in_dir(tmp_path)


def test_a_failing_call_rolls_back_everything_it_did(tmp_path: Path) -> None:
    store = Store.in_dir(tmp_path)

    def half_then_fail(conn: sqlite3.Connection) -> None:
        conn.execute("INSERT INTO checkpoints (company, name, value) VALUES ('c', 'n', 'v')")
        raise RuntimeError("boom")

    try:
        with pytest.raises(RuntimeError):
            store.run_sync(half_then_fail)
        count = store.run_sync(lambda conn: conn.execute("SELECT COUNT(*) FROM checkpoints").fetchone()[0])
    finally:
        store.close()
    assert count == 0


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
