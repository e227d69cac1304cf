"""The Financial Integration Service calls (CONCUR-API.md §3.3), through ConcurClient's HTTP policy
(tokens at the geolocation, refresh on 401/403, backoff on 429/5xx, an end to every retry).

    GET  {geo}/financialintegration/fi/v4/companies/transactiontypes/{docType}/transactions
    POST …/transactions/acknowledgements     {"systemId", "ids": [...]}
    POST …/transactions/postingconfirmations {"systemId", "postingConfirmations": [...]}

Answers to acknowledgements and confirmations are per document (``code``: 0 OK, 101 previously
acknowledged, 102/112 recalled, 103 not ready, 111 not acknowledged, 113 confirmation already
posted, 199 unknown error, retry later; §3.3's table). This module returns them as data; what each
code means for a document is decided by the caller (worker/concur/fis_sync.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from worker.concur.client import ConcurClient
from worker.concur.errors import BadConcurData

BASE = "/financialintegration/fi/v4/companies/transactiontypes"
DOC_TYPES = ("expense", "invoice")  # what ml-connector posts; FIS has cash advances, payroll, … too
SYSTEM_ID = ""  # no ERP system id: documents are not routed to several ERPs (§3.3 `systemId`)
PAGE_LIMIT = 25
MAX_PAGES = 1000

OK, PREVIOUSLY_ACKNOWLEDGED, RECALLED, NOT_READY = 0, 101, 102, 103
NOT_ACKNOWLEDGED, RECALLED_AT_CONFIRMATION, ALREADY_CONFIRMED, RETRY_LATER = 111, 112, 113, 199
RECALLED_CODES = frozenset({RECALLED, RECALLED_AT_CONFIRMATION})
DONE_CODES = frozenset({OK, PREVIOUSLY_ACKNOWLEDGED, ALREADY_CONFIRMED})


@dataclass(frozen=True)
class ItemResult:
    """One document's answer to an acknowledgement or a posting confirmation."""

    doc_id: str
    code: int
    result: str  # acknowledgeResult / postingConfirmationResult as Concur words it
    message: str = ""


def transactions_path(doc_type: str) -> str:
    return f"{BASE}/{doc_type}/transactions"


async def ready_documents(client: ConcurClient, company: str, doc_type: str, limit: int = PAGE_LIMIT) -> list[dict[str, Any]]:
    """Every READY document of ``doc_type``, following the HAL ``next`` links (bounded)."""
    items: list[dict[str, Any]] = []
    url: str | None = None
    for _ in range(MAX_PAGES):
        data = await (client.get(company, url) if url else client.get(company, transactions_path(doc_type), {"page": "0", "limit": str(limit)}))
        data = data or {}
        if not isinstance(data, dict):
            raise BadConcurData(f"FIS {doc_type} transactions: unexpected response")
        items.extend(item for item in data.get("content") or [] if isinstance(item, dict))
        url = next(
            (str(link.get("href")) for link in data.get("links") or [] if isinstance(link, dict) and link.get("rel") == "next" and link.get("href")), None
        )
        if not url or not data.get("content"):
            return items
    return items


def _results(data: Any, key: str) -> list[ItemResult]:
    rows = data if isinstance(data, list) else (data or {}).get("items") or (data or {}).get("content") or []
    results = []
    for row in rows:
        if isinstance(row, dict) and row.get("docId"):
            code = row.get("code")
            results.append(
                ItemResult(
                    str(row["docId"]),
                    int(code) if code is not None else OK,
                    str(row.get(key) or ""),
                    str(row.get("errorMessage") or row.get("detailMessage") or ""),
                )
            )
    return results


async def acknowledge(client: ConcurClient, company: str, doc_type: str, ids: list[str]) -> list[ItemResult]:
    data = await client.request(company, "POST", f"{transactions_path(doc_type)}/acknowledgements", json_body={"systemId": SYSTEM_ID, "ids": ids})
    return _results(data, "acknowledgeResult")


async def confirm(client: ConcurClient, company: str, doc_type: str, confirmations: list[dict[str, Any]]) -> list[ItemResult]:
    data = await client.request(
        company, "POST", f"{transactions_path(doc_type)}/postingconfirmations", json_body={"systemId": SYSTEM_ID, "postingConfirmations": confirmations}
    )
    return _results(data, "postingConfirmationResult")
