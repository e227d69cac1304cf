"""The operator's shell commands that work on the store directly: plan, actions, reconcile, audit, qwc.

They may run while the worker runs (SQLite in WAL mode lets both in); the worker notices their
changes within its polling interval.
"""

from __future__ import annotations

import csv
import datetime as dt
import getpass
import json
import sqlite3
import sys
from decimal import Decimal

import click
from lxml import etree

from shared.config import CompanyConfig, Config
from shared.domain import ExpenseReport, from_json
from worker.posting import engine
from worker.posting.actions import apply_action
from worker.posting.plan import Plan, plan_to_json
from worker.posting.reconcile import PostedLine, paid_lines, reconcile
from worker.qbwc.qwc import QwcError, build_qwc
from worker.qbxml.build import wrap_requests
from worker.store import audit
from worker.store.db import Store, StoreError
from worker.store.documents import InvalidTransition, NotFound, find

EXIT_PROBLEM = 1
EXIT_USAGE = 2


def _store(config: Config) -> Store:
    try:
        return Store.in_dir(config.worker.data_dir)
    except StoreError as exc:
        click.echo(f"mlc: {exc}", err=True)
        sys.exit(EXIT_USAGE)


def qwc_for_company(config: Config, company: CompanyConfig) -> str:
    base = config.worker.public_url
    return build_qwc(
        app_name=f"ml-connector ({company.id})",
        app_url=f"{base}/qbwc",
        support_url=f"{base}/support",
        username=company.qbwc.username,
        owner_id=company.qbwc.owner_id,
        file_id=company.qbwc.file_id,
        run_every_minutes=company.qbwc.run_every_minutes,
        description=f"Posts approved SAP Concur expenses and invoices for {company.name}",
    )


__all__ = ["QwcError", "qwc_for_company"]


# --- plan ----------------------------------------------------------------------------------------


def plan_command(config: Config, reference: str) -> int:
    store = _store(config)
    try:
        return store.run_sync(_plan, config, reference)
    finally:
        store.close()


def _plan(conn: sqlite3.Connection, config: Config, reference: str) -> int:
    try:
        row = find(conn, reference)
    except NotFound as exc:
        click.echo(f"mlc plan: {exc}", err=True)
        return EXIT_USAGE
    if not row["content"]:
        click.echo(f"document {row['id']} ({row['concur_id']}) has not been fetched from Concur yet: state {row['state']}", err=True)
        return EXIT_PROBLEM
    company = config.company(row["company"])
    result = engine.plan_row(conn, row, company)
    picture = plan_to_json(result)
    click.echo(f"document {row['id']}: {row['kind']} {row['concur_id']} of {row['company']}, state {row['state']}")
    click.echo(f"outcome: {picture['outcome']}" + (f" ({picture['reason']})" if picture.get("reason") else ""))
    for decision in picture.get("decisions", []):
        click.echo(f"  - {decision}")
    if isinstance(result, Plan):
        for txn in picture["transactions"]:
            click.echo(f"{txn['type']} {txn.get('ref_number', '')} dated {txn.get('txn_date', '')}")
            for line in txn.get("lines", []):
                side = line.get("side", "debit")
                account = (line.get("account") or {}).get("full_name") or ""
                klass = (line.get("klass") or {}).get("full_name") or ""
                click.echo(f"  {side:6} {line['amount']:>12}  {account}" + (f"  class {klass}" if klass else ""))
        requests = [w.request for w in engine.writes_of(result)]
        from worker.qbxml.build import build_request
        from worker.qbxml.model import Tagged

        xml = wrap_requests([build_request(Tagged(str(i + 1), r)) for i, r in enumerate(requests)], company.qbwc.qbxml_version)
        click.echo("qbXML (requestIDs are outbox rows when really queued):")
        click.echo(etree.tostring(etree.fromstring(xml.split("?>", 2)[-1]), pretty_print=True, encoding="unicode"))
    return 0


# --- operator actions ------------------------------------------------------------------------------


def action_command(config: Config, action: str, reference: str, reason: str, force: bool) -> int:
    store = _store(config)
    actor = f"cli:{_user()}"
    try:
        row = store.run_sync(_act, reference, action, reason, actor, force)
    except (NotFound, InvalidTransition) as exc:
        click.echo(f"mlc {action}: {exc}", err=True)
        return EXIT_PROBLEM
    finally:
        store.close()
    click.echo(f"document {row['id']} ({row['concur_id']}): {row['state']}" + (f" — {row['reason']}" if row["reason"] else ""))
    return 0


def _act(conn: sqlite3.Connection, reference: str, action: str, reason: str, actor: str, force: bool):
    row = find(conn, reference)
    return apply_action(conn, row["id"], action, reason, actor, force)


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no login name on some service accounts
        return "unknown"


# --- reconcile ------------------------------------------------------------------------------------


def posted_lines(request_xml: str) -> list[PostedLine]:
    """Signed lines (debit positive) of a BillAdd or JournalEntryAdd request QuickBooks accepted."""
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


def reconcile_command(config: Config, company: CompanyConfig, date_from: str | None, date_to: str | None) -> int:
    try:
        start = dt.date.fromisoformat(date_from) if date_from else dt.date.min
        end = dt.date.fromisoformat(date_to) if date_to else dt.date.max
    except ValueError:
        click.echo("mlc reconcile: dates are YYYY-MM-DD", err=True)
        return EXIT_USAGE
    store = _store(config)
    try:
        result = store.run_sync(_reconcile, company, start, end)
    finally:
        store.close()
    click.echo(f"{'account':40} {'class':20} {'concur':>12} {'posted':>12} {'difference':>12}")
    for row in result.rows:
        mark = "" if row.difference == 0 else "  <-"
        click.echo(f"{row.account[:40]:40} {(row.klass or '')[:20]:20} {row.concur_total:>12.2f} {row.posted_total:>12.2f} {row.difference:>12.2f}{mark}")
    for item in result.unplanned:
        click.echo(f"not posted: {item.concur_id} {item.total:.2f} ({item.reason})")
    click.echo(f"Concur approved total {result.concur_total:.2f}, planned {result.planned_total:.2f}: {'balanced' if result.balanced else 'DIFFERENCES'}")
    return 0 if result.balanced else EXIT_PROBLEM


def _reconcile(conn: sqlite3.Connection, company: CompanyConfig, start: dt.date, end: dt.date, only_posted: bool = False):
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
        paid += paid_lines(doc, company)
    posted: list[PostedLine] = []
    for chunk in range(0, len(in_range), 500):
        ids = in_range[chunk:chunk + 500]
        marks = ",".join("?" * len(ids))
        for row in conn.execute(f"SELECT request_xml FROM postings WHERE document_id IN ({marks}) AND state = 'done' AND op IN ('BillAdd', 'JournalEntryAdd', 'BillPaymentCheckAdd')", ids):
            posted += posted_lines(row[0])
    return reconcile(pairs, posted, paid)


# --- audit ----------------------------------------------------------------------------------------


def audit_export_command(config: Config, company: CompanyConfig, fmt: str) -> int:
    store = _store(config)
    try:
        rows = store.run_sync(lambda conn: conn.execute("SELECT * FROM audit WHERE company IN (?, '*') ORDER BY id", (company.id,)).fetchall())
    finally:
        store.close()
    fields = ["id", "company", "document_id", "at", "actor", "action", "detail", "prev_hash", "hash"]
    if fmt == "csv":
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(fields)
        for row in rows:
            writer.writerow([row[f] for f in fields])
    else:
        for row in rows:
            entry = {f: row[f] for f in fields}
            entry["detail"] = json.loads(row["detail"])
            click.echo(json.dumps(entry, ensure_ascii=False))
    return 0


def audit_verify_command(config: Config) -> int:
    store = _store(config)
    try:
        problems = store.run_sync(audit.verify)
        count = store.run_sync(lambda conn: conn.execute("SELECT COUNT(*) FROM audit").fetchone()[0])
    finally:
        store.close()
    for problem in problems:
        click.echo(problem.message)
    if problems:
        click.echo(f"audit trail: {len(problems)} problem(s) in {count} entries", err=True)
        return EXIT_PROBLEM
    click.echo(f"audit trail intact: {count} entries")
    return 0
