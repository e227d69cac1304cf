"""Auth, summary, lists, filters, detail and audit of the operator API against a real worker."""

from __future__ import annotations

import httpx
import pytest

from shared.api import ACTIONS, AuditPage, DocumentDetail, DocumentPage, Summary
from tests.helpers.seed import DOCS

FIXED_FIELDS = {"id", "company", "kind", "concur_id", "state", "reason", "amount", "currency", "updated_at", "quickbooks_txn_id"}


@pytest.mark.trio
@pytest.mark.parametrize("path", ["/api/v1/summary", "/api/v1/documents", "/api/v1/documents/1", "/api/v1/audit", "/api/v1/stream"])
async def test_every_read_needs_a_token(worker, path):
    async with httpx.AsyncClient(base_url=worker.url) as client:
        missing = await client.get(path)
        wrong = await client.get(path, headers={"Authorization": "Bearer not-the-token-at-all-000"})
        basic = await client.get(path, headers={"Authorization": "Basic YWRtaW46YWRtaW4="})
    for response in (missing, wrong, basic):
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        assert "error" in response.json()


@pytest.mark.trio
async def test_read_only_token_reads_but_cannot_act(worker, reader):
    assert (await reader.get("/api/v1/summary")).status_code == 200
    doc_id = worker.ids["RPT-1002"]
    for action in ACTIONS:
        response = await reader.post(f"/api/v1/documents/{doc_id}/{action}", json={"reason": "x"})
        assert response.status_code == 403
        assert "read-only" in response.json()["error"]
    detail = DocumentDetail.from_dict((await reader.get(f"/api/v1/documents/{doc_id}")).json())
    assert detail.document.state == "queued"


@pytest.mark.trio
async def test_summary_per_company(admin):
    response = await admin.get("/api/v1/summary")
    assert response.status_code == 200
    summary = Summary.from_dict(response.json())
    acme, globex = summary.companies
    assert (acme.id, acme.name, globex.id) == ("acme", "Acme Consulting", "globex")
    assert acme.counts["posted"] == 1 and acme.counts["queued"] == 1 and acme.counts["held"] == 1
    assert acme.total == 9 and globex.total == 5 and summary.totals["total"] == 14
    assert acme.pending == 5  # received, fetched, queued, sent, unknown
    assert acme.oldest_pending_at is not None and acme.oldest_pending_age_s > 0
    # acme reachable: nothing pending offline; globex unreachable with two queued documents
    assert acme.pending_offline == 0 and acme.pending_offline_since is None
    assert globex.pending_offline == 2 and globex.pending_offline_since == globex.quickbooks_unreachable_since
    assert acme.quickbooks_last_result == "ok" and globex.quickbooks_last_result == "error"
    assert (acme.concur, globex.concur, globex.concur_reason) == ("connected", "needs_reconnect", "refresh token expired")
    assert (acme.webhooks_received, acme.webhooks_rejected, globex.webhooks_received, globex.webhooks_rejected) == (5, 1, 2, 0)
    # one duplicate record (the same event skipped twice): the summary counts records
    assert acme.duplicates_skipped == 1 and globex.duplicates_skipped == 0
    assert len(acme.postings_per_minute) == 30 and sum(acme.postings_per_minute) == 0  # seeded posts are long ago


@pytest.mark.trio
async def test_documents_carry_the_fixed_fields_newest_first(admin):
    page = (await admin.get("/api/v1/documents")).json()
    assert page["next_cursor"] is None
    assert len(page["items"]) == len(DOCS)
    assert set(page["items"][0]) >= FIXED_FIELDS
    keys = [(d["updated_at"], d["id"]) for d in page["items"]]
    assert keys == sorted(keys, reverse=True)
    posted = next(d for d in page["items"] if d["concur_id"] == "RPT-1001")
    assert (posted["amount"], posted["currency"], posted["quickbooks_txn_id"], posted["kind"]) == ("412.50", "USD", "TXN-1001", "expense_report")


@pytest.mark.trio
@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"state": "held"}, {"RPT-1003", "RPT-3004"}),
        ({"state": "held", "company": "acme"}, {"RPT-1003"}),
        ({"state": "pending", "company": "acme"}, {"RPT-1002", "RPT-1004", "RPT-1006", "RPT-1007", "INV-2002"}),
        ({"state": "pending_offline"}, {"RPT-3001", "RPT-3002"}),
        ({"state": "duplicates"}, {"RPT-1005"}),
        ({"concur_id": "INV-2001"}, {"INV-2001"}),
        ({"q": "RPT-100"}, {"RPT-1001", "RPT-1002", "RPT-1003", "RPT-1004", "RPT-1005", "RPT-1006", "RPT-1007"}),
        ({"q": "alice"}, {"RPT-1001", "RPT-1005"}),
        ({"q": "staples"}, {"INV-2002"}),
        ({"q": "99.99"}, {"RPT-3002"}),
        ({"q": "1200"}, {"INV-2001"}),
        ({"q": "100%"}, set()),
        ({"company": "nobody"}, set()),
    ],
)
async def test_filters_views_and_search(admin, params, expected):
    response = await admin.get("/api/v1/documents", params=params)
    assert response.status_code == 200, response.text
    assert {d["concur_id"] for d in response.json()["items"]} == expected


@pytest.mark.trio
@pytest.mark.parametrize(
    "params",
    [{"state": "bogus"}, {"limit": "0"}, {"limit": "501"}, {"limit": "ten"}, {"cursor": "!!!"}, {"cursor": "WzFd"}, {"q": "x" * 201}],
)
async def test_bad_list_parameters_are_400(admin, params):
    response = await admin.get("/api/v1/documents", params=params)
    assert response.status_code == 400
    assert response.json()["error"]


@pytest.mark.trio
async def test_pending_view_pages_newest_first_across_its_states(admin):
    # The pending view is read one state at a time and merged (worker/api/queries.py: _list_pending):
    # pages of 2 give the same documents in the same order as the whole view at once.
    whole = (await admin.get("/api/v1/documents", params={"state": "pending"})).json()["items"]
    keys = [(d["updated_at"], d["id"]) for d in whole]
    assert len(whole) >= 5 and keys == sorted(keys, reverse=True)
    assert {d["state"] for d in whole} >= {"received", "fetched", "queued", "sent", "unknown"}
    assert await page_through(admin, {"state": "pending"}, 2) == [d["id"] for d in whole]


async def page_through(admin, params: dict, limit: int) -> list[int]:
    """The ids of every page of ``limit`` documents, following next_cursor to the end."""
    seen, cursor = [], None
    while True:
        query = {**params, "limit": str(limit), **({"cursor": cursor} if cursor else {})}
        page = DocumentPage.from_dict((await admin.get("/api/v1/documents", params=query)).json())
        assert len(page.items) <= limit
        seen += [d.id for d in page.items]
        cursor = page.next_cursor
        if cursor is None:
            return seen


@pytest.mark.trio
async def test_paging_small_pages_has_no_duplicates_or_gaps(admin):
    seen = await page_through(admin, {}, 3)
    assert sorted(seen) == sorted(set(seen)) and len(seen) == len(DOCS)


@pytest.mark.trio
async def test_detail_has_content_plan_postings_and_audit(worker, admin):
    doc_id = worker.ids["RPT-1001"]
    response = await admin.get(f"/api/v1/documents/{doc_id}")
    assert response.status_code == 200
    detail = DocumentDetail.from_dict(response.json())
    assert detail.document.concur_id == "RPT-1001" and detail.document.state == "posted"
    assert detail.content["owner"]["name"] == "Alice Martin"
    lines = detail.plan["transactions"][0]["lines"]
    assert [line["account"]["full_name"] for line in lines] == ["Travel:Airfare", "Accounts Payable"]
    assert lines[0]["klass"]["full_name"] == "Consulting" and lines[0]["amount"] == "412.50"
    assert detail.plan["decisions"]
    (posting,) = detail.postings
    assert posting.op == "JournalEntryAdd" and posting.state == "done" and posting.status_code == 0
    assert "<JournalEntryAddRq" in posting.request_xml and "<TxnID>TXN-1001</TxnID>" in posting.response_xml
    assert [a.action for a in detail.audit] == ["received", "posted", "duplicate_skipped"]


@pytest.mark.trio
async def test_unknown_document_and_route_are_json_404(admin):
    for path in ("/api/v1/documents/999999", "/api/v1/nothing-here"):
        response = await admin.get(path)
        assert response.status_code == 404
        assert response.json()["error"]
    response = await admin.post("/api/v1/documents/999999/hold", json={"reason": "x"})
    assert response.status_code == 404 and "999999" in response.json()["error"]


@pytest.mark.trio
async def test_audit_list_pages_newest_first_and_filters(worker, admin):
    everything = AuditPage.from_dict((await admin.get("/api/v1/audit", params={"limit": "500"})).json())
    ids = [a.id for a in everything.items]
    assert ids == sorted(ids, reverse=True) and everything.next_cursor is None
    collected, cursor = [], None
    while True:
        page = AuditPage.from_dict((await admin.get("/api/v1/audit", params={"limit": "4", **({"cursor": cursor} if cursor else {})})).json())
        collected += [a.id for a in page.items]
        if not (cursor := page.next_cursor):
            break
    assert collected == ids
    globex = AuditPage.from_dict((await admin.get("/api/v1/audit", params={"company": "globex"})).json())
    assert globex.items and {a.company for a in globex.items} == {"globex"}
    doc_id = worker.ids["RPT-1003"]
    one = AuditPage.from_dict((await admin.get("/api/v1/audit", params={"document": str(doc_id)})).json())
    assert [a.action for a in one.items] == ["held", "received"]
    assert (await admin.get("/api/v1/audit", params={"document": "x"})).status_code == 400
