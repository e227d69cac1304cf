"""Deterministic store contents for API and console tests: every state, postings, audit, health rows.

Times are fixed (``BASE`` onwards) so that lists, details and console snapshots come out the same
on every run. Audit entries go through ``worker.store.audit.append`` (the real hash chain) with its
clock pinned by ``fixed_audit_clock``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass

from shared.clock import iso
from shared.types import DuplicateSource
from worker.store import audit, duplicates

BASE = dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC)


def at(minutes: float) -> str:
    return iso(BASE + dt.timedelta(minutes=minutes))


@contextlib.contextmanager
def fixed_audit_clock(start_minutes: float = 0.0) -> Iterator[None]:
    """Audit entries (and duplicate records) written inside get times BASE+start, +1 s, +2 s, ...
    instead of now."""
    ticks = itertools.count()
    original = audit.now_iso, duplicates.now_iso
    audit.now_iso = duplicates.now_iso = lambda: at(start_minutes + next(ticks) / 60)  # type: ignore[assignment]
    try:
        yield
    finally:
        audit.now_iso, duplicates.now_iso = original  # type: ignore[assignment]


@dataclass(frozen=True)
class Doc:
    company: str
    kind: str
    concur_id: str
    state: str
    amount: str | None
    who: str  # employee for reports, vendor for invoices
    reason: str = ""
    txn_id: str | None = None


DOCS: tuple[Doc, ...] = (
    Doc("acme", "expense_report", "RPT-1001", "posted", "412.50", "Alice Martin", txn_id="TXN-1001"),
    Doc("acme", "expense_report", "RPT-1002", "queued", "89.00", "Bob Chen"),
    Doc("acme", "expense_report", "RPT-1003", "held", "150.00", "Carol Diaz", "no account mapped for expense type XYZ"),
    Doc("acme", "invoice", "INV-2001", "failed", "1200.00", "Office Depot", "QuickBooks 3140: invalid reference to account"),
    Doc("acme", "expense_report", "RPT-1004", "unknown", "75.25", "Dan Evans", "sent, no answer from QuickBooks"),
    Doc("acme", "expense_report", "RPT-1005", "skipped", "412.50", "Alice Martin", "duplicate of RPT-1001"),
    Doc("acme", "expense_report", "RPT-1006", "received", None, "Erin Fox"),
    Doc("acme", "expense_report", "RPT-1007", "fetched", "33.10", "Frank Green"),
    Doc("acme", "invoice", "INV-2002", "sent", "560.00", "Staples"),
    Doc("globex", "expense_report", "RPT-3001", "queued", "220.00", "Grace Hall"),
    Doc("globex", "expense_report", "RPT-3002", "queued", "99.99", "Henry Ives"),
    Doc("globex", "invoice", "INV-4001", "posted", "780.00", "Acme Supplies", txn_id="TXN-4001"),
    Doc("globex", "expense_report", "RPT-3003", "skipped", "45.00", "Ivy Jones", "not_postable: approval status A_PEND"),
    Doc("globex", "expense_report", "RPT-3004", "held", "310.00", "Jack King", "vendor not found and vendor_policy is match_only"),
)


def _plan(doc: Doc) -> dict:
    amount = doc.amount or "0.00"
    if doc.kind == "invoice":
        return {
            "outcome": "plan",
            "total": amount,
            "vendor": {"action": "use", "list_id": "80000001-1", "name": doc.who},
            "transactions": [
                {
                    "type": "BillAdd",
                    "ref_number": doc.concur_id,
                    "txn_date": "2026-01-04",
                    "vendor": {"full_name": doc.who, "list_id": None},
                    "lines": [
                        {
                            "account": {"full_name": "Office Supplies", "list_id": None},
                            "amount": amount,
                            "memo": "Paper and toner",
                            "klass": {"full_name": "Admin", "list_id": None},
                            "customer": None,
                        }
                    ],
                }
            ],
            "decisions": ["vendor: matched existing QuickBooks vendor by name", "OFFSP -> Office Supplies (mapping.expense_types)"],
        }
    return {
        "outcome": "plan",
        "total": amount,
        "vendor": None,
        "transactions": [
            {
                "type": "JournalEntryAdd",
                "ref_number": doc.concur_id,
                "txn_date": "2026-01-04",
                "lines": [
                    {
                        "side": "debit",
                        "account": {"full_name": "Travel:Airfare", "list_id": None},
                        "amount": amount,
                        "memo": "Flight to Denver",
                        "klass": {"full_name": "Consulting", "list_id": None},
                        "entity": None,
                    },
                    {
                        "side": "credit",
                        "account": {"full_name": "Accounts Payable", "list_id": None},
                        "amount": amount,
                        "memo": doc.who,
                        "klass": None,
                        "entity": {"full_name": doc.who, "list_id": None},
                    },
                ],
            }
        ],
        "decisions": ["AIRFR -> Travel:Airfare (mapping.expense_types)", "custom1 CC-100 -> class Consulting (mapping.classes)"],
    }


def _content(doc: Doc) -> dict:
    if doc.kind == "invoice":
        return {
            "request_id": doc.concur_id,
            "invoice_number": doc.concur_id,
            "vendor_name": doc.who,
            "currency": "USD",
            "approval_status": "A_APPR",
            "total": doc.amount,
            "invoice_date": "2026-01-04",
        }
    return {
        "report_id": doc.concur_id,
        "name": f"Trip {doc.concur_id}",
        "owner": {"employee_id": "e-1", "name": doc.who},
        "currency": "USD",
        "approval_status": "A_APPR",
        "total": doc.amount,
        "report_date": "2026-01-04",
    }


REQUEST_XML = """<JournalEntryAddRq requestID="{pid}">
  <JournalEntryAdd>
    <TxnDate>2026-01-04</TxnDate>
    <RefNumber>{ref}</RefNumber>
    <JournalDebitLine>
      <AccountRef><FullName>Travel:Airfare</FullName></AccountRef>
      <Amount>{amount}</Amount>
      <ClassRef><FullName>Consulting</FullName></ClassRef>
    </JournalDebitLine>
  </JournalEntryAdd>
</JournalEntryAddRq>"""

RESPONSE_XML = """<JournalEntryAddRs requestID="{pid}" statusCode="0" statusSeverity="Info" statusMessage="Status OK">
  <JournalEntryRet>
    <TxnID>{txn}</TxnID>
    <RefNumber>{ref}</RefNumber>
  </JournalEntryRet>
</JournalEntryAddRs>"""


def seed(conn: sqlite3.Connection) -> dict[str, int]:
    """Insert DOCS with plans, postings and audit trails, plus company health rows. Returns concur_id -> id."""
    ids: dict[str, int] = {}
    with fixed_audit_clock():
        for n, doc in enumerate(DOCS):
            has_content = doc.state != "received"
            cur = conn.execute(
                "INSERT INTO documents (company, kind, concur_id, state, reason, amount, currency, employee, vendor, approval_status,"
                " content, plan, quickbooks_txn_id, created_at, updated_at, hold_kind) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) RETURNING id",
                (
                    doc.company,
                    doc.kind,
                    doc.concur_id,
                    doc.state,
                    doc.reason,
                    doc.amount,
                    "USD" if doc.amount else None,
                    doc.who if doc.kind == "expense_report" else "",
                    doc.who if doc.kind == "invoice" else "",
                    "A_APPR",
                    json.dumps(_content(doc)) if has_content else None,
                    json.dumps(_plan(doc)) if doc.state not in ("received", "fetched") else None,
                    doc.txn_id,
                    at(n),
                    at(n + 30),
                    "duplicate" if doc.reason.startswith("duplicate") else "none",
                ),
            )
            doc_id = int(cur.fetchone()[0])
            ids[doc.concur_id] = doc_id
            audit.append(conn, doc.company, doc_id, "concur", "received", {"source": "webhook"})
            # No posting in state "sent": the worker's restart recovery would settle it (and change the data).
            if doc.state in ("queued", "posted", "unknown", "failed"):
                pstate = {"queued": "queued", "posted": "done", "unknown": "unknown", "failed": "failed"}[doc.state]
                answered = doc.state in ("posted", "failed")
                conn.execute(
                    "INSERT INTO postings (company, document_id, seq, op, ref_number, request_xml, state, attempts, sent_at, answered_at,"
                    " status_code, status_message, response_xml, txn_id, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    (
                        doc.company,
                        doc_id,
                        0,
                        "JournalEntryAdd",
                        doc.concur_id,
                        REQUEST_XML.format(pid=doc_id, ref=doc.concur_id, amount=doc.amount),
                        pstate,
                        1 if pstate != "queued" else 0,
                        at(n + 20) if pstate != "queued" else None,
                        at(n + 21) if answered else None,
                        (0 if doc.state == "posted" else 3140) if answered else None,
                        ("Status OK" if doc.state == "posted" else doc.reason) if answered else None,
                        RESPONSE_XML.format(pid=doc_id, txn=doc.txn_id or "", ref=doc.concur_id) if answered else None,
                        doc.txn_id,
                        at(n + 10),
                    ),
                )
            if doc.state != "received":
                audit.append(conn, doc.company, doc_id, "worker", doc.state, {"from": "received", "to": doc.state, "reason": doc.reason})
        audit.append(conn, "acme", ids["RPT-1001"], "concur", "duplicate_skipped", {"event_id": "evt-dup-1", "reason": "re-delivered event"})
        for _ in range(2):  # the same event delivered twice more: one record counted twice
            duplicates.record(conn, "acme", DuplicateSource.WEBHOOK, "event:evt-dup-1", "event delivered again", ids["RPT-1001"], "RPT-1001")
        audit.append(conn, "acme", None, "worker", "config_reloaded", {})
    conn.execute("INSERT INTO qb_company (company, last_contact_at, last_result, reachable_since) VALUES ('acme', ?, 'ok', ?)", (at(40), at(0)))
    conn.execute(
        "INSERT INTO qb_company (company, last_contact_at, last_result, last_error, unreachable_since) VALUES ('globex', ?, 'error', ?, ?)",
        (at(5), "company file not open", at(6)),
    )
    conn.execute(
        "INSERT INTO concur_tokens (company, geolocation, needs_reconnect, reason, updated_at) VALUES ('acme', 'https://us.api.concursolutions.com', 0, '', ?)",
        (at(0),),
    )
    conn.execute(
        "INSERT INTO concur_tokens (company, geolocation, needs_reconnect, reason, updated_at) VALUES ('globex', 'https://us.api.concursolutions.com', 1, 'refresh token expired', ?)",
        (at(0),),
    )
    for n in range(7):
        conn.execute(
            "INSERT INTO events (company, event_id, source, topic, event_type, received_at, body) VALUES (?,?,?,?,?,?,?)",
            ("acme" if n < 5 else "globex", f"evt-{n}", "webhook", "public.concur.expense.report", "StatusChange", at(n), "{}"),
        )
    conn.execute("INSERT INTO webhook_rejections (company, received_at, source, reason) VALUES ('acme', ?, '127.0.0.1', 'bad signature')", (at(3),))
    return ids


def seed_bulk(conn: sqlite3.Connection, count: int, company: str = "acme", prefix: str = "BULK") -> None:
    """``count`` plain documents fast (executemany); many share an updated_at so paging must use the id too."""
    states = ("posted", "queued", "held", "failed", "skipped", "received")
    rows = (
        (
            company,
            "expense_report",
            f"{prefix}-{i:06d}",
            states[i % len(states)],
            "duplicate" if i % 60 == 4 else "",
            f"{i % 1000}.{i % 100:02d}",
            "USD",
            f"Employee {i % 500}",
            "",
            at(i // 7),
            at(i // 7),
            "duplicate" if i % 60 == 4 else "none",
        )
        for i in range(count)
    )
    conn.executemany(
        "INSERT INTO documents (company, kind, concur_id, state, reason, amount, currency, employee, vendor, created_at, updated_at, hold_kind)"
        " VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
        rows,
    )


# Rich/Textual markup in every field a person or a peer controls: shown as typed, never interpreted.
HOSTILE = "[/x] [link=https://evil.example]pay here[/link] [@click=app.quit]quit[/] [bold red]loud[/"


def seed_hostile(conn: sqlite3.Connection) -> int:
    """One held document whose every text (names, reason, plan lines, decisions, audit detail) is markup."""
    doc = Doc("acme", "expense_report", "HOST-" + HOSTILE, "held", "1.00", "Eve " + HOSTILE, "reason " + HOSTILE)
    plan = _plan(doc)
    for line in plan["transactions"][0]["lines"]:
        line["memo"] = "memo " + HOSTILE
        line["account"]["full_name"] = "Account " + HOSTILE
        if line.get("klass"):
            line["klass"]["full_name"] = "Class " + HOSTILE
    plan["decisions"] = ["decision " + HOSTILE]
    with fixed_audit_clock(100):
        cur = conn.execute(
            "INSERT INTO documents (company, kind, concur_id, state, reason, amount, currency, employee, vendor, approval_status,"
            " content, plan, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?) RETURNING id",
            (
                "acme",
                doc.kind,
                doc.concur_id,
                doc.state,
                doc.reason,
                doc.amount,
                "USD",
                doc.who,
                "",
                "A_APPR " + HOSTILE,
                json.dumps(_content(doc)),
                json.dumps(plan),
                at(100),
                at(200),
            ),
        )
        doc_id = int(cur.fetchone()[0])
        audit.append(conn, "acme", doc_id, "operator " + HOSTILE, "held", {"reason": "operator reason " + HOSTILE, "description": HOSTILE})
    return doc_id
