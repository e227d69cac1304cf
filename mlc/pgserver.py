"""A real PostgreSQL server on loopback, started from the OS binaries: the test suite's (one per
session, ``tests/conftest.py``) and the cluster benchmark's (``bench/cluster.py``).

One server per test session, in a temporary directory, on a free port with its unix socket in that
directory; every test gets a fresh database copied from a template that already holds the schema
(``CREATE DATABASE ... TEMPLATE``, a file copy: milliseconds instead of 13 migrations).

The binaries are looked for on PATH, then where Debian/Ubuntu install them
(``/usr/lib/postgresql/<version>/bin``). PostgreSQL refuses to run as root, so under uid 0 the server
runs as the ``postgres`` user (or ``nobody``) through ``runuser``. When no binaries are found, or the
server cannot start, the tests that need it skip and say why (``.ci/run`` installs the packages).
The server trusts loopback connections: it exists only for the test session.
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import psycopg

TEMPLATE = "mlc_template"
SERVER_SETTINGS = "-c max_connections=200 -c shared_buffers=32MB -c listen_addresses=127.0.0.1"
# The tests' server is throwaway: durability off (tests never survive a power cut). The benchmark's
# keeps PostgreSQL's defaults (fsync, synchronous commit), as a production server would, so that it
# is compared fairly with SQLite's synchronous=FULL.
NOT_DURABLE = "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"


def find_binary(name: str) -> str | None:
    """``name`` on PATH, else in the newest ``/usr/lib/postgresql/<version>/bin``."""
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=lambda p: _version_key(Path(p).parents[1].name))
    return candidates[-1] if candidates else None


def _version_key(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split(".") if part.isdigit())


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _unprivileged_user() -> str | None:
    """Under root: who the server runs as (initdb and postgres refuse uid 0)."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    return None


class PostgresServer:
    """The session's server. ``start`` raises ``RuntimeError`` with the reason when it cannot run."""

    def __init__(self, durable: bool = False) -> None:
        self.durable = durable
        self.root: Path | None = None
        self.port = 0
        self.user: str | None = None
        self._pg_ctl: str | None = None
        self._numbers = itertools.count(1)
        self._admin: psycopg.Connection | None = None

    def _as_user(self, argv: list[str]) -> list[str]:
        return ["runuser", "-u", self.user, "--", *argv] if self.user else argv

    def start(self) -> None:
        initdb, pg_ctl = find_binary("initdb"), find_binary("pg_ctl")
        if not initdb or not pg_ctl:
            raise RuntimeError("PostgreSQL server binaries (initdb, pg_ctl) not found on PATH or in /usr/lib/postgresql/*/bin; .ci/run installs them")
        self.user = _unprivileged_user()
        if os.geteuid() == 0 and not (self.user and shutil.which("runuser")):
            raise RuntimeError("running as root, and no unprivileged user (postgres, nobody) or runuser to run PostgreSQL as")
        self._pg_ctl = pg_ctl
        self.root = Path(tempfile.mkdtemp(prefix="mlc-pg-"))
        data, sockets = self.root / "data", self.root / "sock"
        sockets.mkdir()
        if self.user:
            entry = pwd.getpwnam(self.user)
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
            os.chown(sockets, entry.pw_uid, entry.pw_gid)
        self.port = _free_port()
        self._run([initdb, "-D", str(data), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--locale=C", "--no-sync"], "initdb")
        options = f"-p {self.port} -k {sockets} {SERVER_SETTINGS}" + ("" if self.durable else f" {NOT_DURABLE}")
        self._run([pg_ctl, "-D", str(data), "-o", options, "-l", str(self.root / "server.log"), "-w", "-t", "60", "start"], "pg_ctl start")
        import psycopg

        self._admin = psycopg.connect(self.url("postgres"), autocommit=True)
        self._admin.execute(f"CREATE DATABASE {TEMPLATE}")
        from worker.store.pg import PgStore

        PgStore(self.url(TEMPLATE)).close()  # the schema, once; every test's database copies it

    def _run(self, argv: list[str], what: str) -> None:
        done = subprocess.run(self._as_user(argv), capture_output=True, text=True, timeout=120, cwd=self.root)
        if done.returncode != 0:
            log = ""
            if self.root and (self.root / "server.log").exists():
                log = (self.root / "server.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"{what} failed ({done.returncode}): {done.stderr.strip()[-2000:]}{log}")

    def url(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def fresh_database(self) -> str:
        """A new database with the current schema; returns its URL."""
        name = f"mlc_test_{next(self._numbers)}"
        assert self._admin is not None
        self._admin.execute(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE}")
        return self.url(name)

    def drop(self, url: str) -> None:
        """Drop a test's database once it is done (keeps the session's disk use to a few databases)."""
        assert self._admin is not None
        name = url.rsplit("/", 1)[-1]
        self._admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def empty_database(self) -> str:
        """A new database without any schema (for migration tests)."""
        name = f"mlc_empty_{next(self._numbers)}"
        assert self._admin is not None
        self._admin.execute(f"CREATE DATABASE {name}")
        return self.url(name)

    def stop(self) -> None:
        if self._admin is not None:
            self._admin.close()
        if self.root is not None and self._pg_ctl:
            subprocess.run(self._as_user([self._pg_ctl, "-D", str(self.root / "data"), "-m", "immediate", "-w", "stop"]), capture_output=True, timeout=60)
            shutil.rmtree(self.root, ignore_errors=True)
