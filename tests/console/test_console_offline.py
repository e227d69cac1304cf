"""A worker that is down, comes up, and goes away again: the console says so, keeps its data, reconnects."""

from __future__ import annotations

import asyncio

import pytest

from console.app import ConsoleApp
from console.client import ApiClient
from console.widgets.company_card import CompanyCard
from console.widgets.status_bar import StatusBar
from tests.helpers.config import ADMIN_TOKEN
from tests.helpers.console_pilot import NOW, text_of
from tests.helpers.live import free_port, start_worker
from tests.helpers.waiting import wait_until


@pytest.mark.asyncio
async def test_console_waits_for_reconnects_to_and_survives_the_worker(tmp_path):
    port = free_port()
    app = ConsoleApp(ApiClient(f"http://127.0.0.1:{port}", ADMIN_TOKEN), label="test-worker", clock=lambda: NOW, reconnect_max_s=0.5)
    async with app.run_test(size=(100, 30)) as pilot:
        status = app.screen.query_one(StatusBar)
        await wait_until(pilot, lambda: "cannot reach the worker at test-worker" in text_of(status), what="not reachable yet")
        assert status.has_class("-offline")
        worker = await asyncio.to_thread(start_worker, tmp_path / "worker", port)
        try:
            await wait_until(pilot, lambda: "connected to test-worker" in text_of(status), timeout=20, what="connected")
            await wait_until(pilot, lambda: len(app.screen.query(CompanyCard)) == 2, what="cards")
            assert not status.has_class("-offline")
            await asyncio.to_thread(worker.stop, True)  # a crash, not a clean stop
            await wait_until(pilot, lambda: "worker unreachable" in text_of(status), timeout=20, what="unreachable")
            assert "showing the last data" in text_of(status)
            cards = app.screen.query(CompanyCard)
            assert len(cards) == 2 and "NEEDS RECONNECT" in text_of(cards[1])  # the last data stays
        finally:
            await asyncio.to_thread(worker.stop, True)


@pytest.mark.asyncio
async def test_a_wrong_token_is_reported_as_refused_not_unreachable(make_app, live_worker):
    app = ConsoleApp(ApiClient(live_worker.url, "wrong-token-0123456789"), label="test-worker", clock=lambda: NOW, reconnect_max_s=0.5)
    async with app.run_test(size=(100, 30)) as pilot:
        status = app.screen.query_one(StatusBar)
        await wait_until(pilot, lambda: "refused the console: invalid bearer token" in text_of(status), what="refused")
        assert status.has_class("-offline") and app.summary is None
