"""The store on both backends: SQLite in data_dir and PostgreSQL (``[store] url``).

The same ``await store.run(fn)`` contract holds on each: one transaction per call, a failing call
leaves nothing behind, concurrent read-modify-writes lose no update, the audit trail is append-only
and chained. The two migration sets end with the same tables, columns and indexes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import trio

from mlc.pgserver import PostgresServer
from shared.config import Secret, StoreConfig, load_config, redact_url
from tests.helpers.config import test_config
from worker.store import audit
from worker.store import db as sqlite_db
from worker.store.db import Store, StoreError, open_store

postgres = pytest.mark.postgres


def _open(tmp_path: Path, store_url: str) -> Any:
    return open_store(test_config(tmp_path, store_url))


def test_a_failing_call_rolls_back_everything_it_did(tmp_path: Path, store_url: str) -> None:
    store = _open(tmp_path, store_url)

    def half_then_fail(conn) -> None:
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
async def test_concurrent_read_modify_writes_lose_no_update(tmp_path: Path, store_url: str) -> None:
    store = _open(tmp_path, store_url)

    def bump(conn, i: int) -> None:
        row = conn.execute("SELECT value FROM checkpoints WHERE company = 'c' AND name = 'n'").fetchone()
        value = int(row[0]) + 1 if row else 1
        conn.execute(
            "INSERT INTO checkpoints (company, name, value) VALUES ('c', 'n', ?) ON CONFLICT (company, name) DO UPDATE SET value = excluded.value",
            (str(value),),
        )

    try:
        async with trio.open_nursery() as nursery:
            for i in range(30):
                nursery.start_soon(lambda i=i: store.run(bump, i, durable=i % 2 == 0))
        value = await store.run(lambda conn: conn.execute("SELECT value FROM checkpoints").fetchone()[0])
    finally:
        store.close()
    # SQLite: one writer at a time. PostgreSQL: SERIALIZABLE, a conflicting call runs again.
    assert value == "30"


def test_transactions_from_many_threads_at_once_lose_no_update(tmp_path: Path, store_url: str) -> None:
    """Synchronous callers on threads of their own (and, on PostgreSQL, other workers) run beside
    each other: a conflicting transaction is run again, never half-applied or lost."""
    from concurrent.futures import ThreadPoolExecutor

    store = _open(tmp_path, store_url)

    def bump(conn) -> None:
        row = conn.execute("SELECT value FROM checkpoints WHERE company = 'c' AND name = 'n'").fetchone()
        value = int(row[0]) + 1 if row else 1
        conn.execute(
            "INSERT INTO checkpoints (company, name, value) VALUES ('c', 'n', ?) ON CONFLICT (company, name) DO UPDATE SET value = excluded.value",
            (str(value),),
        )
        audit.append(conn, "c", None, "test", "bump", {"value": value})

    try:
        with ThreadPoolExecutor(4) as pool:
            for done in [pool.submit(store.run_sync, bump) for _ in range(40)]:
                done.result()
        value = store.run_sync(lambda conn: conn.execute("SELECT value FROM checkpoints").fetchone()[0])
        problems = store.run_sync(audit.verify)
    finally:
        store.close()
    assert value == "40"
    assert problems == []  # one unbroken chain


def test_rows_read_by_index_and_by_name_and_the_sqlite_dialect_works(tmp_path: Path, store_url: str) -> None:
    store = _open(tmp_path, store_url)

    def work(conn) -> tuple:
        new_id = conn.execute(
            "INSERT INTO documents (company, kind, concur_id, state, employee, created_at, updated_at) VALUES (?,?,?,?,?,?,?) RETURNING id",
            ("acme", "expense_report", "RPT-50%", "received", "Ada O'Hara", "2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z"),
        ).fetchone()[0]
        row = conn.execute("SELECT id, concur_id, employee FROM documents WHERE id = ?", (new_id,)).fetchone()
        # LIKE ignores ASCII case on both (SQLite's rule); '%' and '?' inside quotes are text.
        found = conn.execute("SELECT COUNT(*) FROM documents WHERE employee LIKE ? AND concur_id <> '?%'", ("%o'hara",)).fetchone()[0]
        missing = conn.execute("SELECT id FROM documents WHERE id = ?", (new_id + 1,)).fetchone()
        changed = conn.execute("UPDATE documents SET flag = ? WHERE id = ?", ("x", new_id)).rowcount
        return new_id, row, found, missing, changed

    try:
        new_id, row, found, missing, changed = store.run_sync(work)
    finally:
        store.close()
    assert row[0] == row["id"] == new_id
    assert dict(zip(row.keys(), row, strict=True)) == {"id": new_id, "concur_id": "RPT-50%", "employee": "Ada O'Hara"}
    assert dict(row) == {"id": new_id, "concur_id": "RPT-50%", "employee": "Ada O'Hara"}
    assert (found, missing, changed) == (1, None, 1)


def test_the_audit_trail_is_append_only_and_chained(tmp_path: Path, store_url: str) -> None:
    store = _open(tmp_path, store_url)
    try:
        ids = [store.run_sync(audit.append, "demo", None, "worker", "test", {"i": i}) for i in range(4)]
        assert ids == sorted(ids) and len(set(ids)) == 4
        assert store.run_sync(audit.verify) == []
        with pytest.raises(Exception, match="append-only"):
            store.run_sync(lambda conn: conn.execute("UPDATE audit SET detail = '{}' WHERE id = ?", (ids[1],)))
        with pytest.raises(Exception, match="append-only"):
            store.run_sync(lambda conn: conn.execute("DELETE FROM audit WHERE id = ?", (ids[1],)))
    finally:
        store.close()


@postgres
def test_both_migration_sets_end_with_the_same_tables_columns_and_indexes(tmp_path: Path, postgres_url: str) -> None:
    from worker.store import pg

    assert [v for v, _, _ in pg.migrations()] == [v for v, _, _ in sqlite_db.migrations()]
    assert [n for _, n, _ in pg.migrations()] == [n for _, n, _ in sqlite_db.migrations()]

    def kind(declared: str) -> str:
        declared = declared.lower()
        return "integer" if "int" in declared else "text" if declared in ("text", "character varying") else declared

    lite = Store.in_dir(tmp_path)
    try:

        def sqlite_schema(conn) -> tuple[dict, set]:
            tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite%'")]
            columns = {t: {(c["name"], kind(c["type"]), bool(c["notnull"] or c["pk"])) for c in conn.execute(f"PRAGMA table_info({t})")} for t in tables}
            indexes = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index' AND name NOT LIKE 'sqlite_autoindex%'")}
            return columns, indexes

        lite_columns, lite_indexes = lite.run_sync(sqlite_schema)
    finally:
        lite.close()
    store = pg.PgStore(postgres_url)
    try:

        def pg_schema(conn) -> tuple[dict, set]:
            columns: dict[str, set] = {}
            for r in conn.execute(
                "SELECT table_name, column_name, data_type, is_nullable FROM information_schema.columns WHERE table_schema = current_schema() AND table_name <> 'mlc_schema'"
            ):
                columns.setdefault(r["table_name"], set()).add((r["column_name"], kind(r["data_type"]), r["is_nullable"] == "NO"))
            indexes = {
                r[0]
                for r in conn.execute(
                    "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() AND indexname NOT LIKE '%_pkey' AND indexname NOT LIKE '%_key'"
                )
            }
            return columns, indexes

        pg_columns, pg_indexes = store.run_sync(pg_schema)
    finally:
        store.close()
    assert pg_columns == lite_columns
    assert pg_indexes == lite_indexes


@postgres
def test_postgres_migrates_an_empty_database_once_and_refuses_a_newer_one(postgres_server: PostgresServer) -> None:
    from worker.store import pg

    url = postgres_server.empty_database()
    store = pg.PgStore(url)
    store.run_sync(lambda conn: conn.execute("INSERT INTO checkpoints (company, name, value) VALUES ('c', 'n', 'kept')"))
    assert store.schema_version() == len(pg.migrations())
    store.close()
    again = pg.PgStore(url)  # applies nothing twice (a second CREATE TABLE would fail)
    try:
        assert again.run_sync(lambda conn: conn.execute("SELECT value FROM checkpoints").fetchone()[0]) == "kept"
        again.run_sync(lambda conn: conn.execute("SELECT 1"))
        version = len(pg.migrations()) + 1
        conn = again._pool.take()
        conn.execute("INSERT INTO mlc_schema (version, name, applied_at) VALUES (%s, 'future.sql', '')", (version,))
        again._pool.give_back(conn)
    finally:
        again.close()
    with pytest.raises(StoreError, match="newer than this mlc supports"):
        pg.PgStore(url)


@postgres
def test_errors_and_descriptions_never_show_the_password(postgres_server: PostgresServer, tmp_path: Path) -> None:
    from worker.store import pg

    url = f"postgresql://postgres:sup3r-s3cret@127.0.0.1:{postgres_server.port}/no_such_database"
    with pytest.raises(StoreError) as refused:
        pg.PgStore(url)
    assert "sup3r-s3cret" not in str(refused.value)
    assert "postgres:***@127.0.0.1" in str(refused.value)
    assert "sup3r-s3cret" not in repr(StoreConfig(Secret(url)))
    assert redact_url(url) == f"postgresql://postgres:***@127.0.0.1:{postgres_server.port}/no_such_database"


def test_the_sqlite_dialect_is_translated_outside_quotes_and_comments() -> None:
    from worker.store.pg import translate

    sql = "SELECT id FROM documents INDEXED BY documents_search WHERE a LIKE ? AND b = '50% ?' AND \"c?\" = ? -- 100%?\nLIMIT ?"
    assert translate(sql) == "SELECT id FROM documents  WHERE a ILIKE %s AND b = '50%% ?' AND \"c?\" = %s -- 100%%?\nLIMIT %s"
    assert translate("SELECT 'it''s ?', ?") == "SELECT 'it''s ?', %s"


def test_store_url_config_keys(tmp_path: Path) -> None:
    base = test_config(tmp_path).path.read_text(encoding="utf-8")
    path = tmp_path / "mlc.toml"

    def load(store: str, environ: dict[str, str] | None = None):
        path.write_text(base + "\n[store]\n" + store, encoding="utf-8")
        return load_config(path, environ=environ or {})

    assert not load('url = ""').store.postgres
    assert load('url_env = "DB"', {"DB": "postgresql://u:pw@db/mlc"}).store.url.reveal() == "postgresql://u:pw@db/mlc"
    config = load('url = "postgresql://u:pw@db/mlc"')
    assert "pw" in config.secrets() and config.store.redacted == "postgresql://u:***@db/mlc"
    for text, message in (
        ('url = "mysql://u:pw@db/x"', 'mlc.toml: store.url: expected "" (SQLite in data_dir) or a postgresql:// URL'),
        ('url_env = "NOPE"', "mlc.toml: store.url_env: environment variable NOPE is not set"),
        ('url = "postgresql://a/b"\nurl_env = "DB"', "mlc.toml: store.url: give either url or url_env, not both"),
        ("pool = 3", "mlc.toml: store.pool: unknown key"),
    ):
        with pytest.raises(Exception) as refused:
            load(text)
        assert message in str(refused.value)
        assert "pw@" not in str(refused.value)


@postgres
def test_check_config_reports_the_connection_and_schema_version(postgres_server: PostgresServer, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from mlc.cli import main
    from worker.store import pg

    def check(url: str):
        path = test_config(tmp_path / url.rsplit("/", 1)[-1], url).path
        return CliRunner().invoke(main, ["--config", str(path), "check-config"], catch_exceptions=False)

    latest = len(pg.migrations())
    fresh = check(postgres_server.empty_database())
    assert fresh.exit_code == 0, fresh.output
    assert f"schema version 0 of {latest} (brought up to date when a worker starts)" in fresh.output
    current = check(postgres_server.fresh_database())
    assert current.exit_code == 0 and f"schema version {latest} of {latest}\n" in current.output and current.output.endswith("ok\n")
    # A password in the URL never shows; an unreachable database is one clear line and exit 1.
    gone = check(f"postgresql://postgres:hunter2-secret@127.0.0.1:{postgres_server.port}/not_there")
    assert gone.exit_code == 1
    assert "hunter2-secret" not in gone.output
    assert "store: postgresql://postgres:***@127.0.0.1" in gone.output and "cannot connect" in gone.output
    assert gone.output.rstrip().endswith("not ok: the store cannot be used as configured (see store: above)")


@postgres
@pytest.mark.trio
async def test_a_worker_on_postgres_never_shows_the_password(postgres_server: PostgresServer, tmp_path: Path, nursery) -> None:
    import httpx

    from tests.helpers.config import ADMIN_TOKEN, auth
    from worker.main import serve_worker

    # Loopback is trusted by the test server, so any password is accepted: it only has to stay hidden.
    database = postgres_server.fresh_database().rsplit("/", 1)[-1]
    url = f"postgresql://postgres:pg-Pass%40word-9@127.0.0.1:{postgres_server.port}/{database}"
    config = test_config(tmp_path, url)
    shutdown = trio.Event()
    running = await nursery.start(lambda task_status: serve_worker(config, shutdown, port=0, background=False, stderr_log=False, task_status=task_status))
    async with httpx.AsyncClient(base_url=running.url, headers=auth(ADMIN_TOKEN), timeout=20) as http:
        answers = [(await http.get(path)).text for path in ("/healthz", "/metrics", "/api/v1/summary", "/api/v1/documents")]
    assert running.ctx.store.where == f"postgresql://postgres:***@127.0.0.1:{postgres_server.port}/{database}"
    shutdown.set()
    await running.stopped.wait()
    logs = "".join(p.read_text(encoding="utf-8") for p in (tmp_path / "var" / "logs").glob("*"))  # warnings and errors (log_level)
    for text in [*answers, logs]:
        assert "pg-Pass" not in text
