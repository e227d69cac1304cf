"""Web Connector passwords: argon2 hashes, verified off the event loop (a few at a time), failures slowed down."""

from __future__ import annotations

import hashlib
import sqlite3
import time
from collections import deque

import trio
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from shared.clock import now_iso
from shared.config import CompanyConfig, Config
from worker.store.db import open_store

_hasher = PasswordHasher()
# Verified against when the user is unknown, so an unknown user costs the same time as a known one.
_DUMMY_HASH = _hasher.hash("not a password anyone uses")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def store_password(config: Config, company: str, password: str) -> None:
    store = open_store(config)
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


async def verify(password_hash: str | None, password: str, limiter: trio.CapacityLimiter | None = None) -> bool:
    return await trio.to_thread.run_sync(_verify, password_hash, password, limiter=limiter)


MAX_CREDENTIAL_CHARS = 256  # a user name or password longer than this is refused before anything reads it
MAX_CONCURRENT_CHECKS = 2  # argon2 takes 64 MiB and a core per check: more at once only piles up memory


def plausible(username: str, password: str) -> bool:
    """Short enough to be a real credential. Checked first, so a 5 MB "user name" is never hashed,
    logged or remembered: it is a plain refusal."""
    return len(username) <= MAX_CREDENTIAL_CHARS and len(password) <= MAX_CREDENTIAL_CHARS


def shortened(username: str, keep: int = 40) -> str:
    """The user name as the log shows it: its start and its length, never more than ``keep`` characters."""
    return repr(username) if len(username) <= keep else f"{username[:keep]!r}... ({len(username)} characters)"


def client_key(client: str) -> str:
    """What the backoff remembers a client by: a fixed-size digest, whatever the caller claimed."""
    return hashlib.sha256(client.encode("utf-8", "replace")).hexdigest()[:32]


class LoginBackoff:
    """Failed logins slow their client down; they never lock the right password out.

    Wrong passwords from one client (address) make its next attempts wait before the password is
    checked: nothing for the first ``free`` failures inside ``window`` seconds, then ``base_s``
    doubling up to ``cap_s``. While one attempt of such a client waits or is being checked, further
    ones from it are answered ``busy`` at once, so it gets at most one guess per delay (a client
    without failures may log in to several companies at once), yet the real Web Connector behind the same address still gets in with the right
    password (a delay, not a refusal: QBWC waits 100 s for an answer). Keys are digests of the
    address, and entries older than the window are swept on a timer (``sweep_every``), ``max_keys``
    caps them even within one window."""

    def __init__(
        self,
        free: int = 3,
        base_s: float = 0.5,
        cap_s: float = 8.0,
        window: float = 300.0,
        clock=time.monotonic,
        max_keys: int = 10_000,
        sweep_every: float = 60.0,
    ) -> None:
        self.free, self.base_s, self.cap_s, self.window = free, base_s, cap_s, window
        self.clock = clock
        self.max_keys = max_keys
        self.sweep_every = sweep_every
        self._failures: dict[str, deque[float]] = {}
        self._pending: dict[str, int] = {}
        self._last_sweep = clock()

    def _recent(self, key: str) -> int:
        failures = self._failures.get(key)
        if failures is None:
            return 0
        cutoff = self.clock() - self.window
        while failures and failures[0] < cutoff:
            failures.popleft()
        if not failures:
            del self._failures[key]
        return len(failures)

    def delay(self, client: str) -> float:
        """Seconds this client's next attempt waits before its password is checked."""
        over = self._recent(client_key(client)) - self.free
        return 0.0 if over < 0 else min(self.base_s * 2**over, self.cap_s)

    def begin(self, client: str) -> bool:
        """Start an attempt; False when this client is being slowed down and already has one waiting
        or being checked."""
        self.sweep()
        key = client_key(client)
        if self._pending.get(key) and self.delay(client) > 0:
            return False
        self._pending[key] = self._pending.get(key, 0) + 1
        return True

    def end(self, client: str, good: bool, checked: bool = True) -> None:
        """End an attempt; only a password actually checked and wrong counts as a failure."""
        key = client_key(client)
        left = self._pending.get(key, 0) - 1
        if left > 0:
            self._pending[key] = left
        else:
            self._pending.pop(key, None)
        if not checked:
            return
        if good:
            self._failures.pop(key, None)
            return
        if key not in self._failures and len(self._failures) >= self.max_keys:
            self._drop_oldest()
        self._recent(key)
        self._failures.setdefault(key, deque(maxlen=64)).append(self.clock())

    def tracked(self) -> int:
        """How many clients have failures remembered (for tests and metrics)."""
        return len(self._failures)

    def sweep(self, force: bool = False) -> None:
        """Forget clients whose failures all left the window (at most once per ``sweep_every``)."""
        now = self.clock()
        if not force and now - self._last_sweep < self.sweep_every:
            return
        self._last_sweep = now
        for key in list(self._failures):
            self._recent(key)

    def _drop_oldest(self) -> None:
        self.sweep(force=True)
        while len(self._failures) >= self.max_keys:
            del self._failures[next(iter(self._failures))]
