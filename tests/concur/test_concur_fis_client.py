"""The FIS calls against the simulated Concur over real HTTP (issue 16): HAL paging, acknowledgement
and confirmation codes as CONCUR-API.md §3.3 lists them, FIS not enabled (no FISVC)."""

from __future__ import annotations

import pytest

from worker.concur import fis
from worker.concur.errors import ConcurHTTPError

from concur_helpers import company_params, running


@pytest.mark.trio
async def test_ready_documents_are_read_page_by_page_and_acknowledged_once():
    async with running([company_params(reports=5, invoices=0, fis=True)]) as env:
        env.sim.approve_all("acme")
        items = await fis.ready_documents(env.client, "acme", "expense", limit=2)
        assert len(items) == 5 and len({i["id"] for i in items}) == 5  # three pages followed by `next`
        assert all(i["docStatus"] == "READY" and isinstance(i["document"], dict) for i in items)
        pages = [c for c in env.sim.calls("acme", fis.transactions_path("expense")) if c.method == "GET"]
        assert len(pages) == 3
        ids = [i["id"] for i in items]
        first = await fis.acknowledge(env.client, "acme", "expense", ids[:3])
        assert [r.code for r in first] == [fis.OK] * 3
        again = await fis.acknowledge(env.client, "acme", "expense", ids[:1])
        assert again[0].code == fis.PREVIOUSLY_ACKNOWLEDGED
        assert len(await fis.ready_documents(env.client, "acme", "expense")) == 2  # out of the ready queue


@pytest.mark.trio
async def test_confirmation_codes():
    async with running([company_params(reports=3, invoices=0, fis=True)]) as env:
        env.sim.approve_all("acme")
        ready = [i["id"] for i in await fis.ready_documents(env.client, "acme", "expense")]
        recalled = env.sim.fis_recall(env.sim.fis.documents[ready[2]].concur_id)
        acks = await fis.acknowledge(env.client, "acme", "expense", ready)
        assert [r.code for r in acks] == [fis.OK, fis.OK, fis.RECALLED] and recalled.fis_id == ready[2]

        def success(doc_id: str) -> dict:
            return {"docId": doc_id, "overallPostingStatusCode": "success", "postingDocs": [], "systemMessages": []}

        env.sim.fis.confirmation_codes = [fis.RETRY_LATER]
        results = await fis.confirm(env.client, "acme", "expense", [success(ready[0]), success(ready[1]), success(ready[2])])
        assert [r.code for r in results] == [fis.RETRY_LATER, fis.OK, fis.RECALLED_AT_CONFIRMATION]
        results = await fis.confirm(env.client, "acme", "expense", [success(ready[0]), success(ready[1])])
        assert [r.code for r in results] == [fis.OK, fis.ALREADY_CONFIRMED]


@pytest.mark.trio
async def test_not_acknowledged_and_not_enabled():
    async with running([company_params(reports=1, invoices=0, fis=True), company_params("plain", reports=1)]) as env:
        env.sim.approve_all("acme")
        [item] = await fis.ready_documents(env.client, "acme", "expense")
        [result] = await fis.confirm(env.client, "acme", "expense", [{"docId": item["id"], "overallPostingStatusCode": "success"}])
        assert result.code == fis.NOT_ACKNOWLEDGED
        with pytest.raises(ConcurHTTPError, match="403"):
            await fis.ready_documents(env.client, "plain", "expense")
