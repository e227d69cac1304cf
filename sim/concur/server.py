"""A Concur imitation over real HTTP: OAuth with rotation and data centres, v4/v3 reads, ESS
subscriptions, and signed at-least-once webhook delivery with fault knobs.

Two listeners ("primary" and "secondary" data centres) share one state; tokens are valid only
at the data centre that issued them, and a company's token requests at the wrong one answer
code 16 "user lives elsewhere" with the right ``geolocation``.

    sim = ConcurSim(seed=1, companies=[CompanyParams("demo", ...)])
    base_url = await sim.serve(nursery)           # primary; sim.urls["secondary"] too
    sim.approve(report_id)                       # queues a statusChanged event
    await sim.deliver_events("http://127.0.0.1:8750/webhooks/concur", duplicates=1, shuffle=True)
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import random
import re
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode

import httpx
import trio
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from hypercorn.config import Config
from hypercorn.trio import serve as hypercorn_serve

from sim.concur import fis, render
from sim.concur.data import CompanyData, Generator, Invoice, Report, cents, generate, split_amount
from sim.concur.latency import LatencyModel, RateLimit, RateLimiter

PRIMARY, SECONDARY = "primary", "secondary"
EXPENSE_TOPIC = "public.concur.expense.report"
INVOICE_TOPIC = "public.concur.invoice.paymentrequest"
REFRESH_LIFETIME = dt.timedelta(days=180)


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass
class CompanyParams:
    id: str
    uuid: str
    client_id: str
    client_secret: str
    request_token: str
    home: str = PRIMARY  # data centre where the company lives
    reports: int = 5
    invoices: int = 2
    employees: int = 6
    profile: str = "simple"  # "realistic": the shapes of issues 12/13/19/20 (see sim/concur/data.py)
    fis: bool = False  # the Financial Integration Service is enabled: approval queues FIS documents (sim/concur/fis.py)


@dataclass
class Fault:
    """Applied to the next ``count`` matching requests: wait ``delay`` seconds, then answer
    ``status`` (with ``retry_after``) instead of the real response (``status`` None: just slow)."""

    status: int | None = None
    retry_after: str | None = None
    delay: float = 0.0
    count: int = 1
    path_prefix: str | None = None
    dc: str | None = None


@dataclass
class AccessToken:
    company: str
    dc: str
    expires_at: dt.datetime
    app: bool = False


@dataclass
class RequestRecord:
    dc: str
    method: str
    path: str
    company: str | None
    status: int


@dataclass
class PendingEvent:
    company: str
    body: dict[str, Any]
    attempts: int = 0


@dataclass
class DeliveryReport:
    attempts: int = 0
    delivered: int = 0  # distinct events acknowledged with 2xx
    retried: int = 0
    dropped: int = 0  # non-retryable 4xx: Concur gives up on those
    pending: int = 0  # still queued (retryable failures beyond max_attempts this round)
    statuses: list[int] = field(default_factory=list)


class SimCompany:
    def __init__(self, params: CompanyParams, generator: Generator):
        self.params = params
        self.generator = generator
        self.data: CompanyData = generator.data
        self.refresh_tokens: dict[str, bool] = {}  # token -> still valid
        self.request_token_valid = True


class ConcurSim:
    def __init__(
        self,
        seed: int | str = 1,
        companies: list[CompanyParams] | None = None,
        *,
        access_ttl: int = 3600,
        rotate_refresh: bool = True,
        now: Callable[[], dt.datetime] = _utcnow,
        latency: LatencyModel | None = None,
        rate_limit: RateLimit | None = None,
    ):
        self.seed = seed
        # Off by default (answers in microseconds, never 429): see sim/concur/latency.py.
        self.latency = latency
        self.traffic = RateLimiter(rate_limit)  # counts every company's calls in flight, limit or not
        self._latency_rng = random.Random(f"latency:{seed}")
        self.now = now
        self.access_ttl = access_ttl
        self.rotate_refresh = rotate_refresh
        self.rng = random.Random(f"sim:{seed}")
        self.companies: dict[str, SimCompany] = {}
        for params in companies or []:
            self.add_company(params)
        self.urls: dict[str, str] = {}
        self.access_tokens: dict[str, AccessToken] = {}
        self.faults: list[Fault] = []
        self.requests: list[RequestRecord] = []
        self.events: list[PendingEvent] = []
        self.sent_event_ids: list[str] = []
        self.subscriptions: dict[str, dict[str, Any]] = {}
        self.fis = fis.FisState()
        self.expires_in_as_string = False  # alternate shapes: Concur sends "3600" or 3600
        self._private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    # ---------------------------------------------------------------- setup

    def add_company(self, params: CompanyParams) -> SimCompany:
        generator = generate(
            self.seed, params.id, now=self.now(), employees=params.employees, reports=params.reports, invoices=params.invoices, profile=params.profile
        )
        company = SimCompany(params, generator)
        self.companies[params.id] = company
        return company

    async def serve(self, nursery: trio.Nursery, host: str = "127.0.0.1", port: int = 0, secondary_port: int = 0) -> str:
        """Start both data-centre listeners; returns the primary base URL."""
        for dc, dc_port in ((PRIMARY, port), (SECONDARY, secondary_port)):
            config = Config()
            config.bind = [f"{host}:{dc_port}"]
            config.accesslog = None
            config.errorlog = None
            config.graceful_timeout = 0.1
            binds = await nursery.start(hypercorn_serve, _App(self, dc), config)
            self.urls[dc] = binds[0]
        return self.urls[PRIMARY]

    @property
    def base_url(self) -> str:
        return self.urls[PRIMARY]

    def url_of(self, company: str) -> str:
        return self.urls[self.companies[company].params.home]

    # ---------------------------------------------------------------- keys

    @property
    def public_key_pem(self) -> bytes:
        return self._private_key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)

    def write_public_key(self, path: str | Path) -> Path:
        path = Path(path)
        path.write_bytes(self.public_key_pem)
        return path

    def sign(self, raw_body: bytes) -> str:
        signature = self._private_key.sign(raw_body, padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.MAX_LENGTH), hashes.SHA256())
        return base64.b64encode(signature).decode("ascii")

    # ---------------------------------------------------------------- knobs

    def add_fault(self, fault: Fault) -> Fault:
        self.faults.append(fault)
        return fault

    def expire_access_tokens(self, company: str | None = None) -> None:
        past = self.now() - dt.timedelta(seconds=1)
        for token in self.access_tokens.values():
            if company is None or token.company == company:
                token.expires_at = past

    def revoke_refresh_tokens(self, company: str) -> None:
        sim_company = self.companies[company]
        for token in sim_company.refresh_tokens:
            sim_company.refresh_tokens[token] = False

    def invalidate_request_token(self, company: str) -> None:
        self.companies[company].request_token_valid = False

    def move_company(self, company: str, dc: str) -> None:
        """The company now lives in another data centre (token requests elsewhere get code 16)."""
        self.companies[company].params.home = dc

    def company_request_token(self, company: str) -> str:
        """Issue a fresh company request token (what an admin does in Concur) and return it."""
        sim_company = self.companies[company]
        sim_company.params.request_token = secrets.token_urlsafe(24)
        sim_company.request_token_valid = True
        return sim_company.params.request_token

    def set_latency(self, latency: LatencyModel | None, rate_limit: RateLimit | None = None) -> None:
        """Switch the latency model and the rate limit (None: off) for the calls that follow."""
        self.latency = latency
        self.traffic.limit = rate_limit

    async def answer_delay(self, dc: str, refused: bool = False) -> None:
        """Wait as long as the latency model says a call at ``dc`` takes."""
        if self.latency is not None:
            await trio.sleep(self.latency.refusal_delay(dc) if refused else self.latency.delay(dc, self._latency_rng))

    def calls(self, company: str | None = None, prefix: str = "") -> list[RequestRecord]:
        return [r for r in self.requests if (company is None or r.company == company) and r.path.startswith(prefix)]

    # ---------------------------------------------------------------- content and workflow

    def _find_report(self, report_id: str) -> tuple[SimCompany, Report]:
        for company in self.companies.values():
            if report_id in company.data.reports:
                return company, company.data.reports[report_id]
        raise KeyError(report_id)

    def _find_invoice(self, request_id: str) -> tuple[SimCompany, Invoice]:
        for company in self.companies.values():
            if request_id in company.data.invoices:
                return company, company.data.invoices[request_id]
        raise KeyError(request_id)

    def _tick(self) -> dt.datetime:
        return self.now()

    def _report_event(self, company: SimCompany, report: Report, event_type: str, previous: str | None = None) -> dict[str, Any]:
        approver = next((e.uuid for e in company.data.employees.values() if e.uuid != report.owner), report.owner)
        facts: dict[str, Any] = {
            "reportType": "Regular",
            "companyId": company.params.uuid,
            "reportId": report.id,
            "lastModifiedDate": render.iso_z(report.modified),
            "actingUserId": None,
            # The acting approver, not the owner: the worker must read the owner from the report.
            "userId": approver if event_type == "statusChanged" else report.owner,
        }
        if event_type != "reportDeleted":
            facts["href"] = render.report_path(self.url_of(company.params.id), report.owner, report.id, upper=True)
        if event_type == "statusChanged":
            facts.update(
                {
                    "previousApprovalStatus": previous or "A_PEND",
                    "currentApprovalStatus": report.status,
                    "previousPaymentStatus": report.payment_status,
                    "currentPaymentStatus": report.payment_status,
                    "stepCode": "MANAGER",
                }
            )
        event_id = str(uuid.UUID(int=self.rng.getrandbits(128), version=4))
        return {
            "id": event_id,
            "correlationId": event_id,
            "route": "stable",
            "eventType": event_type,
            # Concur's own samples drop the "public." prefix on some event types.
            "topic": EXPENSE_TOPIC if event_type in ("statusChanged", "reportCreated") else "concur.expense.report",
            "timeStamp": render.iso_z(self.now()),
            "facts": facts,
        }

    def _queue(self, company: SimCompany, body: dict[str, Any]) -> dict[str, Any]:
        self.events.append(PendingEvent(company.params.id, body))
        return body

    def approve(self, report_id: str) -> dict[str, Any]:
        company, report = self._find_report(report_id)
        previous = report.status
        report.status = "A_APPR"
        report.modified = self._tick()
        event = self._queue(company, self._report_event(company, report, "statusChanged", previous))
        if company.params.fis:
            self.fis_queue(report_id)
        return event

    def approve_all(self, company: str) -> list[dict[str, Any]]:
        data = self.companies[company].data
        events = [self.approve(r.id) for r in data.reports.values() if r.status != "A_APPR" and not r.deleted]
        events += [self.approve_invoice(i.id) for i in data.invoices.values() if i.status != "A_APPR" and not i.deleted]
        return events

    def modify(self, report_id: str, delta: Decimal = Decimal("1.00")) -> dict[str, Any]:
        """An approver adjusts the first plain expense (not personal, not itemized); allocations
        are re-split. A claim or charge stated apart from the approved amount moves with it."""
        company, report = self._find_report(report_id)
        expense = next(e for e in report.expenses if not e.personal and not e.itemizations)
        expense.amount = cents(expense.amount + delta)
        if expense.claimed is not None:
            expense.claimed = cents(expense.claimed + delta)
        if expense.posted is not None:
            expense.posted = cents(expense.posted + delta)
        expense.transaction_amount = expense.amount if expense.transaction_currency == report.currency else expense.transaction_amount
        shares = split_amount(expense.amount, tuple(a.percentage for a in expense.allocations))
        for allocation, share in zip(expense.allocations, shares, strict=True):
            allocation.amount = share
        report.modified = self._tick()
        return self._queue(company, self._report_event(company, report, "reportUpdated"))

    def delete(self, report_id: str) -> dict[str, Any]:
        company, report = self._find_report(report_id)
        report.deleted = True
        report.modified = self._tick()
        return self._queue(company, self._report_event(company, report, "reportDeleted"))

    def create_report(self, company: str, status: str = "A_PEND") -> Report:
        sim_company = self.companies[company]
        generator = sim_company.generator
        generator.now = self.now()
        report = generator.report(status)
        report.modified = self._tick()
        self._queue(sim_company, self._report_event(sim_company, report, "reportCreated"))
        return report

    def create_invoice(self, company: str, status: str = "A_PEND") -> Invoice:
        sim_company = self.companies[company]
        sim_company.generator.now = self.now()
        invoice = sim_company.generator.invoice(status)
        invoice.modified = self._tick()
        return invoice

    def approve_invoice(self, request_id: str) -> dict[str, Any]:
        company, invoice = self._find_invoice(request_id)
        previous = invoice.status
        invoice.status = "A_APPR"
        invoice.modified = self._tick()
        event = self._invoice_event(company, invoice, previousApprovalStatus=previous)
        if company.params.fis:
            self.fis_queue(request_id)
        return event

    # ---------------------------------------------------------------- Financial Integration Service

    def fis_queue(self, concur_id: str) -> fis.FisDocument:
        """Queue the report or invoice READY in FIS as a new version (snapshot of its content now)
        and queue its ``readyForIntegration`` event."""
        if any(concur_id in c.data.reports for c in self.companies.values()):
            company, report = self._find_report(concur_id)
            report.status = "A_APPR"
            doc_type, document = "expense", fis.expense_document(report, company.data)
        else:
            company, invoice = self._find_invoice(concur_id)
            invoice.status = "A_APPR"
            doc_type, document = "invoice", fis.invoice_document(invoice)
        doc = fis.FisDocument(uuid.UUID(int=self.rng.getrandbits(128)).hex, doc_type, concur_id, company.params.id, document)
        self.fis.documents[doc.fis_id] = doc
        self._queue(company, fis.event(self, company, doc))
        return doc

    def fis_recall(self, concur_id: str, *, on_acknowledgement: bool = True) -> fis.FisDocument:
        """A processor recalls the READY version: at once, or (``on_acknowledgement``) between the
        worker's GET and its acknowledgement, which then answers 102."""
        doc = next(d for d in reversed(self.fis.of(concur_id)) if d.status == "READY")
        if on_acknowledgement:
            self.fis.recall_on_ack.add(doc.fis_id)
        else:
            doc.status = "RECALLED"
        return doc

    def fis_sent_back(self, doc: fis.FisDocument) -> None:
        """An error confirmation: Concur sends the document back to its processor (assumption:
        the report shows A_RESU until it is queued again)."""
        if doc.doc_type == "expense":
            self.companies[doc.company].data.reports[doc.concur_id].status = "A_RESU"
        else:
            self.companies[doc.company].data.invoices[doc.concur_id].status = "A_RESU"

    def fis_confirmations(self, concur_id: str) -> list[dict[str, Any]]:
        """Every posting confirmation Concur accepted for the report or invoice, oldest first."""
        return [c for d in self.fis.of(concur_id) for c in d.confirmations]

    def _invoice_event(self, company: SimCompany, invoice: Invoice, **facts: str) -> dict[str, Any]:
        """A statusChanged on the invoice topic (undocumented: shaped like the expense report's)."""
        event_id = str(uuid.UUID(int=self.rng.getrandbits(128), version=4))
        return self._queue(
            company,
            {
                "id": event_id,
                "correlationId": event_id,
                "route": "stable",
                "eventType": "statusChanged",
                "topic": INVOICE_TOPIC,
                "timeStamp": render.iso_z(self.now()),
                "facts": {
                    "companyId": company.params.uuid,
                    "paymentRequestId": invoice.id,
                    "previousApprovalStatus": invoice.status,
                    "currentApprovalStatus": invoice.status,
                    **facts,
                },
            },
        )

    def pay(self, report_id: str, amount: Decimal | None = None, on: dt.date | None = None) -> dict[str, Any]:
        """Expense Pay reimbursed the employee: P_PAID with the paid date and amount (default: the
        amount due to the employee; less for a partial payment). Queues the statusChanged event
        Concur documents for payment (currentPaymentStatus P_PAID, stepCode PAIDREPORT)."""
        company, report = self._find_report(report_id)
        previous_payment = report.payment_status
        report.payment_status = "P_PAID"
        report.paid_amount = report.header()["amountDueEmployee"] if amount is None else amount
        report.paid_date = on or self.now().date()
        report.modified = self._tick()
        event = self._report_event(company, report, "statusChanged", report.status)
        event["facts"].update({"previousPaymentStatus": previous_payment, "currentPaymentStatus": "P_PAID", "stepCode": "PAIDREPORT"})
        return self._queue(company, event)

    def pay_invoice(self, request_id: str, amount: Decimal | None = None, on: dt.date | None = None) -> dict[str, Any]:
        """Invoice Pay paid the vendor: PaymentStatus P_PAID, PaidDate, PaidAmount (default: the
        approved total). Shown in the payment request, its digest (PaymentStatusCode, PaidDate) and
        an event on the (undocumented) invoice topic, like approve_invoice."""
        company, invoice = self._find_invoice(request_id)
        previous_payment = invoice.payment_status
        invoice.payment_status = "P_PAID"
        invoice.paid_amount = invoice.total if amount is None else amount
        invoice.paid_date = on or self.now().date()
        invoice.modified = self._tick()
        return self._invoice_event(company, invoice, previousPaymentStatus=previous_payment, currentPaymentStatus="P_PAID")

    def totals_approved(self, company: str) -> Decimal:
        """Sum of approved, undeleted documents (reports and invoices), for the demo summary."""
        data = self.companies[company].data
        total = sum((r.total for r in data.reports.values() if r.status == "A_APPR" and not r.deleted), Decimal(0))
        return total + sum((i.total for i in data.invoices.values() if i.status == "A_APPR" and not i.deleted), Decimal(0))

    def approved_ids(self, company: str) -> dict[str, set[str]]:
        data = self.companies[company].data
        return {
            "expense_report": {r.id for r in data.reports.values() if r.status == "A_APPR" and not r.deleted},
            "invoice": {i.id for i in data.invoices.values() if i.status == "A_APPR" and not i.deleted},
        }

    # ---------------------------------------------------------------- webhook delivery

    def drop_pending_events(self) -> int:
        """Concur's 72-hour retention ran out: pending events are gone for good."""
        count = len(self.events)
        self.events.clear()
        return count

    async def deliver_events(
        self,
        url: str,
        *,
        duplicates: int = 0,
        shuffle: bool = False,
        concurrency: int = 4,
        max_attempts: int = 5,
        retry_wait: float = 0.05,
        timeout: float = 5.0,
        company: str | None = None,
        tamper: bool = False,
    ) -> DeliveryReport:
        """Deliver queued events at least once: each is sent ``1 + duplicates`` times, in random
        order when ``shuffle``, ``concurrency`` at a time (bursts). 5xx/401/403/429 and I/O errors
        are retried (up to ``max_attempts`` per copy this round; undelivered events stay queued);
        other 4xx drop the event, as Concur does."""
        report = DeliveryReport()
        chosen = [e for e in self.events if company is None or e.company == company]
        copies = [e for e in chosen for _ in range(1 + duplicates)]
        if shuffle:
            self.rng.shuffle(copies)
        done: set[int] = set()
        dropped: set[int] = set()
        send_channel, receive_channel = trio.open_memory_channel[PendingEvent](len(copies) or 1)
        for copy in copies:
            send_channel.send_nowait(copy)
        send_channel.close()

        async with httpx.AsyncClient(timeout=timeout) as http:

            async def worker() -> None:
                async for pending in receive_channel:
                    raw = render.dumps(pending.body)
                    if tamper:
                        raw = raw.replace(b'"stable"', b'"stab1e"')
                    for attempt in range(max_attempts):
                        headers = {
                            "Content-Type": "application/json",
                            "Concur-Signature": self.sign(raw if not tamper else render.dumps(pending.body)),
                            "Concur-Correlationid": str(pending.body.get("correlationId") or ""),
                        }
                        report.attempts += 1
                        pending.attempts += 1
                        try:
                            response = await http.post(url, content=raw, headers=headers)
                            status = response.status_code
                        except httpx.TransportError:
                            status = 0
                        report.statuses.append(status)
                        if 200 <= status < 300:
                            done.add(id(pending))
                            self.sent_event_ids.append(pending.body["id"])
                            break
                        if status and 400 <= status < 500 and status not in (401, 403, 429):
                            dropped.add(id(pending))
                            break
                        report.retried += 1
                        await trio.sleep(retry_wait * (2**attempt))

            async with trio.open_nursery() as nursery:
                for _ in range(max(1, concurrency)):
                    nursery.start_soon(worker)
        self.events = [e for e in self.events if id(e) not in done and id(e) not in dropped]
        report.delivered = len({id(e) for e in chosen if id(e) in done})
        report.dropped = len({id(e) for e in chosen if id(e) in dropped and id(e) not in done})
        report.pending = len([e for e in self.events if company is None or e.company == company])
        return report

    async def deliver_forever(self, url: str, interval: float = 1.0, **kwargs: Any) -> None:
        """Background delivery loop for ``mlc sim concur`` and the demo."""
        while True:
            if self.events:
                await self.deliver_events(url, **kwargs)
            await trio.sleep(interval)

    # ---------------------------------------------------------------- HTTP handling

    def _company_by_client(self, client_id: str) -> SimCompany | None:
        return next((c for c in self.companies.values() if c.params.client_id == client_id), None)

    def _issue(self, company: SimCompany, dc: str, *, app: bool = False) -> dict[str, Any]:
        access = "at-" + secrets.token_urlsafe(24)
        self.access_tokens[access] = AccessToken(company.params.id, dc, self.now() + dt.timedelta(seconds=self.access_ttl), app)
        self.expires_in_as_string = not self.expires_in_as_string
        body: dict[str, Any] = {
            "expires_in": str(self.access_ttl) if self.expires_in_as_string else self.access_ttl,
            "scope": "app-scopes"
            if app
            else "openid expense.report.read user.read spend.listitem.read INVPMT EXPRPT" + (" FISVC" if company.params.fis else ""),
            "token_type": "Bearer",
            "access_token": access,
            "geolocation": self.urls[dc],
        }
        if not app:
            refresh = "rt-" + secrets.token_urlsafe(24)
            company.refresh_tokens[refresh] = True
            body["refresh_token"] = refresh
            body["refresh_expires_in"] = int((self.now() + REFRESH_LIFETIME).timestamp())
            body["id_token"] = "id-" + secrets.token_urlsafe(8)
        return body

    def token_endpoint(self, dc: str, form: dict[str, str]) -> tuple[int, dict[str, Any], str | None]:
        company = self._company_by_client(form.get("client_id", ""))
        if company is None:
            return 400, {"error": "invalid_client", "error_description": "client not found", "code": 61}, None
        if form.get("client_secret") != company.params.client_secret:
            return 400, {"error": "invalid_client", "error_description": "Incorrect credentials", "code": 64}, company.params.id
        grant = form.get("grant_type")
        home = company.params.home
        elsewhere = (
            400,
            {"error": "invalid_request", "error_description": "user lives elsewhere", "code": 16, "geolocation": self.urls[home]},
            company.params.id,
        )
        if grant == "client_credentials":
            return 200, self._issue(company, dc, app=True), company.params.id
        if grant == "password":
            if form.get("credtype") != "authtoken":
                return 400, {"error": "invalid_request", "error_description": "bad credtype", "code": 120}, company.params.id
            if (
                form.get("username", "").lower() != company.params.uuid.lower()
                or form.get("password") != company.params.request_token
                or not company.request_token_valid
            ):
                return 400, {"error": "invalid_grant", "error_description": "Incorrect Credentials. Please Retry", "code": 5}, company.params.id
            if dc != home:
                return elsewhere
            return 200, self._issue(company, dc), company.params.id
        if grant == "refresh_token":
            token = form.get("refresh_token", "")
            if not company.refresh_tokens.get(token):
                return 400, {"error": "invalid_grant", "error_description": "bad or expired refresh token", "code": 108}, company.params.id
            if dc != home:
                return elsewhere
            body = self._issue(company, dc)
            if self.rotate_refresh:
                company.refresh_tokens[token] = False  # the old refresh token dies with rotation
            else:
                company.refresh_tokens.pop(body["refresh_token"], None)
                body["refresh_token"] = token
            return 200, body, company.params.id
        return 400, {"error": "unsupported_grant_type", "error_description": "grant", "code": 65}, company.params.id

    def authorise(self, dc: str, header: str | None, *, app: bool) -> AccessToken | None:
        if not header or not header.startswith("Bearer "):
            return None
        token = self.access_tokens.get(header[7:].strip())
        if token is None or token.dc != dc or token.expires_at <= self.now() or token.app != app:
            return None
        return token

    def take_fault(self, dc: str, path: str) -> Fault | None:
        for fault in self.faults:
            if fault.count > 0 and (fault.dc is None or fault.dc == dc) and (fault.path_prefix is None or path.startswith(fault.path_prefix)):
                fault.count -= 1
                return fault
        return None


def _v4_error(status: int, message: str, path: str) -> dict[str, Any]:
    return {"errorId": str(uuid.uuid4()), "errorMessage": message, "httpStatus": str(status), "path": path, "timestamp": render.iso_z(_utcnow())}


def _rate_limited(path: str) -> dict[str, Any]:
    """Concur's published 429 body (concur/errors/http429.rate_limit.list_v4_bulk.json)."""
    return {
        "timestamp": render.iso_z(_utcnow()),
        "httpStatus": "429 - Too Many Requests",
        "error": {"id": "security.rate.limit.reached", "message": "Too many requests"},
        "path": path,
    }


def _parse_after(value: str | None) -> dt.datetime | None:
    """``YYYY-MM-DD`` (or a datetime): items modified strictly after that instant (UTC)."""
    if not value:
        return None
    text = value.strip()
    parsed = dt.datetime.fromisoformat(text) if "T" in text else dt.datetime.combine(dt.date.fromisoformat(text), dt.time())
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


class _App:
    """The ASGI application of one data centre."""

    _report = re.compile(r"^/expensereports/v4/users/([^/]+)/context/([A-Za-z]+)/reports/([^/]+)(/expenses(?:/([^/]+)(/allocations|/itemizations)?)?)?$")

    def __init__(self, sim: ConcurSim, dc: str):
        self.sim = sim
        self.dc = dc

    async def __call__(self, scope: dict[str, Any], receive: Callable, send: Callable) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        query = {k: v[0] for k, v in parse_qs(scope.get("query_string", b"").decode("latin-1")).items()}
        path = scope["path"]
        status, payload, extra_headers, company = await self.handle(scope["method"], path, query, headers, body)
        self.sim.requests.append(RequestRecord(self.dc, scope["method"], path, company, status))
        raw = render.dumps(payload) if payload is not None else b""
        response_headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(raw)).encode()),
            (b"concur-correlationid", headers.get("concur-correlationid", str(uuid.uuid4())).encode("latin-1")),
        ]
        response_headers += [(k.encode(), v.encode()) for k, v in extra_headers.items()]
        await send({"type": "http.response.start", "status": status, "headers": response_headers})
        await send({"type": "http.response.body", "body": raw})

    async def handle(self, method: str, path: str, query: dict[str, str], headers: dict[str, str], body: bytes) -> tuple[int, Any, dict[str, str], str | None]:
        sim = self.sim
        fault = sim.take_fault(self.dc, path)
        if fault is not None:
            if fault.delay:
                await trio.sleep(fault.delay)
            if fault.status is not None:
                extra = {"retry-after": fault.retry_after} if fault.retry_after is not None else {}
                payload = _rate_limited(path) if fault.status == 429 else _v4_error(fault.status, "simulated fault", path)
                return fault.status, payload, extra, None
        if path == "/oauth2/v0/token" and method == "POST":
            await sim.answer_delay(self.dc)
            form = {k: v[0] for k, v in parse_qs(body.decode("utf-8")).items()}
            status, payload, company = sim.token_endpoint(self.dc, form)
            return status, payload, {}, company
        app = path.startswith("/events/")
        token = sim.authorise(self.dc, headers.get("authorization"), app=app)
        if token is None:
            await sim.answer_delay(self.dc)
            known = self.sim.access_tokens.get((headers.get("authorization") or "")[7:].strip())
            return 401, _v4_error(401, "The Oauth token has expired or been revoked", path), {}, known.company if known else None
        admitted = sim.traffic.arrive(token.company, trio.current_time())
        try:
            await sim.answer_delay(self.dc, refused=not admitted)
            if not admitted:
                return 429, _rate_limited(path), {"retry-after": sim.traffic.limit.retry_after if sim.traffic.limit else "0"}, token.company
            return self.answer(token, method, path, query, headers, body)
        finally:
            sim.traffic.leave(token.company, admitted)

    def answer(
        self, token: AccessToken, method: str, path: str, query: dict[str, str], headers: dict[str, str], body: bytes
    ) -> tuple[int, Any, dict[str, str], str | None]:
        """An authorised call admitted by the rate limit."""
        sim = self.sim
        company = sim.companies[token.company]
        if path.startswith(fis.BASE):
            status, payload = fis.route(sim, company, sim.urls[self.dc], method, path, query, headers, body)
            return status, payload, {}, token.company
        result = self.route(company, method, path, query, body)
        status, payload = result
        return status, payload, {}, token.company

    def route(self, company: SimCompany, method: str, path: str, query: dict[str, str], body: bytes) -> tuple[int, Any]:
        data, base = company.data, self.sim.urls[self.dc]
        not_found = (404, _v4_error(404, "Not found", path))
        if method == "GET" and (match := self._report.match(path)):
            user, _context, report_id, expenses_part, expense_id, sub = match.groups()
            report = data.reports.get(report_id)
            if report is None or report.deleted or report.owner.lower() != user.lower():
                return not_found
            if not expenses_part:
                return 200, render.report_v4(report, base)
            if expense_id is None:
                return 200, [render.expense_v4(e, report, base) for e in report.expenses]
            expense = next((e for e in report.expenses if e.id == expense_id), None)
            if expense is not None and sub == "/itemizations":
                return 200, render.itemizations_v4(expense, report, base)
            if expense is not None and sub == "/allocations":
                return 200, render.allocations_v4(expense.id, expense.allocations, report.currency)
            if expense is not None:
                return 200, render.expense_v4(expense, report, base, detail=True)
            # An itemization is an expense of the report too: its allocations are read the same way.
            parent = next((e for e in report.expenses if any(i.id == expense_id for i in e.itemizations)), None)
            item = next((i for i in parent.itemizations if i.id == expense_id), None) if parent else None
            if parent is None or item is None:
                return not_found
            if sub == "/allocations":
                return 200, render.allocations_v4(item.id, item.allocations, report.currency)
            if sub == "/itemizations":
                return 200, []
            return 200, next(i for i in render.itemizations_v4(parent, report, base) if i["expenseId"] == item.id)
        if method == "GET" and path.startswith("/profile/identity/v4/Users"):
            rest = path[len("/profile/identity/v4/Users") :].strip("/")
            if rest:
                employee = next((e for e in data.employees.values() if e.uuid.lower() == rest.lower()), None)
                return (200, render.user_v4(employee, base, company.params.uuid)) if employee else not_found
            match = re.fullmatch(r'\s*userName\s+eq\s+"(.*)"\s*', query.get("filter", ""))
            login = match.group(1).replace('\\"', '"') if match else None
            found = [render.user_v4(e, base, company.params.uuid) for e in data.employees.values() if e.login == login]
            return 200, {
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
                "totalResults": len(found),
                "Resources": found,
                "startIndex": 1,
                "itemsPerPage": len(found),
            }
        if method == "GET" and path.startswith("/list/v4/items"):
            item_id = path[len("/list/v4/items") :].strip("/") or query.get("id", "")
            item = data.list_items.get(item_id)
            return (200, render.list_item_v4(item)) if item else not_found
        if method == "GET" and path == "/api/v3.0/expense/reports":
            if query.get("user") != "ALL":
                return 200, {"Items": [], "NextPage": None}
            after = _parse_after(query.get("modifiedDateAfter"))
            rows = [r for r in data.reports.values() if not r.deleted and (after is None or r.modified > after)]
            rows.sort(key=lambda r: (r.modified, r.id))
            return 200, self._page(rows, query, 25, path, lambda r: render.report_v3(r, data.employees[r.owner], base), "Items")
        if method == "GET" and path.startswith("/api/v3.0/expense/reports/"):
            # One report (v3 "…/reports/{id}?user=<login>"): the owner's login, or ALL.
            report = data.reports.get(path[len("/api/v3.0/expense/reports/") :].strip("/"))
            if report is None or report.deleted:
                return not_found
            owner = data.employees[report.owner]
            if query.get("user") not in ("ALL", owner.login):
                return not_found
            return 200, render.report_v3(report, owner, base)
        if method == "GET" and path.startswith("/api/v3.0/invoice/paymentrequestdigests"):
            rest = path[len("/api/v3.0/invoice/paymentrequestdigests") :].strip("/")
            if rest:
                invoice = data.invoices.get(rest)
                return (200, render.digest_v3(invoice, base)) if invoice else not_found
            after = _parse_after(query.get("lastModifiedDateAfter"))
            rows = [i for i in data.invoices.values() if after is None or i.modified > after]
            rows.sort(key=lambda i: (i.modified, i.id))
            return 200, self._page(rows, query, 1000, path, lambda i: render.digest_v3(i, base), "PaymentRequestDigest")
        if method == "GET" and path.startswith("/api/v3.0/invoice/paymentrequest/"):
            invoice = data.invoices.get(path.rsplit("/", 1)[1])
            return (200, render.payment_request_v3(invoice, base)) if invoice else not_found
        if path.startswith("/events/v4/"):
            return self.ess(company, method, path, body)
        return not_found

    def _page(self, rows: list[Any], query: dict[str, str], default_limit: int, path: str, shape: Callable[[Any], Any], key: str) -> dict[str, Any]:
        limit = max(1, min(int(query.get("limit") or default_limit), 1000))
        offset = int(query.get("offset") or 0)
        page = rows[offset : offset + limit]
        next_page = None
        if offset + limit < len(rows):
            next_page = f"{self.sim.urls[self.dc]}{path}?{urlencode({**query, 'offset': str(offset + limit)})}"
        result: dict[str, Any] = {key: [shape(r) for r in page], "NextPage": next_page}
        if key != "Items":
            result["TotalCount"] = len(rows)
        return result

    def ess(self, company: SimCompany, method: str, path: str, body: bytes) -> tuple[int, Any]:
        subs = self.sim.subscriptions
        if method == "GET" and path == "/events/v4/topics":
            return 200, [EXPENSE_TOPIC]
        if method == "PUT" and path == "/events/v4/subscriptions/webhook":
            try:
                request = json.loads(body)
                sub_id = request["id"]
                endpoint = request["webHookConfig"]["endpoint"]
            except (ValueError, KeyError, TypeError):
                return 400, _v4_error(400, "bad subscription", path)
            if not re.fullmatch(r"[a-z0-9.-]+", sub_id):
                return 400, _v4_error(400, "id: lowercase letters, digits, '.' and '-' only", path)
            owned = [s for s in subs.values() if s["applicationId"] == company.params.client_id]
            if sub_id not in subs and len(owned) >= 5:
                return 400, _v4_error(400, "at most 5 subscriptions per application", path)
            subs[sub_id] = {
                "id": sub_id,
                "topic": request.get("topic", ""),
                "filter": request.get("filter", ".*"),
                "webHookConfig": {"endpoint": endpoint},
                "applicationId": company.params.client_id,
                "scope": "",
                "groups": [],
                "companyIds": [company.params.uuid],
            }
            return 200, {"message": f"Subscription '{sub_id}' saved successfully"}
        if method == "GET" and path.startswith("/events/v4/subscriptions"):
            rest = path[len("/events/v4/subscriptions") :].strip("/")
            mine = [s for s in subs.values() if s["applicationId"] == company.params.client_id]
            return 200, [s for s in mine if not rest or s["id"] == rest]
        if method == "DELETE" and path.startswith("/events/v4/subscriptions/"):
            sub_id = path.rsplit("/", 1)[1]
            if sub_id not in subs:
                return 404, _v4_error(404, "no such subscription", path)
            del subs[sub_id]
            return 200, {"message": f"Subscription '{sub_id}' marked for deletion"}
        return 404, _v4_error(404, "Not found", path)
