"""Pilot tests: each screen of the console against a real worker (read-only here; actions in test_console_actions)."""

from __future__ import annotations

import pytest
from textual.widgets import Static

from console.screens.detail import DetailScreen
from console.screens.help import HelpScreen
from console.screens.overview import OverviewScreen
from console.screens.queue import QueueScreen
from console.widgets.company_card import CompanyCard
from console.widgets.qbxml_viewer import QbxmlViewer
from console.widgets.status_bar import StatusBar
from tests.helpers.console_pilot import duplicate_rows, open_queue, rows, select, text_of
from tests.helpers.waiting import wait_until


@pytest.mark.asyncio
async def test_overview_cards_and_opening_a_company(make_app):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: len(app.screen.query(CompanyCard)) == 2, what="cards")
        assert isinstance(app.screen, OverviewScreen)
        acme, globex = app.screen.query(CompanyCard)
        acme_text, globex_text = text_of(acme), text_of(globex)
        assert "posted 1" in acme_text and "webhooks 5 received, 1 rejected" in acme_text and "duplicates skipped 1" in acme_text
        assert "connected" in acme_text and "ok · last contact" in acme_text
        assert "NEEDS RECONNECT" in globex_text and "refresh token expired" in globex_text
        assert "2 pending offline since 01-05 09:06" in globex_text and "UNREACHABLE" in globex_text
        assert "▁" * 30 in acme_text  # the postings-per-minute sparkline
        assert globex.has_class("-alert")
        assert "connected to test-worker" in text_of(app.screen.query_one(StatusBar))
        # keyboard only: the first card has focus (given once the cards are laid out); down moves to the next; Enter opens its queue
        await wait_until(pilot, lambda: app.focused is acme, what="focus on the first card")
        await pilot.press("down")
        assert app.focused is globex
        await pilot.press("enter")
        await wait_until(
            pilot,
            lambda: isinstance(app.screen, QueueScreen) and app.screen.company == "globex" and set(rows(app)) == {"RPT-3001", "RPT-3002"},
            what="globex queue",
        )


def plain_cells(table, column: int) -> list[str]:
    return [cell.plain for cell in table.columns[column].cells]  # cells are Text: data is never markup


@pytest.mark.asyncio
async def test_queue_views_search_and_detail(make_app):
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_queue(app, pilot)
        assert set(rows(app)) == {"RPT-1002", "RPT-1004", "RPT-1006", "RPT-1007", "INV-2002", "RPT-3001", "RPT-3002"}
        await pilot.press("right_square_bracket")  # Pending offline
        await wait_until(pilot, lambda: set(rows(app)) == {"RPT-3001", "RPT-3002"}, what="pending offline")
        await pilot.press("right_square_bracket", "right_square_bracket")  # Posted, Duplicates skipped
        # The worker's duplicate records, not documents: one event delivered twice more is one row.
        await wait_until(pilot, lambda: duplicate_rows(app) == {"RPT-1001": ("webhook", 2)}, what="duplicates")
        await pilot.press("left_square_bracket", "left_square_bracket", "left_square_bracket", "left_square_bracket")  # back past Pending to All
        await wait_until(pilot, lambda: screen.view == "all" and len(rows(app)) == 14, what="all")
        await pilot.press("slash", *"alice", "enter")
        await wait_until(pilot, lambda: set(rows(app)) == {"RPT-1001", "RPT-1005"}, what="search alice")
        await pilot.press("slash", "ctrl+a", "ctrl+k", *"99.99", "enter")  # amount search
        await wait_until(pilot, lambda: set(rows(app)) == {"RPT-3002"}, what="search amount")
        await pilot.press("escape")
        await wait_until(pilot, lambda: len(rows(app)) == 14, what="search cleared")
        await pilot.press("c")  # one company at a time
        await wait_until(pilot, lambda: screen.company == "acme" and len(rows(app)) == 9, what="acme only")

        await select(app, pilot, "RPT-1001")
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, DetailScreen) and app.screen.detail is not None, what="detail")
        detail = app.screen
        assert "RPT-1001" in text_of(detail.query_one("#doc-header")) and "TXN-1001" in text_of(detail.query_one("#doc-header"))
        heading, lines, total = detail.query_one("#lines", Static).content.renderables
        assert "JournalEntry RPT-1001" in heading.plain and total.plain == "total 412.50"
        assert lines.columns[1].header == "Account"
        assert plain_cells(lines, 1) == ["Travel:Airfare", "Accounts Payable"] and "Consulting" in plain_cells(lines, 2)
        assert plain_cells(lines, 4) == ["412.50", "412.50"]
        assert "AIRFR -> Travel:Airfare" in text_of(detail.query_one("#decisions"))
        audit = detail.query_one("#audit", Static).content
        assert plain_cells(audit, 3) == ["received", "posted", "duplicate_skipped"]
        viewer = detail.query_one(QbxmlViewer)
        assert "<JournalEntryAddRq" in viewer.text and "<TxnID>TXN-1001</TxnID>" in viewer.text
        await pilot.press("x")
        assert app.focused is viewer
        await pilot.press("escape")
        assert isinstance(app.screen, QueueScreen)
        await pilot.press("1")
        assert isinstance(app.screen, OverviewScreen)


@pytest.mark.asyncio
async def test_help_and_command_palette(make_app):
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, lambda: app.summary is not None, what="summary")
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        keys = app.screen.query_one("#help-keys", Static).content
        described = list(keys.columns[1].cells)
        for what in ("Hold", "Release", "Replay", "Skip", "Search", "Overview", "Queue", "Detail", "qbXML"):
            assert what in described
        await pilot.press("escape")
        assert isinstance(app.screen, OverviewScreen)
        await pilot.press("ctrl+p")
        await pilot.press(*"Queue: Held")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await wait_until(
            pilot, lambda: isinstance(app.screen, QueueScreen) and app.screen.view == "held" and set(rows(app)) >= {"RPT-3004"}, what="held via palette"
        )
