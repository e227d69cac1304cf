"""``mlc demo``: the product on loopback with simulated Concur, QuickBooks and Web Connector.

Without ``--config`` it runs the demo configuration shipped in the package (``mlc/demo.toml``), in
any directory, and keeps its data in ``./var/demo`` of the directory it runs in; given a config, in
``<data_dir>/demo``. Either way the run directory is fresh each run, so the demo never touches a
real company's store. Headless (or without a TTY) it shows a progress bar on stderr and ends with the
contract's one-line JSON summary on stdout; otherwise it opens the console on the live worker.
"""

from __future__ import annotations

import os
import shutil
import socket
import sys
import threading
import time
from pathlib import Path
from typing import NamedTuple
from urllib.parse import urlsplit

import trio

from mlc import harness
from shared.config import Config, ConfigError, load_config

EXIT_CONFIG = 2
BAR_WIDTH = 30
APPROVALS_PER_TICK = 2
DEMO_TICK_S = 2.0
# Half the reports in the shapes real tenants produce (IBCP cards, personal charges, itemized
# hotels, partly approved expenses: issue 12), the rest and the invoices simple.
DEMO_PROFILE = "mixed"
DEMO_CONFIG = Path(__file__).with_name("demo.toml")
DEMO_DATA = Path("var")  # relative to the directory the demo runs in, as the checkout's mlc.toml has it


class Ports(NamedTuple):
    """Where the demo's worker and simulated Concur listen; 0 = any free port."""

    worker: int
    concur: int


def run_demo(config_path: str | None, *, headless: bool, reports: int, invoices: int, seed: int, accounts_by_code: bool = False, fis: bool = False) -> int:
    """``config_path`` is a ``--config`` given on the command line (``$MLC_CONFIG`` does not count:
    a demo should not pick up a real company's configuration from the environment)."""
    try:
        config = load_config(config_path or DEMO_CONFIG)
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return EXIT_CONFIG
    ports = Ports(config.worker.listen_port, _concur_port(config))
    busy = [port for port in ports if port and not _port_free(config.worker.listen_host, port)]
    if busy and config_path:
        print(
            f"mlc demo: port {', '.join(map(str, busy))} is in use; is another worker or demo running? (see [worker].listen and [companies.concur].base_url)",
            file=sys.stderr,
        )
        return 1
    if busy:  # the shipped demo runs anywhere, also beside a running worker: on ports the system picks
        print(f"mlc demo: port {', '.join(map(str, busy))} is in use; the demo takes free ports instead", file=sys.stderr)
        ports = Ports(0, 0)
    run_dir = (config.worker.data_dir if config_path else Path.cwd() / DEMO_DATA) / "demo"
    shutil.rmtree(run_dir, ignore_errors=True)
    if headless:
        return trio.run(_headless, config, run_dir, ports, reports, invoices, seed, accounts_by_code, fis)
    return _with_console(config, run_dir, ports, reports, invoices, seed, accounts_by_code, fis)


class Progress:
    """A one-line progress bar with counts, redrawn in place on a terminal, line by line otherwise."""

    def __init__(self, total: int, stream=sys.stderr) -> None:
        self.total = max(total, 1)
        self.stream = stream
        self.tty = stream.isatty()
        self.last = ""

    def __call__(self, counts: dict[str, int]) -> None:
        done = sum(counts.get(s, 0) for s in harness.FINAL_STATES)
        filled = BAR_WIDTH * min(done, self.total) // self.total
        bar = "#" * filled + "-" * (BAR_WIDTH - filled)
        detail = ", ".join(f"{state} {counts[state]}" for state in sorted(counts))
        line = f"[{bar}] {done}/{self.total} documents final ({detail})"
        if line == self.last:
            return
        self.last = line
        if self.tty:
            self.stream.write("\r" + line.ljust(100)[:160])
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()


def _concur_port(config: Config) -> int:
    return urlsplit(config.companies[0].concur.base_url).port or 0


def _port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        if os.name != "nt":  # as the servers do; connections of a previous run in TIME_WAIT don't count
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


async def _start(
    nursery: trio.Nursery, config: Config, run_dir: Path, ports: Ports, reports: int, invoices: int, seed: int, accounts_by_code: bool, fis: bool
) -> harness.Harness:
    """The demo's simulated world and worker, the same with or without the console."""
    return await harness.start(
        nursery,
        config,
        run_dir,
        seed=seed,
        reports=reports,
        invoices=invoices,
        worker_port=ports.worker,
        concur_port=ports.concur,
        accounts_by_code=accounts_by_code,
        fis=fis,
        concur_profile=DEMO_PROFILE,
    )


async def _headless(
    config: Config, run_dir: Path, ports: Ports, reports: int, invoices: int, seed: int, accounts_by_code: bool = False, fis: bool = False
) -> int:
    started = time.monotonic()
    async with trio.open_nursery() as nursery:
        h = await _start(nursery, config, run_dir, ports, reports, invoices, seed, accounts_by_code, fis)
        print(f"demo: worker on {h.worker.url}, simulated Concur on {h.concur.base_url}, QuickBooks file {h.company_path}", file=sys.stderr)
        expected = harness.approve_everything(h)
        await harness.deliver(h, duplicates=1, shuffle=True)
        bar = Progress(expected)
        await harness.drain(h, expected=expected, timeout_s=300, on_progress=bar)
        bar(await harness.progress(h))
        bar.close()
        if fis:
            told = await harness.wait_fis_confirmed(h, expected)
            print(f"demo: Concur's Financial Integration Service accepted {told} posting confirmation(s) for {expected} document(s)", file=sys.stderr)
        result = harness.summary(h, time.monotonic() - started)
        await harness.stop_worker(h)
        nursery.cancel_scope.cancel()
    print(f"demo data kept in {run_dir}; inspect QuickBooks with: mlc sim quickbooks show {h.company_path}", file=sys.stderr)
    print(harness.dump(result))
    return 0 if result["quickbooks_duplicates"] == 0 else 1


def _with_console(
    config: Config, run_dir: Path, ports: Ports, reports: int, invoices: int, seed: int, accounts_by_code: bool = False, fis: bool = False
) -> int:
    """The simulated world runs in a thread of its own (trio); the console owns the terminal (asyncio)."""
    from console.launch import run_console

    ready = threading.Event()
    stop = threading.Event()
    state: dict[str, object] = {}

    async def world() -> None:
        async with trio.open_nursery() as nursery:
            h = await _start(nursery, config, run_dir, ports, reports, invoices, seed, accounts_by_code, fis)
            state["url"] = h.worker.url
            state["token_file"] = h.config.operator.token_file
            ready.set()
            # Slow enough to watch: approvals trickle in from Concur, and the Web Connector runs
            # every few seconds, as in a busy office. Operator actions are picked up by later runs.
            waiting = harness.unapproved(h)
            with trio.move_on_after(3600):
                while not stop.is_set():
                    for kind, concur_id in waiting[:APPROVALS_PER_TICK]:
                        harness.approve(h, kind, concur_id)
                    waiting = waiting[APPROVALS_PER_TICK:]
                    await harness.deliver(h, duplicates=1, shuffle=True)
                    await harness.web_connector_run(h)
                    await trio.sleep(DEMO_TICK_S)
            await harness.stop_worker(h)
            nursery.cancel_scope.cancel()

    thread = threading.Thread(target=trio.run, args=(world,), daemon=True)
    thread.start()
    ready.wait(60)
    if "error" in state or "url" not in state:
        print(f"mlc demo: {state.get('error', 'the simulated world did not start')}", file=sys.stderr)
        return 1
    try:
        return run_console(str(state["url"]), Path(str(state["token_file"])))
    finally:
        stop.set()
        thread.join(10)
