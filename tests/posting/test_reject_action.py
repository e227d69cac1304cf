"""``reject`` (FIS only, issue 16): an error confirmation says nothing of the document is in the
accounting system, so it is refused while any transaction of it is, or may be, in QuickBooks."""

from __future__ import annotations

import pytest

from shared.types import Actor, DocKind, DocState
from worker.posting.actions import apply_action
from worker.store import documents, fis
from worker.store.db import Store
from worker.store.documents import InvalidTransition


def setup(conn, *, fis_version: bool = True) -> int:
    document_id = documents.create(conn, "demo", DocKind.EXPENSE_REPORT, "R1", None, Actor.CONCUR, "test")
    documents.set_state(conn, document_id, DocState.FAILED, "QuickBooks refused the journal entry", Actor.WORKER, "failed")
    if fis_version:
        version = fis.record_received(conn, "demo", "F1", "expense", "R1", "{}")
        fis.mark_acknowledged(conn, version["id"], document_id, 0)
    return document_id


def add_posting(conn, document_id: int, op: str, state: str) -> None:
    conn.execute(
        "INSERT INTO postings (company, document_id, op, request_xml, state, created_at) VALUES ('demo', ?, ?, '<x/>', ?, 'now')", (document_id, op, state)
    )


@pytest.mark.parametrize("state", ["done", "sent", "unknown"])
def test_refused_while_part_of_the_document_is_or_may_be_in_quickbooks(tmp_path, state):
    store = Store.in_dir(tmp_path)
    try:

        def run(conn):
            document_id = setup(conn)
            add_posting(conn, document_id, "BillAdd", state)
            add_posting(conn, document_id, "JournalEntryAdd", "failed")
            with pytest.raises(InvalidTransition, match="does not reverse partial postings"):
                apply_action(conn, document_id, "reject", "wrong cost centre", "op")
            assert conn.execute("SELECT COUNT(*) FROM fis_confirmations").fetchone()[0] == 0

        store.run_sync(run)
    finally:
        store.close()


def test_sent_back_once_with_the_reason_and_only_for_fis_documents(tmp_path):
    store = Store.in_dir(tmp_path)
    try:

        def run(conn):
            document_id = setup(conn)
            add_posting(conn, document_id, "VendorAdd", "done")  # a vendor in QuickBooks is no part of the document
            with pytest.raises(InvalidTransition, match="reason"):
                apply_action(conn, document_id, "reject", "  ", "op")
            row = apply_action(conn, document_id, "reject", "wrong cost centre", "op")
            assert (row["state"], row["hold_kind"]) == ("skipped", "sent_back")
            [confirmation] = conn.execute("SELECT * FROM fis_confirmations").fetchall()
            assert (confirmation["status"], confirmation["state"]) == ("error", "pending") and "wrong cost centre" in confirmation["body"]
            plain = documents.create(conn, "demo", DocKind.INVOICE, "I1", None, Actor.CONCUR, "test")
            documents.set_state(conn, plain, DocState.HELD, "held", Actor.WORKER, "held")
            with pytest.raises(InvalidTransition, match="Financial Integration Service"):
                apply_action(conn, plain, "reject", "no", "op")

        store.run_sync(run)
    finally:
        store.close()
