"""The queue pages from the API as the cursor moves down; it never loads everything at once."""

from __future__ import annotations

import pytest

from console.screens.queue import PAGE
from tests.helpers.console_pilot import open_queue
from tests.helpers.live import start_worker
from tests.helpers.waiting import wait_until

BULK = 450  # + 14 seeded documents


@pytest.fixture(scope="module")
def live_worker(tmp_path_factory):
    worker = start_worker(tmp_path_factory.mktemp("bulk"), bulk=BULK)
    yield worker
    worker.stop()


@pytest.mark.asyncio
async def test_queue_loads_pages_as_the_cursor_moves(make_app):
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_queue(app, pilot, "all")
        await wait_until(pilot, lambda: screen.view == "all" and screen.table.row_count == PAGE, what="first page")
        assert screen.next_cursor is not None
        await pilot.press("ctrl+end")  # the last loaded row: the next page follows
        await wait_until(pilot, lambda: screen.table.row_count == 2 * PAGE, what="second page")
        for expected in (3 * PAGE, 4 * PAGE, BULK + 14):
            await pilot.press("ctrl+end")
            await wait_until(pilot, lambda expected=expected: screen.table.row_count == expected, what=f"{expected} rows")
        assert screen.next_cursor is None
        ids = list(screen.table.documents)
        assert len(ids) == len(set(ids)) == BULK + 14
