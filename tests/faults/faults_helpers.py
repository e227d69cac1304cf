"""Shared pieces of the fault harness: the worker as a real process, the store read from outside,
and the invariants every fault test ends with (one QuickBooks transaction per document, totals
equal to Concur's)."""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
import trio

from mlc import harness

REPO = Path(__file__).resolve().parents[2]
DEMO_CONFIG = REPO / "mlc.toml"
SOAK = bool(os.environ.get("MLC_SOAK"))

soak_only = pytest.mark.skipif(not SOAK, reason="long form: set MLC_SOAK=1 (make soak)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class WorkerProcess:
    """``python -m mlc.cli --config <run>/mlc.toml worker`` as a child process, killable at will."""

    def __init__(self, config_path: Path, url: str, log_path: Path) -> None:
        self.config_path, self.url, self.log_path = config_path, url, log_path
        self.process: subprocess.Popen | None = None
        self.starts = 0

    def start(self) -> None:
        assert self.process is None or self.process.poll() is not None
        log = self.log_path.open("ab")
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "mlc.cli", "--config", str(self.config_path), "worker"], cwd=str(REPO), stdout=log, stderr=subprocess.STDOUT
            )
        finally:
            log.close()
        self.starts += 1

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL (TerminateProcess on Windows): no cleanup, no graceful stop."""
        if self.alive():
            self.process.kill()
        if self.process is not None:
            self.process.wait(10)

    def stop(self) -> None:
        if self.alive():
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)

    async def wait_healthy(self, timeout_s: float = 30.0) -> None:
        with trio.fail_after(timeout_s):
            async with httpx.AsyncClient(timeout=2.0) as http:
                while True:
                    if not self.alive():
                        raise AssertionError(f"worker exited with {self.process.returncode}; log:\n{self.log_tail()}")
                    try:
                        if (await http.get(self.url + "/healthz")).status_code == 200:
                            return
                    except httpx.HTTPError:
                        pass
                    await trio.sleep(0.05)

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def rss_mb(pid: int) -> float | None:
    """The process's resident memory in MB (Linux), or None where /proc does not tell."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            return next(int(line.split()[1]) / 1024 for line in status if line.startswith("VmRSS:"))
    except (OSError, StopIteration):
        return None


def db_path(h: harness.Harness) -> Path:
    return h.config.worker.data_dir / "mlc.sqlite3"


def read_db(h: harness.Harness, sql: str, *args) -> list[sqlite3.Row]:
    """Read the worker's store from outside (a separate connection; WAL lets readers in)."""
    return harness.read_store(h.config, sql, *args)


def states(h: harness.Harness) -> dict[str, int]:
    return {r[0]: r[1] for r in read_db(h, "SELECT state, COUNT(*) FROM documents GROUP BY state")}


def pending_postings(h: harness.Harness) -> int:
    return read_db(h, "SELECT COUNT(*) FROM postings WHERE state IN ('queued', 'sent', 'unknown')")[0][0]


def all_posted(h: harness.Harness, expected: int) -> bool:
    return states(h) == {"posted": expected} and not pending_postings(h)


def assert_exactly_once(h: harness.Harness, expected: int) -> None:
    """Every approved Concur document is one QuickBooks transaction; none twice; totals equal."""
    assert states(h) == {"posted": expected}, states(h)
    txns = harness.quickbooks_transactions(h.company_file)
    guids = Counter(str(t.get("ExternalGUID") or "") for _, t in txns)
    assert "" not in guids, "every transaction carries our ExternalGUID"
    twice = {g: n for g, n in guids.items() if n > 1}
    assert not twice, f"written more than once: {twice}"
    assert len(txns) == expected, f"{len(txns)} QuickBooks transactions for {expected} documents"
    stored = {r[0] for r in read_db(h, "SELECT external_guid FROM postings WHERE op IN ('BillAdd', 'JournalEntryAdd') AND state = 'done'")}
    assert stored == set(guids), "the worker's record and QuickBooks agree on which transactions exist"
    aside = harness.settlement_accounts(h.config)  # what employees owe back, advances: not Concur's approved amount
    qb_total = sum((harness.transaction_total(kind, t, h.company_file, aside) for kind, t in txns), Decimal(0))
    assert qb_total == h.concur.totals_approved(h.company), (qb_total, h.concur.totals_approved(h.company))


async def until(predicate, timeout_s: float, what: str, pause_s: float = 0.05) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:.0f}s waiting for {what}")
        await trio.sleep(pause_s)
