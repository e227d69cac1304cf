"""Paying in the background: posted documents Concur has paid become bill payment rows.

The pure planner (payments.py) decides; this module loads what it needs (the document, the posted
item from the stored plan and the outbox's TxnIDs, what our earlier payments recorded) and writes
the outcome in one transaction: an outbox row, or the payment state ``held`` with the reason.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from decimal import Decimal

import trio

from shared.clock import utc_now
from shared.config import CompanyConfig
from shared.domain import from_json
from shared.types import Actor, PaymentState, PostingState
from worker import outbox
from worker.context import WorkerContext
from worker.posting.payments import NoPayment, concur_paid, payable_of, plan_payment
from worker.store import documents

BATCH = 100
ZERO = Decimal("0.00")


def due(conn: sqlite3.Connection, company: str, limit: int) -> list[sqlite3.Row]:
    """Posted documents Concur paid with no payment row in flight."""
    return conn.execute(
        """SELECT * FROM documents d WHERE d.company = ? AND d.state = 'posted' AND d.payment = ?
           AND NOT EXISTS (SELECT 1 FROM postings p WHERE p.document_id = d.id AND p.op = ? AND p.state IN ('queued', 'sent', 'unknown'))
           ORDER BY d.id LIMIT ?""",
        (company, str(PaymentState.PAID_IN_CONCUR), outbox.PAYMENT_OP, limit),
    ).fetchall()


def accounts_of(conn: sqlite3.Connection, company: str) -> dict[str, tuple[bool, str]] | None:
    """The cached QuickBooks accounts (case-folded FullName -> (active, AccountType)), None before
    the first account sync."""
    if conn.execute("SELECT 1 FROM qb_list_sync WHERE company = ? AND list_type = 'Account' AND synced_at IS NOT NULL", (company,)).fetchone() is None:
        return None
    return {
        r["full_name"].casefold(): (bool(r["is_active"]), str(json.loads(r["data"] or "{}").get("AccountType") or ""))
        for r in conn.execute("SELECT full_name, is_active, data FROM qb_lists WHERE company = ? AND list_type = 'Account'", (company,))
    }


def pay_one(conn: sqlite3.Connection, row: sqlite3.Row, company: CompanyConfig, today: dt.date) -> str:
    doc = from_json(json.loads(row["content"]))
    txn_ids = {
        r["ref_number"]: r["txn_id"]
        for r in conn.execute(
            "SELECT ref_number, txn_id FROM postings WHERE document_id = ? AND op IN ('BillAdd', 'JournalEntryAdd') AND state = ? AND txn_id IS NOT NULL",
            (row["id"], str(PostingState.DONE)),
        )
    }
    payable = payable_of(json.loads(row["plan"] or "{}"), txn_ids, company.posting.ap_account)
    if payable is None:
        if concur_paid(doc)[0] == 0:
            documents.set_payment(conn, row["id"], PaymentState.NONE, "Concur paid 0.00 and nothing owed was posted")
            return "nothing"
        documents.set_payment(conn, row["id"], PaymentState.HELD, "nothing owed to the employee or vendor was posted, so there is no bill to pay")
        return "held"
    payments = outbox.payments_of(conn, row["id"])
    recorded = sum((Decimal(p["amount"]) for p in payments if p["state"] == PostingState.DONE), ZERO)
    result = plan_payment(doc, company, payable, recorded, len(payments), today, accounts_of(conn, company.id))
    if isinstance(result, NoPayment):
        if result.hold:
            documents.set_payment(conn, row["id"], PaymentState.HELD, result.reason)
            return "held"
        settled = PaymentState.PARTIAL if ZERO < recorded < payable.owed else PaymentState.PAYMENT_POSTED if recorded else PaymentState.NONE
        documents.set_payment(conn, row["id"], settled, result.reason)
        return "nothing"
    write = outbox.PlannedWrite(outbox.PAYMENT_OP, result.write, key=result.write.ref_number, external_guid=result.write.external_guid)
    outbox.queue_payment(conn, company.id, row["id"], write, result.check, payable.txn_id, result.amount, result.expected_open)
    documents.note(conn, row["id"], Actor.WORKER, "payment_planned", {"decisions": result.decisions, "amount": f"{result.amount:.2f}"})
    return "queued"


def pay_batch(conn: sqlite3.Connection, companies: dict[str, CompanyConfig], today: dt.date | None = None, limit: int = BATCH) -> int:
    today = today or utc_now().date()
    done = 0
    for company in companies.values():
        if not company.posting.concur_pays:
            continue
        for row in due(conn, company.id, limit - done):
            pay_one(conn, row, company, today)
            done += 1
    return done


async def payer(ctx: WorkerContext, idle_s: float = 2.0, company: str | None = None) -> None:
    """``company``: only that company's payments (None: every company's)."""
    seen = -1
    while True:
        companies = {c.id: c for c in ctx.config.companies if company is None or c.id == company}
        if await ctx.store.run(pay_batch, companies):
            ctx.changed.notify()
            await trio.sleep(0)
            continue
        seen = await ctx.changed.wait(seen if seen >= 0 else ctx.changed.count, timeout=idle_s)
