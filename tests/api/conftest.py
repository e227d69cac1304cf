"""A real worker on a loopback port with a seeded store (SQLite, then PostgreSQL), and HTTP clients for it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from functools import partial

import httpx
import pytest
import trio

from tests.helpers.config import ADMIN_TOKEN, READER_TOKEN, auth, test_config
from tests.helpers.seed import seed
from worker.main import RunningWorker, serve_worker
from worker.store.db import open_store


@dataclass
class Seeded:
    running: RunningWorker
    ids: dict[str, int]  # concur_id -> document id

    @property
    def url(self) -> str:
        return self.running.url


@pytest.fixture
async def worker(tmp_path, nursery, store_url) -> AsyncIterator[Seeded]:
    config = test_config(tmp_path, store_url)
    store = open_store(config)
    try:
        ids = store.run_sync(seed)
    finally:
        store.close()
    shutdown = trio.Event()
    running = await nursery.start(partial(serve_worker, config, shutdown, port=0, background=False, stderr_log=False))
    yield Seeded(running, ids)
    shutdown.set()


@pytest.fixture
async def admin(worker) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=worker.url, headers=auth(ADMIN_TOKEN), timeout=20) as client:
        yield client


@pytest.fixture
async def reader(worker) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=worker.url, headers=auth(READER_TOKEN), timeout=20) as client:
        yield client
