"""Reconcile one company from the store: Concur's documents (re-planned from their stored
content) against the lines QuickBooks accepted. The shell around the pure ``reconcile.py``, used
by ``mlc reconcile`` and the daily alert check."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import sqlite3
from decimal import Decimal

from lxml import etree

from shared.config import CompanyConfig
from shared.domain import ExpenseReport, from_json
from shared.types import PaymentState
from worker.posting import engine
from worker.posting.reconcile import PostedLine, Reconciliation, paid_lines, reconcile


def reconcile_company(conn: sqlite3.Connection, company: CompanyConfig, start: dt.date, end: dt.date, only_posted: bool = False) -> Reconciliation:
    """``only_posted``: the documents QuickBooks has (the daily alert check); else every approved one."""
    pairs = []
    paid: list[PostedLine] = []
    in_range: list[int] = []
    states = "state = 'posted'" if only_posted else "state NOT IN ('skipped')"
    for row in conn.execute(f"SELECT * FROM documents WHERE company = ? AND content IS NOT NULL AND {states}", (company.id,)):
        doc = from_json(json.loads(row["content"]))
        day = doc.report_date if isinstance(doc, ExpenseReport) else doc.invoice_date
        if not start <= day <= end or doc.approval_status not in company.posting.post_on_status:
            continue
        in_range.append(row["id"])
        pairs.append((doc, engine.plan_row(conn, row, company)))
        if not (only_posted and row["payment"] == PaymentState.PAID_IN_CONCUR):
            paid += paid_lines(doc, company)  # (a payment on its way is no difference for the daily check)
    posted: list[PostedLine] = []
    for chunk in range(0, len(in_range), 500):
        ids = in_range[chunk : chunk + 500]
        marks = ",".join("?" * len(ids))
        # Each line in its document's currency: a EUR bill's amounts never net with USD ones.
        for row in conn.execute(
            f"""SELECT p.request_xml, d.currency FROM postings p JOIN documents d ON d.id = p.document_id
                                    WHERE p.document_id IN ({marks}) AND p.state = 'done' AND p.op IN ('BillAdd', 'JournalEntryAdd', 'BillPaymentCheckAdd')""",
            ids,
        ):
            posted += [dataclasses.replace(line, currency=(row[1] or "").upper()) for line in posted_lines(row[0])]
    return reconcile(pairs, posted, paid)


def posted_lines(request_xml: str) -> list[PostedLine]:
    """Signed lines (debit positive) of a BillAdd, JournalEntryAdd or BillPaymentCheckAdd request
    QuickBooks accepted."""
    root = etree.fromstring(request_xml.encode("utf-8"))
    lines: list[PostedLine] = []

    def ref(element, tag: str) -> str | None:
        found = element.find(f"{tag}/FullName")
        return found.text if found is not None else None

    if root.tag == "BillAddRq":
        bill = root[0]
        total = Decimal(0)
        for line in bill.findall("ExpenseLineAdd"):
            amount = Decimal(line.findtext("Amount") or "0")
            total += amount
            lines.append(PostedLine(ref(line, "AccountRef") or "", ref(line, "ClassRef"), amount))
        lines.append(PostedLine(ref(bill, "APAccountRef") or "Accounts Payable", None, -total))
    elif root.tag == "JournalEntryAddRq":
        entry = root[0]
        for line in entry:
            if line.tag in ("JournalDebitLine", "JournalCreditLine"):
                amount = Decimal(line.findtext("Amount") or "0")
                sign = 1 if line.tag == "JournalDebitLine" else -1
                lines.append(PostedLine(ref(line, "AccountRef") or "", ref(line, "ClassRef"), sign * amount))
    elif root.tag == "BillPaymentCheckAddRq":
        # A bill payment debits A/P and credits the bank (clearing) account it is paid from.
        payment = root[0]
        paid = sum((Decimal(a.findtext("PaymentAmount") or "0") for a in payment.findall("AppliedToTxnAdd")), Decimal(0))
        lines.append(PostedLine(ref(payment, "APAccountRef") or "Accounts Payable", None, paid))
        lines.append(PostedLine(ref(payment, "BankAccountRef") or "", None, -paid))
    return lines
