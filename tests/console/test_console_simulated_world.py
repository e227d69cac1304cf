"""The console against data that came through the simulators (Concur → worker → Web Connector →
QuickBooks), not seeded rows: the overview, the Posted view, a document's detail with its real
qbXML, and a hold → release round trip that the next Web Connector run posts.

The simulated world is trio; the console asyncio: the world runs in a thread of its own, as in
``mlc demo``."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import trio

from console.app import ConsoleApp
from console.client import ApiClient
from console.screens.detail import DetailScreen
from console.screens.queue import QueueScreen
from console.widgets.company_card import CompanyCard
from console.widgets.qbxml_viewer import QbxmlViewer
from mlc import harness
from shared.config import load_config
from shared.tokens import read_tokens
from tests.helpers.console_pilot import confirm, duplicate_rows, rows, select, text_of
from tests.helpers.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class World:
    url: str
    token: str
    posted: int
    approve_another: threading.Event  # Concur approves one more report (webhooks delivered)
    run_web_connector: threading.Event  # the Web Connector runs once


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    ready = threading.Event()
    stop = threading.Event()
    run_web_connector = threading.Event()
    approve_another = threading.Event()
    found: dict[str, object] = {}

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            h = await harness.start(nursery, load_config(ROOT / "mlc.toml"), tmp_path / "run", reports=3, invoices=2, worker_port=0, concur_port=0)
            expected = harness.approve_everything(h)
            await harness.deliver(h)
            counts = await harness.drain(h, expected=expected, timeout_s=60)
            found.update(url=h.worker.url, token=read_tokens(h.config.operator.token_file)[0].token, posted=counts.get("posted", 0))
            ready.set()
            while not stop.is_set():
                if approve_another.is_set():
                    approve_another.clear()
                    report = h.concur.create_report(h.company)
                    h.concur.approve(report.id)
                    found["new_report"] = report.id
                    await harness.deliver(h, duplicates=0)
                if run_web_connector.is_set():
                    run_web_connector.clear()
                    await harness.web_connector_run(h)
                await trio.sleep(0.05)
            await harness.stop_worker(h)
            nursery.cancel_scope.cancel()

    def run() -> None:
        try:
            trio.run(main)
        finally:
            ready.set()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert ready.wait(90) and "url" in found, "the simulated world did not start"
    yield World(str(found["url"]), str(found["token"]), int(found["posted"]), approve_another, run_web_connector)
    stop.set()
    thread.join(30)


@pytest.mark.asyncio
async def test_console_on_simulated_data(world: World) -> None:
    assert world.posted == 5
    app = ConsoleApp(ApiClient(world.url, world.token), label="simulated")
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: len(app.screen.query(CompanyCard)) == 1 and "posted 5" in text_of(app.screen.query_one(CompanyCard)), what="overview")
        card = text_of(app.screen.query_one(CompanyCard))
        assert "webhooks 5 received" in card and "duplicates skipped 5" in card and "connected" in card

        await pilot.press("2")
        await wait_until(pilot, lambda: isinstance(app.screen, QueueScreen), what="queue")
        screen = app.screen
        assert screen.table.row_count == 0  # nothing pending: everything went through
        # Each webhook came twice: the "Duplicates skipped" tab lists the five re-deliveries the
        # overview counts, each as the worker recorded it.
        screen.set_filter(view="duplicates")
        await wait_until(pilot, lambda: len(duplicate_rows(app)) == 5, what="duplicates view")
        assert set(duplicate_rows(app).values()) == {("webhook", 1)}
        screen.set_filter(view="posted")
        await wait_until(pilot, lambda: len(rows(app)) == 5, what="posted view")
        posted = rows(app)
        assert len(posted) == 5 and set(posted.values()) == {"posted"}
        report = next(concur_id for concur_id in posted if "$" not in concur_id)  # invoices' ids carry a $
        await select(app, pilot, report)
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, DetailScreen) and app.screen.detail is not None, what="detail")
        detail = app.screen
        assert detail.detail.postings and any("JournalEntryAdd" in p.request_xml for p in detail.detail.postings)
        viewer = detail.query_one(QbxmlViewer)
        assert viewer is not None
        await pilot.press("escape")

        # A posted document cannot be held: the refusal is shown inline, nothing changes.
        await select(app, pilot, report)
        await pilot.press("h")
        await confirm(pilot, "second look")
        await wait_until(pilot, lambda: "posted" in text_of(screen.query_one("#result")), what="refusal")
        assert rows(app)[report] == "posted"

        # Concur approves one more report; it waits for QuickBooks. Hold it, release it, and the
        # next Web Connector run posts it; the table follows along from the live stream.
        screen.set_filter(view="pending")
        world.approve_another.set()
        await wait_until(pilot, lambda: list(rows(app).values()) == ["queued"], timeout=20, what="new report queued")
        new = next(iter(rows(app)))
        await select(app, pilot, new)
        await pilot.press("h")
        await confirm(pilot, "check the receipts")
        await wait_until(pilot, lambda: rows(app).get(new) == "held", what="held")
        await pilot.press("u")
        await confirm(pilot, "receipts fine")
        await wait_until(pilot, lambda: rows(app).get(new) == "queued", timeout=20, what="queued again")
        world.run_web_connector.set()
        screen.set_filter(view="posted")
        await wait_until(pilot, lambda: rows(app).get(new) == "posted" and len(rows(app)) == 6, timeout=20, what="posted by the next run")
