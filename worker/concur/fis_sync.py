"""The FIS side of the worker (companies with ``source = "fis"``): poll, acknowledge, store, confirm.

Order per document (CONCUR-API.md §3.3, §7.14): GET the READY documents (HAL pages), keep each
version durably, **acknowledge at once**, and only then hand the normalised document to the same
planner and outbox as the expense API path. A version recalled between the GET and the
acknowledgement (code 102) is never posted. A version stored but not yet acknowledged (a crash in
between) is acknowledged on the next poll from what was stored, even though FIS no longer lists it.

Confirmations go out from their own outbox (worker/store/fis.py): ``success`` once the document is
posted (every transaction in QuickBooks), ``error`` only when an operator sends it back. A held
document stays acknowledged and unconfirmed until it posts.

``readyForIntegration`` events only wake the poll; the poll also runs every ``sweep_interval_s``.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections import defaultdict
from decimal import Decimal
from typing import Any

from shared.config import CompanyConfig
from shared.domain import Document
from shared.types import Actor, DocKind, DocState, HoldKind
from worker.concur import fis, fis_normalise
from worker.concur.client import ConcurClient
from worker.concur.errors import BadConcurData, ConcurError, NeedsReconnect
from worker.concur.sync import store_fetched
from worker.context import WorkerContext
from worker.store import audit, documents, duplicates
from worker.store import fis as fis_store
from worker.store.fis import ConfirmState

log = logging.getLogger(__name__)

KINDS = {"expense": DocKind.EXPENSE_REPORT, "invoice": DocKind.INVOICE}
CONFIRM_IDLE_S = 2.0


def _dumps(item: Any) -> str:
    return json.dumps(item, default=lambda v: str(v) if isinstance(v, Decimal) else repr(v))


# --- storing and acknowledging ----------------------------------------------------------------------


def record_listed(conn: sqlite3.Connection, company: str, doc_type: str, items: list[dict[str, Any]]) -> list[str]:
    """Keep every listed version (normalisable or not); return the FIS ids to acknowledge now:
    those listed and readable, and those stored earlier but never acknowledged."""
    for item in items:
        fis_id = str(item.get("id") or "")
        if not fis_id:
            continue
        try:
            doc = fis_normalise.normalise_fis_document(doc_type, item)
            fis_store.record_received(conn, company, fis_id, doc_type, doc.concur_id, _dumps(item))
        except BadConcurData as exc:
            # Left in Concur's ready queue (not acknowledged): a processor can fix and resend it.
            fis_store.record_received(conn, company, fis_id, doc_type, "", _dumps(item), problem=f"cannot read the FIS document: {exc}")
    rows = conn.execute(
        "SELECT fis_id FROM fis_documents WHERE company = ? AND doc_type = ? AND state = 'received' ORDER BY id", (company, doc_type)
    ).fetchall()
    return [row["fis_id"] for row in rows]


def attach(conn: sqlite3.Connection, company: str, version: sqlite3.Row, doc: Document) -> int:
    """The acknowledged version becomes (or updates) the document the planner posts."""
    kind = KINDS[version["doc_type"]]
    why = f"FIS {version['fis_id']}"
    row = conn.execute("SELECT * FROM documents WHERE company = ? AND kind = ? AND concur_id = ?", (company, str(kind), doc.concur_id)).fetchone()
    if row is None:
        document_id = documents.create(conn, company, kind, doc.concur_id, None, Actor.CONCUR, why)
        duplicates.link_document(conn, company, doc.concur_id, document_id)
    elif row["state"] == DocState.SKIPPED and row["hold_kind"] == HoldKind.SENT_BACK:
        # The document an operator sent back returns from Concur: a new version, posted normally.
        document_id = row["id"]
        documents.set_state(conn, document_id, DocState.RECEIVED, "", Actor.CONCUR, "returned_from_concur", {"fis_id": version["fis_id"]})
    elif row["state"] == DocState.POSTED:
        # Posted already (through the expense API before the company switched to FIS): not posted
        # again; Concur gets its success with the numbers already in QuickBooks. The content of the
        # two sources differs in form (ids, field names), so only the amount is compared.
        document_id = row["id"]
        same = row["amount"] == f"{doc.total:.2f}"
        documents.note(conn, document_id, Actor.CONCUR, "fis_matches_posted", {"fis_id": version["fis_id"], "same_amount": same})
        if not same:
            documents.set_fields(conn, document_id, flag="changed_after_posting")
        return int(document_id)
    else:
        # Already known and not posted (re-queued, or in flight from the expense API path): the
        # fetch rules decide, as for any document Concur reports again.
        document_id = row["id"]
        documents.mark_recheck(conn, document_id, why)
    store_fetched(conn, document_id, doc)
    return int(document_id)


def apply_acknowledgements(conn: sqlite3.Connection, company: str, results: list[fis.ItemResult]) -> int:
    """Act on each version's acknowledgement answer; returns how many documents were handed on."""
    handed = 0
    for result in results:
        version = fis_store.get(conn, company, result.doc_id)
        if version is None:
            continue
        if result.code in (fis.OK, fis.PREVIOUSLY_ACKNOWLEDGED):
            if version["state"] == "acknowledged":
                continue
            doc = fis_normalise.normalise_fis_document(version["doc_type"], json.loads(version["content"], parse_float=Decimal))
            document_id = attach(conn, company, version, doc)
            fis_store.mark_acknowledged(conn, version["id"], document_id, result.code)
            audit.append(conn, company, document_id, Actor.CONCUR, "fis_acknowledged", {"fis_id": result.doc_id, "code": result.code})
            handed += 1
        elif result.code in fis.RECALLED_CODES:
            fis_store.mark_recalled(conn, version["id"], result.code, result.message)
        else:
            fis_store.set_problem(conn, version["id"], result.code, f"acknowledgement answered code {result.code} {result.result} {result.message}".strip())
    return handed


async def poll_company(ctx: WorkerContext, client: ConcurClient, company: CompanyConfig) -> int:
    """One pass over FIS for ``company``; returns how many documents were handed to the planner."""
    tokens = await client.access(company.id)
    if problem := fis_normalise.region_problem(tokens.geolocation):
        raise FisUnavailable(problem)
    handed = 0
    for doc_type in fis.DOC_TYPES:
        items = await fis.ready_documents(client, company.id, doc_type)
        ids = await ctx.store.run(record_listed, company.id, doc_type, items, durable=True)
        if not ids:
            continue
        results = await fis.acknowledge(client, company.id, doc_type, ids)
        handed += await ctx.store.run(apply_acknowledgements, company.id, results, durable=True)
    if handed:
        ctx.changed.notify()
    return handed


class FisUnavailable(ConcurError):
    """FIS cannot serve this company (region); the message says what to do."""


async def poller(ctx: WorkerContext, client: ConcurClient, company: CompanyConfig) -> None:
    """Poll on every event (``readyForIntegration`` wakes it) and every ``sweep_interval_s``."""
    seen = ctx.inbox.count
    told = ""
    while True:
        try:
            await poll_company(ctx, client, company)
        except NeedsReconnect:
            pass  # shown in health and the console
        except FisUnavailable as exc:
            if str(exc) != told:
                told = str(exc)
                log.error("%s: %s", company.id, exc)
                await ctx.store.run(audit.append, company.id, None, Actor.WORKER, "fis_unavailable", {"why": told})
        except ConcurError as exc:
            log.warning("FIS poll for %s failed: %s", company.id, exc)
        seen = await ctx.inbox.wait(seen, timeout=company.concur.sweep_interval_s)


# --- confirmations ---------------------------------------------------------------------------------


def queue_successes(conn: sqlite3.Connection) -> int:
    """Every acknowledged version whose document is now posted gets its ``success`` queued."""
    queued = 0
    for version in fis_store.awaiting_success(conn):
        docs = fis_store.posting_docs(conn, version["document_id"])
        if not docs:
            row = documents.get(conn, version["document_id"])
            docs = [fis_store.PostingDoc(row["quickbooks_txn_id"] or "", row["quickbooks_txn_id"] or "", str(row["updated_at"])[:10])]
        queued += fis_store.enqueue(conn, version, "success", fis_store.success_item(version["fis_id"], version["company"], docs))
    return queued


def apply_confirmations(conn: sqlite3.Connection, sent: list[sqlite3.Row], results: list[fis.ItemResult] | None, error: str = "") -> list[str]:
    """Settle each sent row from its answer; returns the FIS ids Concur says are not acknowledged."""
    by_id = {r.doc_id: r for r in results or []}
    reacknowledge = []
    for row in sent:
        result = by_id.get(row["fis_id"])
        if result is None:
            fis_store.retry_later(conn, row["id"], None, error or "no answer for this document")
        elif result.code in fis.DONE_CODES:
            fis_store.settle(conn, row["id"], ConfirmState.DONE, result.code, result.message)
        elif result.code in fis.RECALLED_CODES:
            # Concur recalled the document: the confirmation is moot. If it is in QuickBooks, a
            # person must decide (the processor will send a new version).
            fis_store.settle(conn, row["id"], ConfirmState.RECALLED, result.code, result.message)
            document = documents.get(conn, row["document_id"]) if row["document_id"] else None
            if document is not None and document["state"] == DocState.POSTED:
                documents.set_fields(conn, document["id"], flag="recalled_after_posting")
        elif result.code == fis.NOT_ACKNOWLEDGED:
            reacknowledge.append(row["fis_id"])
            fis_store.retry_later(conn, row["id"], result.code, "Concur says it is not acknowledged: acknowledging again")
        elif result.code == fis.RETRY_LATER:
            fis_store.retry_later(conn, row["id"], result.code, result.message or "Concur: unknown error, retry later")
        else:
            fis_store.settle(conn, row["id"], ConfirmState.FAILED, result.code, f"{result.result} {result.message}".strip())
    return reacknowledge


async def send_confirmations(ctx: WorkerContext, client: ConcurClient) -> int:
    await ctx.store.run(queue_successes, durable=True)
    rows = await ctx.store.run(fis_store.due)
    batches: dict[tuple[str, str], list[sqlite3.Row]] = defaultdict(list)
    for row in rows:
        batches[(row["company"], row["doc_type"])].append(row)
    for (company, doc_type), sent in batches.items():
        try:
            results = await fis.confirm(client, company, doc_type, [json.loads(r["body"]) for r in sent])
        except ConcurError as exc:
            await ctx.store.run(apply_confirmations, sent, None, str(exc), durable=True)
            continue
        again = await ctx.store.run(apply_confirmations, sent, results, durable=True)
        if again:
            try:
                await fis.acknowledge(client, company, doc_type, again)
            except ConcurError as exc:
                log.warning("FIS re-acknowledgement for %s failed: %s", company, exc)
    if rows:
        ctx.changed.notify()
    return len(rows)


async def confirmer(ctx: WorkerContext, client: ConcurClient) -> None:
    """Wakes when documents change (a posting finished) and every few seconds for due retries."""
    seen = ctx.changed.count
    while True:
        try:
            await send_confirmations(ctx, client)
        except NeedsReconnect:
            pass
        except ConcurError as exc:  # a store of results never fails this way; be safe and keep going
            log.warning("FIS confirmations failed: %s", exc)
        seen = await ctx.changed.wait(seen, timeout=CONFIRM_IDLE_S)
