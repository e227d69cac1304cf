"""Small Pilot steps the console tests share: open the queue, select a row, confirm an action."""

from __future__ import annotations

import datetime as dt

from textual.widgets import Static

from console.screens.queue import QueueScreen
from console.widgets.confirm import ConfirmDialog
from console.widgets.document_table import DocumentTable
from console.widgets.duplicate_table import DuplicateTable
from tests.helpers.waiting import wait_until

# "Now" for the console in tests: ages and the status bar's time come out the same on every run.
NOW = dt.datetime(2026, 1, 6, 12, 0, tzinfo=dt.UTC)


def text_of(widget: Static) -> str:
    return str(widget.content)


def rows(app) -> dict[str, str]:
    """concur_id -> state of the queue's rows."""
    table = app.screen.query_one(DocumentTable)
    return {d.concur_id: d.state for d in table.documents.values()}


def duplicate_rows(app) -> dict[str, tuple[str, int]]:
    """concur_id -> (source, count) of the "Duplicates skipped" tab's rows."""
    table = app.screen.query_one(DuplicateTable)
    return {d.concur_id: (d.source, d.count) for d in table.duplicates.values()}


async def open_queue(app, pilot, view_key: str | None = None) -> QueueScreen:
    await pilot.press("2")
    await wait_until(pilot, lambda: isinstance(app.screen, QueueScreen) and app.screen.table.row_count > 0, what="queue rows")
    screen = app.screen
    if view_key:
        screen.set_filter(view=view_key)
        await wait_until(
            pilot,
            lambda: screen.view == view_key and all(s for s in rows(app).values()) and screen.table.row_count > 0 and _matches(app, view_key),
            what=f"view {view_key}",
        )
    return screen


def _matches(app, view_key: str) -> bool:
    states = set(rows(app).values())
    expected = {"held": {"held"}, "posted": {"posted"}, "failed": {"failed"}}.get(view_key)
    return expected is None or states <= expected


async def select(app, pilot, concur_id: str) -> None:
    table = app.screen.query_one(DocumentTable)
    key = next(str(d.id) for d in table.documents.values() if d.concur_id == concur_id)
    table.move_cursor(row=table.get_row_index(key))
    await pilot.pause()
    assert table.current_document().concur_id == concur_id


async def confirm(pilot, reason: str) -> None:
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, ConfirmDialog), what="confirmation")
    await pilot.press(*reason)
    await pilot.press("enter")
