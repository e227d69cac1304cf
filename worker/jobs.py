"""The worker's background jobs, all in one nursery beside the HTTP server."""

from __future__ import annotations

import logging
import sqlite3

import trio

from shared.types import Actor
from worker import outbox
from worker.alerts import job as alerts_job
from worker.concur import sync as concur_sync
from worker.context import WorkerContext
from worker.posting import engine, payer
from worker.store import audit

log = logging.getLogger(__name__)


def recover_after_restart(conn: sqlite3.Connection) -> int:
    """Writes handed to QuickBooks before a stop may or may not have been applied: settle them first."""
    companies = [r[0] for r in conn.execute("SELECT DISTINCT company FROM postings WHERE state = 'sent'")]
    moved = 0
    for company in companies:
        count = outbox.mark_company_uncertain(conn, company, "the worker stopped before QuickBooks' answer arrived")
        audit.append(conn, company, None, Actor.WORKER, "uncertain", {"postings": count, "why": "worker restart"})
        moved += count
    outbox.refresh_lagging(conn)  # documents whose refresh after QuickBooks' answer the stop cut off
    return moved


async def run_all(ctx: WorkerContext) -> None:
    async with trio.open_nursery() as nursery:
        nursery.start_soon(engine.planner, ctx)
        nursery.start_soon(payer.payer, ctx)
        nursery.start_soon(engine.config_watcher, ctx)
        nursery.start_soon(concur_sync.run, ctx)
        nursery.start_soon(alerts_job.run, ctx)  # its own task: a down mail server never blocks posting
