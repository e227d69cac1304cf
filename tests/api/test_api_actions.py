"""Operator actions through the API: state changes, the actor in the audit trail, 409s naming the state."""

from __future__ import annotations

import pytest

from shared.api import Document, DocumentDetail


async def act(client, doc_id, action, **body):
    return await client.post(f"/api/v1/documents/{doc_id}/{action}", json=body)


@pytest.mark.trio
async def test_hold_then_release_records_the_operator(worker, admin):
    doc_id = worker.ids["RPT-1002"]  # queued, with a queued posting
    held = await act(admin, doc_id, "hold", reason="check the receipt")
    assert held.status_code == 200, held.text
    doc = Document.from_dict(held.json())
    assert (doc.state, doc.reason) == ("held", "check the receipt")
    detail = DocumentDetail.from_dict((await admin.get(f"/api/v1/documents/{doc_id}")).json())
    assert detail.postings[0].state == "cancelled"
    last = detail.audit[-1]
    assert (last.action, last.actor, last.detail["from"], last.detail["to"]) == ("hold", "admin", "queued", "held")
    released = await act(admin, doc_id, "release", reason="receipt found")
    assert released.status_code == 200
    assert Document.from_dict(released.json()).state == "fetched"


@pytest.mark.trio
async def test_skip_and_replay(worker, admin):
    failed = worker.ids["INV-2001"]
    skipped = await act(admin, failed, "skip", reason="paid by cheque")
    assert skipped.status_code == 200 and skipped.json()["state"] == "skipped"
    replayed = await act(admin, failed, "replay", reason="post it after all")
    assert replayed.status_code == 200 and replayed.json()["state"] == "fetched"


@pytest.mark.trio
async def test_invalid_transitions_are_409_naming_the_state(worker, admin):
    posted = worker.ids["RPT-1001"]
    for action in ("hold", "release", "skip", "replay"):
        response = await act(admin, posted, action, reason="x")
        assert response.status_code == 409, action
        body = response.json()
        assert body["state"] == "posted" and "posted" in body["error"]
    sent = worker.ids["INV-2002"]
    response = await act(admin, sent, "hold")
    assert response.status_code == 409 and response.json()["state"] == "sent"
    # unchanged
    assert (await admin.get(f"/api/v1/documents/{posted}")).json()["state"] == "posted"


@pytest.mark.trio
async def test_forced_replay_of_a_posted_document_asks_quickbooks_first(worker, admin):
    posted = worker.ids["RPT-1001"]
    response = await act(admin, posted, "replay", reason="not in QuickBooks", force=True)
    assert response.status_code == 200 and response.json()["state"] == "unknown"


@pytest.mark.trio
async def test_bad_action_bodies(worker, admin):
    doc_id = worker.ids["RPT-1002"]
    assert (await admin.post(f"/api/v1/documents/{doc_id}/hold", content=b"not json")).status_code == 400
    assert (await act(admin, doc_id, "hold", reason=5)).status_code == 400
    assert (await act(admin, doc_id, "hold", force="yes")).status_code == 400
    assert (await admin.post(f"/api/v1/documents/{doc_id}/hold", json=["x"])).status_code == 400
    assert (await act(admin, doc_id, "explode")).status_code == 404
    # an empty body is fine: no reason given
    response = await admin.post(f"/api/v1/documents/{doc_id}/hold")
    assert response.status_code == 200 and response.json()["state"] == "held"
