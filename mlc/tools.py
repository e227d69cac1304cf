"""The operator's shell commands that work on the store directly: plan, actions, reconcile, audit, qwc.

They may run while the worker runs (SQLite in WAL mode lets both in); the worker notices their
changes within its polling interval.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import getpass
import json
import sqlite3
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import click
from lxml import etree

from shared.config import CompanyConfig, Config
from worker.posting import engine
from worker.posting.actions import apply_action
from worker.posting.plan import Plan, plan_to_json
from worker.posting.reconciling import reconcile_company
from worker.qbwc.qwc import QwcError, build_qwc
from worker.qbxml.build import wrap_requests
from worker.store import audit
from worker.store.db import Store, StoreError, open_store
from worker.store.documents import InvalidTransition, NotFound, find

if TYPE_CHECKING:
    from worker.store.pg import PgStore

EXIT_PROBLEM = 1
EXIT_USAGE = 2


def _store(config: Config) -> Store | PgStore:
    try:
        return open_store(config)
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
        lists = engine.lists_view(conn, company.id)
        for txn in picture["transactions"]:
            click.echo(f"{txn['type']} {txn.get('ref_number', '')} dated {txn.get('txn_date', '')}")
            for line in txn.get("lines", []):
                side = line.get("side", "debit")
                account = (line.get("account") or {}).get("full_name") or ""
                klass = (line.get("klass") or {}).get("full_name") or ""
                number = lists.number_of(account)
                shown = f"{number} · {account}" if number else account
                click.echo(f"  {side:6} {line['amount']:>12}  {shown}" + (f"  class {klass}" if klass else ""))
        requests = [w.request for w in engine.writes_of(result)]
        from worker.qbxml.build import build_request
        from worker.qbxml.model import Tagged

        xml = wrap_requests([build_request(Tagged(str(i + 1), r)) for i, r in enumerate(requests)], company.qbwc.qbxml_version)
        click.echo("qbXML (requestIDs are outbox rows when really queued):")
        click.echo(etree.tostring(etree.fromstring(xml.split("?>", 2)[-1]), pretty_print=True, encoding="unicode"))
    return 0


# --- check-config: the configured accounts as QuickBooks knows them ------------------------------


def configured_accounts(company: CompanyConfig) -> dict[str, str]:
    """Every place the config names a QuickBooks account (key -> value: a full name or a number)."""
    named: dict[str, str] = {}
    posting = company.posting
    for name in vars(posting):
        value = getattr(posting, name)
        if name.endswith("_account") and isinstance(value, str) and value:
            named[f"posting.{name}"] = value
        elif name.endswith("_accounts") and isinstance(value, dict):
            named.update({f"posting.{name}.{k}": v for k, v in value.items()})
    mapping = company.mapping
    for table in ("expense_types", "accounts", "account_codes"):
        named.update({f"mapping.{table}.{k}": v for k, v in getattr(mapping, table).items()})
    return named


def store_report(config: Config) -> tuple[list[str], bool]:
    """For ``mlc check-config`` on PostgreSQL: can the worker reach the database, and at which
    schema version is it (the worker migrates an older one on start; a newer one it refuses).
    Returns the lines and whether the store is usable. SQLite needs no check: the file is made on start."""
    if not config.store.postgres:
        return [f"store: SQLite in {config.worker.data_dir / 'mlc.sqlite3'}"], True
    from worker.store import pg

    where = config.store.redacted
    try:
        with pg.connect(config.store.url.reveal()) as conn:
            version = pg.schema_version(conn)
            server = conn.info.server_version
    except StoreError as exc:
        return [f"store: {exc}"], False
    except Exception as exc:  # psycopg's own, already without the password (the URL is not in its text)
        return [f"store: {where}: {type(exc).__name__}"], False
    latest = len(pg.migrations())
    line = f"store: PostgreSQL {server // 10000}.{server % 10000} at {where}, schema version {version} of {latest}"
    if version > latest:
        return [line + ": newer than this mlc supports; upgrade ml-connector"], False
    if version < latest:
        line += " (brought up to date when a worker starts)"
    return [line], True


@contextlib.contextmanager
def _read_store(config: Config) -> Iterator[Any]:
    """A read-only connection to an existing, current store (None when there is none yet):
    check-config creates nothing and migrates nothing."""
    if config.store.postgres:
        from worker.store import pg

        try:
            conn = pg.connect(config.store.url.reveal())
        except StoreError:
            yield None
            return
        with conn:
            current = pg.schema_version(conn) == len(pg.migrations())
            with conn.transaction():
                conn.execute("SET TRANSACTION READ ONLY")
                yield pg.PgConnection(conn) if current else None
        return
    path = config.worker.data_dir / "mlc.sqlite3"
    if not path.exists():
        yield None
        return
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as lite:
        lite.row_factory = sqlite3.Row
        yield lite


def accounts_report(config: Config) -> list[str]:
    """For ``mlc check-config``: each configured account with its number and full name side by
    side, as the stored list cache knows them (read-only; no QuickBooks connection)."""
    lines: list[str] = []
    with _read_store(config) as conn:
        for company in config.companies:
            named = configured_accounts(company)
            lists = None
            if conn is not None:
                try:
                    lists = engine.lists_view(conn, company.id)
                except sqlite3.DatabaseError:  # a store from an older version, or not migrated yet
                    lists = None
            if lists is None or lists.accounts is None:
                lines.append(
                    f"company {company.id}: {len(named)} accounts named; numbers and full names unknown until the first Web Connector run reads the QuickBooks lists"
                )
                continue
            preference = {True: "on", False: "off", None: "not known yet"}[lists.numbers_in_use]
            lines.append(f"company {company.id}: accounts as the last Web Connector run saw them (account numbers {preference}):")
            for key, value in named.items():
                match = lists.account(value)
                if match.problem:
                    lines.append(f"  {key} = {value!r}: warning: {match.problem}")
                    continue
                number = lists.number_of(match.full_name)
                lines.append(f"  {key} = {value!r}: " + (f"{number} · {match.full_name}" if number else match.full_name))
    return lines


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


def reconcile_command(config: Config, company: CompanyConfig, date_from: str | None, date_to: str | None) -> int:
    try:
        start = dt.date.fromisoformat(date_from) if date_from else dt.date.min
        end = dt.date.fromisoformat(date_to) if date_to else dt.date.max
    except ValueError:
        click.echo("mlc reconcile: dates are YYYY-MM-DD", err=True)
        return EXIT_USAGE
    store = _store(config)
    try:
        result = store.run_sync(reconcile_company, company, start, end)
        lists = store.run_sync(engine.lists_view, company.id)
    finally:
        store.close()
    click.echo(f"{'account':40} {'class':20} {'cur':3} {'concur':>12} {'posted':>12} {'difference':>12}")
    for row in result.rows:
        mark = "" if row.difference == 0 else "  <-"
        number = lists.number_of(row.account)
        account = f"{number} · {row.account}" if number else row.account
        click.echo(
            f"{account[:40]:40} {(row.klass or '')[:20]:20} {row.currency[:3]:3} {row.concur_total:>12.2f} {row.posted_total:>12.2f} {row.difference:>12.2f}{mark}"
        )
    for item in result.unplanned:
        click.echo(f"not posted: {item.concur_id} {item.total:.2f} ({item.reason})")
    click.echo(f"Concur approved total {result.concur_total:.2f}, planned {result.planned_total:.2f}: {'balanced' if result.balanced else 'DIFFERENCES'}")
    return 0 if result.balanced else EXIT_PROBLEM


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
