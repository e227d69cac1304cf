"""Catch-up sweep: what changed in Concur since a checkpoint, whatever the webhooks did.

Webhooks make it fast; this makes it complete (invoices have no documented topic, ESS keeps
events only 72 h, dead subscriptions vanish). The lead's job stores the checkpoint and decides
which documents are new or changed; the sweep only lists.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from shared.types import DocKind
from worker.concur.client import ConcurClient

DEFAULT_OVERLAP = dt.timedelta(hours=2)
DEFAULT_INITIAL_LOOKBACK = dt.timedelta(days=30)


@dataclass(frozen=True)
class Found:
    kind: DocKind
    object_id: str
    modified_at: str  # Concur's LastModifiedDate as given (v3: no zone)
    approval_status: str = ""
    payment_status: str = ""
    href: str | None = None  # v4 report href (None when the owner could not be resolved)
    deleted: bool = False
    total: str = ""
    currency: str = ""


@dataclass(frozen=True)
class SweepResult:
    found: list[Found]
    checkpoint: dt.datetime  # store it; pass it as ``since`` next time


def query_date(since: dt.datetime | None, now: dt.datetime, overlap: dt.timedelta, initial_lookback: dt.timedelta) -> dt.date:
    """v3 filters take a date (``…After=YYYY-MM-DD``) whose inclusiveness is undocumented: step one
    more day back so the overlapping window never has a gap."""
    start = (since - overlap) if since is not None else (now - initial_lookback)
    return start.date() - dt.timedelta(days=1)


def _truthy(value: object) -> bool:
    return str(value).strip().lower() in ("true", "1", "yes")


async def sweep(
    client: ConcurClient,
    company: str,
    since: dt.datetime | None,
    *,
    now: dt.datetime | None = None,
    overlap: dt.timedelta = DEFAULT_OVERLAP,
    initial_lookback: dt.timedelta = DEFAULT_INITIAL_LOOKBACK,
    resolve_statuses: frozenset[str] | None = None,
) -> SweepResult:
    """List reports and payment requests modified since ``since`` (minus ``overlap``).

    The checkpoint returned is the time the listing *started*, so anything modified while it ran is
    seen again next time. Owners of reports are resolved login -> UUID to build the v4 href; with
    ``resolve_statuses`` only reports in those approval statuses are resolved (saves calls).
    """
    started = now or client.now()
    after = query_date(since, started, overlap, initial_lookback)
    found: list[Found] = []
    owners: dict[str, str | None] = {}
    for item in await client.list_reports_modified_since(company, after):
        report_id = str(item.get("ID") or "")
        if not report_id:
            continue
        status = str(item.get("ApprovalStatusCode") or "")
        href = None
        login = str(item.get("OwnerLoginID") or "")
        if login and (resolve_statuses is None or status in resolve_statuses):
            if login not in owners:
                user = await client.find_user_by_login(company, login)
                owners[login] = str(user["id"]) if user and user.get("id") else None
            if owner := owners[login]:
                href = client.report_path(owner, report_id)
        found.append(
            Found(
                kind=DocKind.EXPENSE_REPORT,
                object_id=report_id,
                modified_at=str(item.get("LastModifiedDate") or ""),
                approval_status=status,
                payment_status=str(item.get("PaymentStatusCode") or ""),
                href=href,
                total=str(item.get("Total") if item.get("Total") is not None else ""),
                currency=str(item.get("CurrencyCode") or ""),
            )
        )
    for digest in await client.list_payment_request_digests_since(company, after):
        request_id = str(digest.get("PaymentRequestId") or digest.get("ID") or "")
        if not request_id:
            continue
        found.append(
            Found(
                kind=DocKind.INVOICE,
                object_id=request_id,
                modified_at=str(digest.get("LastModifiedDate") or ""),
                approval_status=str(digest.get("ApprovalStatusCode") or ""),
                payment_status=str(digest.get("PaymentStatusCode") or ""),
                deleted=_truthy(digest.get("IsDeleted")),
                total=str(digest.get("Total") or ""),
                currency=str(digest.get("CurrencyCode") or ""),
            )
        )
    return SweepResult(found=found, checkpoint=started)
