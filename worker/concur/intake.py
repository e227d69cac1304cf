"""Concur webhooks: verify, store durably (deduplicated on the event id), answer 200.

Concur waits 60 s and retries on 5xx and 429 but drops an event on any other 4xx, so a body we
cannot read is refused with a 4xx only when resending it would not help (bad signature, not an
event), and a store failure answers 503 so Concur retries. The HTTP side (``POST
/webhooks/concur``, body limits) is ``worker.concur.intake_http``.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import trio

from shared.config import Config
from shared.types import Actor, DocKind, DuplicateSource
from worker.concur.webhooks import FIS_TOPIC, BadEvent, Event, load_public_keys, object_of, parse_event, verify_signature
from worker.context import WorkerContext
from worker.store import audit, duplicates, events
from worker.store.db import StoreError

log = logging.getLogger(__name__)

MAX_WEBHOOK_BYTES = 1024 * 1024
UNKNOWN_COMPANY = "unknown"
UNKNOWN_COMPANY_REASON = "unknown_company"  # webhook_rejections.reason for events of companies not served here
KEY_RECHECK_S = 1.0  # a rotated key file is picked up within this long


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


def _stamp(path: Path) -> int:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return 0


@dataclass
class _CheckedKeys:
    config: Config
    keys: list
    checked_at: float


_checked: _CheckedKeys | None = None


def public_keys(config: Config) -> list:
    """The webhook keys of ``config``; the key files are looked at again at most every
    ``KEY_RECHECK_S`` (two ``stat`` calls a webhook were a measurable part of intake)."""
    global _checked
    now = time.monotonic()
    if _checked is not None and _checked.config is config and now - _checked.checked_at < KEY_RECHECK_S:
        return _checked.keys
    paths = tuple(dict.fromkeys(k for c in config.companies if c.concur.verify_webhook_signature for k in c.concur.webhook_public_keys))
    keys = _keys(paths, tuple(_stamp(p) for p in paths))
    _checked = _CheckedKeys(config, keys, now)
    return keys


def company_of(config: Config, event: Event) -> str:
    """Events name the company by its Concur UUID; with one company, that company."""
    wanted = event.company_id.lower()
    for company in config.companies:
        if company.concur.company_uuid.lower() == wanted:
            return company.id
    if not wanted and len(config.companies) == 1:
        return config.companies[0].id
    return UNKNOWN_COMPANY


@dataclass(frozen=True)
class Answer:
    """What a delivery gets back: an HTTP status and a JSON body."""

    status: int
    body: dict


class Intake:
    """The webhook intake of one worker, whatever carries the HTTP (``intake_http.WebhookEndpoint``)."""

    def __init__(self, ctx: WorkerContext) -> None:
        self.ctx = ctx
        self.commit = GroupCommit(ctx.store)

    async def accept(self, body: bytes, signature: str | None, source: str) -> Answer:
        """Verify, parse and store one delivery; the answer is sent only after the event is on disk."""
        ctx = self.ctx
        if len(body) > MAX_WEBHOOK_BYTES:
            return await self.refuse(413, "too_large", "body too large", source)
        if any(c.concur.verify_webhook_signature for c in ctx.config.companies):
            keys = public_keys(ctx.config)
            if not keys or not verify_signature(keys, body, signature):
                return await self.refuse(401, "signature", "missing or invalid Concur-Signature", source)
        try:
            event = parse_event(body)
        except BadEvent as exc:
            return await self.refuse(400, "malformed", str(exc), source)
        company = company_of(ctx.config, event)
        if company == UNKNOWN_COMPANY:
            return await self._not_ours(event, source)
        target = object_of(event)
        try:
            stored = await self.commit.submit(Pending(company, event, target, body.decode("utf-8", "replace")))
        except (sqlite3.Error, StoreError):
            log.exception("could not store Concur event %s", event.id)
            return Answer(503, {"error": "could not store the event; retry later"})
        if stored:
            ctx.metrics.webhooks_received.labels(company).inc()
            if target is not None or event.topic == FIS_TOPIC:
                ctx.inbox.notify()  # only events about documents give the fetcher (or the FIS poll) work
        else:
            ctx.metrics.webhooks_duplicate.labels(company).inc()
        return Answer(200, {"stored": stored, "event": event.id})

    async def refuse(self, status: int, reason: str, message: str, source: str) -> Answer:
        """Refuse a webhook: counted under ``reason`` (one of a few codes) and its source, the details logged."""
        self.ctx.metrics.webhooks_rejected.labels(reason).inc()
        await self._count(reason, source)
        log.warning("Concur webhook from %s refused: %s", source, message[:200])
        return Answer(status, {"error": message})

    async def _not_ours(self, event: Event, source: str) -> Answer:
        """An event for a company this installation does not serve: acknowledged (Concur would only
        retry it) and counted; its body is not kept."""
        await self._count(UNKNOWN_COMPANY_REASON, source)
        log.info("Concur event %s for a company not configured here (%s): counted, not stored", event.id[:80], event.company_id[:80])
        return Answer(200, {"stored": False, "event": event.id, "ignored": "company not served by this installation"})

    async def _count(self, reason: str, source: str) -> None:
        try:
            await self.ctx.store.run(_record_rejection, reason, source)
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
                for pending, stored in zip(batch, await self.store.run(_store_events, batch, durable=True, urgent=True), strict=True):
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


def _store_events(conn: sqlite3.Connection, batch: list[Pending]) -> list[bool]:
    stored = events.store_webhooks(conn, [_webhook(p) for p in batch])
    for pending, new in zip(batch, stored, strict=True):
        if not new:
            _count_duplicate(conn, pending.company, pending.event, pending.target)
    return stored


def _webhook(pending: Pending) -> events.Webhook:
    kind, object_id = pending.target if pending.target else (None, None)
    # Events about nothing we post (other topics, other companies) are kept but need no work.
    needs_work = pending.target is not None and pending.company != UNKNOWN_COMPANY
    e = pending.event
    return events.Webhook(pending.company, e.id, e.topic, e.event_type, kind, object_id, e.href, pending.body, needs_work)


def _count_duplicate(conn: sqlite3.Connection, company: str, event: Event, target) -> None:
    """The same event again: Concur delivers at least once. Count it where operators look."""
    kind, object_id = target if target else (None, None)
    document = (
        conn.execute("SELECT id FROM documents WHERE company = ? AND kind = ? AND concur_id = ?", (company, kind, object_id)).fetchone() if target else None
    )
    document_id = document[0] if document else None
    why = "event delivered again"
    audit.append(conn, company, document_id, Actor.CONCUR, "duplicate_skipped", {"event": event.id, "why": why})
    duplicates.record(conn, company, DuplicateSource.WEBHOOK, f"event:{event.id}", why, document_id, object_id or "")
