"""Keyset paging over 100,000 documents: every document exactly once, in order, filters included."""

from __future__ import annotations

from functools import partial

import httpx
import pytest
import trio

from shared.api import DocumentPage
from tests.helpers.config import ADMIN_TOKEN, auth, test_config
from tests.helpers.seed import seed_bulk
from worker.main import serve_worker
from worker.store.db import Store

COUNT = 100_000


@pytest.fixture
async def big_worker(tmp_path, nursery):
    config = test_config(tmp_path)
    store = Store.in_dir(config.worker.data_dir)
    try:
        store.run_sync(seed_bulk, COUNT)
    finally:
        store.close()
    shutdown = trio.Event()
    running = await nursery.start(partial(serve_worker, config, shutdown, port=0, background=False, stderr_log=False))
    yield running
    shutdown.set()


async def walk(client: httpx.AsyncClient, **params: str) -> list[tuple[str, int]]:
    keys: list[tuple[str, int]] = []
    cursor = None
    while True:
        response = await client.get("/api/v1/documents", params={**params, **({"cursor": cursor} if cursor else {})})
        assert response.status_code == 200, response.text
        page = DocumentPage.from_dict(response.json())
        keys += [(d.updated_at, d.id) for d in page.items]
        if (cursor := page.next_cursor) is None:
            return keys


@pytest.mark.trio
async def test_paging_through_100000_documents(big_worker):
    async with httpx.AsyncClient(base_url=big_worker.url, headers=auth(ADMIN_TOKEN), timeout=30) as client:
        keys = await walk(client, limit="500")
        # every document once, newest first; many share updated_at, so the id breaks ties correctly
        assert len(keys) == COUNT and len({k[1] for k in keys}) == COUNT
        assert keys == sorted(keys, reverse=True)

        held = await walk(client, limit="500", state="held")
        assert len(held) == COUNT // 6 + (1 if COUNT % 6 > 2 else 0)
        assert held == sorted(held, reverse=True)

        duplicates = await walk(client, limit="500", state="duplicates")
        assert len(duplicates) == len([i for i in range(COUNT) if i % 60 == 4 and i % 6 == 4])

        # a search stays bounded by its limit and finds the one document by Concur id
        found = (await client.get("/api/v1/documents", params={"q": "BULK-012345"})).json()["items"]
        assert [d["concur_id"] for d in found] == ["BULK-012345"]
        people = (await client.get("/api/v1/documents", params={"q": "Employee 42", "limit": "20"})).json()
        assert len(people["items"]) == 20 and people["next_cursor"]
