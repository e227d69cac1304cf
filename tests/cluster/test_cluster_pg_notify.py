"""The PostgreSQL side of the cross-worker bus: LISTEN/NOTIFY between two workers' relays.

Needs psycopg and the PostgreSQL server binaries (a throwaway server on loopback, started here as
the ``postgres`` user when run as root); skipped, saying why, when either is missing. The store
handed to ``PostgresNotify`` is a stand-in running each call on its own psycopg connection with
the SQLite-style ``?`` placeholders translated, as the PostgreSQL store does.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
import trio

from worker import bus

psycopg = pytest.importorskip("psycopg", reason="psycopg is not installed (pip install 'psycopg[binary]')")


@pytest.fixture
def postgres_url():
    initdb, pg_ctl = shutil.which("initdb"), shutil.which("pg_ctl")
    if not initdb or not pg_ctl:
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) not found")
    root = Path(tempfile.mkdtemp(prefix="mlc-pg-"))  # not under pytest's tmp (0700: the server user cannot enter it)
    as_user: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    port = _free_port()
    data = root / "data"
    try:
        subprocess.run([*as_user, initdb, "-D", str(data), "-A", "trust", "-U", "mlc"], check=True, capture_output=True, timeout=60)
        subprocess.run(
            [
                *as_user,
                pg_ctl,
                "-D",
                str(data),
                "-l",
                str(root / "log"),
                "-w",
                "-o",
                f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off",
                "start",
            ],
            check=True,
            capture_output=True,
            timeout=60,
        )
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as exc:
        shutil.rmtree(root, ignore_errors=True)
        pytest.skip(f"PostgreSQL could not start: {exc} {getattr(exc, 'stderr', b'')!r}")
    try:
        yield f"postgresql://mlc@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*as_user, pg_ctl, "-D", str(data), "-m", "immediate", "stop"], capture_output=True, timeout=60)
        shutil.rmtree(root, ignore_errors=True)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class OneShotStore:
    """``run(fn)`` on a fresh autocommit-free connection, ``?`` placeholders as the store allows."""

    def __init__(self, url: str) -> None:
        self.url = url

    async def run(self, fn, *args):
        def call():
            with psycopg.connect(self.url) as conn:
                return fn(_Qmark(conn), *args)

        return await trio.to_thread.run_sync(call)


class _Qmark:
    def __init__(self, conn) -> None:
        self.conn = conn

    def execute(self, sql: str, params=()):
        return self.conn.execute(sql.replace("?", "%s"), params)


@pytest.mark.trio
async def test_a_change_on_one_worker_reaches_the_other_through_listen_notify(postgres_url: str) -> None:
    store = OneShotStore(postgres_url)

    def listener_for(worker_id: str) -> bus.PostgresNotify:
        return bus.PostgresNotify(store, worker_id, lambda: psycopg.connect(postgres_url, autocommit=True), reconnect_s=0.2)

    one, other = {bus.CHANGED: bus.Pulse(), bus.INBOX: bus.Pulse()}, {bus.CHANGED: bus.Pulse(), bus.INBOX: bus.Pulse()}
    async with trio.open_nursery() as nursery:
        nursery.start_soon(bus.relay, store, "w1", one, listener_for("w1"), 0.01)
        nursery.start_soon(bus.relay, store, "w2", other, listener_for("w2"), 0.01)
        with trio.fail_after(10):  # both listening: each rings its pulses once on (re)connecting
            while one[bus.INBOX].count < 1 or other[bus.INBOX].count < 1:
                await trio.sleep(0.02)
        before = other[bus.INBOX].count
        one[bus.INBOX].notify()
        with trio.fail_after(10):
            await other[bus.INBOX].wait(before)
        await trio.sleep(0.3)  # an echo would have come back by now
        assert one[bus.INBOX].count == 2 and other[bus.INBOX].count == before + 1
        assert other[bus.INBOX].local == 0
        nursery.cancel_scope.cancel()
