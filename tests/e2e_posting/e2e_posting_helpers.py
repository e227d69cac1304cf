"""Shared pieces of the end-to-end posting tests: the whole product on loopback through
``mlc.harness`` (Concur simulator, the real worker, a simulated QuickBooks company file driven by
the Web Connector simulator), plus readers that compare what QuickBooks holds with what Concur
approved and what the worker planned.
"""

from __future__ import annotations

import json
import tomllib
from collections import Counter
from collections.abc import AsyncIterator, Callable, Collection
from contextlib import asynccontextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import tomli_w
import trio
from click.testing import CliRunner

from mlc import harness
from mlc.cli import main
from shared.config import load_config

REPO = Path(__file__).resolve().parents[2]
COMPANY = "demo"


@asynccontextmanager
async def running(
    run_dir: Path,
    *,
    reports: int = 4,
    invoices: int = 2,
    seed: int = 7,
    change: Callable[[dict], None] | None = None,
    before_worker: Callable[[harness.Harness], None] | None = None,
    concur_profile: str = "simple",
    store_url: str | None = None,
) -> AsyncIterator[harness.Harness]:
    """The harness with the repo's demo config; ``change`` edits the run config before the worker
    starts (so the worker starts with it, no reload involved)."""
    config = load_config(REPO / "mlc.toml", environ={})
    async with trio.open_nursery() as nursery:
        h = await harness.start(
            nursery,
            config,
            run_dir,
            seed=seed,
            reports=reports,
            invoices=invoices,
            worker_port=0,
            concur_port=0,
            start_worker=False,
            concur_profile=concur_profile,
            store_url=store_url,
        )
        if change is not None:
            harness.edit_run_config(h, change)
        if before_worker is not None:
            before_worker(h)
        h._e2e_nursery = nursery  # type: ignore[attr-defined]
        await harness.start_worker_in(nursery, h, 0)
        try:
            yield h
        finally:
            if h.worker is not None:
                await harness.stop_worker(h)
            nursery.cancel_scope.cancel()


async def mlc(h: harness.Harness, *args: str) -> tuple[int, str]:
    """The real ``mlc`` command line against the run config (click's CliRunner in a thread, as if
    typed in another terminal): (exit code, output)."""

    def invoke() -> tuple[int, str]:
        result = CliRunner().invoke(main, ["--config", str(h.config.path), *args], catch_exceptions=False)
        return result.exit_code, result.output

    return await trio.to_thread.run_sync(invoke)


async def restart_worker(h: harness.Harness) -> None:
    """Start the worker again on the same data (after ``harness.stop_worker``)."""
    await harness.start_worker_in(h._e2e_nursery, h, 0)  # type: ignore[attr-defined]


def write_raw_config(h: harness.Harness, text: str) -> None:
    """Write the run config file as text (a bad edit: the harness' editor would refuse it)."""
    h.config.path.write_text(text, encoding="utf-8")


def raw_config(h: harness.Harness) -> dict:
    return tomllib.loads(h.config.path.read_text(encoding="utf-8"))


def dumps(raw: dict) -> str:
    return tomli_w.dumps(raw)


# --- the worker's store ----------------------------------------------------------------------------


async def api_get(h: harness.Harness, path: str, **params: str) -> Any:
    """The operator API over real HTTP, with the operator's token (what the console sees)."""
    import httpx

    from shared.tokens import read_tokens

    token = read_tokens(h.config.operator.token_file)[0].token
    async with httpx.AsyncClient(timeout=10) as client:
        reply = await client.get(h.worker.url + "/api/v1" + path, params=params, headers={"Authorization": f"Bearer {token}"})
    assert reply.status_code == 200, reply.text
    return reply.json()


async def all_duplicates(h: harness.Harness, limit: str = "2") -> list[dict]:
    """Every item of ``GET /api/v1/duplicates``, page by page (small pages exercise the cursor)."""
    items: list[dict] = []
    cursor = ""
    while True:
        page = await api_get(h, "/duplicates", limit=limit, **({"cursor": cursor} if cursor else {}))
        items += page["items"]
        if not page["next_cursor"]:
            return items
        cursor = page["next_cursor"]


async def sql(h: harness.Harness, query: str, *args: Any) -> list[dict]:
    assert h.worker is not None
    return await h.worker.ctx.store.run(lambda conn: [dict(r) for r in conn.execute(query, args).fetchall()])


async def documents(h: harness.Harness) -> list[dict]:
    return await sql(h, "SELECT * FROM documents ORDER BY id")


async def document(h: harness.Harness, concur_id: str) -> dict:
    rows = await sql(h, "SELECT * FROM documents WHERE concur_id = ?", concur_id)
    assert len(rows) == 1, f"{concur_id}: {len(rows)} documents"
    return rows[0]


async def audit_count(h: harness.Harness, action: str, document_id: int | None = None) -> int:
    if document_id is None:
        rows = await sql(h, "SELECT COUNT(*) AS n FROM audit WHERE action = ?", action)
    else:
        rows = await sql(h, "SELECT COUNT(*) AS n FROM audit WHERE action = ? AND document_id = ?", action, document_id)
    return rows[0]["n"]


async def wait_for(h: harness.Harness, query: str, *args: Any, check: Callable[[list[dict]], bool], seconds: float = 10.0, what: str = "") -> list[dict]:
    """Poll the store until ``check(rows)`` holds; fail with the last rows after ``seconds``."""
    rows: list[dict] = []
    with trio.move_on_after(seconds):
        while True:
            rows = await sql(h, query, *args)
            if check(rows):
                return rows
            await trio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what or query}: {rows}")


async def wait_state(h: harness.Harness, concur_id: str, states: tuple[str, ...], seconds: float = 10.0) -> dict:
    rows = await wait_for(
        h,
        "SELECT * FROM documents WHERE concur_id = ?",
        concur_id,
        check=lambda rows: bool(rows) and rows[0]["state"] in states,
        seconds=seconds,
        what=f"{concur_id} in {states}",
    )
    return rows[0]


async def wait_fetched_all(h: harness.Harness, count: int, seconds: float = 10.0) -> list[dict]:
    """Until ``count`` documents left ``received`` (fetched, planned or beyond)."""
    return await wait_for(
        h, "SELECT * FROM documents WHERE state != 'received'", check=lambda rows: len(rows) >= count, seconds=seconds, what=f"{count} documents fetched"
    )


# --- QuickBooks and the plans --------------------------------------------------------------------


def qb_transactions(h: harness.Harness) -> list[tuple[str, dict]]:
    return harness.quickbooks_transactions(h.company_file)


def _name(h: harness.Harness, ref: dict | None) -> str | None:
    if not ref:
        return None
    return h.company_file.ref_name(ref)


def qb_signed_lines(h: harness.Harness, kind: str, txn: dict) -> list[tuple[str, str | None, Decimal]]:
    """(account, class, signed amount: debit positive) of one QuickBooks transaction."""
    lines: list[tuple[str, str | None, Decimal]] = []
    if kind == "Bill":
        total = Decimal(0)
        for line in txn.get("ExpenseLineRet", []):
            amount = Decimal(line["Amount"])
            total += amount
            lines.append((_name(h, line.get("AccountRef")) or "", _name(h, line.get("ClassRef")), amount))
        lines.append((_name(h, txn.get("APAccountRef")) or "Accounts Payable", None, -total))
    else:
        for line in txn.get("Lines", []):
            sign = 1 if line["_tag"] == "JournalDebitLine" else -1
            lines.append((_name(h, line.get("AccountRef")) or "", _name(h, line.get("ClassRef")), sign * Decimal(line["Amount"])))
    return lines


def totals(lines) -> Counter:
    result: Counter = Counter()
    for account, klass, amount in lines:
        result[(account, klass)] += amount
    return Counter({k: v for k, v in result.items() if v})


def by_account(per_class: Counter) -> Counter:
    result: Counter = Counter()
    for (account, _klass), amount in per_class.items():
        result[account] += amount
    return Counter({k: v for k, v in result.items() if v})


def qb_totals(h: harness.Harness) -> Counter:
    """Per (account, class) signed totals of everything in the QuickBooks company file."""
    return totals(line for kind, txn in qb_transactions(h) for line in qb_signed_lines(h, kind, txn))


def plan_signed_lines(plan: dict) -> list[tuple[str, str | None, Decimal]]:
    lines: list[tuple[str, str | None, Decimal]] = []
    for txn in plan.get("transactions", []):
        if txn["type"] == "BillAdd":
            total = Decimal(0)
            for line in txn["lines"]:
                amount = Decimal(line["amount"])
                total += amount
                lines.append((line["account"]["full_name"], (line.get("klass") or {}).get("full_name"), amount))
            lines.append(((txn.get("ap_account") or {}).get("full_name") or "Accounts Payable", None, -total))
        else:
            for line in txn["lines"]:
                sign = 1 if line.get("side", "debit") == "debit" else -1
                lines.append((line["account"]["full_name"], (line.get("klass") or {}).get("full_name"), sign * Decimal(line["amount"])))
    return lines


async def plan_totals(h: harness.Harness) -> Counter:
    """Per (account, class) signed totals of the plans of every posted document."""
    rows = await sql(h, "SELECT plan FROM documents WHERE state = 'posted'")
    return totals(line for row in rows for line in plan_signed_lines(json.loads(row["plan"])))


def concur_account_totals(h: harness.Harness, skip: Collection[str] = ()) -> Counter:
    """What Concur approved, per QuickBooks account, computed from the simulator's own data and the
    run config's mapping (independent of the worker's planner): the business part of each expense
    (per itemization where itemized) debits the mapped account; a report's other side is Concur's
    own header figures (the simulator's ``Report.header()``): A/P for amountDueEmployee, the card
    for amountDueCompanyCard, the company-paid account for amountCompanyPaid, the receivable for
    amountDueCompany, the advance account for the cash advance applied; invoices credit A/P.
    ``skip``: Concur ids left out (documents a test expects to be held)."""
    company = (h.worker.ctx.config if h.worker is not None else h.config).companies[0]  # the config the worker runs
    posting = company.posting
    mapping = company.mapping.expense_types
    data = h.concur.companies[COMPANY].data
    result: Counter = Counter()
    for report in data.reports.values():
        if report.status != "A_APPR" or report.deleted or report.id in skip:
            continue
        for expense in report.expenses:
            if expense.personal:
                continue
            for part in expense.itemizations or [expense]:
                if not getattr(part, "personal", False):
                    result[mapping[part.type_code]] += part.amount
        figures = report.header()
        result[posting.ap_account] -= figures["amountDueEmployee"]
        result[posting.company_card_account] -= figures["amountDueCompanyCard"]
        result[posting.company_paid_account or posting.company_card_account] -= figures["amountCompanyPaid"]
        result[posting.employee_receivable_account] += figures["amountDueCompany"]
        result[posting.cash_advance_account] -= figures["cashAdvanceApplied"]
    for invoice in data.invoices.values():
        if invoice.status != "A_APPR" or invoice.deleted or invoice.id in skip:
            continue
        for line in invoice.lines:
            result[mapping[line.type_code]] += line.amount
        result[posting.ap_account] -= invoice.total
    return Counter({k: v for k, v in result.items() if v})


def approved_reports(h: harness.Harness) -> list:
    return [r for r in h.concur.companies[COMPANY].data.reports.values() if r.status == "A_APPR" and not r.deleted]


def pending_reports(h: harness.Harness) -> list:
    return [r for r in h.concur.companies[COMPANY].data.reports.values() if r.status != "A_APPR" and not r.deleted]


async def qb_txns_for(h: harness.Harness, concur_id: str) -> list[tuple[str, dict]]:
    """QuickBooks transactions of one Concur document (by the ExternalGUIDs of its plan)."""
    doc = await document(h, concur_id)
    guids = {t["external_guid"] for t in json.loads(doc["plan"] or "{}").get("transactions", [])}
    return [(k, t) for k, t in qb_transactions(h) if t.get("ExternalGUID") in guids]
