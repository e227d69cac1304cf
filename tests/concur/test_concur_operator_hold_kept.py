"""An operator's hold is the operator's: new content from Concur (an event or the sweep) is kept
for the release but never moves a held document on, even one held before its first fetch."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

from shared.domain import Employee, Expense, ExpenseReport
from shared.types import Actor, DocKind, DocState, HoldKind
from worker.concur.sync import store_fetched
from worker.posting.actions import apply_action
from worker.store import documents
from worker.store.db import Store


def report(amount: str) -> ExpenseReport:
    day = dt.date(2026, 3, 5)
    item = Expense("E1", "AIRFR", "Airfare", day, Decimal(amount), "CASH")
    return ExpenseReport("9F1A2B3C4D5E6F708192", "March trip", Employee("u-1", "Ana Diaz"), "USD", "A_APPR", Decimal(amount), day, expenses=(item,))


def test_held_before_the_first_fetch_stays_held_with_the_content_kept(tmp_path: Path) -> None:
    store = Store.in_dir(tmp_path)
    try:
        doc = report("120.00")
        document_id = store.run_sync(lambda conn: documents.create(conn, "demo", DocKind.EXPENSE_REPORT, doc.report_id, None, Actor.CONCUR, "event"))
        store.run_sync(lambda conn: apply_action(conn, document_id, "hold", "wait for the manager", "cli:test"))
        store.run_sync(lambda conn: documents.mark_recheck(conn, document_id, "event:e-2"))
        assert store.run_sync(lambda conn: store_fetched(conn, document_id, doc)) == "kept_held"
        row = store.run_sync(lambda conn: documents.get(conn, document_id))
        assert (row["state"], row["hold_kind"], row["reason"]) == (DocState.HELD, HoldKind.OPERATOR, "wait for the manager")
        assert row["content"] and row["amount"] == "120.00"
        # The release plans from the content fetched while it was held.
        released = store.run_sync(lambda conn: apply_action(conn, document_id, "release", "", "cli:test"))
        assert released["state"] == DocState.FETCHED
    finally:
        store.close()


def test_a_hold_for_something_else_is_replanned_on_new_content(tmp_path: Path) -> None:
    store = Store.in_dir(tmp_path)
    try:
        doc = report("80.00")
        document_id = store.run_sync(lambda conn: documents.create(conn, "demo", DocKind.EXPENSE_REPORT, doc.report_id, None, Actor.CONCUR, "event"))
        store.run_sync(lambda conn: documents.set_state(conn, document_id, DocState.HELD, "unmapped", Actor.WORKER, "plan_hold", hold_kind=HoldKind.MAPPING))
        store.run_sync(lambda conn: documents.mark_recheck(conn, document_id, "sweep"))
        assert store.run_sync(lambda conn: store_fetched(conn, document_id, doc)) == "replanned"
        assert store.run_sync(lambda conn: documents.get(conn, document_id))["state"] == DocState.FETCHED
    finally:
        store.close()
