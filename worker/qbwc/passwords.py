"""Web Connector passwords: argon2 hashes, verified off the event loop, failures throttled."""

from __future__ import annotations

import sqlite3
import time
from collections import deque

import trio
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from shared.clock import now_iso
from shared.config import CompanyConfig, Config
from worker.store.db import Store

_hasher = PasswordHasher()
# Verified against when the user is unknown, so an unknown user costs the same time as a known one.
_DUMMY_HASH = _hasher.hash("not a password anyone uses")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def store_password(config: Config, company: str, password: str) -> None:
    store = Store.in_dir(config.worker.data_dir)
    try:
        store.run_sync(_save, company, hash_password(password))
    finally:
        store.close()


def _save(conn: sqlite3.Connection, company: str, password_hash: str) -> None:
    conn.execute(
        "INSERT INTO qbwc_credentials (company, password_hash, set_at) VALUES (?,?,?) ON CONFLICT (company) DO UPDATE SET password_hash = excluded.password_hash, set_at = excluded.set_at",
        (company, password_hash, now_iso()),
    )


def stored_hash(conn: sqlite3.Connection, company: str) -> str | None:
    row = conn.execute("SELECT password_hash FROM qbwc_credentials WHERE company = ?", (company,)).fetchone()
    return row[0] if row else None


def configured_hash(company: CompanyConfig) -> str | None:
    """The config's hash, or one made now from a password given through the environment."""
    if company.qbwc.password_hash:
        return company.qbwc.password_hash
    if company.qbwc.password:
        return hash_password(company.qbwc.password.reveal())
    return None


def _verify(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


async def verify(password_hash: str | None, password: str) -> bool:
    return await trio.to_thread.run_sync(_verify, password_hash, password)


class LoginThrottle:
    """At most ``limit`` failed logins per (username, client) in ``window`` seconds.

    Only failures are remembered, and only while they are inside the window: a stream of made-up
    user names must not grow this without bound (``max_keys`` caps it even within one window)."""

    def __init__(self, limit: int = 5, window: float = 300.0, clock=time.monotonic, max_keys: int = 10_000) -> None:
        self.limit = limit
        self.window = window
        self.clock = clock
        self.max_keys = max_keys
        self._failures: dict[tuple[str, str], deque[float]] = {}

    def _recent(self, key: tuple[str, str]) -> deque[float]:
        failures = self._failures.get(key)
        if failures is None:
            return deque()
        cutoff = self.clock() - self.window
        while failures and failures[0] < cutoff:
            failures.popleft()
        if not failures:
            del self._failures[key]
        return failures

    def blocked(self, username: str, client: str) -> bool:
        return len(self._recent((username, client))) >= self.limit

    def failed(self, username: str, client: str) -> None:
        key = (username, client)
        if key not in self._failures and len(self._failures) >= self.max_keys:
            self._prune()
        self._recent(key)
        self._failures.setdefault(key, deque()).append(self.clock())

    def succeeded(self, username: str, client: str) -> None:
        self._failures.pop((username, client), None)

    def tracked(self) -> int:
        """How many (username, client) pairs have failures remembered (for tests and metrics)."""
        return len(self._failures)

    def _prune(self) -> None:
        """Forget expired entries; when still full, the oldest ones (insertion order)."""
        for key in list(self._failures):
            self._recent(key)
        while len(self._failures) >= self.max_keys:
            del self._failures[next(iter(self._failures))]
