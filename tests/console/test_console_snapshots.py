"""Snapshots of every screen at 80x24 and 120x40 against a seeded worker (fixed data, fixed clock).

Update after an intended change with ``pytest tests/console --snapshot-update`` and review the SVGs.
"""

from __future__ import annotations

import pytest

from console.screens.detail import DetailScreen
from console.screens.help import HelpScreen
from console.widgets.company_card import CompanyCard
from tests.helpers.console_pilot import open_queue, rows, select
from tests.helpers.waiting import wait_until

SIZES = pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])


async def overview_ready(pilot) -> None:
    await wait_until(pilot, lambda: len(pilot.app.screen.query(CompanyCard)) == 2, what="cards")
    await pilot.pause()


async def queue_ready(pilot) -> None:
    await open_queue(pilot.app, pilot)
    await wait_until(pilot, lambda: len(rows(pilot.app)) == 7, what="pending rows")
    await pilot.pause()


async def detail_ready(pilot) -> None:
    screen = await open_queue(pilot.app, pilot)
    screen.set_filter(view="posted")
    await wait_until(pilot, lambda: set(rows(pilot.app)) == {"RPT-1001", "INV-4001"}, what="posted rows")
    await select(pilot.app, pilot, "RPT-1001")
    await pilot.press("enter")
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, DetailScreen) and pilot.app.screen.detail is not None, what="detail")
    await pilot.pause()


async def help_ready(pilot) -> None:
    await overview_ready(pilot)
    await pilot.press("question_mark")
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, HelpScreen), what="help")
    await pilot.pause()


@SIZES
def test_overview(snap_compare, make_app, size):
    assert snap_compare(make_app(), terminal_size=size, run_before=overview_ready)


@SIZES
def test_queue(snap_compare, make_app, size):
    assert snap_compare(make_app(), terminal_size=size, run_before=queue_ready)


@SIZES
def test_detail(snap_compare, make_app, size):
    assert snap_compare(make_app(), terminal_size=size, run_before=detail_ready)


@SIZES
def test_help(snap_compare, make_app, size):
    assert snap_compare(make_app(), terminal_size=size, run_before=help_ready)
