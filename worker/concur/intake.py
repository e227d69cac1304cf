"""``POST /webhooks/concur``: verify, store durably (deduplicated on the event id), answer 200.

Concur waits 60 s and retries on 5xx and 429 but drops an event on any other 4xx, so a body we
cannot read is refused with a 4xx only when resending it would not help (bad signature, not an
event), and a store failure answers 503 so Concur retries.
"""

from __future__ import annotations

import logging
import sqlite3
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import trio
from quart import Blueprint, Response, current_app, jsonify, request

from shared.config import Config
from shared.types import Actor, DocKind, DuplicateSource
from worker.concur.webhooks import FIS_TOPIC, BadEvent, Event, load_public_keys, object_of, parse_event, verify_signature
from worker.store import audit, duplicates, events
from worker.store.db import StoreError
from worker.web import context, json_error

log = logging.getLogger(__name__)

blueprint = Blueprint("intake", __name__)

MAX_WEBHOOK_BYTES = 1024 * 1024
DISCARD_LIMIT_BYTES = 8 * MAX_WEBHOOK_BYTES
SIGNATURE_HEADER = "Concur-Signature"
UNKNOWN_COMPANY = "unknown"
UNKNOWN_COMPANY_REASON = "unknown_company"  # webhook_rejections.reason for events of companies not served here


@lru_cache(maxsize=8)
def _keys(paths: tuple[Path, ...], stamps: tuple[float, ...]) -> list:
    """Public keys, re-read when a key file changes (key rotation without a restart)."""
    pems = []
    for path in paths:
        try:
            pems.append(path.read_bytes())
        except OSError:
            log.warning("webhook public key %s cannot be read", path)
    return load_public_keys(pems) if pems else []


def public_keys(config: Config) -> list:
    paths = tuple(dict.fromkeys(k for c in config.companies if c.concur.verify_webhook_signature for k in c.concur.webhook_public_keys))
    stamps = tuple(p.stat().st_mtime_ns if p.exists() else 0 for p in paths)
    return _keys(paths, stamps)


def company_of(config: Config, event: Event) -> str:
    """Events name the company by its Concur UUID; with one company, that company."""
    wanted = event.company_id.lower()
    for company in config.companies:
        if company.concur.company_uuid.lower() == wanted:
            return company.id
    if not wanted and len(config.companies) == 1:
        return config.companies[0].id
    return UNKNOWN_COMPANY


@blueprint.post("/webhooks/concur")
async def concur_webhook() -> Response:
    ctx = context()
    source = request.remote_addr or ""
    if (request.content_length or 0) > MAX_WEBHOOK_BYTES:
        await _discard_body()
        return await _reject(413, "too_large", "body too large", source)
    body = await request.get_data(cache=False)
    if len(body) > MAX_WEBHOOK_BYTES:
        return await _reject(413, "too_large", "body too large", source)
    if any(c.concur.verify_webhook_signature for c in ctx.config.companies):
        keys = public_keys(ctx.config)
        if not keys or not verify_signature(keys, body, request.headers.get(SIGNATURE_HEADER)):
            return await _reject(401, "signature", "missing or invalid Concur-Signature", source)
    try:
        event = parse_event(body)
    except BadEvent as exc:
        return await _reject(400, "malformed", str(exc), source)
    company = company_of(ctx.config, event)
    if company == UNKNOWN_COMPANY:
        return await _not_ours(event, source)
    target = object_of(event)
    try:
        stored = await group_commit().submit(Pending(company, event, target, body.decode("utf-8", "replace")))
    except (sqlite3.Error, StoreError):
        log.exception("could not store Concur event %s", event.id)
        return json_error(503, "could not store the event; retry later")
    if stored:
        ctx.metrics.webhooks_received.labels(company).inc()
        if (target is not None or event.topic == FIS_TOPIC) and company != UNKNOWN_COMPANY:
            ctx.inbox.notify()  # only events about documents give the fetcher (or the FIS poll) work
    else:
        ctx.metrics.webhooks_duplicate.labels(company).inc()
    return jsonify({"stored": stored, "event": event.id})


async def _discard_body() -> None:
    """Read and drop (up to a bound) a body we refuse for its size: a client still sending it
    then reads our 413 instead of a connection reset mid-upload."""
    seen = 0
    try:
        async for chunk in request.body:
            seen += len(chunk)
            if seen > DISCARD_LIMIT_BYTES:
                break
    except Exception:  # the server's own size limit, a dropped connection: the 413 still goes out
        pass


async def _reject(status: int, reason: str, message: str, source: str):
    """Refuse a webhook: counted under ``reason`` (one of a few codes) and its source, the details logged."""
    ctx = context()
    ctx.metrics.webhooks_rejected.labels(reason).inc()
    await _count(reason, source)
    log.warning("Concur webhook from %s refused: %s", source, message[:200])
    return json_error(status, message)


async def _not_ours(event: Event, source: str) -> Response:
    """An event for a company this installation does not serve: acknowledged (Concur would only
    retry it) and counted; its body is not kept."""
    await _count(UNKNOWN_COMPANY_REASON, source)
    log.info("Concur event %s for a company not configured here (%s): counted, not stored", event.id[:80], event.company_id[:80])
    return jsonify({"stored": False, "event": event.id, "ignored": "company not served by this installation"})


async def _count(reason: str, source: str) -> None:
    try:
        await context().store.run(_record_rejection, reason, source)
    except (sqlite3.Error, StoreError):
        log.exception("could not count a webhook rejection")


def _record_rejection(conn: sqlite3.Connection, reason: str, source: str) -> None:
    events.record_rejection(conn, source, reason)


@dataclass
class Pending:
    company: str
    event: Event
    target: tuple[DocKind, str] | None
    body: str
    stored: bool | None = None
    error: Exception | None = None


class GroupCommit:
    """Events that arrive together are stored in one durable transaction.

    Each webhook must be on disk before its 200, and a durable commit costs an fsync; under a burst
    one commit for everything waiting turns N fsyncs into one. No background task: the first
    request to find no write in progress writes the whole queue, the others wait for that write.
    """

    def __init__(self, store) -> None:
        self.store = store
        self.queue: list[Pending] = []
        self.writing = False
        self.written = trio.Event()

    async def submit(self, item: Pending) -> bool:
        self.queue.append(item)
        while item.stored is None and item.error is None:
            if self.writing:
                await self.written.wait()
                continue
            self.writing = True
            batch, self.queue = self.queue, []
            try:
                for pending, stored in zip(batch, await self.store.run(_store_events, batch, durable=True), strict=True):
                    pending.stored = stored
            except Exception as exc:  # every request of the batch answers for it (503 or 500)
                for pending in batch:
                    pending.error = exc
            finally:
                # Cancelled before the write (its client went away): the others go back in line.
                self.queue[:0] = [p for p in batch if p.stored is None and p.error is None]
                self.writing = False
                written, self.written = self.written, trio.Event()
                written.set()
        if item.error is not None:
            raise item.error
        return bool(item.stored)


def group_commit() -> GroupCommit:
    extensions = current_app.extensions
    if "intake" not in extensions:
        extensions["intake"] = GroupCommit(context().store)
    return extensions["intake"]


def _store_events(conn: sqlite3.Connection, batch: list[Pending]) -> list[bool]:
    return [_store_event(conn, p.company, p.event, p.target, p.body) for p in batch]


def _store_event(conn: sqlite3.Connection, company: str, event: Event, target, body: str) -> bool:
    kind, object_id = target if target else (None, None)
    # Events about nothing we post (other topics, other companies) are kept but need no work.
    needs_work = target is not None and company != UNKNOWN_COMPANY
    if events.store_webhook(conn, company, event.id, event.topic, event.event_type, kind, object_id, event.href, body, needs_work):
        return True
    # The same event again: Concur delivers at least once. Count it where operators look.
    document = (
        conn.execute("SELECT id FROM documents WHERE company = ? AND kind = ? AND concur_id = ?", (company, kind, object_id)).fetchone() if target else None
    )
    document_id = document[0] if document else None
    why = "event delivered again"
    audit.append(conn, company, document_id, Actor.CONCUR, "duplicate_skipped", {"event": event.id, "why": why})
    duplicates.record(conn, company, DuplicateSource.WEBHOOK, f"event:{event.id}", why, document_id, object_id or "")
    return False
