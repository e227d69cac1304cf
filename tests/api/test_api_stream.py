"""The SSE stream: finite in tests, changes on actions, summary ticks, heartbeats, Last-Event-ID resume."""

from __future__ import annotations

import pytest
import trio

from shared.api import ChangeEvent, Summary
from tests.helpers.sse import EventReader, read_events


@pytest.mark.trio
async def test_stream_starts_with_a_summary_and_ends_when_idle(admin):
    comments: list[str] = []
    with trio.fail_after(10):
        async with admin.stream("GET", "/api/v1/stream", params={"until_idle": "0.6", "heartbeat": "0.2"}) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            events = await read_events(response, comments=comments)
    assert events[0].event == "summary" and events[0].id is None
    assert Summary.from_dict(events[0].json()).totals["total"] == 14
    assert "heartbeat" in comments  # idle for 0.6 s with heartbeats every 0.2 s


@pytest.mark.trio
async def test_an_action_arrives_as_a_change_event_then_a_summary(worker, admin):
    doc_id = worker.ids["RPT-1002"]
    with trio.fail_after(10):
        async with admin.stream("GET", "/api/v1/stream", params={"max_events": "3", "summary_every": "60"}) as response:
            reader = EventReader(response)
            first = await reader.read(1)
            assert first[0].event == "summary"
            held = await admin.post(f"/api/v1/documents/{doc_id}/hold", json={"reason": "stream test"})
            assert held.status_code == 200
            rest = await reader.read()  # the server ends after max_events
    change, summary = rest
    assert change.event == "change" and change.id is not None
    payload = ChangeEvent.from_dict(change.json())
    assert payload.document.id == doc_id and payload.document.state == "held"
    assert (payload.audit.action, payload.audit.actor, payload.audit.id) == ("hold", "admin", int(change.id))
    assert summary.event == "summary"
    assert Summary.from_dict(summary.json()).companies[0].counts["held"] == 2


@pytest.mark.trio
async def test_last_event_id_resumes_after_that_entry(worker, admin):
    audit = (await admin.get("/api/v1/audit", params={"limit": "500"})).json()["items"]
    newest = audit[0]["id"]
    resume_from = newest - 3  # the three newest entries were "missed"
    with trio.fail_after(10):
        async with admin.stream("GET", "/api/v1/stream", headers={"Last-Event-ID": str(resume_from)}, params={"max_events": "4"}) as response:
            events = await read_events(response)
    assert events[0].event == "summary"
    replayed = events[1:]
    assert [int(e.id) for e in replayed] == [resume_from + 1, resume_from + 2, newest]
    # entries with a document are changes carrying it; the one without is a plain audit event
    assert [e.event for e in replayed] == ["change", "change", "audit"]
    assert ChangeEvent.from_dict(replayed[1].json()).audit.action == "duplicate_skipped"
    assert ChangeEvent.from_dict(replayed[2].json()).document is None
    # a client that saw everything gets no replay, only new changes
    with trio.fail_after(10):
        async with admin.stream("GET", "/api/v1/stream", headers={"Last-Event-ID": str(newest)}, params={"until_idle": "0.5"}) as response:
            events = await read_events(response)
    assert [e.event for e in events] == ["summary"]


@pytest.mark.trio
async def test_stream_rejects_bad_parameters(admin):
    assert (await admin.get("/api/v1/stream", headers={"Last-Event-ID": "abc"})).status_code == 400
    assert (await admin.get("/api/v1/stream", params={"heartbeat": "-1"})).status_code == 400


@pytest.mark.trio
async def test_streams_end_when_the_worker_is_stopping(worker, admin):
    # The worker process sets ctx.stopping (and rings ctx.changed) when a graceful stop begins, so
    # open streams do not hold the stop up for Hypercorn's whole graceful timeout.
    ctx = worker.running.ctx
    ctx.stopping = trio.Event()
    with trio.fail_after(5):
        async with admin.stream("GET", "/api/v1/stream") as response:
            reader = EventReader(response)
            assert (await reader.read(1))[0].event == "summary"
            ctx.stopping.set()
            ctx.changed.notify()
            assert await reader.read() == []  # ended by the server
