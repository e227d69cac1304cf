"""Fetch and sweep against the simulator: content to the cent, checkpoints, missed webhooks."""

import datetime as dt
from decimal import Decimal

import pytest
import trio

from shared.domain import from_json, to_json
from shared.types import DocKind
from sim.concur.data import Report
from sim.concur.server import SECONDARY
from worker.concur.fetch import MemoryListItemCache, fetch_document
from worker.concur.sweep import query_date, sweep

from concur_helpers import company_params, running


def assert_report_matches(doc, report: Report, sim_company):
    owner = sim_company.data.employees[report.owner]
    assert doc.report_id == report.id and doc.approval_status == report.status
    assert doc.total == report.total and doc.currency == report.currency
    assert doc.owner.employee_id == owner.uuid.lower() and doc.owner.name == owner.display_name
    assert doc.owner.employee_code == owner.employee_number
    assert len(doc.expenses) == len(report.expenses)
    for got, want in zip(doc.expenses, report.expenses, strict=True):
        assert (got.expense_id, got.expense_type, got.payment_type) == (want.id, want.type_code, want.payment_code)
        assert got.amount == want.amount and got.transaction_date == want.date
        assert got.merchant == (want.merchant or "")
        assert [a.amount for a in got.allocations] == [a.amount for a in want.allocations]
        assert sum(a.amount for a in got.allocations) == got.amount  # to the cent, Concur's own split
        items = sim_company.data.list_items
        assert [a.fields for a in got.allocations] == [
            {**{k: items[v].code for k, v in a.custom.items()}, "accountCode": a.account_code} for a in want.allocations
        ]
        assert [(a.account_code, a.over_limit_account_code) for a in got.allocations] == [
            (a.account_code, a.over_limit_account_code or "") for a in want.allocations
        ]


@pytest.mark.trio
async def test_fetch_every_report_and_invoice_equals_the_sim_to_the_cent():
    async with running([company_params(reports=8, invoices=4)]) as env:
        company = env.sim.companies["acme"]
        cache = MemoryListItemCache()
        for report in company.data.reports.values():
            href = f"https://us.api.concursolutions.com/expensereports/v4/users/{report.owner.upper()}/context/TRAVELER/reports/{report.id}"
            doc = await fetch_document(env.client, "acme", DocKind.EXPENSE_REPORT, href, cache=cache)
            assert_report_matches(doc, report, company)
            assert from_json(to_json(doc)) == doc  # storable as is
        for invoice in company.data.invoices.values():
            doc = await fetch_document(env.client, "acme", "invoice", invoice.id)  # ids contain '$'
            assert doc.request_id == invoice.id and doc.total == invoice.total
            assert doc.vendor_name == invoice.vendor_name and doc.vendor_code == invoice.vendor_code
            assert [li.amount for li in doc.lines] == [li.amount for li in invoice.lines]
            assert sum(li.amount for li in doc.lines) == doc.total
            for got, want in zip(doc.lines, invoice.lines, strict=True):
                assert [a.percentage for a in got.allocations] == [a.percentage for a in want.allocations]
                assert sum(a.percentage for a in got.allocations) == Decimal(100)
        # Every API call went to the token's geolocation, never to the href's host.
        assert all(r.dc == "primary" for r in env.sim.requests)


@pytest.mark.trio
async def test_list_items_are_cached_across_fetches():
    async with running([company_params(reports=6)]) as env:
        cache = MemoryListItemCache()
        reports = list(env.sim.companies["acme"].data.reports.values())
        for _ in range(2):
            for report in reports:
                await fetch_document(env.client, "acme", "expense_report", env.client.report_path(report.owner, report.id), cache=cache)
        lookups = env.sim.calls("acme", "/list/v4/items")
        assert len(lookups) == len({c.path for c in lookups})  # each item fetched once
        assert lookups


@pytest.mark.trio
async def test_fetch_follows_the_token_geolocation_for_a_company_elsewhere():
    async with running([company_params(home=SECONDARY, reports=2)]) as env:
        report = next(iter(env.sim.companies["acme"].data.reports.values()))
        await fetch_document(env.client, "acme", "expense_report", env.client.report_path(report.owner, report.id))
        assert {r.dc for r in env.sim.calls("acme") if not r.path.startswith("/oauth2")} == {SECONDARY}


@pytest.mark.trio
async def test_modified_report_fetches_the_new_amounts():
    async with running() as env:
        report = next(iter(env.sim.companies["acme"].data.reports.values()))
        path = env.client.report_path(report.owner, report.id)
        before = await fetch_document(env.client, "acme", "expense_report", path)
        env.sim.modify(report.id, Decimal("0.01"))
        after = await fetch_document(env.client, "acme", "expense_report", path)
        assert after.total == before.total + Decimal("0.01")
        assert sum(a.amount for a in after.expenses[0].allocations) == after.expenses[0].amount


def test_query_date_overlaps_and_never_leaves_a_gap():
    now = dt.datetime(2026, 3, 10, 0, 30, tzinfo=dt.UTC)
    assert query_date(now, now, dt.timedelta(hours=2), dt.timedelta(days=30)) == dt.date(2026, 3, 8)
    assert query_date(None, now, dt.timedelta(hours=2), dt.timedelta(days=30)) == dt.date(2026, 2, 7)


@pytest.mark.trio
async def test_sweep_lists_everything_with_hrefs_and_pages():
    async with running([company_params(reports=7, invoices=3)]) as env:
        result = await sweep(env.client, "acme", None)
        data = env.sim.companies["acme"].data
        reports = [f for f in result.found if f.kind is DocKind.EXPENSE_REPORT]
        assert {f.object_id for f in reports} == set(data.reports)
        assert {f.object_id for f in result.found if f.kind is DocKind.INVOICE} == set(data.invoices)
        for found in reports:
            assert found.href == env.client.report_path(data.reports[found.object_id].owner, found.object_id)
            assert found.approval_status == "A_PEND"
        paged = await env.client.list_reports_modified_since("acme", dt.date(2000, 1, 1), limit=2)
        assert sorted(r["ID"] for r in paged) == sorted(data.reports)
        assert len(env.sim.calls("acme", "/api/v3.0/expense/reports")) >= 1 + 4  # 7 items / 2 per page


@pytest.mark.trio
async def test_sweep_from_checkpoint_finds_changes_whose_webhooks_were_lost():
    async with running([company_params(reports=6, invoices=2)]) as env:
        sim = env.sim
        data = sim.companies["acme"].data
        first = await sweep(env.client, "acme", None)
        await trio.sleep(0.01)
        report_ids = list(data.reports)
        sim.approve(report_ids[0])
        sim.approve(report_ids[3])
        invoice_id = next(iter(data.invoices))
        sim.approve_invoice(invoice_id)
        assert sim.drop_pending_events() == 3  # the worker was down past Concur's retention
        # Backdate old documents so the window matters: only recent changes fall inside it.
        old = dt.datetime.now(dt.UTC) - dt.timedelta(days=10)
        for rid in report_ids[1:3] + report_ids[4:]:
            data.reports[rid].modified = old
        second = await sweep(env.client, "acme", first.checkpoint, resolve_statuses=frozenset({"A_APPR"}))
        approved = {(f.kind, f.object_id) for f in second.found if f.approval_status == "A_APPR"}
        assert approved == {(DocKind.EXPENSE_REPORT, report_ids[0]), (DocKind.EXPENSE_REPORT, report_ids[3]), (DocKind.INVOICE, invoice_id)}
        assert not {f.object_id for f in second.found} & set(report_ids[1:3] + report_ids[4:])
        assert second.checkpoint > first.checkpoint
        # A mini pipeline: fetch what is postable and not yet known, exactly once.
        known: set[tuple[str, str]] = set()
        fetched = []
        for run in (second, await sweep(env.client, "acme", second.checkpoint)):
            for found in run.found:
                if found.approval_status == "A_APPR" and (found.kind, found.object_id) not in known:
                    ref = found.href or found.object_id
                    if found.kind is DocKind.EXPENSE_REPORT and not found.href:
                        continue
                    doc = await fetch_document(env.client, "acme", found.kind, ref)
                    known.add((found.kind, found.object_id))
                    fetched.append(doc.concur_id)
        assert sorted(fetched) == sorted([report_ids[0], report_ids[3], invoice_id])
        assert sum(d for d in [data.reports[report_ids[0]].total, data.reports[report_ids[3]].total, data.invoices[invoice_id].total]) == sim.totals_approved(
            "acme"
        )
