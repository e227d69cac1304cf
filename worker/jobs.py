"""The worker's background jobs, all in one nursery beside the HTTP server.

Jobs that must run once across the cluster (Concur, planning, paying, alerts, FIS confirmations)
run under leases (worker/cluster.py): one lease per company for its Concur side and its posting
side, one for the cluster-wide jobs. Watching the config file and relaying changes between
workers (worker/bus.py) run in every worker.
"""

from __future__ import annotations

import functools
import logging
import sqlite3
import time

import trio

from shared.config import CompanyConfig
from shared.types import Actor
from worker import bus, outbox
from worker.alerts import job as alerts_job
from worker.cluster import Job, LeaseKeeper, holder_gone, lease_seconds
from worker.concur import fis_sync
from worker.concur import sync as concur_sync
from worker.concur.client import ConcurClient
from worker.context import WorkerContext
from worker.posting import engine, payer
from worker.store import audit, leases

log = logging.getLogger(__name__)


def recover_after_restart(conn: sqlite3.Connection) -> int:
    """Writes handed to QuickBooks before a stop may or may not have been applied: settle them first.

    Alone, a worker takes every ``sent`` write as uncertain. Beside other live workers it leaves
    the writes of sessions that are going on: another worker may be serving that session, and its
    answer still comes (sessions live in the store). A session that did break off is caught by the
    next authenticate anyway."""
    others = [m for m in leases.live_members(conn, int(time.time() * 1000)) if not holder_gone(m)]
    stale = outbox.sent_outside_live_sessions(conn, LIVE_SESSION_S if others else 0)
    moved = 0
    for company, ids in stale.items():
        count = outbox.mark_uncertain(conn, ids, "the worker stopped before QuickBooks' answer arrived")
        audit.append(conn, company, None, Actor.WORKER, "uncertain", {"postings": count, "why": "worker restart"})
        moved += count
    outbox.refresh_lagging(conn)  # documents whose refresh after QuickBooks' answer the stop cut off
    return moved


# A Web Connector session seen this recently may still send its answer (QBWC waits at most a few
# minutes for QuickBooks; its calls are seconds apart otherwise).
LIVE_SESSION_S = 300


def leased_jobs(ctx: WorkerContext, client: ConcurClient) -> dict[str, Job]:
    """Every job that runs once across the cluster, by lease name (from the config as it is now)."""
    jobs: dict[str, Job] = {}
    for company in ctx.config.companies:
        jobs[f"concur:{company.id}"] = functools.partial(concur_company, ctx, client, company)
        jobs[f"posting:{company.id}"] = functools.partial(posting_company, ctx, company.id)
    jobs["concur:*"] = functools.partial(concur_sync.unconfigured_fetcher, ctx, client)
    jobs["alerts:*"] = functools.partial(alerts_job.run, ctx)  # its own task: a down mail server never blocks posting
    if any(c.concur.source == "fis" for c in ctx.config.companies):
        jobs["fis-confirm:*"] = functools.partial(fis_sync.confirmer, ctx, client)
    return jobs


async def concur_company(ctx: WorkerContext, client: ConcurClient, company: CompanyConfig) -> None:
    """One company's Concur side: its tokens (first), the sweep or FIS poll, and fetching."""
    async with trio.open_nursery() as nursery:
        await nursery.start(concur_sync.token_keeper, ctx, client, company)
        if company.concur.source == "fis":
            nursery.start_soon(fis_sync.poller, ctx, client, company)
        else:
            nursery.start_soon(concur_sync.sweeper, ctx, client, company)
        nursery.start_soon(concur_sync.fetcher, ctx, client, company)


async def posting_company(ctx: WorkerContext, company: str) -> None:
    async with trio.open_nursery() as nursery:
        nursery.start_soon(functools.partial(engine.planner, ctx, company=company))
        nursery.start_soon(functools.partial(payer.payer, ctx, company=company))


async def run_all(ctx: WorkerContext) -> None:
    client = concur_sync.make_client(ctx)
    keeper = LeaseKeeper(ctx.store, ctx.worker_id, lease_seconds(), lambda: leased_jobs(ctx, client))
    async with client, trio.open_nursery() as nursery:
        nursery.start_soon(engine.config_watcher, ctx)
        nursery.start_soon(bus.relay, ctx.store, ctx.worker_id, {bus.CHANGED: ctx.changed, bus.INBOX: ctx.inbox})
        nursery.start_soon(keeper.run)
