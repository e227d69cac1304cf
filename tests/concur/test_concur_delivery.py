"""Webhook delivery from the simulator to a real HTTP receiver that uses the worker's
verify_signature/parse_event/object_of: at least once, duplicates, disorder, retries, tampering."""

from collections import Counter
from dataclasses import dataclass, field

import pytest
import trio
from hypercorn.config import Config
from hypercorn.trio import serve

from shared.types import DocKind
from worker.concur.fetch import fetch_document
from worker.concur.sweep import sweep
from worker.concur.webhooks import BadEvent, object_of, parse_event, verify_signature

from concur_helpers import company_params, running


@dataclass
class Receiver:
    keys: list[bytes]
    script: list[object] = field(default_factory=list)  # per request: status to answer, or ("slow", seconds)
    always: int | None = None
    posts: int = 0
    rejected: int = 0
    events: dict[str, object] = field(default_factory=dict)  # event id -> (kind, id) | None
    parsed: dict[str, object] = field(default_factory=dict)  # event id -> Event
    copies: Counter = field(default_factory=Counter)
    url: str = ""

    async def __call__(self, scope, receive, send):
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                await send({"type": message["type"] + ".complete"})
                if message["type"] == "lifespan.shutdown":
                    return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        self.posts += 1
        status = await self.decide(body, headers)
        await send({"type": "http.response.start", "status": status, "headers": [(b"content-length", b"0")]})
        await send({"type": "http.response.body", "body": b""})

    async def decide(self, body, headers):
        if self.script:
            step = self.script.pop(0)
            if isinstance(step, tuple):
                await trio.sleep(step[1])
            else:
                return step
        if self.always is not None:
            return self.always
        if not verify_signature(self.keys, body, headers.get("concur-signature")):
            self.rejected += 1
            return 401
        try:
            event = parse_event(body)
        except BadEvent:
            return 400
        self.copies[event.id] += 1
        self.events.setdefault(event.id, object_of(event))
        self.parsed.setdefault(event.id, event)
        return 200


async def start_receiver(nursery, receiver):
    config = Config()
    config.bind = ["127.0.0.1:0"]
    config.accesslog = None
    config.errorlog = None
    config.graceful_timeout = 0.1
    binds = await nursery.start(serve, receiver, config)
    receiver.url = binds[0] + "/webhooks/concur"
    return receiver


@pytest.mark.trio
async def test_duplicated_shuffled_burst_arrives_at_least_once_and_verifies():
    async with running([company_params(reports=10, invoices=4)]) as env:
        receiver = await start_receiver(env.nursery, Receiver([env.sim.public_key_pem]))
        queued = env.sim.approve_all("acme")
        report = await env.sim.deliver_events(receiver.url, duplicates=2, shuffle=True, concurrency=8)
        assert report.delivered == len(queued) == 14 and report.pending == 0 and receiver.rejected == 0
        assert receiver.posts == 3 * len(queued)
        assert set(receiver.copies) == {e["id"] for e in queued} and set(receiver.copies.values()) == {3}
        approved = env.sim.approved_ids("acme")
        objects = {o for o in receiver.events.values()}
        assert objects == {(DocKind.EXPENSE_REPORT, r) for r in approved["expense_report"]} | {(DocKind.INVOICE, i) for i in approved["invoice"]}


@pytest.mark.trio
async def test_retries_on_5xx_429_and_timeouts():
    async with running([company_params(reports=3, invoices=0)]) as env:
        receiver = await start_receiver(env.nursery, Receiver([env.sim.public_key_pem], script=[500, 429, 503, ("slow", 1.0)]))
        env.sim.approve_all("acme")
        report = await env.sim.deliver_events(receiver.url, concurrency=1, timeout=0.3, retry_wait=0.01)
        assert report.delivered == 3 and report.pending == 0
        assert report.retried == 4
        assert 500 in report.statuses and 429 in report.statuses and 0 in report.statuses  # 0 = timeout


@pytest.mark.trio
async def test_tampered_bodies_are_rejected_and_stay_queued():
    async with running([company_params(reports=2, invoices=0)]) as env:
        receiver = await start_receiver(env.nursery, Receiver([env.sim.public_key_pem]))
        env.sim.approve_all("acme")
        report = await env.sim.deliver_events(receiver.url, tamper=True, max_attempts=2, retry_wait=0.001)
        assert report.delivered == 0 and report.pending == 2  # Concur retries 401s later
        assert receiver.rejected == 4 and not receiver.events
        report = await env.sim.deliver_events(receiver.url)
        assert report.delivered == 2 and len(receiver.events) == 2


@pytest.mark.trio
async def test_wrong_key_rejects_everything():
    async with running([company_params(reports=1, invoices=0)]) as env:
        other = running([company_params("other", reports=0, invoices=0)], seed=99)
        async with other as env2:
            receiver = await start_receiver(env.nursery, Receiver([env2.sim.public_key_pem]))
            env.sim.approve_all("acme")
            report = await env.sim.deliver_events(receiver.url, max_attempts=1)
            assert report.delivered == 0 and receiver.rejected == 1


@pytest.mark.trio
async def test_other_4xx_drops_the_event_like_concur():
    async with running([company_params(reports=2, invoices=0)]) as env:
        receiver = await start_receiver(env.nursery, Receiver([env.sim.public_key_pem], always=400))
        env.sim.approve_all("acme")
        report = await env.sim.deliver_events(receiver.url)
        assert report.dropped == 2 and report.pending == 0 and receiver.posts == 2


@pytest.mark.trio
async def test_worker_down_then_webhooks_and_sweep_fetch_every_approved_document_exactly_once():
    async with running([company_params(reports=8, invoices=3)]) as env:
        sim = env.sim
        checkpoint = (await sweep(env.client, "acme", None)).checkpoint
        with trio.socket.socket() as sock:
            await sock.bind(("127.0.0.1", 0))
            dead_url = f"http://127.0.0.1:{sock.getsockname()[1]}/webhooks/concur"
        data = sim.companies["acme"].data
        reports, invoices = list(data.reports), list(data.invoices)
        for rid in reports[:4]:
            sim.approve(rid)
        sim.approve_invoice(invoices[0])
        down = await sim.deliver_events(dead_url, max_attempts=2, retry_wait=0.001)
        assert down.delivered == 0 and down.pending == 5
        sim.drop_pending_events()  # retention passed while the worker was down: lost for good
        for rid in reports[4:6]:
            sim.approve(rid)
        sim.approve_invoice(invoices[1])
        receiver = await start_receiver(env.nursery, Receiver([sim.public_key_pem]))
        await sim.deliver_events(receiver.url, duplicates=1, shuffle=True)

        fetch_count: Counter = Counter()
        known: set = set()

        async def process(kind, object_id, ref):
            if (kind, object_id) in known:
                return
            doc = await fetch_document(env.client, "acme", kind, ref)
            fetch_count[(kind, doc.concur_id)] += 1
            known.add((kind, object_id))

        for event_id, obj in receiver.events.items():
            kind, object_id = obj
            # Reports are read through the event's href (it names the owner); invoices by id.
            await process(kind, object_id, receiver.parsed[event_id].href or object_id)
        result = await sweep(env.client, "acme", checkpoint)
        for found in result.found:
            if found.approval_status == "A_APPR":
                await process(found.kind, found.object_id, found.href or found.object_id)
        approved = sim.approved_ids("acme")
        expected = {(DocKind.EXPENSE_REPORT, r) for r in approved["expense_report"]} | {(DocKind.INVOICE, i) for i in approved["invoice"]}
        assert len(expected) == 8  # 6 reports + 2 invoices
        assert set(fetch_count) == expected and set(fetch_count.values()) == {1}
