"""The operator event stream (Server-Sent Events).

Every audit entry is an event whose ``id`` is the audit entry's id: the audit table is the
durable log, so a client that reconnects with ``Last-Event-ID`` gets exactly the entries it
missed. Entries about a document are sent as ``change`` with the document as it is now; summary
ticks (no id, so they never move a client's resume point) follow changes and a timer;
``: heartbeat`` comments keep idle connections and proxies alive.

The stream waits on ``ctx.changed`` instead of polling, and also re-reads the audit table on each
summary tick so that an entry written without a wake-up is still delivered.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass

import trio

from shared.api import ChangeEvent
from shared.clock import utc_now
from worker.api import queries
from worker.context import WorkerContext

BATCH = 200
SUMMARY_MIN_GAP_S = 1.0  # at most one change-driven summary per second per stream


@dataclass(frozen=True)
class StreamOptions:
    heartbeat_s: float = 15.0
    summary_every_s: float = 5.0
    max_events: int | None = None  # tests: end after this many events (heartbeats not counted)
    until_idle_s: float | None = None  # tests: end after this long without an event


def sse_event(event: str | None, data: str, event_id: int | None = None) -> bytes:
    lines = []
    if event_id is not None:
        lines.append(f"id: {event_id}")
    if event:
        lines.append(f"event: {event}")
    lines += [f"data: {line}" for line in data.split("\n")]
    return ("\n".join(lines) + "\n\n").encode("utf-8")


HEARTBEAT = b": heartbeat\n\n"


def _stopping(ctx: WorkerContext) -> bool:
    """The worker is shutting down: end the stream so the server's graceful stop does not wait
    for it; clients reconnect and resume by Last-Event-ID."""
    return ctx.stopping.is_set()


def _companies(ctx: WorkerContext) -> list[tuple[str, str]]:
    return [(c.id, c.name) for c in ctx.config.companies]


class SummaryCache:
    """One summary computation shared by every open stream: reused while nothing changed
    (``ctx.changed``) and it is younger than ``max_age_s``.

    A summary costs some milliseconds at 100,000 documents and runs on the store's one thread;
    ten consoles must not multiply that.
    """

    def __init__(self, max_age_s: float = SUMMARY_MIN_GAP_S) -> None:
        self.max_age_s = max_age_s
        self._lock = trio.Lock()
        self._at = -float("inf")
        self._count = -1
        self._text = ""

    async def get(self, ctx: WorkerContext) -> str:
        async with self._lock:
            if ctx.changed.count != self._count or trio.current_time() - self._at >= self.max_age_s:
                count = ctx.changed.count
                summary = await ctx.store.run(queries.summary, _companies(ctx), utc_now())
                self._text = json.dumps(summary.to_dict(), separators=(",", ":"))
                self._at, self._count = trio.current_time(), count
            return self._text


async def events(ctx: WorkerContext, last_id: int | None, options: StreamOptions, cache: SummaryCache | None = None) -> AsyncIterator[bytes]:
    cache = cache or SummaryCache()

    async def summary_json(ctx: WorkerContext) -> str:
        return await cache.get(ctx)

    if last_id is None:
        last_id = await ctx.store.run(queries.last_audit_id)
    sent = 0
    seen = ctx.changed.count
    # A retry hint, then the picture as it is now, so a client needs no separate request.
    yield b"retry: 2000\n\n"
    yield sse_event("summary", await summary_json(ctx))
    sent += 1
    now = trio.current_time()
    last_summary = last_output = last_event = now
    summary_due = False

    def done() -> bool:
        return options.max_events is not None and sent >= options.max_events

    if done():
        return
    while not _stopping(ctx):
        entries, docs = await ctx.store.run(queries.audit_after, last_id, BATCH)
        for entry in entries:
            doc = docs.get(entry.document_id) if entry.document_id is not None else None
            payload = json.dumps(ChangeEvent(entry, doc).to_dict(), separators=(",", ":"))
            yield sse_event("change" if entry.document_id is not None else "audit", payload, entry.id)
            last_id = entry.id
            sent += 1
            summary_due = True
            if done():
                return
        now = trio.current_time()
        if entries:
            last_output = last_event = now
            if len(entries) == BATCH:
                continue  # catching up: no waiting between batches
        if (summary_due and now - last_summary >= SUMMARY_MIN_GAP_S) or now - last_summary >= options.summary_every_s:
            yield sse_event("summary", await summary_json(ctx))
            sent += 1
            summary_due = False
            last_summary = last_output = last_event = trio.current_time()
            if done():
                return
        now = trio.current_time()
        if options.until_idle_s is not None and now - last_event >= options.until_idle_s:
            return
        if now - last_output >= options.heartbeat_s:
            yield HEARTBEAT
            last_output = now
        deadlines = [last_summary + (SUMMARY_MIN_GAP_S if summary_due else options.summary_every_s), last_output + options.heartbeat_s]
        if options.until_idle_s is not None:
            deadlines.append(last_event + options.until_idle_s)
        timeout = max(0.0, min(deadlines) - now)
        if timeout > 0:
            count = await ctx.changed.wait(seen, timeout=timeout)
            if count != seen:
                seen, summary_due = count, True
