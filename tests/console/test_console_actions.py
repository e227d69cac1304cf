"""Pilot tests: the operator actions and live updates, against their own real worker (they change data)."""

from __future__ import annotations

import httpx
import pytest
from textual.widgets import Static

from console.screens.detail import DetailScreen
from console.widgets.confirm import ConfirmDialog
from tests.helpers.config import auth
from tests.helpers.console_pilot import confirm, open_queue, rows, select, text_of
from tests.helpers.waiting import wait_until


@pytest.mark.asyncio
async def test_hold_release_skip_replay_and_a_refused_action(make_app):
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_queue(app, pilot)
        await select(app, pilot, "RPT-1002")
        await pilot.press("h")
        await confirm(pilot, "check receipt")
        result = screen.query_one("#result", Static)
        await wait_until(pilot, lambda: "RPT-1002 is now held (check receipt)" in text_of(result), what="hold result")
        assert rows(app)["RPT-1002"] == "held"  # updated in place, still listed
        assert screen.table.current_document().concur_id == "RPT-1002"

        await pilot.press("enter")  # detail of the held document; release from there
        await wait_until(pilot, lambda: isinstance(app.screen, DetailScreen) and app.screen.detail is not None, what="detail")
        detail = app.screen
        await pilot.press("u")
        await confirm(pilot, "found it")
        await wait_until(pilot, lambda: "RPT-1002 is now fetched" in text_of(detail.query_one("#result")), what="release result")
        await wait_until(pilot, lambda: "fetched" in text_of(detail.query_one("#doc-header")), what="detail reloaded")
        await wait_until(pilot, lambda: "release" in [c.plain for c in detail.query_one("#audit", Static).content.columns[3].cells], what="audit entry")
        await pilot.press("escape")

        screen.set_filter(view="failed")
        await wait_until(pilot, lambda: set(rows(app)) == {"INV-2001"}, what="failed view")
        await select(app, pilot, "INV-2001")
        await pilot.press("s")
        await confirm(pilot, "paid by cheque")
        await wait_until(pilot, lambda: "INV-2001 is now skipped" in text_of(screen.query_one("#result")), what="skip")
        await pilot.press("r")
        await confirm(pilot, "post it")
        await wait_until(pilot, lambda: "INV-2001 is now fetched" in text_of(screen.query_one("#result")), what="replay")

        screen.set_filter(view="posted")
        await wait_until(pilot, lambda: set(rows(app)) == {"RPT-1001", "INV-4001"}, what="posted view")
        await select(app, pilot, "RPT-1001")
        await pilot.press("h")
        await confirm(pilot, "x")
        await wait_until(pilot, lambda: "refused" in text_of(screen.query_one("#result")), what="409")
        message = text_of(screen.query_one("#result"))
        assert "cannot hold a document that is posted" in message and "(state: posted)" in message
        assert rows(app)["RPT-1001"] == "posted"

        await pilot.press("s")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog), what="dialog")
        await pilot.press("escape")  # cancelled: nothing sent
        await wait_until(pilot, lambda: "cancelled" in text_of(screen.query_one("#result")), what="cancel")


@pytest.mark.asyncio
async def test_queue_follows_the_stream_without_moving_the_cursor(make_app, live_worker):
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_queue(app, pilot)
        await select(app, pilot, "RPT-1007")
        cursor_before = screen.table.cursor_row
        target = next(d for d in screen.table.documents.values() if d.concur_id == "RPT-1006")
        async with httpx.AsyncClient(base_url=live_worker.url, headers=auth()) as client:
            response = await client.post(f"/api/v1/documents/{target.id}/hold", json={"reason": "from a script"})
            assert response.status_code == 200
        await wait_until(pilot, lambda: rows(app)["RPT-1006"] == "held", what="stream update")
        assert screen.table.cursor_row == cursor_before
        assert screen.table.current_document().concur_id == "RPT-1007"
