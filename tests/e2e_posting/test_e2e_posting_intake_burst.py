"""A burst of signed webhooks: every event stored exactly once before its 200, duplicates inside
the same burst counted as duplicates, and fewer durable commits than events (group commit)."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest
import trio

from e2e_posting_helpers import running, sql


@pytest.mark.trio
async def test_a_burst_is_stored_once_each_in_fewer_commits(tmp_path, monkeypatch):
    commits: list[int] = []
    async with running(tmp_path, reports=0, invoices=0) as h:
        store = h.worker.ctx.store
        real_run = store.run

        async def counting_run(fn, *args, **kwargs):
            if getattr(fn, "__name__", "") == "_store_events":
                commits.append(len(args[0]))
            return await real_run(fn, *args, **kwargs)

        monkeypatch.setattr(store, "run", counting_run)
        company_uuid = h.config.companies[0].concur.company_uuid
        ids = [str(uuid.uuid4()) for _ in range(60)]
        bodies = []
        for event_id in ids + ids[:10]:  # ten of them twice, in the same burst
            body = json.dumps(
                {
                    "id": event_id,
                    "topic": "public.concur.expense.report",
                    "eventType": "statusChanged",
                    "timeStamp": "2026-11-28T04:00:00Z",
                    "facts": {"companyId": company_uuid, "reportId": "R" + event_id[:8], "currentApprovalStatus": "A_PEND", "href": None},
                }
            ).encode()
            bodies.append(body)
        answers: list[int] = []
        async with httpx.AsyncClient(base_url=h.worker.url, timeout=30) as client:

            async def send(body: bytes) -> None:
                reply = await client.post(
                    "/webhooks/concur", content=body, headers={"Concur-Signature": h.concur.sign(body), "Content-Type": "application/json"}
                )
                answers.append(reply.status_code)

            async with trio.open_nursery() as nursery:
                for body in bodies:
                    nursery.start_soon(send, body)
        assert answers == [200] * len(bodies)
        stored = await sql(h, "SELECT COUNT(*) AS n FROM events")
        assert stored[0]["n"] == len(ids)
        duplicates = await sql(h, "SELECT COUNT(*) AS n FROM audit WHERE action = 'duplicate_skipped'")
        assert duplicates[0]["n"] == 10
    assert sum(commits) == len(bodies)
    assert len(commits) < len(bodies), commits  # concurrent arrivals shared commits
