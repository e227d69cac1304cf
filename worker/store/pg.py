"""The PostgreSQL store: the same ``await store.run(fn)`` as SQLite, on a database many workers share.

Every call runs ``fn(conn, *args)`` in one transaction on a worker thread, with a connection taken
from a small pool; a worker's async calls run one at a time (``turns.Turns``), as on SQLite, and
workers run beside each other. Transactions are SERIALIZABLE, so what a call reads and writes
behaves as if no other call ran beside it — the guarantee SQLite's one writer gives — and a call
PostgreSQL had to abort for a conflict (40001), a deadlock (40P01) or a unique key a concurrent call
inserted first (23505) runs again, a bounded number of times. A call's ``fn`` must therefore only
touch the database (what every store function does).

``fn`` is written once for both backends: it gets a ``PgConnection`` that speaks the SQLite dialect
the call sites use (``?`` parameters, rows readable by index and by name, ``LIKE`` without regard
to case) and translates it. ``durable=False`` commits with ``synchronous_commit = off``, PostgreSQL's
equivalent of SQLite's WAL ``NORMAL``: a crash may lose the last moments, never corrupts.

Errors leave as ``StoreError`` with the URL's password redacted; the original is chained.
"""

from __future__ import annotations

import functools
import random
import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from importlib import resources
from typing import Any, TypeVar

import psycopg
import trio
from psycopg import errors as pg_errors

from shared.config import redact_url
from worker.store.db import StoreError, sql_files
from worker.store.db import migrations as sqlite_migrations
from worker.store.turns import Turns

T = TypeVar("T")

POOL_SIZE = 4  # connections kept per worker (async calls, and synchronous callers beside them)
MAX_TRIES = 20  # a transaction aborted for a conflict runs again at most this often
RETRY_PAUSE_S = (0.002, 0.2)  # first pause, longest pause (doubling, with jitter)
CONNECT_TIMEOUT_S = 10
# A unique key another transaction inserted after this one looked for it: run again, and the call
# sees the row this time (SQLite's single writer never lets the look and the insert be split).
RETRYABLE = (pg_errors.SerializationFailure, pg_errors.DeadlockDetected, pg_errors.UniqueViolation)


def migrations() -> list[tuple[int, str, str]]:
    """(version, name, sql) of the PostgreSQL migrations, one per SQLite migration: the file of that
    number in ``migrations_pg`` where PostgreSQL needs its own dialect, else the SQLite migration
    itself (its SQL is portable)."""
    own = {entry[0]: entry for entry in sql_files(resources.files("worker.store.migrations_pg"))}
    shared = sqlite_migrations()
    stray = sorted(set(own) - {version for version, _, _ in shared})
    if stray:
        raise StoreError(f"PostgreSQL migrations with no SQLite migration of the same number: {stray}")
    return [own.get(version, (version, name, sql)) for version, name, sql in shared]


class Row(tuple):
    """A result row readable like ``sqlite3.Row``: ``row[0]``, ``row["state"]``, ``row.keys()``, ``dict(row)``."""

    __slots__ = ()
    _index: dict[str, int] = {}

    def __getitem__(self, key):  # type: ignore[override]
        if isinstance(key, str):
            return tuple.__getitem__(self, self._index[key])
        return tuple.__getitem__(self, key)

    def keys(self) -> list[str]:
        return list(self._index)


def _row_factory(cursor: psycopg.Cursor) -> Callable[[Sequence[Any]], Row]:
    names = [c.name for c in cursor.description or ()]
    cls = _row_class(tuple(names))
    return cls


@functools.lru_cache(maxsize=512)
def _row_class(names: tuple[str, ...]) -> type[Row]:
    index: dict[str, int] = {}
    for i, name in enumerate(names):
        index.setdefault(name, i)  # like sqlite3.Row: the first column of that name
    return type("Row", (Row,), {"__slots__": (), "_index": index})


_TOKENS = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|--[^\n]*|\?|%|\bINDEXED\s+BY\s+\w+|\bLIKE\b", re.IGNORECASE)


@functools.lru_cache(maxsize=2048)
def translate(sql: str) -> str:
    """SQLite's dialect as the call sites write it -> PostgreSQL: ``?`` -> ``%s`` (and a literal ``%``
    doubled), ``LIKE`` -> ``ILIKE`` (SQLite's LIKE ignores ASCII case), ``INDEXED BY`` (a SQLite
    planner hint) dropped. Text inside quotes and comments is left alone."""

    def one(match: re.Match[str]) -> str:
        token = match.group(0)
        if token == "?":
            return "%s"
        if token == "%":
            return "%%"
        upper = token.upper()
        if upper == "LIKE":
            return "ILIKE"
        if upper.startswith("INDEXED"):
            return ""
        return token.replace("%", "%%") if token[0] in "'\"-" else token  # psycopg reads % even in quotes and comments

    return _TOKENS.sub(one, sql)


def _param(value: Any) -> Any:
    # SQLite stores True as 1 in INTEGER columns; PostgreSQL refuses a boolean there.
    return int(value) if isinstance(value, bool) else value


class PgCursor:
    """What the call sites use of a sqlite3 cursor: fetchone/fetchall/iteration/rowcount."""

    __slots__ = ("_cursor",)

    def __init__(self, cursor: psycopg.Cursor[Row]) -> None:
        self._cursor = cursor

    def fetchone(self) -> Row | None:
        return self._cursor.fetchone() if self._cursor.description else None

    def fetchall(self) -> list[Row]:
        return self._cursor.fetchall() if self._cursor.description else []

    def __iter__(self) -> Iterator[Row]:
        return iter(self.fetchall())

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int:
        raise StoreError("lastrowid is SQLite's: write INSERT ... RETURNING id instead")


class PgConnection:
    """A psycopg connection behind the sqlite3 methods the store functions call."""

    __slots__ = ("_conn",)

    def __init__(self, conn: psycopg.Connection) -> None:
        self._conn = conn

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> PgCursor:
        cursor = self._conn.cursor(row_factory=_row_factory)
        cursor.execute(translate(sql), [_param(v) for v in params or ()])
        return PgCursor(cursor)

    def executemany(self, sql: str, seq: Any) -> PgCursor:
        cursor = self._conn.cursor(row_factory=_row_factory)
        cursor.executemany(translate(sql), [[_param(v) for v in params] for params in seq])
        return PgCursor(cursor)


def connect(url: str) -> psycopg.Connection:
    """One autocommit connection (the pool's, or a reader's outside any worker). Its transactions
    are SERIALIZABLE (one ``BEGIN ISOLATION LEVEL SERIALIZABLE``, no extra round trip) and commit
    without waiting for the disk unless a call asks for durability."""
    try:
        return psycopg.connect(
            url,
            autocommit=True,
            connect_timeout=CONNECT_TIMEOUT_S,
            application_name="mlc-worker",
            options="-c synchronous_commit=off -c default_transaction_isolation=serializable",
        )
    except psycopg.Error as exc:
        raise StoreError(f"{redact_url(url)}: cannot connect to PostgreSQL ({_scrub(str(exc), url)})") from None


def _scrub(text: str, url: str) -> str:
    """An error text with the URL (and its password) taken out, whatever psycopg quoted of it."""
    from shared.config import _url_password

    password = _url_password(url)
    text = text.replace(url, redact_url(url)).strip()
    return text.replace(password, "***") if password else text


class _Pool:
    """A few connections, opened on demand and reused; a broken one is dropped, not returned."""

    def __init__(self, url: str, size: int) -> None:
        self.url, self.size = url, size
        self._idle: list[psycopg.Connection] = []
        self._lock = threading.Lock()
        self._all: set[psycopg.Connection] = set()

    def take(self) -> psycopg.Connection:
        with self._lock:
            while self._idle:
                conn = self._idle.pop()
                if not conn.closed:
                    return conn
                self._all.discard(conn)
        conn = connect(self.url)
        with self._lock:
            self._all.add(conn)
        return conn

    def give_back(self, conn: psycopg.Connection) -> None:
        with self._lock:
            if conn.closed or conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
                self._all.discard(conn)
                conn.close()
            else:
                self._idle.append(conn)

    def close(self) -> None:
        with self._lock:
            for conn in self._all:
                conn.close()
            self._all.clear()
            self._idle.clear()


def _migrate(conn: psycopg.Connection, url: str) -> None:
    """Apply the PostgreSQL migrations not applied yet, each in its own transaction. An advisory lock
    keeps two workers starting at once from migrating side by side."""
    known = migrations()
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(7735001)")  # any constant: "mlc schema migration"
        conn.execute("CREATE TABLE IF NOT EXISTS mlc_schema (version INTEGER NOT NULL, name TEXT NOT NULL, applied_at TEXT NOT NULL)")
        current = schema_version(conn)
        if current > len(known):
            raise StoreError(
                f"{redact_url(url)}: database is at schema version {current}, newer than this mlc supports ({len(known)}); upgrade ml-connector or use another database"
            )
        for version, name, sql in known[current:]:
            try:
                with conn.transaction():
                    conn.execute(sql)
                    conn.execute(
                        "INSERT INTO mlc_schema (version, name, applied_at) VALUES (%s, %s, to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'))",
                        (version, name),
                    )
            except psycopg.Error as exc:
                raise StoreError(f"{redact_url(url)}: migration {name} failed: {_scrub(str(exc), url)}") from None


def schema_version(conn: psycopg.Connection) -> int:
    """The newest migration applied (0 for a database mlc has not set up)."""
    found = conn.execute("SELECT to_regclass('mlc_schema') IS NOT NULL").fetchone()
    if not found or not found[0]:
        return 0
    row = conn.execute("SELECT COALESCE(MAX(version), 0) FROM mlc_schema").fetchone()
    return int(row[0]) if row else 0


class PgStore:
    """The store on PostgreSQL: ``run``/``run_sync``/``healthy``/``close`` as ``Store`` has them."""

    def __init__(self, url: str, pool_size: int = POOL_SIZE) -> None:
        self.where = redact_url(url)
        self._url = url
        self._pool = _Pool(url, pool_size)
        # Async calls of one worker run one at a time, as on SQLite: every state change appends to
        # the company's audit chain, so two transactions of the same worker would mostly abort each
        # other; a worker's calls are short, and parallelism comes from more workers (whose
        # conflicts the retries absorb).
        self._turns = Turns()
        self._closed = False
        conn = self._pool.take()
        try:
            _migrate(conn, url)
        except BaseException:
            self._pool.close()
            raise
        self._pool.give_back(conn)

    def _transaction(self, fn: Callable[..., T], args: tuple[Any, ...], durable: bool) -> T:
        if self._closed:
            raise StoreError("store is closed")
        for attempt in range(1, MAX_TRIES + 1):
            conn = self._pool.take()
            try:
                with conn.transaction():
                    if durable:
                        conn.execute("SET LOCAL synchronous_commit = on")
                    return fn(PgConnection(conn), *args)
            except RETRYABLE as exc:
                if attempt == MAX_TRIES:
                    raise StoreError(f"{self.where}: transaction kept conflicting with others ({attempt} tries): {_scrub(str(exc), self._url)}") from exc
                # A short, growing, jittered pause lets the other transaction finish (and two
                # workers that collided not collide again in step).
                first, longest = RETRY_PAUSE_S
                time.sleep(random.uniform(0.5, 1.0) * min(longest, first * 2**attempt))
            except psycopg.Error as exc:
                raise StoreError(f"{self.where}: {type(exc).__name__}: {_scrub(str(exc), self._url)}") from exc
            finally:
                self._pool.give_back(conn)
        raise AssertionError("unreachable")

    async def run(self, fn: Callable[..., T], *args: Any, durable: bool = False, urgent: bool = False) -> T:
        """Run ``fn(conn, *args)`` in one transaction on a worker thread (``urgent`` as ``Store.run``)."""
        async with self._turns.turn(urgent):
            return await trio.to_thread.run_sync(self._transaction, fn, args, durable)

    def run_sync(self, fn: Callable[..., T], *args: Any, durable: bool = False) -> T:
        """The same, from synchronous code (CLI commands, tests, start-up)."""
        return self._transaction(fn, args, durable)

    def schema_version(self) -> int:
        conn = self._pool.take()
        try:
            return schema_version(conn)
        finally:
            self._pool.give_back(conn)

    async def healthy(self) -> bool:
        try:
            return await self.run(lambda conn: conn.execute("SELECT 1").fetchone()[0] == 1)
        except StoreError:
            return False

    def close(self) -> None:
        self._closed = True
        self._pool.close()
