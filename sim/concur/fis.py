"""The Financial Integration Service of the Concur simulator (CONCUR-API.md §3.3 and §2 events).

Documents are queued READY when a report or invoice of a FIS-enabled company is approved (or by
``ConcurSim.fis_queue``); each queueing is a new FIS document id: a version. The content is a
snapshot rendered at queueing time from the same data the v4/v3 endpoints serve, so the journal
account codes equal the v4 ``accountCode`` and the amounts equal the v4 allocation amounts.

Status codes as §3.3 lists them: acknowledgement 0 (done), 101 (previously acknowledged), 102
(recalled), 103 (not ready), 104 (does not exist); posting confirmation 0, 111 (not acknowledged),
112 (recalled), 113 (confirmation already posted), 104, and 199 (unknown error: retry later) by
knob. HTTP status is 200 with per-document codes (assumption: the swagger only says 200/202/4xx).

Assumptions where the documents are silent (to go in the README):
- The invoice document's shape (``requestHeader``, ``vendor``, ``lineItem[]`` with
  ``allocation[]``/``journal[]``): no public example exists.
- ``requestHeader.requestId`` is the Invoice v3 payment request ID.
- An itemized expense appears as one expense entry per itemization (the parent carries no journal).
- Personal expenses are entries with ``entryIsPersonal = "Y"``, approved 0, and no journal.
- An ``error`` confirmation sends the document back to its processor (report status A_RESU);
  ``ConcurSim.fis_queue`` queues it again as a new version once "fixed".
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from sim.concur import render
from sim.concur.data import Allocation, CompanyData, Expense, Invoice, InvoiceAllocation, Report, split_amount

if TYPE_CHECKING:
    from sim.concur.server import ConcurSim, SimCompany

FIS_TOPIC = "public.concur.financialintegration"
BASE = "/financialintegration/fi/v4/companies/transactiontypes/"


@dataclass
class FisDocument:
    fis_id: str
    doc_type: str  # expense | invoice
    concur_id: str
    company: str
    document: dict[str, Any]
    status: str = "READY"  # READY | ACKNOWLEDGED | RECALLED | POSTING_CONFIRMED_SUCCESS | POSTING_CONFIRMED_FAILURE
    acknowledgements: int = 0
    confirmations: list[dict[str, Any]] = field(default_factory=list)  # every accepted confirmation item


@dataclass
class FisState:
    documents: dict[str, FisDocument] = field(default_factory=dict)
    recall_on_ack: set[str] = field(default_factory=set)  # fis ids recalled between the GET and the acknowledgement
    confirmation_codes: list[int] = field(default_factory=list)  # forced codes for the next confirmations (e.g. 199)
    requests: list[tuple[str, str]] = field(default_factory=list)  # (call, fis id) in order: "get", "ack", "confirm"

    def of(self, concur_id: str) -> list[FisDocument]:
        return [d for d in self.documents.values() if d.concur_id == concur_id]


def _n(value: Decimal) -> Decimal:
    return value.quantize(Decimal("1E-8"))


def _allocation(a: Allocation | InvoiceAllocation, amount: Decimal, data: CompanyData, payee: str, type_code: str = "") -> dict[str, Any]:
    body: dict[str, Any] = {"allocationPercentage": _n(a.percentage), "allocationId": getattr(a, "id", "")}
    for key, value in sorted(a.custom.items()):
        number = key.lower().removeprefix("custom")
        item = data.list_items.get(value)
        body[f"allocationCustom{number}Code"] = item.code if item else value
        body[f"allocationCustom{number}Value"] = item.value if item else value
    body["journal"] = [
        {
            "amountGross": _n(amount),
            "amountGrossCard": None,
            "journalAccountCode": a.account_code,
            "journalPayee": payee,
            "journalPayer": "COMP",
            "amountNetOfReclaim": _n(amount),
            "amountNetOfTax": _n(amount),
            "accountingTransactionType": None,
            "taxGuid": [],
        }
    ]
    return body


def _entry(
    entry_id: str,
    type_code: str,
    type_name: str,
    date: dt.date,
    approved: Decimal,
    expense: Expense,
    report: Report,
    data: CompanyData,
    allocations: list[Allocation],
    personal: bool,
) -> dict[str, Any]:
    payee = "EMPL" if expense.payment_code in ("CASH", "IBIP") else "CARD"
    return {
        "entryId": entry_id,
        "entryDescription": expense.purpose,
        "entryVendorCode": expense.merchant,
        "entryVendorDescription": expense.merchant,
        "entryApprovedAmount": _n(approved),
        "reportEntryTransactionAmount": _n(expense.transaction_amount),
        "entryCurrAlphaCode": expense.transaction_currency,
        "entryExchangeRate": expense.exchange_rate,
        "entryExchangeRateDirection": "M",
        "entryDate": f"{date.isoformat()}T00:00:00.000Z",
        "expenseTypeCode": type_code,
        "expenseTypeName": type_name,
        "reportEntryPatKey": expense.payment_code,
        "entryIsPersonal": "Y" if personal else "N",
        "entryIsBillable": "Y" if expense.billable else "N",
        "expensePayIndicator": "N",
        "allocation": [] if personal else [_allocation(a, a.amount, data, payee, type_code) for a in allocations],
    }


def expense_document(report: Report, data: CompanyData) -> dict[str, Any]:
    owner = data.employees[report.owner]
    entries = []
    for e in report.expenses:
        if e.itemizations:
            entries += [_entry(i.id, i.type_code, i.type_name, e.date, i.business, e, report, data, i.allocations, i.personal) for i in e.itemizations]
        else:
            entries.append(_entry(e.id, e.type_code, e.type_name, e.date, e.business, e, report, data, e.allocations, e.personal))
    applied = report.header()["cashAdvanceApplied"]
    return {
        "employee": {"employeeId": owner.employee_number, "employeeFirstName": owner.given, "employeeLastName": owner.family, "employeeMI": None},
        "report": {
            "requestId": [],
            "reportName": report.name,
            "employeeCurrencyAlphaCode": report.currency,
            "reportId": report.id,
            "totalApprovedAmount": _n(report.total),
            "isTest": "N",
            "ledgerCode": "DEFAULT",
            "cashAdvanceReturnsAmount": 0,
            "reportSubmitDate": render.iso_z(report.submitted or report.created),
            "reportUserDefinedDate": f"{report.report_date.isoformat()}T00:00:00.000Z",
            "reportCreationDate": render.iso_z(report.created),
            "homeCountryCode": "US",
        },
        "expenseEntry": entries,
        "cashAdvanceApplication": [{"cashAdvanceId": f"CA-{report.id[:8]}", "amountApplied": _n(applied)}] if applied else [],
    }


def invoice_document(invoice: Invoice) -> dict[str, Any]:
    remit = invoice.remit
    lines = []
    for line in invoice.lines:
        shares = split_amount(line.amount, tuple(a.percentage for a in line.allocations))
        lines.append(
            {
                "lineItemId": line.id,
                "lineItemDescription": line.description,
                "expenseTypeCode": line.type_code,
                "lineItemQuantity": line.quantity,
                "lineItemUnitPrice": line.unit_price,
                "lineItemTotalPrice": _n(line.amount),
                "lineItemApprovedAmount": _n(line.amount),
                "lineItemIsBillable": None if line.billable is None else ("Y" if line.billable else "N"),
                "allocation": [_allocation(a, share, CompanyData(), "VEND") for a, share in zip(line.allocations, shares, strict=True)],
            }
        )
    return {
        "requestHeader": {
            "requestId": invoice.id,
            "invoiceNumber": invoice.invoice_number,
            "invoiceDate": invoice.invoice_date.isoformat(),
            "paymentDueDate": invoice.due_date.isoformat(),
            "paymentTerms": invoice.terms,
            "description": invoice.description,
            "currencyAlphaCode": invoice.currency,
            "totalApprovedAmount": _n(invoice.total),
            "lineItemTotalAmount": _n(invoice.line_total),
            "taxAmount": _n(invoice.tax),
            "shippingAmount": _n(invoice.shipping),
        },
        "vendor": {
            "vendorCode": invoice.vendor_code,
            "vendorName": invoice.vendor_name,
            "remitAddress": {
                "address1": remit.address1,
                "address2": remit.address2,
                "city": remit.city,
                "state": remit.state,
                "postalCode": remit.postal_code,
                "countryCode": remit.country_code,
            }
            if remit
            else None,
        },
        "lineItem": lines,
    }


def item(doc: FisDocument, company: SimCompany, as_text: bool) -> dict[str, Any]:
    return {
        "id": doc.fis_id,
        "docType": doc.doc_type,
        "companyId": company.params.id,
        "entityId": f"p{company.params.id[:10]}",
        "companyUuid": company.params.uuid,
        "erpSystemId": None,
        "document": render.dumps(doc.document).decode("utf-8") if as_text else doc.document,
        "docStatus": doc.status,
        "links": [],
    }


def _link(rel: str, base: str, doc_type: str, page: int, limit: int) -> dict[str, Any]:
    href = f"{base}{BASE}{doc_type}/transactions?{urlencode({'limit': limit, 'page': page, 'size': limit})}"
    return {"rel": rel, "href": href, "hreflang": None, "media": None, "title": None, "type": None, "deprecation": None}


def route(
    sim: ConcurSim, company: SimCompany, base: str, method: str, path: str, query: dict[str, str], headers: dict[str, str], body: bytes
) -> tuple[int, Any]:
    """``/financialintegration/fi/v4/companies/transactiontypes/{docType}/transactions[/…]``."""
    if not company.params.fis:
        return 403, {"message": "Financial Integration Service is not enabled for this company (scope FISVC)"}
    rest = path[len(BASE) :].split("/")
    doc_type = rest[0]
    if doc_type not in ("expense", "invoice", "cashadvance", "payroll", "obligation", "requestobligation", "reportobligation") or rest[1:2] != ["transactions"]:
        return 404, {"message": "Not found"}
    state = sim.fis
    mine = [d for d in state.documents.values() if d.company == company.params.id and d.doc_type == doc_type]
    action = rest[2] if len(rest) > 2 else ""
    if method == "GET" and not action:
        as_text = headers.get("documentformatas", "json").lower() == "text"
        if query.get("docId"):
            found = [d for d in mine if d.fis_id == query["docId"] and (d.status == "READY" or query.get("ignoreDocumentStatus") == "yes")]
            return 200, {
                "links": [],
                "content": [item(d, company, as_text) for d in found],
                "page": {"size": 1, "totalElements": len(found), "totalPages": 1, "number": 0},
            }
        ready = [d for d in mine if d.status == "READY"]
        limit = max(1, min(int(query.get("limit") or 25), 100))
        page = max(0, int(query.get("page") or 0))
        pages = max(1, -(-len(ready) // limit))
        chunk = ready[page * limit : (page + 1) * limit]
        for d in chunk:
            state.requests.append(("get", d.fis_id))
        links = [_link("first", base, doc_type, 0, limit), _link("self", base, doc_type, page, limit)]
        if page + 1 < pages:
            links.append(_link("next", base, doc_type, page + 1, limit))
        links.append(_link("last", base, doc_type, pages - 1, limit))
        return 200, {
            "links": links,
            "content": [item(d, company, as_text) for d in chunk],
            "page": {"size": limit, "totalElements": len(ready), "totalPages": pages, "number": page},
        }
    try:
        request = json.loads(body or b"{}")
    except ValueError:
        return 400, {"message": "body is not JSON"}
    if method == "POST" and action == "acknowledgements":
        results = []
        for fis_id in request.get("ids") or []:
            doc = next((d for d in mine if d.fis_id == fis_id), None)
            state.requests.append(("ack", str(fis_id)))
            if doc is not None and fis_id in state.recall_on_ack:
                state.recall_on_ack.discard(fis_id)
                doc.status = "RECALLED"
            if doc is None:
                code, result = 104, "FAILURE"
            elif doc.status == "READY":
                doc.status, code, result = "ACKNOWLEDGED", 0, "SUCCESS"
                doc.acknowledgements += 1
            elif doc.status == "RECALLED":
                code, result = 102, "FAILURE"
            elif doc.status in ("ACKNOWLEDGED", "POSTING_CONFIRMED_SUCCESS", "POSTING_CONFIRMED_FAILURE"):
                code, result = 101, "SUCCESS"
            else:
                code, result = 103, "FAILURE"
            results.append({"docId": fis_id, "systemId": request.get("systemId", ""), "acknowledgeResult": result, "code": code})
        return 200, results
    if method == "POST" and action == "postingconfirmations":
        results = []
        for confirmation in request.get("postingConfirmations") or []:
            fis_id = str(confirmation.get("docId") or "")
            doc = next((d for d in mine if d.fis_id == fis_id), None)
            state.requests.append(("confirm", fis_id))
            forced = state.confirmation_codes.pop(0) if state.confirmation_codes else None
            status = str(confirmation.get("overallPostingStatusCode") or "").lower()
            if forced is not None:
                code, result = forced, "SYSTEM_ERROR_OCCURRED"
            elif doc is None:
                code, result = 104, "DOCUMENT_NOT_FOUND"
            elif status not in ("success", "error"):
                code, result = 198, "FAILURE"
            elif doc.status == "READY":
                code, result = 111, "NOT_YET_ACKNOWLEDGED"
            elif doc.status == "RECALLED":
                code, result = 112, "WAS_RECALLED"
            elif doc.status.startswith("POSTING_CONFIRMED"):
                code, result = 113, "SUCCESS"
            else:
                code, result = 0, "SUCCESS"
                doc.confirmations.append(confirmation)
                doc.status = "POSTING_CONFIRMED_SUCCESS" if status == "success" else "POSTING_CONFIRMED_FAILURE"
                if status == "error":
                    sim.fis_sent_back(doc)
            results.append({"docId": fis_id, "systemId": request.get("systemId", ""), "postingConfirmationResult": result, "code": code})
        return 200, results
    return 404, {"message": "Not found"}


def event(sim: ConcurSim, company: SimCompany, doc: FisDocument) -> dict[str, Any]:
    """``{expense|invoice}.readyForIntegration`` as the public samples show it (data null, facts with
    documentId and href, a ``+0000`` time stamp)."""
    event_id = str(uuid.UUID(int=sim.rng.getrandbits(128), version=4))
    entity = f"p{company.params.id[:10]}"
    return {
        "id": event_id,
        "data": None,
        "eventType": f"{doc.doc_type}.readyForIntegration",
        "correlationId": event_id.replace("-", ""),
        "topic": FIS_TOPIC,
        "subtopic": entity,
        "timeStamp": sim.now().strftime("%Y-%m-%dT%H:%M:%S.") + f"{sim.now().microsecond // 1000:03d}+0000",
        "route": "stable",
        "facts": {
            "companyId": company.params.uuid,
            "documentId": doc.fis_id,
            "entityId": entity,
            "href": f"{sim.url_of(company.params.id)}{BASE}{doc.doc_type}/transactions?docId={doc.fis_id}",
        },
    }
