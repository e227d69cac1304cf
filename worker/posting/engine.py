"""Planning in the background: fetched documents become outbox rows, holds, or skips.

The pure planner decides; this module loads its inputs from the store (QuickBooks facts, list
cache, vendor links), writes the outcome and its audit entry in one transaction, and re-plans
documents held for a mapping when the config changes.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sqlite3
import time
from collections.abc import Callable

import trio

from shared.clock import now_iso
from shared.config import CompanyConfig, ConfigError, load_config
from shared.domain import from_json
from shared.types import REPLANNABLE_HOLDS, Actor, DocKind, DocState, DuplicateSource, HoldKind, Wait
from worker.context import WorkerContext
from worker.outbox import Carried, PlannedWrite, carry_over, compare_plan, hand_keyed_check, refresh_document
from worker.posting.plan import Hold, ListsView, NotPostable, Plan, PlanResult, QuickBooksFacts, plan_document, plan_to_json
from worker.posting.vendors import CreateVendor, QbVendor, ReactivateVendor, VendorDirectory
from worker.qbxml.facts import country_currency, currency_code
from worker.qbxml.model import BillAdd
from worker.store import audit, documents, duplicates, qblists

log = logging.getLogger(__name__)

BATCH = 100
# The longest the planner holds the store at a time: the store has one writer, and a webhook's
# 200 waits behind whatever transaction is running (100 documents in one took up to 0.7 s under load).
PLAN_SLICE_S = 0.02
CLOSED_PERIOD_STATUS = 3180  # QuickBooks: the transaction date is on or before the closing date
WAIT_FOR_LISTS = "waiting for the first Web Connector run to read the QuickBooks lists"
WAIT_FOR_VENDOR = "waiting for the vendor"


# --- inputs from the store ----------------------------------------------------------------------


def quickbooks_facts(conn: sqlite3.Connection, company: str) -> QuickBooksFacts:
    row = conn.execute("SELECT home_currency, multicurrency, class_tracking, closing_date, country FROM qb_company WHERE company = ?", (company,)).fetchone()
    if row is None:
        return QuickBooksFacts()
    home = currency_code(row["home_currency"])
    if home is None and row["multicurrency"] is not None and not row["multicurrency"]:
        # Known to be single-currency: everything posts in the currency of the file's country (its
        # own answer, not the product name), so a document in another currency is held rather than
        # posted as if it were home currency. An unknown country leaves the currency unchecked.
        home = country_currency(row["country"])
    return QuickBooksFacts(
        home_currency=home,
        multicurrency=bool(row["multicurrency"]),
        class_tracking=row["class_tracking"] is None or bool(row["class_tracking"]),
        closing_date=dt.date.fromisoformat(row["closing_date"]) if row["closing_date"] else None,
    )


def lists_view(conn: sqlite3.Connection, company: str) -> ListsView:
    tables: dict[str, dict[str, bool]] = {"Account": {}, "Class": {}, "Customer": {}, "Terms": {}}
    numbers: dict[str, str] = {}
    rows = conn.execute(
        "SELECT list_type, full_name, is_active, account_number FROM qb_lists WHERE company = ? AND list_type IN ('Account', 'Class', 'Customer', 'Terms')",
        (company,),
    )
    for row in rows:
        tables[row["list_type"]][row["full_name"]] = bool(row["is_active"])
        if row["list_type"] == "Account" and row["account_number"]:
            numbers[row["full_name"]] = row["account_number"]
    synced = {r[0] for r in conn.execute("SELECT list_type FROM qb_list_sync WHERE company = ? AND synced_at IS NOT NULL", (company,))}
    preference = conn.execute("SELECT account_numbers FROM qb_company WHERE company = ?", (company,)).fetchone()
    return ListsView.of(
        tables["Account"] if "Account" in synced else None,
        tables["Class"] if "Class" in synced else None,
        tables["Customer"] if "Customer" in synced else None,
        numbers=numbers if "Account" in synced else None,
        numbers_in_use=None if preference is None or preference[0] is None else bool(preference[0]),
        terms=tables["Terms"] if "Terms" in synced else None,
        currencies=currency_names(conn, company) if "Currency" in synced else None,
    )


def currency_names(conn: sqlite3.Connection, company: str) -> dict[str, str]:
    """QuickBooks' Currency list, active entries: ISO code -> its name there ("EUR" -> "Euro")."""
    return {
        r[0].upper(): r[1]
        for r in conn.execute(
            "SELECT currency, full_name FROM qb_lists WHERE company = ? AND list_type = 'Currency' AND is_active = 1 AND currency IS NOT NULL", (company,)
        )
    }


def vendor_directory(conn: sqlite3.Connection, company: str) -> VendorDirectory:
    codes = {name.casefold(): code for code, name in currency_names(conn, company).items()}

    def code_of(currency: str | None) -> str | None:
        return codes.get(currency.casefold()) or currency_code(currency) if currency else None

    vendors = [
        QbVendor(r["list_id"], r["full_name"], bool(r["is_active"]), r["edit_sequence"] or None, r["account_number"] or "", code_of(r["currency"]))
        for r in conn.execute(
            "SELECT list_id, full_name, is_active, edit_sequence, account_number, currency FROM qb_lists WHERE company = ? AND list_type = 'Vendor'", (company,)
        )
    ]
    # Customers (and jobs' top level), employees and other names (one name space with vendors),
    # plus names QuickBooks told us are taken (3100).
    others = [
        r[0].split(":")[0]
        for r in conn.execute("SELECT full_name FROM qb_lists WHERE company = ? AND list_type IN ('Customer', 'Employee', 'OtherName', 'Entity')", (company,))
    ]
    return VendorDirectory.of(vendors, others)


def vendor_links(conn: sqlite3.Connection, company: str) -> dict[str, str]:
    return {r[0]: r[1] for r in conn.execute("SELECT concur_key, list_id FROM vendor_links WHERE company = ?", (company,))}


def plan_row(conn: sqlite3.Connection, row: sqlite3.Row, company: CompanyConfig) -> PlanResult:
    """The planner's answer for a stored document, from the store's current knowledge."""
    return plan_document(
        from_json(json.loads(row["content"])),
        company,
        quickbooks_facts(conn, company.id),
        lists_view(conn, company.id),
        vendor_directory(conn, company.id),
        vendor_links(conn, company.id),
    )


def writes_of(result: Plan, check: Callable[[BillAdd], PlannedWrite | None] | None = None) -> list[PlannedWrite]:
    """Outbox rows in dependency order: the vendor before the transactions that name it. ``check``
    gives the hand-keyed-bill query to put before an invoice's bill to an existing vendor (a vendor
    being created has no bills yet)."""
    writes: list[PlannedWrite] = []
    action = result.vendor_action
    if isinstance(action, CreateVendor):
        writes.append(PlannedWrite("VendorAdd", action.add, key=action.add.name))
    elif isinstance(action, ReactivateVendor):
        writes.append(PlannedWrite("VendorMod", action.mod, key=action.mod.list_id))
    if check is not None and not isinstance(action, CreateVendor):
        writes += [query for txn in result.transactions if isinstance(txn, BillAdd) and (query := check(txn)) is not None]
    for txn in result.transactions:
        op = "BillAdd" if isinstance(txn, BillAdd) else "JournalEntryAdd"
        writes.append(PlannedWrite(op, txn, key=txn.ref_number, external_guid=txn.external_guid))
    return writes


# --- one document -------------------------------------------------------------------------------


def plan_one(conn: sqlite3.Connection, document_id: int, company: CompanyConfig) -> str:
    """Plan one fetched document; returns what happened (for logs and tests)."""
    row = documents.get(conn, document_id)
    if row["state"] != DocState.FETCHED:
        return "not fetched"
    if not qblists.ready(conn, company.id):
        documents.set_wait(conn, document_id, Wait.LISTS, WAIT_FOR_LISTS)
        return "waiting"
    result = plan_row(conn, row, company)
    picture = plan_to_json(result)
    # What QuickBooks already has (or may have) of this document, transaction by transaction
    # (each its own RefNumber and ExternalGUID): the new plan adds only what is missing.
    # An invoice's bill to an existing vendor is preceded by the hand-keyed-bill check (answered once).
    check = (lambda bill: hand_keyed_check(conn, document_id, bill)) if row["kind"] == DocKind.INVOICE else None
    carried = compare_plan(conn, document_id, writes_of(result, check) if isinstance(result, Plan) else [])
    if isinstance(result, Plan) and (extra := carried.strays):
        # Posting the new plan beside transactions it no longer holds would book part twice.
        reason = (
            f"QuickBooks already has (or may have) {', '.join(extra)} of this document, which the current plan does not "
            "hold (posting mode or content changed); remove it in QuickBooks or change the plan back, then release"
        )
        documents.set_state(
            conn,
            document_id,
            DocState.HELD,
            reason,
            Actor.WORKER,
            "plan_hold",
            {"strays": list(extra)},
            hold_kind=HoldKind.QUICKBOOKS,
            plan=json.dumps(picture),
        )
        return "held"
    if isinstance(result, Plan) and not carried.in_flight and not carried.transactions_missing:
        # QuickBooks has every transaction of the plan: never a second posting.
        why = "already in QuickBooks"
        carry_over(conn, company.id, document_id, Carried(carried.in_quickbooks, 0, (), ()))  # retire leftovers only
        documents.set_state(conn, document_id, DocState.POSTED, "", Actor.WORKER, "duplicate_skipped", {"why": why}, plan=json.dumps(picture))
        duplicates.record(conn, company.id, DuplicateSource.QUICKBOOKS, f"document:{document_id}", why, document_id, row["concur_id"])
        return "duplicate"
    if isinstance(result, Plan) and isinstance(result.vendor_action, (CreateVendor, ReactivateVendor)):
        other = vendor_being_written(conn, company.id, result.vendor_action, document_id)
        if other is not None:
            # Two reports of the same new (or inactive) employee: writing the vendor twice would
            # fail (3100, or 3200 on the second VendorMod) and cost a retry; plan this one once
            # QuickBooks has answered the first document's vendor write (``documents.VENDOR_WRITE_PENDING``).
            other_document, posting = other
            reason = f'{WAIT_FOR_VENDOR} "{result.vendor_action.name}" to be written (document {other_document})'
            documents.set_wait(conn, document_id, Wait.VENDOR, reason, posting=posting)
            return "waiting"
    if isinstance(result, Plan):
        action = result.vendor_action
        picture["vendor_key"] = action.concur_key if isinstance(action, CreateVendor) else None
        # The new plan supersedes the old one: its unsent rows and the rows QuickBooks refused
        # (kept for the record in status_code/message and the audit trail) are retired so they do
        # not block the new rows; what QuickBooks has is kept, what is in flight is settled first.
        carry_over(conn, company.id, document_id, carried)
        detail: dict[str, object] = {"decisions": result.decisions, "total": f"{result.total:.2f}"}
        if carried.in_quickbooks or carried.in_flight:
            detail["carried"] = {"in_quickbooks": carried.in_quickbooks, "in_flight": carried.in_flight, "queued": len(carried.missing)}
        documents.set_state(conn, document_id, DocState.QUEUED, "", Actor.WORKER, "planned", detail, plan=json.dumps(picture), vendor=result.vendor_name)
        refresh_document(conn, document_id)  # in flight: unknown until settled
        return "queued"
    if isinstance(result, NotPostable) and carried.strays:
        # Part of the document is in QuickBooks: a skip would hide it, so it is held for a person.
        reason = f"part of this document is in QuickBooks, but it can no longer be planned: {result.reason}"
        documents.set_state(
            conn,
            document_id,
            DocState.HELD,
            reason,
            Actor.WORKER,
            "plan_hold",
            {"decisions": result.decisions},
            hold_kind=HoldKind.QUICKBOOKS,
            plan=json.dumps(picture),
        )
        return "held"
    if isinstance(result, NotPostable):
        documents.set_state(
            conn,
            document_id,
            DocState.SKIPPED,
            f"not_postable: {result.reason}",
            Actor.WORKER,
            "not_postable",
            {"decisions": result.decisions},
            hold_kind=HoldKind.NOT_POSTABLE,
            plan=json.dumps(picture),
        )
        return "skipped"
    assert isinstance(result, Hold)
    documents.set_state(
        conn,
        document_id,
        DocState.HELD,
        result.reason,
        Actor.WORKER,
        "plan_hold",
        {"decisions": result.decisions},
        hold_kind=HoldKind.MAPPING,
        plan=json.dumps(picture),
    )
    return "held"


def replan_closed_period(conn: sqlite3.Connection, company: str) -> int:
    """Documents QuickBooks refused for its closing date (3180) go back to be planned once the
    worker knows that closing date (from the session's preferences): the planner then holds them
    with the reason, or moves them to the first open day. Only when the refused plan is dated on
    or before the known closing date, so a re-plan always decides differently (no loop)."""
    closing = quickbooks_facts(conn, company).closing_date
    if closing is None:
        return 0
    rows = conn.execute(
        """SELECT d.id, d.plan FROM documents d WHERE d.company = ? AND d.content IS NOT NULL
           AND (d.state = 'failed' OR (d.state = 'held' AND d.hold_kind = 'quickbooks'))
           AND EXISTS (SELECT 1 FROM postings p WHERE p.document_id = d.id AND p.state = 'failed' AND p.status_code = ?)""",
        (company, CLOSED_PERIOD_STATUS),
    ).fetchall()
    moved = 0
    for row in rows:
        dates = [t.get("txn_date") for t in json.loads(row["plan"] or "{}").get("transactions", [])]
        if any(d and dt.date.fromisoformat(d) <= closing for d in dates):
            documents.set_state(
                conn,
                row["id"],
                DocState.FETCHED,
                "",
                Actor.WORKER,
                "replan",
                {"why": f"QuickBooks refused the date (status {CLOSED_PERIOD_STATUS}); planning again against the closing date {closing.isoformat()}"},
            )
            moved += 1
    return moved


def vendor_being_written(conn: sqlite3.Connection, company: str, action: CreateVendor | ReactivateVendor, document_id: int) -> tuple[int, int] | None:
    """Another document whose write of the same vendor QuickBooks has not answered yet, if any:
    (that document, the write's outbox row)."""
    op, key = ("VendorAdd", action.add.name) if isinstance(action, CreateVendor) else ("VendorMod", action.mod.list_id)
    row = conn.execute(
        """SELECT document_id, id FROM postings WHERE company = ? AND op = ? AND ref_number = ? AND document_id != ?
           AND state IN ('queued', 'sent', 'unknown') LIMIT 1""",
        (company, op, key, document_id),
    ).fetchone()
    return (row[0], row[1]) if row else None


def plan_batch(conn: sqlite3.Connection, companies: dict[str, CompanyConfig], limit: int = BATCH, budget_s: float | None = None) -> int:
    """Plan up to ``limit`` fetched documents of companies whose lists are known, stopping early
    once ``budget_s`` seconds are spent (the rest is the next batch's). Returns how many it
    handled (planned, held, skipped or set waiting for a vendor write)."""
    planned = 0
    deadline = None if budget_s is None else time.perf_counter() + budget_s
    for company in companies.values():
        if not qblists.ready(conn, company.id):
            documents.wait_for_lists(conn, company.id, WAIT_FOR_LISTS)
            continue
        replan_closed_period(conn, company.id)
        # Documents waiting for another one's vendor go last, so they never starve the rest;
        # those whose vendor write is still unanswered are left out altogether.
        ids = [
            r[0]
            for r in conn.execute(
                f"SELECT id FROM documents d WHERE company = ? AND state = 'fetched' AND NOT ({documents.VENDOR_WRITE_PENDING}) ORDER BY wait = ?, id LIMIT ?",
                (company.id, str(Wait.VENDOR), limit - planned),
            )
        ]
        for document_id in ids:
            plan_one(conn, document_id, company)
            # One that now waits for a vendor write counts too: it is left out of the next
            # selection until that write is answered, so the planner never spins on it.
            planned += 1
            if deadline is not None and time.perf_counter() > deadline:
                return planned
    return planned


def replan_held(conn: sqlite3.Connection, why: str) -> int:
    """Held documents whose hold came from planning or from QuickBooks go back to be planned."""
    ids = [
        r[0]
        for r in conn.execute(
            f"SELECT id FROM documents WHERE state = 'held' AND content IS NOT NULL AND hold_kind IN ({','.join('?' * len(REPLANNABLE_HOLDS))})",
            sorted(REPLANNABLE_HOLDS),
        )
    ]
    for document_id in ids:
        documents.set_state(conn, document_id, DocState.FETCHED, "", Actor.WORKER, "replan", {"why": why})
    return len(ids)


# --- background jobs ----------------------------------------------------------------------------


async def planner(ctx: WorkerContext, idle_s: float = 2.0, company: str | None = None) -> None:
    """``company``: plan only that company's documents (None: every company's)."""
    seen = -1
    while True:
        companies = {c.id: c for c in ctx.config.companies if company is None or c.id == company}
        # None while QuickBooks waits for the worker (from its answer to the next message set),
        # and short ones: a Web Connector callback that arrives meanwhile waits one slice at most.
        await ctx.quickbooks_waits.wait_clear()
        planned = await ctx.store.run(plan_batch, companies, BATCH, PLAN_SLICE_S)
        if planned:
            ctx.changed.notify()
            await trio.sleep(0)
            continue
        seen = await ctx.changed.wait(seen if seen >= 0 else ctx.changed.count, timeout=idle_s)


async def config_watcher(ctx: WorkerContext, interval_s: float = 2.0) -> None:
    """Pick up an edited mlc.toml without a restart; a bad edit is reported and ignored."""
    path = ctx.config.path
    last = _mtime(path)
    while True:
        await trio.sleep(interval_s)
        current = _mtime(path)
        if current == last:
            continue
        last = current
        try:
            config = load_config(path)
        except ConfigError as exc:
            log.error("config change rejected, keeping the running config:\n%s", "\n".join(exc.problems))
            await ctx.store.run(_note_config, "config_rejected", {"problems": exc.problems})
            continue
        ctx.reload(config)
        moved = await ctx.store.run(_reload_applied)
        log.info("config reloaded; %d held documents re-planned", moved)
        ctx.changed.notify()


def _mtime(path) -> float | None:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return None


def _note_config(conn: sqlite3.Connection, action: str, detail: dict) -> None:
    audit.append(conn, "*", None, Actor.WORKER, action, detail)


def _reload_applied(conn: sqlite3.Connection) -> int:
    audit.append(conn, "*", None, Actor.WORKER, "config_reloaded", {"at": now_iso()})
    return replan_held(conn, "config changed")
