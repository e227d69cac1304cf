"""Fetch one Concur document in full and normalise it (the I/O shell around normalise.py)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol

from shared.domain import Document
from shared.types import CONCUR_PAID, DocKind
from worker.concur import normalise
from worker.concur.client import ConcurClient
from worker.concur.errors import BadConcurData

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ListItem:
    item_id: str
    code: str
    value: str


class ListItemCache(Protocol):
    """Concur list items rarely change; the worker backs this with the concur_list_items table."""

    async def get(self, company: str, item_id: str) -> ListItem | None: ...

    async def put(self, company: str, item: ListItem) -> None: ...


class MemoryListItemCache:
    def __init__(self) -> None:
        self.items: dict[tuple[str, str], ListItem] = {}

    async def get(self, company: str, item_id: str) -> ListItem | None:
        return self.items.get((company, item_id))

    async def put(self, company: str, item: ListItem) -> None:
        self.items[(company, item.item_id)] = item


async def resolve_list_items(client: ConcurClient, company: str, ids: set[str], cache: ListItemCache | None) -> dict[str, str]:
    """List item id -> code, through the cache. Ids Concur does not know are left out (the raw
    value is then kept: allocation customData may be free text that merely looks like an id)."""
    codes: dict[str, str] = {}
    for item_id in sorted(ids):
        item = await cache.get(company, item_id) if cache else None
        if item is None:
            data = await client.get_list_item(company, item_id)
            if not data:
                continue
            item = ListItem(item_id=item_id, code=str(data.get("code") or data.get("shortCode") or data.get("value") or ""), value=str(data.get("value") or ""))
            if cache:
                await cache.put(company, item)
        codes[item_id] = item.code
    return codes


async def fetch_expense_report(client: ConcurClient, company: str, href: str, *, cache: ListItemCache | None = None, modified_at: str = "") -> Document:
    """``href`` is the v4 report URL (from the event, or built by the sweep from the owner's UUID)."""
    user_id, context, report_id = normalise.parse_report_href(href)
    path = client.report_path(user_id, report_id, context)
    report = await client.get_report(company, path)
    if not isinstance(report, dict):
        raise BadConcurData(f"report {report_id}: unexpected response")
    owner_id = str(report.get("userId") or user_id)  # the owner, whoever acted on the report
    expenses = await client.get_expenses(company, path)
    allocations: dict[str, list[dict]] = {}
    itemizations: dict[str, list[dict]] = {}
    for index, expense in enumerate(expenses):
        if expense.get("isPersonalExpense"):
            continue  # wholly personal: no company share to allocate
        expense_id = str(expense.get("expenseId") or "")
        if "isExpenseBillable" not in expense:
            # Billable is a detail-only field (Reports v4 ReportEntryDetail): without it QuickBooks'
            # own default would decide a customer:job line's BillableStatus (issue 12).
            detail = await client.get_expense(company, path, expense_id)
            if "isExpenseBillable" in detail:
                expenses[index] = {**expense, "isExpenseBillable": detail["isExpenseBillable"]}
        allocations[expense_id] = await client.get_allocations(company, path, expense_id)
        if normalise.has_itemizations_link(expense):
            items = await client.get_itemizations(company, path, expense_id)
            if items:
                itemizations[expense_id] = items
            for item in items:
                item_id = str(item.get("expenseId") or "")
                if item_id and not item.get("isPersonalExpense"):
                    # Assumption: an itemization is an expense of the report, so its allocations
                    # are read at …/expenses/{itemizationId}/allocations like any expense's.
                    allocations[item_id] = await client.get_allocations(company, path, item_id)
    ids = set().union(*(normalise.allocation_list_item_ids(a) for a in allocations.values())) if allocations else set()
    codes = await resolve_list_items(client, company, ids, cache)
    owner = await client.get_user(company, owner_id)
    paid_date = None
    if report.get("paymentStatusId") == CONCUR_PAID:
        # v4 states no paid date; the v3 report does (PaidDate), read as the owner's.
        login = str((owner or {}).get("userName") or "") if isinstance(owner, dict) else ""
        paid_date = normalise.report_paid_date(await client.get_report_v3(company, report_id, login))
    return normalise.normalise_report(report, expenses, allocations, owner, codes.get, modified_at, itemizations, paid_date=paid_date)


async def fetch_invoice(client: ConcurClient, company: str, request_id: str, *, modified_at: str = "") -> Document:
    request = await client.get_payment_request(company, request_id)
    if not isinstance(request, dict):
        raise BadConcurData(f"payment request {request_id}: unexpected response")
    digest = await client.get_payment_request_digest(company, request_id)  # carries VendorCode, LastModifiedDate
    _, disagreement = normalise.invoice_approval_status(request, digest if isinstance(digest, dict) else None)
    if disagreement:
        log.warning("%s (company %s)", disagreement, company)
    return normalise.normalise_invoice(request, digest, modified_at)


async def fetch_document(
    client: ConcurClient, company: str, kind: DocKind | str, ref: str, *, cache: ListItemCache | None = None, modified_at: str = ""
) -> Document:
    """``ref``: the v4 report href for expense reports (a bare report id cannot be read through v4:
    its URL needs the owner), the payment request id for invoices."""
    kind = DocKind(kind)
    if kind is DocKind.EXPENSE_REPORT:
        return await fetch_expense_report(client, company, ref, cache=cache, modified_at=modified_at)
    return await fetch_invoice(client, company, ref, modified_at=modified_at)
