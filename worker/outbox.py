"""The outbox: every qbXML write as a durable row, handed to QuickBooks once.

Rows move ``queued -> sent -> done`` (or ``failed``/``quarantined``/``cancelled``). A row is marked
``sent`` in the same transaction that hands its qbXML to the Web Connector; when the answer never
comes the row becomes ``unknown`` and a query by RefNumber (or vendor name) settles it before
anything is sent again: found -> ``done`` with QuickBooks' id, absent -> ``queued``.

A document is posted only when every transaction of its current plan is ``done``. A re-plan is
matched against the document's earlier rows write by write (op, RefNumber, ExternalGUID:
``compare_plan``) and queues only what QuickBooks is missing (``carry_over``). Every retry is
counted in a column (``attempts`` for sends, ``query_attempts`` for settling/re-reading queries)
and ends at a bound with the document held, naming QuickBooks' last code and message.

requestIDs carry the row through QuickBooks: a write's requestID is its row id; the queries that
settle or refresh a row use ``u:<id>`` and ``r:<id>``.

All functions take an open connection and run inside the caller's transaction. This module is
the only writer of ``postings`` (and of ``vendor_links``, which its answers fill); row states are
``shared.types.PostingState``.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from shared.clock import iso, now_iso, utc_now
from shared.types import Actor, DocState, HoldKind, PaymentState, PostingState
from worker.posting.payments import Proceed, check_verdict
from worker.qbxml import limits
from worker.qbxml.build import build_request
from worker.qbxml.model import BillAdd, Request, Tagged, TxnQuery, VendorMod, VendorQuery
from worker.qbxml.parse import Response, bill_balance, bills_to_pay
from worker.qbxml.status import Classification, Outcome, classify
from worker.store import audit, documents
from worker.store.qblists import name_key, remember_taken_name, store_record

SETTLE = "u:"
REFRESH = "r:"
BALANCE = "b:"  # a bill payment's check: is the bill still open in QuickBooks?
PAYMENT_OP = "BillPaymentCheckAdd"
WRITE_OPS = ("VendorAdd", "VendorMod", "BillAdd", "JournalEntryAdd")
TRANSACTION_OPS = ("BillAdd", "JournalEntryAdd")
ZERO = Decimal("0.00")
MAX_EDIT_SEQUENCE_RETRIES = 3
# Every retry has an end. A write is handed to QuickBooks at most MAX_WRITE_ATTEMPTS times (the
# ``attempts`` column: busy/locked answers, sets QuickBooks did not run, sends whose answer was lost
# and that a settlement found absent); then the row fails and its document is held with the last
# code and message. A release starts a fresh row.
MAX_WRITE_ATTEMPTS = 8
TRANSIENT_BACKOFF_S = (30, 120, 600, 1800, 3600)
# A settling or re-reading query QuickBooks could not answer is asked again after these delays, not
# in the same breath (the same query in every set would keep a session going forever), at most
# MAX_QUERY_ATTEMPTS times in a row (the ``query_attempts`` column); then the document is held.
MAX_QUERY_ATTEMPTS = 6
QUERY_BACKOFF_S = (120, 600, 1800, 3600)


@dataclass(frozen=True)
class BatchLimits:
    """How much one sendRequestXML may carry. QuickBooks must answer well inside QBWC's window: a
    set holds about ``target_s`` of QuickBooks' work at the pace the session measured
    (``first_requests`` before it measured any; ``worker.qbwc.session.set_size``), never more than
    ``max_requests`` requests or ``max_bytes``. ``bench/drain.py`` measures what these numbers cost."""

    max_requests: int = 100
    max_bytes: int = 400_000
    target_s: float = 5.0
    first_requests: int = 40


@dataclass(frozen=True)
class PlannedWrite:
    op: str  # VendorAdd | VendorMod | BillAdd | JournalEntryAdd
    request: Request
    # BillAdd/JournalEntryAdd: RefNumber; VendorAdd: the vendor name; VendorMod: the ListID
    key: str
    external_guid: str = ""


def _insert(conn: sqlite3.Connection, company: str, document_id: int, writes: Sequence[tuple[int, PlannedWrite]]) -> list[int]:
    """Insert ``(seq, write)`` rows (seq: the write's place in the plan, vendor before
    transactions) and return their row ids."""
    ids = []
    created = now_iso()
    for seq, write in writes:
        row_id = int(
            conn.execute(
                "INSERT INTO postings (company, document_id, seq, op, ref_number, external_guid, request_xml, state, created_at) VALUES (?,?,?,?,?,?,'', ?, ?) RETURNING id",
                (company, document_id, seq, write.op, write.key, write.external_guid, str(PostingState.QUEUED), created),
            ).fetchone()[0]
        )
        xml = build_request(Tagged(str(row_id), write.request))
        conn.execute("UPDATE postings SET request_xml = ?, request_bytes = ? WHERE id = ?", (xml, len(xml.encode("utf-8")), row_id))
        ids.append(row_id)
    return ids


@dataclass(frozen=True)
class Carried:
    """How a document's new plan meets the rows of its earlier plans, write by write."""

    in_quickbooks: int  # done: QuickBooks has it, never sent again
    in_flight: int  # sent or unknown: settled by a query before anything else is decided
    missing: tuple[tuple[int, PlannedWrite], ...]  # (seq in the plan, write): to be queued
    strays: tuple[str, ...]  # transactions QuickBooks has (or may have) that the plan no longer holds

    @property
    def transactions_missing(self) -> int:
        return sum(1 for _, write in self.missing if write.op in TRANSACTION_OPS)


def _same_write(row: sqlite3.Row, write: PlannedWrite) -> bool:
    """Each transaction has its own RefNumber and ExternalGUID (keys.py): the identity of a write."""
    if row["op"] != write.op or row["ref_number"] != write.key:
        return False
    return write.op not in TRANSACTION_OPS or not write.external_guid or limits.same_guid(row["external_guid"] or "", write.external_guid)


def compare_plan(conn: sqlite3.Connection, document_id: int, writes: Sequence[PlannedWrite]) -> Carried:
    """Match a new plan's writes against what QuickBooks has or may have of the document (rows
    done, sent or unknown): which are there, which are in flight, which are missing, and which
    transactions QuickBooks has that the plan no longer holds (posting beside them would book part
    of the document twice)."""
    standing = conn.execute("SELECT * FROM postings WHERE document_id = ? AND state IN ('done', 'sent', 'unknown') ORDER BY seq, id", (document_id,)).fetchall()
    done = flight = 0
    missing: list[tuple[int, PlannedWrite]] = []
    for seq, write in enumerate(writes):
        match = next((r for r in standing if _same_write(r, write)), None)
        if match is None:
            missing.append((seq, write))
        elif match["state"] == PostingState.DONE:
            done += 1
        else:
            flight += 1
    extra = tuple(f"{r['op']} {r['ref_number']}" for r in standing if r["op"] in TRANSACTION_OPS and not any(_same_write(r, w) for w in writes))
    return Carried(done, flight, tuple(missing), extra)


def carry_over(conn: sqlite3.Connection, company: str, document_id: int, carried: Carried) -> list[int]:
    """Queue only what QuickBooks is missing of the document's new plan (``compare_plan``).

    A write already done is not sent again; one in flight stays as it is and is settled first
    (its query count starts afresh: a release means "ask again"); the missing ones are queued at
    their seq in the plan, so the vendor still goes before the transactions. Earlier unsent rows
    and refusals are retired first (cancelled), so they block nothing."""
    cancel_queued(conn, document_id, superseded_failures=True)
    conn.execute("UPDATE postings SET query_attempts = 0, not_before = NULL WHERE document_id = ? AND state = ?", (document_id, str(PostingState.UNKNOWN)))
    return _insert(conn, company, document_id, carried.missing)


def pending_count(conn: sqlite3.Connection, company: str, now: str | None = None) -> int:
    """Rows QuickBooks could be given now: sendable writes, settlements and refreshes."""
    now = now or now_iso()
    row = conn.execute(
        """SELECT COUNT(*) FROM postings WHERE company = ? AND (
               (state = 'queued' OR (state = 'unknown' AND query_attempts < ?)) AND (not_before IS NULL OR not_before <= ?))""",
        (company, MAX_QUERY_ATTEMPTS, now),
    ).fetchone()
    return int(row[0])


def take_batch(
    conn: sqlite3.Connection,
    company: str,
    ticket: str,
    limits_: BatchLimits,
    budget: int | None = None,
    carrying: int = 0,
    refresh_later: set[int] | None = None,
) -> list[tuple[str, str]]:
    """Choose the next requests (settlements first, then refreshes, then writes in dependency
    order) and mark the writes sent. Returns ``(requestID, request element)`` pairs.
    ``carrying``: requests the set already holds besides these (list queries). ``refresh_later``:
    collect the documents whose state follows the rows here instead of refreshing them now
    (``refresh_documents`` later; see ``AnswerSummary.refresh_later``)."""
    now = now_iso()
    room = limits_.max_requests if budget is None else budget
    size = 0
    items: list[tuple[str, str]] = []

    for row in conn.execute(
        "SELECT id, op, ref_number FROM postings WHERE company = ? AND state = 'unknown' AND query_attempts < ? AND (not_before IS NULL OR not_before <= ?) ORDER BY id LIMIT ?",
        (company, MAX_QUERY_ATTEMPTS, now, room),
    ):
        xml = build_request(Tagged(f"{SETTLE}{row['id']}", _settle_query(row["op"], row["ref_number"])))
        items.append((f"{SETTLE}{row['id']}", xml))
        size += len(xml)
    for row in conn.execute(
        "SELECT id, ref_number FROM postings WHERE company = ? AND state = 'queued' AND needs = 'edit_sequence' AND (not_before IS NULL OR not_before <= ?) ORDER BY id LIMIT ?",
        (company, now, max(room - len(items), 0)),
    ):
        xml = build_request(Tagged(f"{REFRESH}{row['id']}", VendorQuery(list_ids=(row["ref_number"],))))
        items.append((f"{REFRESH}{row['id']}", xml))
        size += len(xml)
    items += balance_checks(conn, company, now, max(room - len(items), 0))

    writes: list[int] = []
    candidates = conn.execute(
        """SELECT p.id, p.request_xml, p.request_bytes, p.solo FROM postings p
           WHERE p.company = ? AND p.state = 'queued' AND p.needs = ''
             AND (p.not_before IS NULL OR p.not_before <= ?)
             AND NOT EXISTS (SELECT 1 FROM postings q WHERE q.document_id = p.document_id AND q.seq < p.seq
                             AND q.state NOT IN ('done', 'cancelled'))
           ORDER BY p.id LIMIT ?""",
        (company, now, max(room - len(items), 0)),
    ).fetchall()
    for row in candidates:
        if row["solo"]:
            if items or carrying:
                continue  # a suspect row travels alone, in a set of its own
            items.append((str(row["id"]), row["request_xml"]))
            writes.append(row["id"])
            break
        if items and size + row["request_bytes"] > limits_.max_bytes:
            break
        items.append((str(row["id"]), row["request_xml"]))
        writes.append(row["id"])
        size += row["request_bytes"]

    if writes:
        # Conditional on the row still being queued, and only what this UPDATE took is handed out:
        # of two transactions choosing the same rows at once (several workers on PostgreSQL), the
        # second finds them sent and drops them. On SQLite transactions never overlap anyway.
        marks = ",".join("?" * len(writes))
        taken = {
            r[0]
            for r in conn.execute(
                f"UPDATE postings SET state = ?, ticket = ?, sent_at = ?, attempts = attempts + 1 WHERE id IN ({marks}) AND state = ? RETURNING id",
                (str(PostingState.SENT), ticket, now, *writes, str(PostingState.QUEUED)),
            )
        }
        if len(taken) != len(writes):
            items = [(rid, xml) for rid, xml in items if not rid.isdigit() or int(rid) in taken]
            writes = [w for w in writes if w in taken]
        for document_id in _documents_of(conn, writes):
            _refresh(conn, document_id, refresh_later)
    return items


def _settle_query(op: str, key: str) -> Request:
    if op == "BillAdd":
        return TxnQuery("Bill", ref_numbers=(key,))
    if op == "JournalEntryAdd":
        return TxnQuery("JournalEntry", ref_numbers=(key,))
    if op == PAYMENT_OP:
        return TxnQuery("BillPaymentCheck", ref_numbers=(key,))
    if op == "VendorAdd":
        return VendorQuery(full_names=(key,))
    return VendorQuery(list_ids=(key,))


def _documents_of(conn: sqlite3.Connection, posting_ids: Iterable[int]) -> list[int]:
    ids = list(posting_ids)
    if not ids:
        return []
    marks = ",".join("?" * len(ids))
    return [r[0] for r in conn.execute(f"SELECT DISTINCT document_id FROM postings WHERE id IN ({marks}) AND document_id IS NOT NULL", ids)]


def mark_uncertain(conn: sqlite3.Connection, posting_ids: Iterable[int], why: str) -> int:
    """Writes whose answer was lost: they may or may not be in QuickBooks."""
    ids = list(posting_ids)
    if not ids:
        return 0
    marks = ",".join("?" * len(ids))
    changed = conn.execute(
        f"UPDATE postings SET state = ?, status_message = ?, not_before = NULL WHERE id IN ({marks}) AND state = ?",
        (str(PostingState.UNKNOWN), why, *ids, str(PostingState.SENT)),
    ).rowcount
    requeue_lost_checks(conn, ids)
    for document_id in _documents_of(conn, ids):
        refresh_document(conn, document_id, reason=why)
    return changed


def sent_outside_live_sessions(conn: sqlite3.Connection, live_s: float) -> dict[str, list[int]]:
    """Company -> ids of ``sent`` rows whose Web Connector session is closed or silent for ``live_s``."""
    since = iso(utc_now() - dt.timedelta(seconds=live_s))
    rows = conn.execute(
        """SELECT p.company, p.id FROM postings p WHERE p.state = 'sent' AND NOT EXISTS (
               SELECT 1 FROM qbwc_sessions s WHERE s.ticket = p.ticket AND s.closed_at IS NULL AND s.last_seen_at > ?)
           ORDER BY p.id""",
        (since,),
    )
    found: dict[str, list[int]] = {}
    for row in rows:
        found.setdefault(row[0], []).append(row[1])
    return found


def mark_company_uncertain(conn: sqlite3.Connection, company: str, why: str) -> int:
    ids = [r[0] for r in conn.execute("SELECT id FROM postings WHERE company = ? AND state = 'sent'", (company,))]
    return mark_uncertain(conn, ids, why)


def requeue(conn: sqlite3.Connection, posting_ids: Iterable[int], *, solo: bool = False, why: str = "") -> None:
    """Writes QuickBooks did not apply (the whole set failed before any was processed).

    ``solo``: sent again at once, each alone, to find the one QuickBooks cannot parse; otherwise
    after a back-off. Either way a row sent MAX_WRITE_ATTEMPTS times is given up on."""
    for posting_id in posting_ids:
        row = _posting(conn, posting_id)
        if row is None or row["state"] != PostingState.SENT:
            continue
        if row["attempts"] >= MAX_WRITE_ATTEMPTS:
            _give_up(conn, row, why)
            continue
        not_before = None if solo else _later(TRANSIENT_BACKOFF_S, row["attempts"])
        _set_state(conn, posting_id, PostingState.QUEUED, solo=max(row["solo"], int(solo)), status_message=why, not_before=not_before)
        refresh_document(conn, row["document_id"])


def _later(delays: Sequence[int], attempt: int) -> str:
    """When try number ``attempt`` (1-based) may be followed by the next one."""
    return iso(utc_now() + dt.timedelta(seconds=delays[min(max(attempt, 1) - 1, len(delays) - 1)]))


def _give_up(conn: sqlite3.Connection, row: sqlite3.Row, last: str) -> None:
    """A write sent MAX_WRITE_ATTEMPTS times without success: it fails, and its document is held
    with the last code and message (a release plans it again, with fresh rows)."""
    _set_state(conn, row["id"], PostingState.FAILED, needs="")
    _stop_row(conn, row, DocState.HELD, f"{row['op']}: gave up after {row['attempts']} tries; last answer: {last}; release to try again")


def quarantine(conn: sqlite3.Connection, posting_id: int, why: str) -> None:
    """QuickBooks could not parse this request on its own: never resend it blindly."""
    _set_state(conn, posting_id, PostingState.QUARANTINED, status_message=why)
    row = _posting(conn, posting_id)
    if row is not None:
        _stop_row(conn, row, DocState.FAILED, why)


# --- answers ---------------------------------------------------------------------------------


@dataclass
class AnswerSummary:
    done: int = 0
    settled_found: int = 0
    settled_absent: int = 0
    retry: int = 0
    held: int = 0
    failed: int = 0
    replan: int = 0
    lost: int = 0
    vendor_names_in_use: list[str] | None = None
    # Set: the documents of rows QuickBooks simply did (done) are collected here instead of being
    # refreshed now, so receiveResponseXML answers as soon as the rows themselves are recorded. The
    # rows decide everything that follows (what is sent next); a document's own state is derived
    # from them (``refresh_documents``; after a crash, ``refresh_lagging``). Every other outcome
    # (a hold, a retry, a re-plan) still changes its document at once.
    refresh_later: set[int] | None = None


def apply_answer(conn: sqlite3.Connection, request_id: str, response: Response | None, summary: AnswerSummary) -> None:
    """Apply QuickBooks' answer to one outbox request (write, settlement or refresh)."""
    if request_id.startswith(SETTLE):
        _settle(conn, int(request_id[len(SETTLE) :]), response, summary)
    elif request_id.startswith(REFRESH):
        _refresh_edit_sequence(conn, int(request_id[len(REFRESH) :]), response)
    elif request_id.startswith(BALANCE):
        _balance_answer(conn, int(request_id[len(BALANCE) :]), response)
    elif request_id.isdigit():
        _write_answer(conn, int(request_id), response, summary)


def _posting(conn: sqlite3.Connection, posting_id: int) -> sqlite3.Row | None:
    return conn.execute("SELECT * FROM postings WHERE id = ?", (posting_id,)).fetchone()


def _write_answer(conn: sqlite3.Connection, posting_id: int, response: Response | None, summary: AnswerSummary) -> None:
    row = _posting(conn, posting_id)
    if row is None or row["state"] != PostingState.SENT:
        return
    if row["op"] == CHECK_OP:
        check_answer(conn, row, response, summary)
        return
    if response is None:
        # The set was answered but not this request: QuickBooks may have applied it.
        summary.lost += 1
        mark_uncertain(conn, [posting_id], "QuickBooks' answer did not include this request")
        return
    result = classify(response.status_code, response.status_message, response.status_severity)
    answered = now_iso()
    conn.execute(
        "UPDATE postings SET answered_at = ?, status_code = ?, status_message = ?, response_xml = ? WHERE id = ?",
        (answered, response.status_code, response.status_message, json.dumps(response.records, default=str)[:20000], posting_id),
    )
    if result.outcome in (Outcome.OK, Outcome.WARN_OK):
        record = response.records[0] if response.records else {}
        _done(conn, row, record, summary.refresh_later)
        summary.done += 1
    elif result.outcome is Outcome.TRANSIENT and row["attempts"] >= MAX_WRITE_ATTEMPTS:
        _give_up(conn, row, result.reason)
        summary.held += 1
    elif result.outcome is Outcome.TRANSIENT:
        not_before = _later(TRANSIENT_BACKOFF_S, row["attempts"])
        _set_state(conn, posting_id, PostingState.QUEUED, not_before=not_before)
        refresh_document(
            conn, row["document_id"], reason=f"QuickBooks busy ({result.code}, try {row['attempts']} of {MAX_WRITE_ATTEMPTS}); retrying after {not_before}"
        )
        summary.retry += 1
    elif result.outcome is Outcome.STALE_EDIT_SEQUENCE and row["op"] == "VendorMod" and row["attempts"] < MAX_EDIT_SEQUENCE_RETRIES:
        _set_state(conn, posting_id, PostingState.QUEUED, needs="edit_sequence")
        refresh_document(conn, row["document_id"], reason="vendor changed in QuickBooks meanwhile; re-reading it")
        summary.retry += 1
    elif result.outcome is Outcome.NAME_IN_USE and row["op"] == "VendorAdd":
        # The name belongs to a customer, employee or other name we had not seen: remember it
        # and plan the document again, which picks a free name.
        name = result.ref_name or row["ref_number"]
        ours = conn.execute("SELECT 1 FROM qb_lists WHERE company = ? AND list_type = 'Vendor' AND name_key = ?", (row["company"], name_key(name))).fetchone()
        if ours is None:
            remember_taken_name(conn, row["company"], name)
        # else: another document's VendorAdd created this vendor moments ago; re-planning uses it.
        _set_state(conn, posting_id, PostingState.FAILED)
        cancel_queued(conn, row["document_id"])
        documents.set_state(conn, row["document_id"], DocState.FETCHED, f"re-planning: {result.reason}", Actor.QBWC, "replan", {"status": result.code})
        summary.replan += 1
        summary.vendor_names_in_use = [*(summary.vendor_names_in_use or []), name]
    elif row["op"] == PAYMENT_OP:
        _set_state(conn, posting_id, PostingState.FAILED)
        _stop_row(conn, row, DocState.HELD, f"QuickBooks refused the bill payment: {result.reason}")
        summary.held += 1
    else:
        _set_state(conn, posting_id, PostingState.FAILED)
        if result.outcome in (
            Outcome.MISSING_REFERENCE,
            Outcome.REFUSED,
            Outcome.FEATURE_OFF,
            Outcome.PERMISSION,
            Outcome.STALE_EDIT_SEQUENCE,
            Outcome.NAME_IN_USE,
        ):
            _stop_document(conn, row["document_id"], DocState.HELD, _reason(result, row))
            summary.held += 1
        else:
            _stop_document(conn, row["document_id"], DocState.FAILED, _reason(result, row))
            summary.failed += 1


def _reason(result: Classification, row: sqlite3.Row) -> str:
    if result.outcome is Outcome.STALE_EDIT_SEQUENCE:
        return f"vendor kept changing in QuickBooks ({MAX_EDIT_SEQUENCE_RETRIES} tries); release to try again"
    return f"{row['op']}: {result.reason}"


def _done(conn: sqlite3.Connection, row: sqlite3.Row, record: dict[str, object], refresh_later: set[int] | None = None) -> None:
    txn_id = str(record.get("TxnID") or record.get("ListID") or "")
    _set_state(conn, row["id"], PostingState.DONE, txn_id=txn_id, needs="")
    if row["op"] in ("VendorAdd", "VendorMod") and record.get("ListID"):
        remember_vendor(conn, row["company"], record)
        _link_vendor(conn, row, str(record["ListID"]), str(record.get("Name") or record.get("FullName") or row["ref_number"]))
    if row["op"] == PAYMENT_OP and row["document_id"] is not None:
        _payment_recorded(conn, row, txn_id)
    if row["document_id"] is not None:
        _refresh(conn, row["document_id"], refresh_later)


def _settle(conn: sqlite3.Connection, posting_id: int, response: Response | None, summary: AnswerSummary) -> None:
    row = _posting(conn, posting_id)
    if row is None or row["state"] != PostingState.UNKNOWN:
        return
    result = None if response is None else classify(response.status_code, response.status_message, response.status_severity)
    if result is None or result.outcome not in (Outcome.OK, Outcome.WARN_OK, Outcome.NOT_FOUND):
        # Could not look: stays unknown (never resent blindly) and is asked again a little later.
        _ask_again_later(conn, row, "QuickBooks could not say whether it has this write" + (f" ({result.code}: {result.reason})" if result else ""))
        return
    conn.execute("UPDATE postings SET query_attempts = 0 WHERE id = ?", (posting_id,))
    doc = conn.execute("SELECT concur_id FROM documents WHERE id = ?", (row["document_id"],)).fetchone()
    concur_id = doc[0] if doc else ""
    ours = [r for r in response.records if _is_ours(row, r, concur_id)]
    if ours:
        if row["op"] == "VendorMod" and ours[0].get("IsActive") is False:
            _requeue_vendor_mod(conn, row, ours[0])
            summary.settled_absent += 1
        else:
            audit.append(
                conn, row["company"], row["document_id"], Actor.QBWC, "settled_found", {"posting": row["id"], "op": row["op"], "key": row["ref_number"]}
            )
            _done(conn, row, ours[0])
            summary.settled_found += 1
        return
    audit.append(conn, row["company"], row["document_id"], Actor.QBWC, "settled_absent", {"posting": row["id"], "op": row["op"], "key": row["ref_number"]})
    summary.settled_absent += 1
    if row["attempts"] >= MAX_WRITE_ATTEMPTS:
        last = f"QuickBooks status {row['status_code']}: {row['status_message']}" if row["status_code"] is not None else (row["status_message"] or "no answer")
        _give_up(conn, row, last)
        return
    _set_state(conn, row["id"], PostingState.QUEUED, not_before=None)
    if row["document_id"] is not None:
        refresh_document(conn, row["document_id"])


def _is_ours(row: sqlite3.Row, record: dict[str, object], concur_id: str) -> bool:
    if row["op"] in (*TRANSACTION_OPS, PAYMENT_OP):
        if row["external_guid"] and limits.same_guid(str(record.get("ExternalGUID") or ""), row["external_guid"]):
            return True
        # No GUID came back (an edition that does not keep it): our memo names the document.
        memo = str(record.get("Memo") or "")
        return not record.get("ExternalGUID") and str(record.get("RefNumber") or "") == row["ref_number"] and bool(concur_id) and concur_id in memo
    if row["op"] == "VendorAdd":
        return str(record.get("Name") or record.get("FullName") or "").casefold() == row["ref_number"].casefold()
    return str(record.get("ListID") or "") == row["ref_number"]


def _refresh_edit_sequence(conn: sqlite3.Connection, posting_id: int, response: Response | None) -> None:
    row = _posting(conn, posting_id)
    if row is None or row["needs"] != "edit_sequence" or row["state"] != PostingState.QUEUED:
        return
    if response is not None and response.records:
        conn.execute("UPDATE postings SET query_attempts = 0 WHERE id = ?", (posting_id,))
        _requeue_vendor_mod(conn, row, response.records[0])
        return
    result = None if response is None else classify(response.status_code, response.status_message, response.status_severity)
    if result is not None and result.outcome is Outcome.NOT_FOUND:
        # The vendor is gone from QuickBooks: reactivating it is no longer possible.
        _set_state(conn, posting_id, PostingState.FAILED, needs="")
        _stop_document(
            conn, row["document_id"], DocState.HELD, f"VendorMod: vendor {row['ref_number']} no longer exists in QuickBooks; release to plan the document again"
        )
        return
    _ask_again_later(conn, row, "QuickBooks could not re-read the vendor" + (f" ({result.code}: {result.reason})" if result else ""))


def back_off_queries(conn: sqlite3.Connection, request_ids: Iterable[str], why: str) -> int:
    """Settling/re-reading queries (``u:``/``r:``) of a set QuickBooks could not process: asked
    again later rather than in the very next set, where they would fail the same way."""
    count = 0
    for request_id in request_ids:
        for prefix in (SETTLE, REFRESH, BALANCE):
            if request_id.startswith(prefix) and request_id[len(prefix) :].isdigit():
                row = _posting(conn, int(request_id[len(prefix) :]))
                if row is not None and row["state"] in ("unknown", "queued"):
                    _ask_again_later(conn, row, why)
                    count += 1
    return count


def _ask_again_later(conn: sqlite3.Connection, row: sqlite3.Row, why: str) -> None:
    """A settling or re-reading query went unanswered: ask later, and at the bound stop asking and
    hold the document. A settlement given up on leaves its row ``unknown`` (nobody knows whether
    QuickBooks has it), out of every set until a release asks again; a re-read fails its row."""
    tries = row["query_attempts"] + 1
    if tries >= MAX_QUERY_ATTEMPTS:
        conn.execute("UPDATE postings SET query_attempts = ?, not_before = NULL, status_message = ? WHERE id = ?", (tries, why, row["id"]))
        if row["state"] == PostingState.QUEUED:
            _set_state(conn, row["id"], PostingState.FAILED, needs="")
            what = "could not learn what is still open on the bill" if row["op"] == PAYMENT_OP else "could not re-read the vendor"
        else:
            what = "could not learn whether QuickBooks has this write (it stays unchecked, never resent blindly)"
        _stop_row(conn, row, DocState.HELD, f"{row['op']} {row['ref_number']}: {what} after {tries} queries; last answer: {why}; release to ask again")
        return
    not_before = _later(QUERY_BACKOFF_S, tries)
    conn.execute("UPDATE postings SET query_attempts = ?, not_before = ?, status_message = ? WHERE id = ?", (tries, not_before, why, row["id"]))
    if row["document_id"] is not None:
        refresh_document(conn, row["document_id"], reason=f"{why}; asking again after {not_before} (query {tries} of {MAX_QUERY_ATTEMPTS})")


def _requeue_vendor_mod(conn: sqlite3.Connection, row: sqlite3.Row, record: dict[str, object]) -> None:
    remember_vendor(conn, row["company"], record)
    request = VendorMod(list_id=row["ref_number"], edit_sequence=str(record.get("EditSequence") or ""), is_active=True)
    xml = build_request(Tagged(str(row["id"]), request))
    _set_state(conn, row["id"], PostingState.QUEUED, needs="", request_xml=xml, request_bytes=len(xml))
    if row["document_id"] is not None:
        refresh_document(conn, row["document_id"])


def _set_state(conn: sqlite3.Connection, posting_id: int, state: PostingState, **columns: object) -> None:
    assignments = "".join(f", {name} = ?" for name in columns)
    conn.execute(f"UPDATE postings SET state = ?{assignments} WHERE id = ?", (str(state), *columns.values(), posting_id))


def cancel_queued(conn: sqlite3.Connection, document_id: int | None, *, superseded_failures: bool = False) -> int:
    """The document's writes not sent yet will not be: it was held, skipped, deleted, changed or
    re-planned. ``superseded_failures``: a new plan also retires the rows QuickBooks refused (kept
    for the record), so they no longer block the new rows (sent only after every earlier seq)."""
    if document_id is None:
        return 0
    states = (PostingState.QUEUED, PostingState.FAILED) if superseded_failures else (PostingState.QUEUED,)
    marks = ",".join("?" * len(states))
    return conn.execute(
        f"UPDATE postings SET state = ? WHERE document_id = ? AND state IN ({marks})", (str(PostingState.CANCELLED), document_id, *map(str, states))
    ).rowcount


def check_again(conn: sqlite3.Connection, document_id: int) -> None:
    """A forced replay of a posted document: its transactions count as unknown, so QuickBooks is
    asked before anything is sent again."""
    conn.execute(
        f"UPDATE postings SET state = ? WHERE document_id = ? AND state = ? AND op IN ({','.join('?' * len(TRANSACTION_OPS))})",
        (str(PostingState.UNKNOWN), document_id, str(PostingState.DONE), *TRANSACTION_OPS),
    )


def _stop_row(conn: sqlite3.Connection, row: sqlite3.Row, state: DocState, reason: str) -> None:
    """Stop what a row belongs to: a bill payment row holds only the payment (the document stays
    posted, ``documents.payment`` = held); any other row stops its document."""
    if row["op"] == PAYMENT_OP:
        if row["document_id"] is not None:
            documents.set_payment(conn, row["document_id"], PaymentState.HELD, reason)
    else:
        _stop_document(conn, row["document_id"], state, reason)


def _stop_document(conn: sqlite3.Connection, document_id: int | None, state: DocState, reason: str) -> None:
    if document_id is None:
        return
    cancel_queued(conn, document_id)
    documents.set_state(conn, document_id, state, reason, Actor.QBWC, str(state), hold_kind=HoldKind.QUICKBOOKS if state is DocState.HELD else HoldKind.NONE)


# --- QuickBooks names we learn from answers -----------------------------------------------------


def remember_vendor(conn: sqlite3.Connection, company: str, record: dict[str, object]) -> None:
    store_record(conn, company, "Vendor", record)


def _link_vendor(conn: sqlite3.Connection, row: sqlite3.Row, list_id: str, name: str) -> None:
    if row["document_id"] is None:
        return
    doc = conn.execute("SELECT plan FROM documents WHERE id = ?", (row["document_id"],)).fetchone()
    concur_key = json.loads(doc["plan"] or "{}").get("vendor_key") if doc else None
    if concur_key:
        conn.execute(
            "INSERT INTO vendor_links (company, concur_key, list_id, name, linked_at) VALUES (?,?,?,?,?) ON CONFLICT (company, concur_key) DO UPDATE SET list_id = excluded.list_id, name = excluded.name",
            (row["company"], concur_key, list_id, name, now_iso()),
        )


# --- document state from its rows ---------------------------------------------------------------


def refresh_document(conn: sqlite3.Connection, document_id: int, reason: str = "") -> None:
    """Derive the document's state from its outbox rows (while it is in the posting flow)."""
    doc = conn.execute("SELECT state, posted_hash, content_hash FROM documents WHERE id = ?", (document_id,)).fetchone()
    if doc is None or doc["state"] not in (DocState.QUEUED, DocState.SENT, DocState.UNKNOWN, DocState.POSTED):
        return
    # Rows of an earlier plan that failed were answered by holding or re-planning the document;
    # only the live rows say where it stands now.
    # A bill payment is the document's own business once it is posted: documents.payment.
    states = [
        r[0]
        for r in conn.execute(
            "SELECT state FROM postings WHERE document_id = ? AND state NOT IN ('cancelled', 'failed', 'quarantined') AND op != ?", (document_id, PAYMENT_OP)
        )
    ]
    if not states:
        return
    if PostingState.UNKNOWN in states:
        new = DocState.UNKNOWN
    elif PostingState.SENT in states:
        new = DocState.SENT
    elif PostingState.QUEUED in states:
        new = DocState.QUEUED
    elif all(s == PostingState.DONE for s in states):
        new = DocState.POSTED
    else:
        return
    if new == doc["state"] and not reason:
        return
    if new is DocState.POSTED and (missing := _missing_from_quickbooks(conn, document_id)):
        # Every write answered, yet part of the current plan is not in QuickBooks (it was never
        # queued): plan again, which queues only what is missing. Never "posted" with a gap.
        documents.set_state(conn, document_id, DocState.FETCHED, "", Actor.QBWC, "replan", {"why": "part of the plan is not in QuickBooks", "missing": missing})
        return
    if new is DocState.POSTED:
        txn_ids = [
            r[0]
            for r in conn.execute(
                "SELECT txn_id FROM postings WHERE document_id = ? AND op IN ('BillAdd', 'JournalEntryAdd') AND state = 'done' ORDER BY seq", (document_id,)
            )
        ]
        documents.set_state(
            conn,
            document_id,
            DocState.POSTED,
            "",
            Actor.QBWC,
            "posted",
            {"txn_ids": txn_ids},
            quickbooks_txn_id=",".join(t for t in txn_ids if t),
            posted_hash=doc["content_hash"],
        )
    elif new != doc["state"]:
        documents.set_state(conn, document_id, new, reason, Actor.QBWC, str(new))
    else:
        documents.set_fields(conn, document_id, reason=reason)


def _refresh(conn: sqlite3.Connection, document_id: int | None, later: set[int] | None) -> None:
    if document_id is None:
        return
    if later is None:
        refresh_document(conn, document_id)
    else:
        later.add(document_id)


def refresh_documents(conn: sqlite3.Connection, document_ids: Iterable[int]) -> None:
    """The deferred half of handing out and answering: documents' states follow their rows."""
    for document_id in sorted(set(document_ids)):
        refresh_document(conn, document_id)


def refresh_lagging(conn: sqlite3.Connection, company: str | None = None) -> int:
    """Documents in the posting flow whose state lags behind their rows (a deferred refresh lost
    to a crash): every live row answered, the document not posted yet. Returns how many."""
    ids = [
        r[0]
        for r in conn.execute(
            """SELECT d.id FROM documents d WHERE d.state IN ('queued', 'sent', 'unknown') AND d.company = COALESCE(?, d.company)
               AND EXISTS (SELECT 1 FROM postings p WHERE p.document_id = d.id AND p.state = 'done')
               AND NOT EXISTS (SELECT 1 FROM postings p WHERE p.document_id = d.id AND p.op != ?
                               AND p.state NOT IN ('done', 'cancelled', 'failed', 'quarantined'))""",
            (company, PAYMENT_OP),
        )
    ]
    refresh_documents(conn, ids)
    return len(ids)


def _missing_from_quickbooks(conn: sqlite3.Connection, document_id: int) -> list[str]:
    """Transactions of the document's current plan (``documents.plan``) with no done row."""
    doc = conn.execute("SELECT plan FROM documents WHERE id = ?", (document_id,)).fetchone()
    planned = json.loads(doc["plan"] or "{}").get("transactions", []) if doc else []
    done = {(r[0], r[1]) for r in conn.execute("SELECT op, ref_number FROM postings WHERE document_id = ? AND state = 'done'", (document_id,))}
    return [f"{t.get('type')} {t.get('ref_number')}" for t in planned if (t.get("type"), t.get("ref_number")) not in done]


# --- bills keyed by hand (issue 13 §5) ------------------------------------------------------------
#
# Before an invoice's first BillAdd, a query row (op ``BillCheck``, a BillQuery by vendor and
# RefNumber) asks QuickBooks for a bill of the same vendor with the same invoice number that the
# connector did not create. The row is a query, so a lost answer just asks again. Found: the
# document is held (hold_kind ``hand_keyed``) with the bill's TxnID in the row's ``txn_id``; a
# person skips the invoice, or replays it with force, which marks the check answered so the next
# plan posts without asking. An answered check (``done``) is never asked again for the document.

CHECK_OP = "BillCheck"
CHECK_INCLUDE = ("TxnID", "RefNumber", "ExternalGUID", "TxnDate", "Memo", "VendorRef", "AmountDue")
MAX_CHECK_ATTEMPTS = 3


def hand_keyed_check(conn: sqlite3.Connection, document_id: int, bill: BillAdd) -> PlannedWrite | None:
    """The check row to queue before ``bill``, or None when the document's check was answered."""
    answered = conn.execute("SELECT 1 FROM postings WHERE document_id = ? AND op = ? AND state = ?", (document_id, CHECK_OP, str(PostingState.DONE))).fetchone()
    if answered is not None:
        return None
    query = TxnQuery("Bill", entity=bill.vendor, exact_ref_number=bill.ref_number, include=CHECK_INCLUDE)
    return PlannedWrite(CHECK_OP, query, key=bill.ref_number, external_guid=bill.external_guid)


def requeue_lost_checks(conn: sqlite3.Connection, posting_ids: Sequence[int]) -> None:
    """A check whose answer was lost changed nothing in QuickBooks: it is simply asked again."""
    if posting_ids:
        marks = ",".join("?" * len(posting_ids))
        conn.execute(
            f"UPDATE postings SET state = ? WHERE id IN ({marks}) AND op = ? AND state = ?",
            (str(PostingState.QUEUED), *posting_ids, CHECK_OP, str(PostingState.UNKNOWN)),
        )


def _connector_made(row: sqlite3.Row, record: dict[str, object]) -> bool:
    """Ours: the document's ExternalGUID, or the memo every connector bill starts with."""
    guid = str(record.get("ExternalGUID") or "")
    if guid and row["external_guid"] and limits.same_guid(guid, row["external_guid"]):
        return True
    return str(record.get("Memo") or "").startswith(CONNECTOR_MEMO_PREFIXES)


CONNECTOR_MEMO_PREFIXES = ("Concur invoice ", "Concur report ")


def check_answer(conn: sqlite3.Connection, row: sqlite3.Row, response: Response | None, summary: AnswerSummary) -> None:
    if response is None:
        _set_state(conn, row["id"], PostingState.QUEUED)
        summary.retry += 1
        return
    result = classify(response.status_code, response.status_message, response.status_severity)
    conn.execute(
        "UPDATE postings SET answered_at = ?, status_code = ?, status_message = ? WHERE id = ?",
        (now_iso(), response.status_code, response.status_message, row["id"]),
    )
    document_id = row["document_id"]
    if result.outcome not in (Outcome.OK, Outcome.WARN_OK, Outcome.NOT_FOUND):
        if row["attempts"] < MAX_CHECK_ATTEMPTS:
            _set_state(conn, row["id"], PostingState.QUEUED, not_before=_later(QUERY_BACKOFF_S, row["attempts"]))
            refresh_document(
                conn, document_id, reason=f"QuickBooks could not say whether this bill was keyed by hand ({result.code}: {result.reason}); asking again"
            )
            summary.retry += 1
            return
        _set_state(conn, row["id"], PostingState.FAILED)
        _stop_document(
            conn,
            document_id,
            DocState.HELD,
            f"BillQuery: QuickBooks could not say whether this bill was keyed by hand ({result.code}: {result.reason}); release to ask again",
        )
        summary.held += 1
        return
    theirs = [r for r in response.records if not _connector_made(row, r)]
    if not theirs:
        _set_state(conn, row["id"], PostingState.DONE)
        _refresh(conn, document_id, summary.refresh_later)
        summary.done += 1
        return
    found = theirs[0]
    txn_id, txn_date = str(found.get("TxnID") or ""), str(found.get("TxnDate") or "")
    _set_state(conn, row["id"], PostingState.FAILED, txn_id=txn_id)
    cancel_queued(conn, document_id)
    reason = (
        f'already in QuickBooks, entered by hand? Bill {txn_id} dated {txn_date} has the same vendor and RefNumber "{row["ref_number"]}" '
        "and was not created by ml-connector: skip this invoice, or post it anyway with replay --force"
    )
    documents.set_state(
        conn,
        document_id,
        DocState.HELD,
        reason,
        Actor.QBWC,
        "hand_keyed_bill",
        {"txn_id": txn_id, "txn_date": txn_date, "ref_number": row["ref_number"], "amount_due": str(found.get("AmountDue") or "")},
        hold_kind=HoldKind.HAND_KEYED,
    )
    summary.held += 1


def accept_hand_keyed(conn: sqlite3.Connection, document_id: int) -> int:
    """A person said the bill found is not this invoice (replay --force): the check counts as
    answered, so the next plan posts without asking again."""
    return conn.execute(
        "UPDATE postings SET state = ? WHERE document_id = ? AND op = ? AND state = ?",
        (str(PostingState.DONE), document_id, CHECK_OP, str(PostingState.FAILED)),
    ).rowcount


# --- bill payments (what Concur paid) --------------------------------------------------------------


def queue_payment(
    conn: sqlite3.Connection, company: str, document_id: int, write: PlannedWrite, check: Request, pays_txn_id: str, amount: Decimal, expected_open: Decimal
) -> int:
    """A bill payment row, after the document's transactions; it first asks QuickBooks (``check``)
    whether the item is still open (``needs = 'balance'``)."""
    seq = conn.execute("SELECT COALESCE(MAX(seq), -1) + 1 FROM postings WHERE document_id = ?", (document_id,)).fetchone()[0]
    row = conn.execute(
        """INSERT INTO postings (company, document_id, seq, op, ref_number, external_guid, request_xml, state, needs, created_at, pays_txn_id, amount, expected_open)
           VALUES (?,?,?,?,?,?,'',?,'balance',?,?,?,?) RETURNING id""",
        (
            company,
            document_id,
            seq,
            PAYMENT_OP,
            write.key,
            write.external_guid,
            str(PostingState.QUEUED),
            now_iso(),
            pays_txn_id,
            f"{amount:.2f}",
            f"{expected_open:.2f}",
        ),
    ).fetchone()
    row_id = int(row[0])
    xml = build_request(Tagged(str(row_id), write.request))
    check_xml = build_request(Tagged(f"{BALANCE}{row_id}", check))
    conn.execute("UPDATE postings SET request_xml = ?, request_bytes = ?, check_xml = ? WHERE id = ?", (xml, len(xml.encode("utf-8")), check_xml, row_id))
    return row_id


def balance_checks(conn: sqlite3.Connection, company: str, now: str, room: int) -> list[tuple[str, str]]:
    rows = conn.execute(
        "SELECT id, check_xml FROM postings WHERE company = ? AND state = 'queued' AND needs = 'balance' AND (not_before IS NULL OR not_before <= ?) ORDER BY id LIMIT ?",
        (company, now, room),
    )
    return [(f"{BALANCE}{row['id']}", row["check_xml"]) for row in rows]


def payments_of(conn: sqlite3.Connection, document_id: int) -> list[sqlite3.Row]:
    """The document's bill payment rows, oldest first."""
    return conn.execute("SELECT * FROM postings WHERE document_id = ? AND op = ? ORDER BY seq", (document_id, PAYMENT_OP)).fetchall()


def _open_amount(response: Response, pays_txn_id: str) -> tuple[Decimal | None, list[tuple[str, str]]]:
    """What QuickBooks shows still owed on the item (None: not open / not found) and the payments
    linked to it (TxnID, RefNumber)."""
    if response.kind.startswith("BillToPay"):
        due = [item.amount_due for record in response.records for item in bills_to_pay(record) if item.txn_id == pays_txn_id]
        return (due[0] if due else None), []
    if not response.records:
        return None, []
    bill = bill_balance(response.records[0])
    seen = [(link.txn_id, link.ref_number) for link in bill.linked if link.txn_type.startswith("BillPayment")]
    return (ZERO if bill.is_paid else bill.open_amount), seen


def _balance_answer(conn: sqlite3.Connection, posting_id: int, response: Response | None) -> None:
    row = _posting(conn, posting_id)
    if row is None or row["needs"] != "balance" or row["state"] != PostingState.QUEUED:
        return
    result = None if response is None else classify(response.status_code, response.status_message, response.status_severity)
    if response is None or result is None or result.outcome not in (Outcome.OK, Outcome.WARN_OK, Outcome.NOT_FOUND):
        _ask_again_later(conn, row, "QuickBooks could not say what is still open on the bill" + (f" ({result.code}: {result.reason})" if result else ""))
        return
    observed, seen = _open_amount(response, row["pays_txn_id"])
    ours = [r["ref_number"] for r in payments_of(conn, row["document_id"])]
    verdict = check_verdict(Decimal(row["expected_open"]), Decimal(row["amount"]), observed, seen, ours)
    if isinstance(verdict, Proceed):
        _set_state(conn, posting_id, PostingState.QUEUED, needs="")
        return
    _set_state(conn, posting_id, PostingState.CANCELLED, needs="", txn_id=verdict.txn_id, status_message=verdict.reason)
    documents.set_payment(conn, row["document_id"], PaymentState.HELD, verdict.reason, payment_txn_id=verdict.txn_id)


def _payment_recorded(conn: sqlite3.Connection, row: sqlite3.Row, txn_id: str) -> None:
    recorded = sum((Decimal(r["amount"] or "0") for r in payments_of(conn, row["document_id"]) if r["state"] == PostingState.DONE), ZERO)
    expected_open = Decimal(row["expected_open"] or "0") - Decimal(row["amount"] or "0")
    state = PaymentState.PARTIAL if expected_open > 0 else PaymentState.PAYMENT_POSTED
    documents.set_payment(
        conn, row["document_id"], state, f"bill payment {txn_id} for {recorded:.2f}", payment_txn_id=txn_id, payment_recorded=f"{recorded:.2f}"
    )
