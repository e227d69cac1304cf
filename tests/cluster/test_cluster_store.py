"""The store side of several workers: leases, the keeper that runs jobs by lease, one audit chain
per company, and the change counters that wake other workers. Several ``Store`` objects on one
SQLite file stand in for several worker processes (each has its own connection)."""

from __future__ import annotations

import contextlib
import itertools
import sqlite3
from pathlib import Path

import pytest
import trio

from worker import bus, cluster
from worker.store import audit, leases
from worker.store.db import Store, _statements, migrations

NOW = 1_800_000_000_000
TTL = 10_000


@pytest.fixture
def store(tmp_path: Path):
    s = Store.in_dir(tmp_path)
    yield s
    s.close()


def test_a_lease_is_taken_once_renewed_by_its_holder_and_taken_over_only_after_expiry(store: Store) -> None:
    run = store.run_sync
    assert run(leases.try_take, "concur:acme", "w1", NOW, TTL) == 1
    assert run(leases.try_take, "concur:acme", "w2", NOW + 1, TTL) is None  # held
    assert run(leases.renew, "w1", ["concur:acme", "posting:acme"], NOW + 5_000, TTL) == {"concur:acme": 1}
    assert run(leases.try_take, "concur:acme", "w2", NOW + TTL + 1, TTL) is None  # renewal moved the expiry
    assert run(leases.holds, "concur:acme", "w1", 1, NOW + 6_000)
    generation = run(leases.try_take, "concur:acme", "w2", NOW + 5_000 + TTL, TTL)  # w1 died: expired
    assert generation == 2
    lease = run(leases.get, "concur:acme")
    assert (lease.holder, lease.takeovers) == ("w2", 1)
    # The old holder is fenced off: its generation is not the lease's any more, and it cannot renew.
    assert not run(leases.holds, "concur:acme", "w1", 1, NOW + 5_001 + TTL)
    assert run(leases.renew, "w1", ["concur:acme"], NOW + 5_001 + TTL, TTL) == {}
    # A release is not a takeover.
    assert run(leases.release, "w2", ["concur:acme"]) == 1
    assert run(leases.try_take, "concur:acme", "w1", NOW + 6_000 + TTL, TTL) == 3
    assert run(leases.get, "concur:acme").takeovers == 1


def test_a_holder_known_to_be_dead_is_not_waited_out(store: Store) -> None:
    store.run_sync(leases.try_take, "posting:acme", "h:1:a", NOW, TTL)
    assert store.run_sync(leases.try_take, "posting:acme", "w2", NOW + 1, TTL, "h:1:a") == 2
    assert store.run_sync(leases.try_take, "posting:acme", "w3", NOW + 2, TTL, "h:1:a") is None  # the dead one is gone already


def test_holder_gone_only_for_a_missing_process_on_this_host() -> None:
    import os
    import socket
    import subprocess
    import sys

    host = socket.gethostname()
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    assert cluster.holder_gone(f"{host}:{child.pid}:abc")
    assert not cluster.holder_gone(f"{host}:{os.getpid()}:abc")  # ourselves
    assert not cluster.holder_gone(f"other-host:{child.pid}:abc")  # cannot tell: wait for expiry
    assert not cluster.holder_gone("not-a-worker-id")


def test_workers_share_the_jobs_out_and_a_newcomer_gets_its_share(store: Store) -> None:
    jobs = sorted([f"{job}:{c}" for job in ("concur", "posting") for c in ("a", "b", "c")] + ["alerts:*"])
    alive = lambda holder: False  # noqa: E731  (nobody is gone)
    first = store.run_sync(cluster.tick, "w1", jobs, NOW, TTL, alive)
    assert sorted(first.held) == jobs and not first.release  # alone: everything
    second = store.run_sync(cluster.tick, "w2", jobs, NOW + 1, TTL, alive)
    assert second.held == {} and second.members == 2  # all held, none expired
    again = store.run_sync(cluster.tick, "w1", jobs, NOW + 2, TTL, alive)
    assert len(again.release) == 3  # 7 jobs, 2 workers: a fair share is 4, w1 keeps 4
    store.run_sync(leases.release, "w1", again.release)
    later = store.run_sync(cluster.tick, "w2", jobs, NOW + 3, TTL, alive)
    assert sorted(later.held) == sorted(again.release)


@pytest.mark.trio
async def test_the_keeper_runs_a_job_while_it_holds_the_lease_and_another_worker_takes_over(tmp_path: Path) -> None:
    stores = [Store.in_dir(tmp_path), Store.in_dir(tmp_path)]
    runs: list[str] = []
    try:
        async with trio.open_nursery() as nursery:
            scopes = []
            for number, store in enumerate(stores):

                def jobs(number=number):
                    async def job():
                        runs.append(f"w{number}")
                        await trio.sleep_forever()

                    return {"concur:acme": job}

                keeper = cluster.LeaseKeeper(store, f"w{number}", 0.6, jobs)
                scope = trio.CancelScope()
                scopes.append(scope)

                async def keep(keeper=keeper, scope=scope):
                    with scope:
                        await keeper.run()

                nursery.start_soon(keep)
                await trio.sleep(0.1)
            with trio.fail_after(5):
                while not runs:
                    await trio.sleep(0.02)
            # The keepers may hand the job back and forth once while they find each other: stop
            # whichever holds it now. A graceful stop releases, and the other takes over at its next beat.
            with trio.fail_after(5):
                while not (before := await stores[0].run(leases.get, "concur:acme")).holder:
                    await trio.sleep(0.02)
            first = before.holder
            other = "w1" if first == "w0" else "w0"
            started = len(runs)
            scopes[int(first[1])].cancel()
            with trio.fail_after(5):
                while other not in runs[started:]:
                    await trio.sleep(0.02)
            lease = await stores[0].run(leases.get, "concur:acme")
            assert lease.holder == other and lease.generation > before.generation
            assert runs[started:] == [other]  # the stopped keeper's job did not start again
            nursery.cancel_scope.cancel()
    finally:
        for store in stores:
            store.close()


def test_each_company_has_its_own_audit_chain_and_verify_still_catches_tampering(store: Store) -> None:
    for i in range(4):
        store.run_sync(audit.append, "acme", None, "worker", "test", {"i": i})
        store.run_sync(audit.append, "beta", None, "worker", "test", {"i": i})
    assert store.run_sync(audit.verify) == []
    rows = store.run_sync(lambda conn: conn.execute("SELECT id, company, prev_hash, hash FROM audit ORDER BY id").fetchall())
    acme = [r for r in rows if r["company"] == "acme"]
    assert all(later["prev_hash"] == earlier["hash"] for earlier, later in itertools.pairwise(acme))
    assert acme[0]["prev_hash"] == audit.GENESIS

    def remove_last_of_acme(conn: sqlite3.Connection) -> None:
        conn.execute("DROP TRIGGER audit_no_delete")
        conn.execute("DELETE FROM audit WHERE id = ?", (acme[-1]["id"],))

    store.run_sync(remove_last_of_acme)
    messages = [p.message for p in store.run_sync(audit.verify)]
    assert messages == [f"entry {acme[-2]['id']} is not the last of acme's chain (later entries were removed)"]


def test_a_chain_written_before_the_switch_still_verifies_and_continues_per_company(tmp_path: Path) -> None:
    path = tmp_path / "mlc.sqlite3"
    with contextlib.closing(sqlite3.connect(path)) as conn, conn:
        for version, _, sql in migrations()[:13]:
            for statement in _statements(sql):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {version}")
        prev = audit.GENESIS
        for company in ("acme", "beta", "acme"):
            digest = audit._digest(prev, company, None, "2026-12-01T00:00:00Z", "worker", "old", "{}")
            conn.execute(
                "INSERT INTO audit (company, document_id, at, actor, action, detail, prev_hash, hash) VALUES (?,?,?,?,?,?,?,?)",
                (company, None, "2026-12-01T00:00:00Z", "worker", "old", "{}", prev, digest),
            )
            prev = digest
    store = Store(path)
    try:
        store.run_sync(audit.append, "acme", None, "worker", "new", {})
        store.run_sync(audit.append, "beta", None, "worker", "new", {})
        assert store.run_sync(audit.verify) == []
        rows = store.run_sync(lambda conn: conn.execute("SELECT id, prev_hash, hash FROM audit ORDER BY id").fetchall())
        assert rows[3]["prev_hash"] == rows[2]["hash"]  # acme's new entry follows acme's last
        assert rows[4]["prev_hash"] == rows[1]["hash"]  # beta's follows beta's
    finally:
        store.close()


@pytest.mark.trio
async def test_a_change_on_one_worker_rings_the_other_and_never_echoes(tmp_path: Path) -> None:
    one, other = Store.in_dir(tmp_path), Store.in_dir(tmp_path)
    pulses_one, pulses_other = {bus.CHANGED: bus.Pulse()}, {bus.CHANGED: bus.Pulse()}
    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(bus.relay, one, "w1", pulses_one, bus.StoreCounters(one, "w1", poll_s=0.05), 0.05)
            nursery.start_soon(bus.relay, other, "w2", pulses_other, bus.StoreCounters(other, "w2", poll_s=0.05), 0.05)
            await trio.sleep(0.2)
            pulses_one[bus.CHANGED].notify()
            with trio.fail_after(5):
                await pulses_other[bus.CHANGED].wait(0)
            await trio.sleep(0.4)  # long enough for an echo to come back, were there one
            assert pulses_one[bus.CHANGED].count == 1 and pulses_other[bus.CHANGED].count == 1
            assert pulses_other[bus.CHANGED].local == 0
            nursery.cancel_scope.cancel()
    finally:
        one.close()
        other.close()
