"""The SQLite store: one connection, one writer at a time, one transaction per call.

Every call runs a function ``fn(conn, *args)`` inside ``BEGIN IMMEDIATE ... COMMIT`` on a worker
thread, one at a time (``turns.Turns``: calls someone waits for first), so trio's event loop never blocks on disk and two
transactions never interleave. Calls are not cancellable once started (trio's default for
``to_thread.run_sync``): a transaction always finishes or rolls back, never half-applies.

``durable=True`` commits with ``synchronous=FULL``: use it for anything that acknowledges data to
an outside party (a webhook's 200, a QuickBooks answer accepted), so a power cut after the
acknowledgement cannot lose it. Other writes use WAL's ``NORMAL``, which can lose only the last
moments before a power cut and never corrupts.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import trio

from worker.store.turns import Turns

if TYPE_CHECKING:
    from shared.config import Config
    from worker.store.pg import PgStore

T = TypeVar("T")

SCHEMA_VERSION_TABLE = "PRAGMA user_version"


class StoreError(Exception):
    """The database cannot be used as it is (newer version, corrupt, unreadable)."""


def migrations() -> list[tuple[int, str, str]]:
    """(version, name, sql) for every bundled SQLite migration, in order."""
    return numbered(resources.files("worker.store.migrations"))


def sql_files(folder: Traversable) -> list[tuple[int, str, str]]:
    """(version, name, sql) of the ``000N_*.sql`` files in a migrations package, in order."""
    found = []
    for entry in folder.iterdir():
        name = entry.name
        if name.endswith(".sql") and name[:4].isdigit():
            found.append((int(name[:4]), name, entry.read_text(encoding="utf-8")))
    return sorted(found)


def numbered(folder: Traversable) -> list[tuple[int, str, str]]:
    """``sql_files`` of a migrations package, checked to be numbered 1..N."""
    found = sql_files(folder)
    versions = [v for v, _, _ in found]
    if versions != list(range(1, len(found) + 1)):
        raise StoreError(f"migrations are not numbered 1..N without gaps: {versions}")
    return found


def latest_version() -> int:
    return len(migrations())


def _connect(path: Path) -> sqlite3.Connection:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=10)
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{path}: not a usable SQLite database ({exc})") from None
    try:
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA busy_timeout=10000")
    except BaseException as exc:
        conn.close()  # a file that is not a database still opened a connection; Python 3.13 warns about it
        if isinstance(exc, sqlite3.DatabaseError):
            raise StoreError(f"{path}: not a usable SQLite database ({exc})") from None
        raise
    return conn


def _migrate(conn: sqlite3.Connection, path: Path) -> None:
    current = conn.execute(SCHEMA_VERSION_TABLE).fetchone()[0]
    known = migrations()
    if current > len(known):
        raise StoreError(
            f"{path}: database is at schema version {current}, newer than this mlc supports ({len(known)}); upgrade ml-connector or point data_dir elsewhere"
        )
    for version, name, sql in known[current:]:
        try:
            conn.execute("BEGIN IMMEDIATE")
            if conn.execute(SCHEMA_VERSION_TABLE).fetchone()[0] >= version:
                conn.execute("ROLLBACK")  # another worker starting at the same time applied it
                continue
            for statement in _statements(sql):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {version}")
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            conn.execute("ROLLBACK")
            raise StoreError(f"{path}: migration {name} failed: {exc}") from None


def _statements(sql: str) -> list[str]:
    """Split a migration into statements (triggers contain ';' inside BEGIN ... END)."""
    statements, buffer = [], ""
    for line in sql.splitlines(keepends=True):
        if line.lstrip().startswith("--"):
            continue
        buffer += line
        if sqlite3.complete_statement(buffer):
            if buffer.strip():
                statements.append(buffer.strip())
            buffer = ""
    if buffer.strip():
        statements.append(buffer.strip())
    return statements


class Store:
    """The one connection to ``mlc.sqlite3`` in ``data_dir``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.where = str(path)  # what logs may say about the store (PgStore: the URL without its password)
        self._conn = _connect(path)
        self._turns = Turns()
        self._lock = threading.Lock()  # guards run_sync against a concurrent async call
        self._closed = False
        try:
            _migrate(self._conn, path)
        except BaseException:
            self._conn.close()
            raise

    @classmethod
    def in_dir(cls, data_dir: Path) -> Store:
        return cls(data_dir / "mlc.sqlite3")

    def _transaction(self, fn: Callable[..., T], args: tuple[Any, ...], durable: bool) -> T:
        with self._lock:
            if self._closed:
                raise StoreError("store is closed")
            conn = self._conn
            if durable:
                conn.execute("PRAGMA synchronous=FULL")
            try:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    result = fn(conn, *args)
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
                conn.execute("COMMIT")
                return result
            finally:
                if durable:
                    conn.execute("PRAGMA synchronous=NORMAL")

    async def run(self, fn: Callable[..., T], *args: Any, durable: bool = False, urgent: bool = False) -> T:
        """Run ``fn(conn, *args)`` in one transaction on the writer thread. ``urgent``: someone
        waits for the answer (a webhook's 200, QuickBooks' next set); it goes before background
        calls already waiting (worker/store/turns.py)."""
        async with self._turns.turn(urgent):
            return await trio.to_thread.run_sync(self._transaction, fn, args, durable)

    def run_sync(self, fn: Callable[..., T], *args: Any, durable: bool = False) -> T:
        """The same, from synchronous code (CLI commands, tests, start-up)."""
        return self._transaction(fn, args, durable)

    async def healthy(self) -> bool:
        try:
            return await self.run(lambda conn: conn.execute("SELECT 1").fetchone()[0] == 1)
        except (sqlite3.Error, StoreError):
            return False

    def close(self) -> None:
        with self._lock:
            if not self._closed:
                self._closed = True
                self._conn.close()


def open_store(config: Config) -> Store | PgStore:
    """The store ``[store] url`` names: SQLite in ``data_dir`` when empty, else PostgreSQL (psycopg
    is imported only then)."""
    if config.store.postgres:
        from worker.store.pg import PgStore

        return PgStore(config.store.url.reveal())
    return Store.in_dir(config.worker.data_dir)
