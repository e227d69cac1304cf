"""The Concur side of the worker's background: tokens, the event inbox, fetching, the sweep.

Events (webhook or sweep) only say "look at this document"; the fetcher reads the document's
current content from Concur and the planner decides. A posted document that Concur mentions
again is fetched once more to tell a harmless re-delivery (duplicate, counted) from a real change
after posting (flagged for the operator, never posted twice).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import logging
import sqlite3
from typing import Any

import trio

from shared.clock import iso, now_iso, parse_iso, utc_now
from shared.config import CompanyConfig
from shared.domain import Document, ExpenseReport, from_json, to_json
from shared.types import CONCUR_PAID, Actor, DocKind, DocState, DuplicateSource, HoldKind, PaymentState
from worker import outbox
from worker.bus import Pulse
from worker.concur.client import CompanyCredentials, ConcurClient
from worker.concur.errors import ConcurError, ConcurNotFound, NeedsReconnect
from worker.concur.fetch import ListItem, fetch_document
from worker.concur.oauth import Tokens
from worker.concur.sweep import Found, sweep
from worker.context import WorkerContext
from worker.store import audit, checkpoints, documents, duplicates, events

log = logging.getLogger(__name__)

FETCH_BACKOFF_S = (5, 30, 120, 600, 1800)
SWEEP_CHECKPOINT = "concur_sweep"


def credentials(company: CompanyConfig) -> CompanyCredentials:
    c = company.concur
    return CompanyCredentials(
        company.id, c.base_url, c.client_id, c.client_secret.reveal(), c.company_uuid, c.request_token.reveal() or None, c.max_calls_in_flight
    )


# Extra ConcurClient options for every client the worker makes (e.g. a RetryPolicy with short
# waits for tests and benchmarks; production uses the client's defaults).
CLIENT_OPTIONS: dict[str, Any] = {}


def make_client(ctx: WorkerContext, **options) -> ConcurClient:
    return ConcurClient([credentials(c) for c in ctx.config.companies], SqliteTokenStore(ctx), **{**CLIENT_OPTIONS, **options})


# --- the stores the Concur client needs -----------------------------------------------------------


class SqliteTokenStore:
    """Tokens in ``concur_tokens``: the rotated refresh token is committed (durably) before use."""

    def __init__(self, ctx: WorkerContext) -> None:
        self.ctx = ctx

    async def load(self, company: str) -> Tokens | None:
        row = await self.ctx.store.run(lambda conn: conn.execute("SELECT * FROM concur_tokens WHERE company = ?", (company,)).fetchone())
        if row is None:
            return None
        return Tokens(
            access_token=row["access_token"] or "",
            access_expires_at=parse_iso(row["access_expires_at"]) if row["access_expires_at"] else dt.datetime.min.replace(tzinfo=dt.UTC),
            geolocation=row["geolocation"],
            refresh_token=row["refresh_token"],
            refresh_expires_at=parse_iso(row["refresh_expires_at"]) if row["refresh_expires_at"] else None,
            needs_reconnect=bool(row["needs_reconnect"]),
            reason=row["reason"],
        )

    async def save(self, company: str, tokens: Tokens) -> None:
        for secret in (tokens.access_token, tokens.refresh_token):
            if secret:
                self.ctx.scrub.add(secret)
        await self.ctx.store.run(_save_tokens, company, tokens, durable=True)

    async def mark_needs_reconnect(self, company: str, reason: str) -> None:
        await self.ctx.store.run(_needs_reconnect, company, reason, durable=True)
        self.ctx.changed.notify()


def _save_tokens(conn: sqlite3.Connection, company: str, tokens: Tokens) -> None:
    before = conn.execute("SELECT needs_reconnect FROM concur_tokens WHERE company = ?", (company,)).fetchone()
    conn.execute(
        """INSERT INTO concur_tokens (company, access_token, access_expires_at, refresh_token, refresh_expires_at, geolocation, needs_reconnect, reason, refreshed_at, updated_at)
           VALUES (?,?,?,?,?,?,0,'',?,?)
           ON CONFLICT (company) DO UPDATE SET access_token = excluded.access_token, access_expires_at = excluded.access_expires_at,
             refresh_token = COALESCE(excluded.refresh_token, concur_tokens.refresh_token), refresh_expires_at = excluded.refresh_expires_at,
             geolocation = excluded.geolocation, needs_reconnect = 0, reason = '', refreshed_at = excluded.refreshed_at, updated_at = excluded.updated_at""",
        (
            company,
            tokens.access_token,
            iso(tokens.access_expires_at),
            tokens.refresh_token,
            iso(tokens.refresh_expires_at) if tokens.refresh_expires_at else None,
            tokens.geolocation,
            now_iso(),
            now_iso(),
        ),
    )
    if before is None or before[0]:
        audit.append(conn, company, None, Actor.CONCUR, "concur_connected", {"geolocation": tokens.geolocation})
        # Fetches that waited for the reconnect are due now, not after their backoff.
        documents.retry_fetches_now(conn, company)


def _needs_reconnect(conn: sqlite3.Connection, company: str, reason: str) -> None:
    conn.execute(
        """INSERT INTO concur_tokens (company, geolocation, needs_reconnect, reason, updated_at) VALUES (?, '', 1, ?, ?)
           ON CONFLICT (company) DO UPDATE SET needs_reconnect = 1, reason = excluded.reason, updated_at = excluded.updated_at""",
        (company, reason, now_iso()),
    )
    audit.append(conn, company, None, Actor.CONCUR, "concur_needs_reconnect", {"reason": reason})


class SqliteListItemCache:
    """``concur_list_items``, with the items read so far also kept in memory: a report names the
    same few cost centres and projects again and again, and a store round trip per item would
    queue behind every other write of the single store thread."""

    def __init__(self, ctx: WorkerContext) -> None:
        self.ctx = ctx
        self.known: dict[tuple[str, str], ListItem] = {}

    async def get(self, company: str, item_id: str) -> ListItem | None:
        if (company, item_id) in self.known:
            return self.known[(company, item_id)]
        row = await self.ctx.store.run(
            lambda conn: conn.execute("SELECT code, value FROM concur_list_items WHERE company = ? AND item_id = ?", (company, item_id)).fetchone()
        )
        if row is None:
            return None
        item = self.known[(company, item_id)] = ListItem(item_id, row["code"], row["value"])
        return item

    async def put(self, company: str, item: ListItem) -> None:
        self.known[(company, item.item_id)] = item
        await self.ctx.store.run(
            lambda conn: conn.execute(
                "INSERT INTO concur_list_items (company, item_id, code, value, fetched_at) VALUES (?,?,?,?,?)"
                " ON CONFLICT (company, item_id) DO UPDATE SET code = excluded.code, value = excluded.value, fetched_at = excluded.fetched_at",
                (company, item.item_id, item.code, item.value, now_iso()),
            )
        )


# --- noting documents ------------------------------------------------------------------------------


def note_document(conn: sqlite3.Connection, company: str, kind: DocKind, concur_id: str, href: str | None, why: str, deleted: bool = False) -> str:
    """Concur says this document exists or changed: create it, or decide what the news means."""
    row = conn.execute("SELECT * FROM documents WHERE company = ? AND kind = ? AND concur_id = ?", (company, str(kind), concur_id)).fetchone()
    if row is None:
        if deleted:
            return "ignored"
        document_id = documents.create(conn, company, kind, concur_id, href, Actor.CONCUR, why)
        duplicates.link_document(conn, company, concur_id, document_id)
        return "new"
    if href and not row["href"]:
        documents.set_fields(conn, row["id"], href=href)
    state = DocState(row["state"])
    if deleted:
        if state in (DocState.POSTED, DocState.SENT, DocState.UNKNOWN):
            documents.set_fields(conn, row["id"], flag="deleted_in_concur")
            documents.note(conn, row["id"], Actor.CONCUR, "deleted_after_posting", {"why": why})
            return "flagged"
        if state not in (DocState.SKIPPED,):
            outbox.cancel_queued(conn, row["id"])
            documents.set_state(conn, row["id"], DocState.SKIPPED, "deleted in Concur", Actor.CONCUR, "deleted", {"why": why}, hold_kind=HoldKind.DELETED)
        return "skipped"
    if state in (DocState.RECEIVED, DocState.FETCHED):
        return "pending"
    if state is DocState.SKIPPED and row["hold_kind"] == HoldKind.NOT_POSTABLE:
        documents.set_state(conn, row["id"], DocState.RECEIVED, "", Actor.CONCUR, "received", {"why": why})
        return "reopened"
    # Posted, in flight, held, failed or skipped by a person: look again, change nothing yet.
    documents.mark_recheck(conn, row["id"], why)
    return "recheck"


def process_events(conn: sqlite3.Connection, limit: int = 200, fis_companies: frozenset[str] = frozenset(), company: str | None = None) -> int:
    """Events name documents to fetch; for companies whose source is FIS the documents come from
    FIS instead (worker/concur/fis_sync.py), so their report and invoice events are only recorded.
    ``company``: only that company's events (the fetcher of one company, worker/cluster.py)."""
    only, args = ("AND company = ?", (company,)) if company is not None else ("", ())
    rows = conn.execute(f"SELECT * FROM events WHERE processed_at IS NULL {only} ORDER BY id LIMIT ?", (*args, limit)).fetchall()
    for row in rows:
        if row["object_kind"] and row["object_id"] and row["company"] not in fis_companies:
            deleted = row["event_type"] == "reportDeleted"
            note_document(
                conn, row["company"], DocKind(row["object_kind"]), row["object_id"], row["href"], f"event {row['event_type']} {row['event_id']}", deleted
            )
        events.mark_processed(conn, row["id"])
    return len(rows)


# --- fetching ----------------------------------------------------------------------------------------


def content_hash(doc: Document) -> str:
    return hashlib.sha256(json.dumps(to_json(doc), sort_keys=True).encode()).hexdigest()


def _payment_columns(doc: Document) -> dict[str, Any]:
    """What Concur says it paid, as ``documents`` columns (none while it has not paid)."""
    if doc.payment_status != CONCUR_PAID:
        return {}
    return {
        "concur_paid_amount": f"{doc.paid_amount:.2f}" if doc.paid_amount is not None else None,
        "concur_paid_date": doc.paid_date.isoformat() if doc.paid_date else None,
    }


def _unpaid_hash(doc: Document) -> str:
    """The document as posting sees it: Concur's payment (status, date, amount, and the
    modification time the payment bumped) is not a change to what was posted."""
    return content_hash(dataclasses.replace(doc, payment_status="", paid_date=None, paid_amount=None, modified_at=""))


def _payment_news(conn: sqlite3.Connection, row: sqlite3.Row, doc: Document, digest: str) -> str | None:
    """Concur paid the document (or paid more): store the new payment facts without touching its
    posting. None when the news is something else."""
    paid = _payment_columns(doc)
    if not paid or not row["content"] or (paid["concur_paid_amount"] == row["concur_paid_amount"] and row["payment"]):
        return None
    if _unpaid_hash(doc) != _unpaid_hash(from_json(json.loads(row["content"]))):
        return None
    documents.set_fields(
        conn, row["id"], content=json.dumps(to_json(doc)), content_hash=digest, concur_modified_at=doc.modified_at or row["concur_modified_at"]
    )
    # A payment held for a person stays held; otherwise Concur's payment is due in QuickBooks.
    state = PaymentState.HELD if row["payment"] == PaymentState.HELD else PaymentState.PAID_IN_CONCUR
    documents.set_payment(conn, row["id"], state, f"Concur paid {paid['concur_paid_amount'] or 'it'}", Actor.CONCUR, **paid)
    return "paid"


def _due(conn: sqlite3.Connection, company: str, limit: int, busy: tuple[int, ...] = ()) -> list[sqlite3.Row]:
    """Up to ``limit`` of the company's documents due for a fetch (oldest first), leaving out the
    ``busy`` ones a fetcher already has."""
    now = now_iso()
    skip = f" AND id NOT IN ({','.join('?' * len(busy))})" if busy else ""
    received = conn.execute(
        f"SELECT * FROM documents WHERE company = ? AND state = 'received' AND (next_attempt_at IS NULL OR next_attempt_at <= ?){skip} ORDER BY id LIMIT ?",
        (company, now, *busy, limit),
    ).fetchall()
    rechecks = conn.execute(
        f"""SELECT * FROM documents WHERE company = ? AND recheck IS NOT NULL AND state != 'received'
            AND (next_attempt_at IS NULL OR next_attempt_at <= ?){skip} ORDER BY id LIMIT ?""",
        (company, now, *busy, limit),
    ).fetchall()
    return (list(received) + list(rechecks))[:limit]


def _due_elsewhere(conn: sqlite3.Connection, companies: tuple[str, ...], limit: int) -> list[sqlite3.Row]:
    """Documents due for a fetch whose company is no longer configured (each fetch fails at once
    with a clear reason and backs off, as any failed fetch does)."""
    now = now_iso()
    marks = ",".join("?" * len(companies))
    due = f"company NOT IN ({marks}) AND (next_attempt_at IS NULL OR next_attempt_at <= ?)"
    return conn.execute(  # two indexed halves (documents_by_state, documents_recheck), not one OR scan
        f"""SELECT * FROM documents WHERE state = 'received' AND {due}
            UNION SELECT * FROM documents INDEXED BY documents_recheck WHERE recheck IS NOT NULL AND {due} ORDER BY id LIMIT ?""",
        (*companies, now, *companies, now, limit),
    ).fetchall()


def store_fetched(conn: sqlite3.Connection, document_id: int, doc: Document) -> str:
    row = documents.get(conn, document_id)
    digest = content_hash(doc)
    recheck = documents.take_recheck(conn, document_id)
    amount = f"{doc.total:.2f}"
    employee = doc.owner.name if isinstance(doc, ExpenseReport) else ""
    vendor_hint = "" if isinstance(doc, ExpenseReport) else doc.vendor_name
    columns: dict[str, Any] = dict(
        content=json.dumps(to_json(doc)),
        content_hash=digest,
        amount=amount,
        currency=doc.currency,
        employee=employee,
        approval_status=doc.approval_status,
        concur_modified_at=doc.modified_at or row["concur_modified_at"],
        attempts=0,
        next_attempt_at=None,
    )
    state = DocState(row["state"])
    if state is DocState.RECEIVED:
        if vendor_hint:
            columns["vendor"] = vendor_hint
        if paid := _payment_columns(doc):  # paid in Concur before it was posted: posted, then paid
            columns.update(paid, payment=str(PaymentState.PAID_IN_CONCUR))
        documents.set_state(conn, document_id, DocState.FETCHED, "", Actor.CONCUR, "fetched", {"hash": digest[:12]}, **columns)
        return "fetched"
    if recheck is None:
        return "ignored"
    if news := _payment_news(conn, row, doc, digest):
        return news
    if digest in (row["posted_hash"] or row["content_hash"], row["content_hash"]):
        why = "Concur reported the document again, unchanged"
        documents.note(conn, document_id, Actor.CONCUR, "duplicate_skipped", {"why": why})
        # The sweep's news is "sweep" (one row per document version, counted); an event's names it.
        source, identity = (DuplicateSource.SWEEP, f"document:{document_id}:{digest[:16]}") if recheck == "sweep" else (DuplicateSource.REAPPROVAL, recheck)
        duplicates.record(conn, row["company"], source, identity, why, document_id, row["concur_id"])
        return "duplicate"
    if state in (DocState.POSTED, DocState.SENT, DocState.UNKNOWN, DocState.QUEUED):
        if state is DocState.QUEUED:
            # Not sent yet: plan again from the new content.
            outbox.cancel_queued(conn, document_id)
            documents.set_state(conn, document_id, DocState.FETCHED, "", Actor.CONCUR, "changed_before_posting", {"hash": digest[:12]}, **columns)
            return "replanned"
        documents.set_fields(conn, document_id, flag="changed_after_posting")
        documents.note(conn, document_id, Actor.CONCUR, "changed_after_posting", {"new_hash": digest[:12], "new_amount": amount})
        return "flagged"
    if state in (DocState.HELD, DocState.SKIPPED) and row["hold_kind"] == HoldKind.OPERATOR:
        # A person held (or skipped) it: the new content is kept for when they release it, but
        # only the person moves it on (a hold placed before the first fetch included).
        documents.set_fields(conn, document_id, **columns)
        documents.note(conn, document_id, Actor.CONCUR, "changed_while_held", {"hash": digest[:12], "amount": amount})
        return "kept_held"
    if state in (DocState.HELD, DocState.FAILED):
        documents.set_state(conn, document_id, DocState.FETCHED, "", Actor.CONCUR, "changed", {"hash": digest[:12]}, **columns)
        return "replanned"
    return "ignored"


def fetch_failed(conn: sqlite3.Connection, document_id: int, reason: str) -> None:
    row = documents.get(conn, document_id)
    attempts = row["attempts"] + 1
    delay = FETCH_BACKOFF_S[min(attempts - 1, len(FETCH_BACKOFF_S) - 1)]
    documents.set_fields(
        conn,
        document_id,
        attempts=attempts,
        next_attempt_at=iso(utc_now() + dt.timedelta(seconds=delay)),
        reason=f"fetch failed (try {attempts}): {reason}"[:500],
    )


async def fetch_one(ctx: WorkerContext, client: ConcurClient, cache: SqliteListItemCache, row: sqlite3.Row) -> None:
    ref = row["href"] if row["kind"] == DocKind.EXPENSE_REPORT else row["concur_id"]
    try:
        if not ref:
            raise ConcurError("no report link known yet (waiting for an event or the sweep)")
        doc = await fetch_document(client, row["company"], row["kind"], ref, cache=cache)
    except NeedsReconnect as exc:
        await ctx.store.run(fetch_failed, row["id"], f"Concur needs reconnect: {exc.reason}")
        return
    except ConcurNotFound:
        await ctx.store.run(fetch_failed, row["id"], "not found in Concur (yet)")
        return
    except ConcurError as exc:
        await ctx.store.run(fetch_failed, row["id"], str(exc))
        return
    await ctx.store.run(store_fetched, row["id"], doc)
    ctx.changed.notify()


async def fetcher(ctx: WorkerContext, client: ConcurClient, company: CompanyConfig, idle_s: float = 2.0) -> None:
    """One company's fetching, as the lease of its Concur side runs it (worker/cluster.py): turns
    its stored events into documents to fetch and wakes ``fetch_company`` when there may be new
    work (events processed, the sweep's news, or every ``idle_s`` for fetches whose backoff ended)."""
    wake = Pulse()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(fetch_company, ctx, client, SqliteListItemCache(ctx), company, wake, idle_s)
        seen = ctx.inbox.count
        while True:
            fis_companies = frozenset(c.id for c in ctx.config.companies if c.concur.source == "fis")
            processed = await ctx.store.run(process_events, 200, fis_companies, company.id)
            wake.notify()
            if not processed:
                seen = await ctx.inbox.wait(seen, timeout=idle_s)


async def unconfigured_fetcher(ctx: WorkerContext, client: ConcurClient, idle_s: float = 2.0) -> None:
    """Documents due for a fetch whose company is no longer configured (under the cluster-wide
    ``concur:*`` lease): each fails at once with a clear reason and backs off, so people see why it
    is stuck instead of a silent ``received``."""
    cache = SqliteListItemCache(ctx)
    seen = ctx.inbox.count
    while True:
        configured = tuple(c.id for c in ctx.config.companies)
        for row in await ctx.store.run(_due_elsewhere, configured, 50):
            await fetch_one(ctx, client, cache, row)
        seen = await ctx.inbox.wait(seen, timeout=idle_s)


async def fetch_company(ctx: WorkerContext, client: ConcurClient, cache: SqliteListItemCache, company: CompanyConfig, wake: Pulse, idle_s: float = 2.0) -> None:
    """Fetch one company's due documents with a pool of fetchers pulling from one queue: a slow
    document holds up only its own fetcher, never a batch. A document's calls run one after
    another; the client's window (worker/concur/limiter.py) keeps the company's calls in flight
    within ``max_calls_in_flight``, fewer while Concur answers 429. The pool has twice as many
    fetchers as that bound, so that while some store what they fetched (or wait for the store
    thread, behind durable webhook intake) others keep every call slot busy.

    The queue is refilled from the store whenever half of it has drained (up to two documents per
    fetcher: one being fetched, one waiting), so the fetchers never wait for a query."""
    fetchers = 2 * company.concur.max_calls_in_flight
    busy: set[int] = set()  # queued or being fetched
    send, receive = trio.open_memory_channel[sqlite3.Row](2 * fetchers)

    async def fetch_queued() -> None:
        async for row in receive:
            try:
                await fetch_one(ctx, client, cache, row)
            finally:
                busy.discard(row["id"])
                if len(busy) <= fetchers:
                    wake.notify()

    async with trio.open_nursery() as nursery:
        for _ in range(fetchers):
            nursery.start_soon(fetch_queued)
        seen = wake.count
        while True:
            if len(busy) <= fetchers:
                seen = wake.count
                for row in await ctx.store.run(_due, company.id, 2 * fetchers - len(busy), tuple(busy)):
                    busy.add(row["id"])
                    await send.send(row)
            seen = await wake.wait(seen, timeout=idle_s)


# --- sweep and tokens -----------------------------------------------------------------------------


def record_sweep(conn: sqlite3.Connection, company: CompanyConfig, found: list[Found], checkpoint: dt.datetime) -> int:
    noted = 0
    postable = set(company.posting.post_on_status)
    for item in found:
        known = conn.execute(
            "SELECT state, concur_modified_at FROM documents WHERE company = ? AND kind = ? AND concur_id = ?", (company.id, str(item.kind), item.object_id)
        ).fetchone()
        if known is None and not item.deleted and item.approval_status and item.approval_status not in postable:
            continue  # not approved yet: the sweep will see it again once it is
        if (
            known is not None
            and not item.deleted
            and known["concur_modified_at"]
            and item.modified_at
            and item.modified_at[:19] <= known["concur_modified_at"][:19]
        ):
            continue  # nothing new since we fetched it
        outcome = note_document(conn, company.id, item.kind, item.object_id, item.href, "sweep", item.deleted)
        noted += outcome in ("new", "reopened", "recheck")
        if item.modified_at:
            # v4 reports carry no modification time of their own: remember the listing's, so the
            # next sweep's overlap does not look at the same version again.
            documents.note_concur_modified(conn, company.id, item.kind, item.object_id, item.modified_at)
    checkpoints.put(conn, company.id, SWEEP_CHECKPOINT, iso(checkpoint))
    audit.append(conn, company.id, None, Actor.WORKER, "sweep", {"listed": len(found), "noted": noted})
    return noted


async def sweep_company(ctx: WorkerContext, client: ConcurClient, company: CompanyConfig) -> int:
    value = await ctx.store.run(checkpoints.get, company.id, SWEEP_CHECKPOINT)
    since = parse_iso(value) if value else None
    result = await sweep(client, company.id, since, resolve_statuses=frozenset(company.posting.post_on_status))
    noted = await ctx.store.run(record_sweep, company, result.found, result.checkpoint)
    if noted:
        ctx.inbox.notify()
    return noted


async def sweeper(ctx: WorkerContext, client: ConcurClient, company: CompanyConfig) -> None:
    while True:
        try:
            await sweep_company(ctx, client, company)
        except NeedsReconnect:
            pass  # shown in health and the console; the sweep tries again next interval
        except ConcurError as exc:
            log.warning("Concur sweep for %s failed: %s", company.id, exc)
        await trio.sleep(company.concur.sweep_interval_s)


async def token_keeper(
    ctx: WorkerContext,
    client: ConcurClient,
    company: CompanyConfig,
    every_s: float = 24 * 3600,
    *,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Connect on first start when a request token is configured; refresh daily to keep it alive.
    A start refreshes only a token about to expire: with several workers the job starts again on
    every lease takeover, and each needless refresh is a rotation that a crash could lose."""
    first = True
    while True:
        try:
            tokens = await client.tokens.load(company.id)
            if tokens is None or (not tokens.refresh_token and not tokens.needs_reconnect):
                if company.concur.request_token:
                    await client.connect(company.id)
            elif not tokens.needs_reconnect:
                await (client.access(company.id) if first else client.keep_alive(company.id))
        except NeedsReconnect:
            pass
        except ConcurError as exc:
            log.warning("Concur token refresh for %s failed: %s", company.id, exc)
            if first:
                task_status.started()
                first = False
            await trio.sleep(60)
            continue
        if first:
            task_status.started()
            first = False
        await trio.sleep(every_s)
