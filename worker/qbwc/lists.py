"""Keeping the QuickBooks lists the planner checks against: accounts, classes, customers:jobs,
vendors, employees and other names (one name space with vendors: a name taken there gets 3100),
terms and currencies.

A pass runs at the start of a QBWC session when the lists are older than ``REFRESH_AFTER``.
Vendors and customers page through iterators (about 100 a page) and, after the first full pass,
only ask for what changed since the newest ``TimeModified`` seen. Changes do not show deletions,
so once every ``FULL_PASS_AFTER`` the pass is unfiltered, and what a complete unfiltered pass did
not return leaves the cache (the other lists have no iterator in 13.0 and are always read whole).
Iterator ids live only in the QBWC session (QuickBooks forgets them between sessions: 3391), never
in the store. A file without multicurrency answers CurrencyQuery with 3250: that is a complete,
empty Currency list, not a failure. The company file's settings (home currency, multicurrency,
account numbers, country) come with every session's first call (strHCPResponse; see service.py).

A list query QuickBooks cannot answer (an error status, or a set that failed to parse with it in)
leaves the session's pass and is not asked again before a growing back-off (``qb_list_sync``'s
``failures``/``retry_after``); until it has been answered once more it travels alone, so a bad
query never costs the writes beside it a try.
"""

from __future__ import annotations

import datetime as dt
import sqlite3

from shared.clock import iso, now_iso, parse_iso, utc_now
from worker.qbwc.session import Session
from worker.qbxml.build import build_request
from worker.qbxml.model import Iterator, ListQuery, Request, Tagged, VendorQuery
from worker.qbxml.parse import Response
from worker.qbxml.status import Outcome, classify
from worker.store import qblists
from worker.store.qblists import LIST_TYPES, store_record

PREFIX = "l:"
PAGED = ("Customer", "Vendor")
PAGE_SIZE = 100
REFRESH_AFTER = dt.timedelta(minutes=15)
FULL_PASS_AFTER = dt.timedelta(hours=24)
FAILURE_BACKOFF_S = (300, 1800, 3600, 6 * 3600)
_INCLUDE = {
    "Account": ("ListID", "FullName", "IsActive", "AccountType", "AccountNumber", "CurrencyRef", "TimeModified"),
    "Class": ("ListID", "FullName", "IsActive", "TimeModified"),
    "Customer": ("ListID", "FullName", "Name", "IsActive", "TimeModified"),
    "Vendor": ("ListID", "Name", "IsActive", "EditSequence", "AccountNumber", "CurrencyRef", "TimeModified"),
    "Employee": ("ListID", "Name", "IsActive", "AccountNumber", "TimeModified"),
    "OtherName": ("ListID", "Name", "IsActive", "AccountNumber", "TimeModified"),
    "Terms": ("ListID", "Name", "IsActive", "StdDueDays", "DayOfMonthDue", "TimeModified"),
    "Currency": ("ListID", "Name", "IsActive", "CurrencyCode", "ExchangeRate", "AsOfDate", "TimeModified"),
}


def stale(conn: sqlite3.Connection, company: str, now: dt.datetime) -> list[str]:
    """Lists due for a pass: old enough, and not backing off after a failure."""
    rows = {r["list_type"]: r for r in conn.execute("SELECT list_type, synced_at, retry_after FROM qb_list_sync WHERE company = ?", (company,))}
    due = []
    for list_type in LIST_TYPES:
        row = rows.get(list_type)
        if row is not None and row["retry_after"] and parse_iso(row["retry_after"]) > now:
            continue
        if row is None or not row["synced_at"] or now - parse_iso(row["synced_at"]) > REFRESH_AFTER:
            due.append(list_type)
    return due


def suspect(conn: sqlite3.Connection, session: Session) -> str | None:
    """A list of this session's pass whose query failed last time: it goes in a set of its own."""
    for list_type in session.iterators:
        row = conn.execute("SELECT failures FROM qb_list_sync WHERE company = ? AND list_type = ?", (session.company, list_type)).fetchone()
        if row is not None and row["failures"]:
            return list_type
    return None


def give_up_for_now(conn: sqlite3.Connection, session: Session, list_type: str, why: str) -> None:
    """QuickBooks could not answer this list's query: leave the pass, back off, remember why."""
    session.iterators.pop(list_type, None)
    session.full_pass_started.pop(list_type, None)
    session.pass_newest.pop(list_type, None)
    row = conn.execute("SELECT failures FROM qb_list_sync WHERE company = ? AND list_type = ?", (session.company, list_type)).fetchone()
    failures = (row["failures"] if row else 0) + 1
    delay = FAILURE_BACKOFF_S[min(failures, len(FAILURE_BACKOFF_S)) - 1]
    qblists.record_failure(conn, session.company, list_type, iso(utc_now() + dt.timedelta(seconds=delay)), why)


def start_pass(conn: sqlite3.Connection, session: Session, now: dt.datetime) -> None:
    """Begin a pass over the stale lists in this session ("" = the first page is due)."""
    for list_type in stale(conn, session.company, now):
        if list_type in session.iterators:
            continue
        session.iterators[list_type] = ""
        row = conn.execute("SELECT from_modified, full_at FROM qb_list_sync WHERE company = ? AND list_type = ?", (session.company, list_type)).fetchone()
        due = row is None or not row["full_at"] or now - parse_iso(row["full_at"]) > FULL_PASS_AFTER
        if due or list_type not in PAGED:
            session.full_pass_started[list_type] = now_iso()


def requests(conn: sqlite3.Connection, session: Session) -> list[tuple[str, str]]:
    """The next page of every list being read in this session."""
    items = []
    for list_type, iterator_id in session.iterators.items():
        checkpoint = conn.execute("SELECT from_modified FROM qb_list_sync WHERE company = ? AND list_type = ?", (session.company, list_type)).fetchone()
        full = list_type in session.full_pass_started
        since = parse_iso(checkpoint[0]) if checkpoint and checkpoint[0] and not full else None
        request = _query(list_type, iterator_id, since)
        items.append((PREFIX + list_type, build_request(Tagged(PREFIX + list_type, request))))
    return items


def _query(list_type: str, iterator_id: str, since: dt.datetime | None) -> Request:
    iterator = None
    if list_type in PAGED:
        iterator = Iterator("Continue", iterator_id, PAGE_SIZE) if iterator_id else Iterator("Start", "", PAGE_SIZE)
    # Every page of one pass carries the same filter; accounts and classes are small: read whole.
    if list_type == "Vendor":
        return VendorQuery(active_status="All", from_modified=since, iterator=iterator, include=_INCLUDE[list_type])
    return ListQuery(list_type, active_status="All", from_modified=since if list_type in PAGED else None, iterator=iterator, include=_INCLUDE[list_type])  # type: ignore[arg-type]


def apply_page(conn: sqlite3.Connection, session: Session, list_type: str, response: Response | None) -> None:
    """Store one page; move the iterator on, finish the pass, or restart it after 3391."""
    if list_type not in session.iterators:
        return
    iterator_id = session.iterators[list_type]
    if response is None:
        session.iterators[list_type] = ""
        return
    result = classify(response.status_code, response.status_message)
    if result.outcome is Outcome.FEATURE_OFF and list_type == "Currency":
        result = classify(1, "multicurrency is off: the list is complete and empty")
    if result.outcome is Outcome.STALE_ITERATOR and iterator_id:
        session.iterators[list_type] = ""  # start over within this session
        return
    if result.outcome not in (Outcome.OK, Outcome.WARN_OK, Outcome.NOT_FOUND):
        give_up_for_now(conn, session, list_type, result.reason)
        return
    newest = session.pass_newest.get(list_type, "")
    for record in response.records:
        store_record(conn, session.company, list_type, record)
        newest = max(newest, _as_iso(str(record.get("TimeModified") or "")) or "")
    if list_type in PAGED and response.iterator_remaining:
        # More pages to come: the checkpoint stays where it was until the pass is complete, or a
        # pass cut short (session ended, 3391) would make the next one skip the unread pages.
        session.iterators[list_type] = response.iterator_id
        session.pass_newest[list_type] = newest
        _advance_checkpoint(conn, session.company, list_type, "", finished=False)
        return
    session.iterators.pop(list_type, None)
    session.pass_newest.pop(list_type, None)
    _advance_checkpoint(conn, session.company, list_type, newest, finished=True)
    started = session.full_pass_started.pop(list_type, None)
    if started is not None:
        forget_unseen(conn, session.company, list_type, started)


def _advance_checkpoint(conn: sqlite3.Connection, company: str, list_type: str, newest: str, finished: bool) -> None:
    """``newest``: the latest TimeModified of a finished pass (UTC ISO), "" for none."""
    row = conn.execute("SELECT from_modified, synced_at FROM qb_list_sync WHERE company = ? AND list_type = ?", (company, list_type)).fetchone()
    current = row["from_modified"] if row else None
    candidate = newest or None
    checkpoint = max(filter(None, [current, candidate]), default=None) if list_type in PAGED else None
    qblists.record_pass(conn, company, list_type, checkpoint, finished)


def forget_unseen(conn: sqlite3.Connection, company: str, list_type: str, since: str) -> int:
    """A complete unfiltered pass that began at ``since`` did not return these: deleted in QuickBooks."""
    return qblists.forget_unseen(conn, company, list_type, since)


def _as_iso(quickbooks_time: str) -> str | None:
    """QuickBooks writes TimeModified with its own offset (2026-11-28T10:15:00-08:00)."""
    try:
        return parse_iso(quickbooks_time).astimezone(dt.UTC).isoformat()
    except ValueError:
        return None
