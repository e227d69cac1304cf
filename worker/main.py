"""The worker process: Hypercorn serving the app and the background jobs, in one trio nursery."""

from __future__ import annotations

import logging
import signal
import sys
from dataclasses import dataclass

import trio
from hypercorn.config import Config as HyperConfig
from hypercorn.trio import serve
from quart_trio import QuartTrio

from shared.config import Config
from shared.tokens import ensure_token_file
from worker import jobs
from worker.app import create_app
from worker.context import WorkerContext
from worker.logs import setup_logging
from worker.process_limits import make_private, raise_descriptor_limit
from worker.store.db import open_store

log = logging.getLogger(__name__)

# After Ctrl-C/SIGTERM, requests in flight get this long to finish; then every connection still open
# (idle kept-alive ones of the Web Connector and the console included) is closed. Service managers
# wait about 5 s before killing, and every QBWC callback answers well within this.
GRACEFUL_SECONDS = 1.0
# An idle kept-alive connection, or one whose request head has not fully arrived, is closed after
# this long: the Web Connector reconnects by itself, and a stranger's half-sent headers do not hold
# a descriptor for long.
KEEP_ALIVE_SECONDS = 15
# Longest wait for the next bytes of a request (a slow body) before the connection is dropped.
READ_TIMEOUT_SECONDS = 30
# How long a thread may hold the GIL while another waits for it (Python's default: 5 ms). Every
# SQLite call on the store's writer thread gives the GIL up and must win it back from the event
# loop; under load each of those waits cost up to the full interval, so one durable webhook
# commit took tens of milliseconds (bench/RESULTS.md, "Intake profile").
SWITCH_INTERVAL_S = 0.0005


@dataclass(frozen=True)
class RunningWorker:
    ctx: WorkerContext
    url: str  # the bound base URL, e.g. http://127.0.0.1:8750 (the real port when 0 was asked)
    app: QuartTrio
    stopped: trio.Event  # set once the worker is down: requests finished, jobs stopped, store closed


def hypercorn_config(config: Config, port: int | None = None) -> HyperConfig:
    hc = HyperConfig()
    w = config.worker
    host = f"[{w.listen_host}]" if ":" in w.listen_host else w.listen_host
    hc.bind = [f"{host}:{w.listen_port if port is None else port}"]
    hc.graceful_timeout = GRACEFUL_SECONDS
    hc.accesslog = None
    hc.errorlog = logging.getLogger("hypercorn.error")
    hc.keep_alive_timeout = KEEP_ALIVE_SECONDS
    hc.read_timeout = READ_TIMEOUT_SECONDS
    hc.h11_max_incomplete_size = 16 * 1024  # a request head larger than this is refused
    if w.tls_certfile and w.tls_keyfile:
        hc.certfile = str(w.tls_certfile)
        hc.keyfile = str(w.tls_keyfile)
    return hc


def open_context(config: Config, stderr_log: bool = True) -> WorkerContext:
    make_private(config.worker.data_dir, config.operator.token_file)
    raise_descriptor_limit()
    scrub = setup_logging(config.worker.data_dir, config.worker.log_level, config.secrets(), stderr=stderr_log)
    store = open_store(config)
    tokens = ensure_token_file(config.operator.token_file)
    for token in tokens:
        scrub.add(token.token)
    return WorkerContext(config=config, store=store, operator_tokens=tokens, scrub=scrub)


async def serve_worker(
    config: Config,
    shutdown: trio.Event,
    *,
    port: int | None = None,
    background: bool = True,
    stderr_log: bool = True,
    task_status: trio.TaskStatus[RunningWorker] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve until ``shutdown`` is set: then finish in-flight requests, stop jobs, close the store."""
    ctx = open_context(config, stderr_log)
    stopped = trio.Event()
    try:
        moved = ctx.store.run_sync(jobs.recover_after_restart, durable=True)
        if moved:
            log.info("%d QuickBooks writes from before the restart will be checked before anything is resent", moved)
        app = create_app(ctx)
        background_scope = trio.CancelScope()

        async def run_background() -> None:
            with background_scope:
                if background:
                    await jobs.run_all(ctx)
                else:
                    await trio.sleep_forever()

        async def stop_requested() -> None:
            await shutdown.wait()
            ctx.stopping.set()
            ctx.changed.notify()  # wake the streams so they see it

        async def run_http(*, task_status: trio.TaskStatus[list[str]] = trio.TASK_STATUS_IGNORED) -> None:
            try:
                await serve(app, hypercorn_config(config, port), shutdown_trigger=stop_requested, task_status=task_status)
            finally:
                background_scope.cancel()

        async with trio.open_nursery() as nursery:
            binds = await nursery.start(run_http)
            nursery.start_soon(run_background)
            url = binds[0]
            log.info("worker listening on %s; store: %s", url, ctx.store.where)
            task_status.started(RunningWorker(ctx=ctx, url=url, app=app, stopped=stopped))
    finally:
        ctx.store.close()
        log.info("worker stopped")
        stopped.set()


async def watch_signals(shutdown: trio.Event) -> None:
    """Ctrl-C and SIGTERM ask for a graceful stop; a second one stops at once."""
    wanted = [signal.SIGINT] + ([signal.SIGTERM] if hasattr(signal, "SIGTERM") else [])
    try:
        receiver = trio.open_signal_receiver(*wanted)
    except (ValueError, RuntimeError):  # not the main thread, or a platform without them
        await trio.sleep_forever()
        return
    with receiver as signals:
        async for signum in signals:
            if shutdown.is_set():
                raise KeyboardInterrupt
            log.info("signal %s: finishing in-flight requests, then stopping", signal.Signals(signum).name)
            shutdown.set()


async def run_forever(config: Config) -> None:
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    shutdown = trio.Event()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(watch_signals, shutdown)
        await serve_worker(config, shutdown)
        nursery.cancel_scope.cancel()
