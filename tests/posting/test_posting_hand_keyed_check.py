"""The hand-keyed-bill check row in the outbox (issue 13 §5): a query, so a lost answer asks again;
bills the connector made are not someone else's; a person's "post anyway" counts as an answer."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

from shared.types import Actor, DocKind, DocState
from worker import outbox
from worker.outbox import AnswerSummary, accept_hand_keyed, apply_answer, carry_over, compare_plan, hand_keyed_check, mark_uncertain, take_batch
from worker.qbxml.model import BillAdd, ExpenseLine, Ref, Response
from worker.store import documents
from worker.store.db import Store

BILL = BillAdd(
    vendor=Ref(list_id="80000001-1"),
    txn_date=dt.date(2026, 3, 5),
    ref_number="INV-42",
    lines=(ExpenseLine(account=Ref(full_name="Office Supplies"), amount=Decimal("10.00")),),
    external_guid="{11111111-2222-3333-4444-555555555555}",
)


def _queued(conn) -> tuple[int, int]:
    document_id = documents.create(conn, "demo", DocKind.INVOICE, "PR1", None, Actor.CONCUR, "test")
    documents.set_state(conn, document_id, DocState.QUEUED, "", Actor.WORKER, "planned")
    check = hand_keyed_check(conn, document_id, BILL)
    assert check is not None
    writes = [check, outbox.PlannedWrite("BillAdd", BILL, key=BILL.ref_number, external_guid=BILL.external_guid)]
    [check_id, _bill_id] = carry_over(conn, "demo", document_id, compare_plan(conn, document_id, writes))
    return document_id, check_id


def _answer(conn, check_id: int, *records: dict[str, object]) -> None:
    response = Response(str(check_id), "BillQueryRs", 0 if records else 1, "Info", "", records)
    apply_answer(conn, str(check_id), response, AnswerSummary())


def _run(tmp_path: Path, fn):
    store = Store(tmp_path / "mlc.sqlite3")
    try:
        return store.run_sync(fn)
    finally:
        store.close()


def test_the_check_goes_before_the_bill_and_a_lost_answer_asks_again(tmp_path: Path) -> None:
    def run(conn):
        _document_id, check_id = _queued(conn)
        sent = take_batch(conn, "demo", "t1", outbox.BatchLimits())
        assert [request_id for request_id, _ in sent] == [str(check_id)]  # the bill waits for the answer
        assert "<EntityFilter>" in sent[0][1] and "<RefNumberRangeFilter>" in sent[0][1]
        mark_uncertain(conn, [check_id], "answer lost")
        return conn.execute("SELECT state FROM postings WHERE id = ?", (check_id,)).fetchone()[0]

    assert _run(tmp_path, run) == "queued"


def test_our_own_bills_are_not_hand_keyed(tmp_path: Path) -> None:
    def run(conn):
        document_id, check_id = _queued(conn)
        take_batch(conn, "demo", "t1", outbox.BatchLimits())
        _answer(
            conn,
            check_id,
            {"TxnID": "1-1", "TxnDate": "2026-03-01", "Memo": "Concur invoice PR0 Supplies"},
            {"TxnID": "1-2", "TxnDate": "2026-03-02", "ExternalGUID": BILL.external_guid.lower()},
        )
        return conn.execute("SELECT state FROM postings WHERE id = ?", (check_id,)).fetchone()[0], documents.get(conn, document_id)["state"]

    assert _run(tmp_path, run) == ("done", "queued")


def test_a_hand_keyed_bill_holds_and_post_anyway_answers_the_check(tmp_path: Path) -> None:
    def run(conn):
        document_id, check_id = _queued(conn)
        take_batch(conn, "demo", "t1", outbox.BatchLimits())
        _answer(conn, check_id, {"TxnID": "9-9", "TxnDate": "2026-01-15", "Memo": "typed in"})
        doc = documents.get(conn, document_id)
        assert (doc["state"], doc["hold_kind"]) == ("held", "hand_keyed") and "9-9" in doc["reason"] and "2026-01-15" in doc["reason"]
        assert conn.execute("SELECT state FROM postings WHERE document_id = ? AND op = 'BillAdd'", (document_id,)).fetchone()[0] == "cancelled"
        assert accept_hand_keyed(conn, document_id) == 1
        return hand_keyed_check(conn, document_id, BILL)

    assert _run(tmp_path, run) is None
