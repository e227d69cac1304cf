"""Data is text, never markup: a document whose every field carries Rich/Textual markup (``[/x]``,
``[link=...]``, ``[@click=...]``) is shown as typed in the queue, the detail screen and the action
dialog, and the console keeps running (issue 15 section 6)."""

from __future__ import annotations

import pytest
from textual.widgets import Static

from console.app import ConsoleApp
from console.client import ApiClient
from console.screens.detail import DetailScreen
from console.widgets.confirm import ConfirmDialog
from console.widgets.document_table import DocumentTable
from tests.helpers.config import ADMIN_TOKEN
from tests.helpers.console_pilot import NOW, open_queue, select, text_of
from tests.helpers.live import start_worker
from tests.helpers.seed import HOSTILE
from tests.helpers.waiting import wait_until


@pytest.fixture(scope="module")
def hostile_worker(tmp_path_factory):
    worker = start_worker(tmp_path_factory.mktemp("hostile"), hostile=True)
    yield worker
    worker.stop()


def cells(table) -> list[str]:
    return [str(getattr(cell, "plain", cell)) for column in table.columns for cell in column.cells]


@pytest.mark.asyncio
async def test_markup_in_every_field_is_shown_as_typed(hostile_worker):
    app = ConsoleApp(ApiClient(hostile_worker.url, ADMIN_TOKEN), label="hostile", clock=lambda: NOW)
    async with app.run_test(size=(140, 50)) as pilot:
        await open_queue(app, pilot, "held")
        table = app.screen.query_one(DocumentTable)
        concur_id = "HOST-" + HOSTILE
        await wait_until(pilot, lambda: any(d.concur_id == concur_id for d in table.documents.values()), what="the hostile row")
        row = [str(getattr(cell, "plain", cell)) for cell in table.get_row(next(str(d.id) for d in table.documents.values() if d.concur_id == concur_id))]
        assert concur_id in row and "Eve " + HOSTILE in row and any(HOSTILE in cell for cell in row if cell.startswith("reason"))
        await select(app, pilot, concur_id)
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, DetailScreen) and app.screen.detail is not None, what="detail")
        detail = app.screen
        await pilot.pause()
        assert HOSTILE in text_of(detail.query_one("#doc-header"))
        _, lines, _ = detail.query_one("#lines", Static).content.renderables
        assert "memo " + HOSTILE in cells(lines) and "Account " + HOSTILE in cells(lines)
        assert "decision " + HOSTILE in text_of(detail.query_one("#decisions"))
        audit = cells(detail.query_one("#audit", Static).content)
        assert "operator " + HOSTILE in audit and any("operator reason " + HOSTILE in c for c in audit)
        # The screens render (a MarkupError would surface here) and the console still runs.
        app.screen.refresh()
        await pilot.pause()
        await pilot.press("h")  # the hold/release dialog names the document
        await wait_until(pilot, lambda: isinstance(app.screen, (ConfirmDialog, DetailScreen)), what="dialog or detail")
        if isinstance(app.screen, ConfirmDialog):
            await pilot.press("escape")
        assert app.is_running
        assert not app._exception, app._exception
