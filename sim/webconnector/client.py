"""A QuickBooks Web Connector that drives a QBWC web service over real HTTP, the way QBWC 2.x does,
handing the qbXML it receives to a simulated company file (:class:`sim.quickbooks.engine.CompanyFile`).

Call order (reference §2.3): serverVersion -> clientVersion -> authenticate ->
  none/nvu/busy -> closeConnection
  QuickBooks cannot be opened -> connectionError ("done" ends; a path retries a couple of times)
  loop sendRequestXML (strHCPResponse only on the first call) -> QuickBooks -> receiveResponseXML
       0..99 -> loop; 100 -> closeConnection; < 0 -> getLastError -> closeConnection
       "" -> getLastError -> "NoOp": 5 s pause, loop | message: closeConnection
A reply that is not a well-formed SOAP answer ends the session and counts as QBWC1012/1041/1042/...
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NoReturn

import httpx
import trio

from sim.quickbooks.engine import CompanyFile
from sim.quickbooks.latency import SimClock
from sim.webconnector import soap
from sim.webconnector.knobs import FaultKnobs

QBWC_VERSION = "2.3.0.215"
NOOP_PAUSE_S = 5.0
HTTP_TIMEOUT_S = 100.0  # .NET HttpWebRequest default (unverified for QBWC)

# QBWC's own error codes for an unusable reply from each callback (Guide, Appendix A).
FAILURE_CODES = {
    "serverVersion": "QBWC1012",
    "clientVersion": "QBWC1036",
    "authenticate": "QBWC1012",
    "sendRequestXML": "QBWC1041",
    "receiveResponseXML": "QBWC1042",
    "getLastError": "QBWC1043",
    "closeConnection": "QBWC1044",
    "connectionError": "QBWC1045",
}


@dataclass
class SessionReport:
    soap_calls: list[str] = field(default_factory=list)
    auth_status: str | None = None  # authenticate()[1]: "", a path, none, nvu, busy
    opened_in_background: str = ""  # the company file QuickBooks opened unattended (it was closed)
    postpone_s: int | None = None  # authenticate()[2]
    min_run_every_s: int | None = None  # authenticate()[3]
    warnings: list[str] = field(default_factory=list)  # clientVersion "W:" texts
    qbxml_requests: int = 0  # message sets handed to QuickBooks
    qbxml_request_items: int = 0  # *Rq elements QuickBooks ran
    writes: int = 0
    quickbooks_busy_s: float = 0.0
    noops: int = 0
    lost_responses: int = 0
    killed: bool = False
    errors: list[str] = field(default_factory=list)
    failures: dict[str, int] = field(default_factory=dict)  # QBWC1041 / QBWC1042 ... -> count
    last_hresult: str = ""
    last_message: str = ""
    last_error: str = ""  # getLastError text that ended the session
    close_message: str | None = None
    ended_by: str = ""  # closeConnection, connectionError, failure, killed, lost_response, noop_limit, client_version

    def summary(self) -> str:
        parts = [
            f"calls={len(self.soap_calls)}",
            f"auth={self.auth_status!r}",
            f"qbxml={self.qbxml_requests}",
            f"writes={self.writes}",
            f"busy={self.quickbooks_busy_s:.2f}s",
            f"ended_by={self.ended_by}",
        ]
        if self.noops:
            parts.append(f"noops={self.noops}")
        if self.lost_responses:
            parts.append(f"lost={self.lost_responses}")
        if self.failures:
            parts.append("failures=" + ",".join(f"{k}x{v}" for k, v in sorted(self.failures.items())))
        if self.last_hresult:
            parts.append(f"hresult={self.last_hresult}")
        if self.last_error:
            parts.append(f"last_error={self.last_error!r}")
        if self.close_message is not None:
            parts.append(f"close={self.close_message!r}")
        return " ".join(parts)


class _Stop(Exception):
    """Ends the session early (failure, kill); ``ended_by`` is already set."""


class _Session:
    def __init__(self, http: httpx.AsyncClient, url: str, knobs: FaultKnobs, clock: SimClock, rng: random.Random) -> None:
        self.http, self.url, self.knobs, self.clock, self.rng = http, url, knobs, clock, rng
        self.report = SessionReport()
        self.receives = 0

    async def call(self, method: str, **values: object) -> bytes:
        if self.knobs.kill_after_calls is not None and len(self.report.soap_calls) >= self.knobs.kill_after_calls:
            self.report.killed = True
            self.report.ended_by = "killed"
            raise _Stop
        if self.knobs.network_latency_s:
            await self.clock.sleep(self.knobs.network_latency_s)
        self.report.soap_calls.append(method)
        try:
            reply = await self.http.post(self.url, content=soap.build_request(method, **values), headers=soap.headers(method))
        except httpx.HTTPError as exc:
            self._fail(method, f"{method}: {type(exc).__name__}: {exc}")
        # A SOAP Fault arrives with HTTP 500; either way QBWC reads the body and gives up on faults.
        return reply.content

    def _fail(self, method: str, message: str) -> NoReturn:
        code = FAILURE_CODES[method]
        self.report.failures[code] = self.report.failures.get(code, 0) + 1
        self.report.errors.append(f"{code}: {message}")
        self.report.ended_by = "failure"
        raise _Stop

    async def string(self, method: str, **values: object) -> str:
        body = await self.call(method, **values)
        try:
            return soap.parse_string_result(method, body)
        except soap.SoapReplyError as exc:
            self._fail(method, str(exc))

    async def integer(self, method: str, **values: object) -> int:
        body = await self.call(method, **values)
        try:
            return soap.parse_int_result(method, body)
        except soap.SoapReplyError as exc:
            self._fail(method, str(exc))

    async def strings(self, method: str, **values: object) -> list[str]:
        body = await self.call(method, **values)
        try:
            return soap.parse_string_array(method, body)
        except soap.SoapReplyError as exc:
            self._fail(method, str(exc))

    async def close(self, ticket: str) -> None:
        self.report.close_message = await self.string("closeConnection", ticket=ticket)
        self.report.ended_by = self.report.ended_by or "closeConnection"

    async def run(self, username: str, password: str, company: CompanyFile, owner_id: str) -> None:
        r = self.report
        await self.string("serverVersion")
        answer = await self.string("clientVersion", strVersion=QBWC_VERSION)
        if answer.startswith(("E:", "O:")):
            r.errors.append(f"QBWC1037: clientVersion: {answer}")
            r.ended_by = "client_version"
            return
        if answer.startswith("W:"):
            r.warnings.append(answer[2:])  # the user is asked; an unattended run goes on
        auth = await self.strings("authenticate", strUserName=username, strPassword=password)
        ticket, status, postpone, min_run = (auth + ["", "", "", ""])[:4]
        r.auth_status = status
        r.postpone_s = int(postpone) if postpone.strip().isdigit() else None
        r.min_run_every_s = int(min_run) if min_run.strip().isdigit() else None
        if status in ("none", "nvu", "busy"):
            if status == "nvu":
                r.errors.append("Invalid password for username")
            await self.close(ticket)
            return
        fault = self.knobs.opening_fault(status, company.state.file_path)
        if fault is None and self.knobs.quickbooks_closed:
            r.opened_in_background = status  # QuickBooks started unattended on the named file
        if fault is not None:
            for _ in range(self.knobs.connection_error_retries + 1):
                r.last_hresult, r.last_message = fault
                reply = await self.string("connectionError", ticket=ticket, hresult=fault[0], message=fault[1])
                if reply == "done" or reply.strip() == "":
                    break
            r.errors.append(f"QBWC1013: {fault[0]} {fault[1]}")
            r.ended_by = "connectionError"
            return
        company.begin_session()
        try:
            await self._exchange(ticket, company, owner_id)
        finally:
            company.end_session()

    async def _exchange(self, ticket: str, company: CompanyFile, owner_id: str) -> None:
        r = self.report
        first = True
        noops = 0
        while True:
            hcp = company.hcp_response(owner_id) if first else ""
            request = await self.string(
                "sendRequestXML",
                ticket=ticket,
                strHCPResponse=hcp,
                strCompanyFileName=company.state.file_path,
                qbXMLCountry=company.state.country,
                qbXMLMajorVers=13,
                qbXMLMinorVers=0,
            )
            first = False
            if request.strip() in ("", "NoOp"):
                last = await self.string("getLastError", ticket=ticket)
                if last == "NoOp":
                    noops += 1
                    r.noops += 1
                    if noops > self.knobs.max_noops:
                        r.ended_by = "noop_limit"
                        return
                    await self.clock.sleep(NOOP_PAUSE_S)
                    continue
                r.last_error = last
                await self.close(ticket)
                return
            noops = 0
            began = time.perf_counter()
            result = company.process(request)
            r.qbxml_requests += 1
            r.qbxml_request_items += result.requests
            r.writes += result.writes
            r.quickbooks_busy_s += result.busy_seconds
            # Assumption (the documents give no timings): the latency model is QuickBooks' whole
            # time for the set; the simulator's own computing (reading the request, writing the
            # answer) is part of that time, not added to it.
            computed = (time.perf_counter() - began) / self.clock.scale if self.clock.scale > 0 else 0.0
            await self.clock.sleep(max(0.0, result.busy_seconds - computed))
            if result.hresult:
                r.last_hresult, r.last_message = result.hresult, result.message
            self.receives += 1
            if self.receives in self.knobs.lose_responses or (
                self.knobs.lose_response_probability and self.rng.random() < self.knobs.lose_response_probability
            ):
                # QuickBooks applied the request, but the answer never reaches the service.
                r.lost_responses += 1
                r.errors.append("receiveResponseXML lost after QuickBooks applied the request")
                r.ended_by = "lost_response"
                return
            percent = await self.integer("receiveResponseXML", ticket=ticket, response=result.response, hresult=result.hresult, message=result.message)
            if percent < 0:
                r.last_error = await self.string("getLastError", ticket=ticket)
                await self.close(ticket)
                return
            if percent >= 100:
                await self.close(ticket)
                return


async def run_session(
    url: str,
    username: str,
    password: str,
    company: CompanyFile,
    knobs: FaultKnobs | None = None,
    clock: SimClock | None = None,
    *,
    owner_id: str | None = None,
    http: httpx.AsyncClient | None = None,
    verify: bool | str = True,
) -> SessionReport:
    """One Web Connector session against ``url``. ``owner_id`` defaults to the company's single
    data-extension owner (the .qwc OwnerID whose FileID the HCP response carries)."""
    knobs = knobs or FaultKnobs()
    clock = clock or SimClock()
    if owner_id is None:
        owner_id = next(iter(company.state.data_ext), "0")
    for vendor in knobs.user_edits_vendors:
        if company.find_list("Vendor", vendor) is not None:
            company.simulate_user_edit(vendor)
    rng = random.Random(knobs.seed)
    own_client = http is None
    client = http or httpx.AsyncClient(timeout=HTTP_TIMEOUT_S, verify=verify)
    session = _Session(client, url, knobs, clock, rng)
    try:
        await session.run(username, password, company, owner_id)
    except _Stop:
        pass
    finally:
        if own_client:
            await client.aclose()
    return session.report


async def run_every(
    url: str,
    username: str,
    password: str,
    company: CompanyFile,
    *,
    interval_s: float,
    stop_when: Callable[[list[SessionReport]], bool],
    knobs: FaultKnobs | None = None,
    clock: SimClock | None = None,
    owner_id: str | None = None,
    on_report: Callable[[SessionReport], None] | None = None,
    max_sessions: float | None = None,
    verify: bool | str = True,
) -> list[SessionReport]:
    """Scheduled runs (QBWC's "Auto-Run every N"): a session, then ``interval_s`` (scaled), until
    ``stop_when(reports)`` is true or ``max_sessions`` ran. ``verify``: httpx TLS verification
    (``False`` or a CA bundle path for a self-signed demo certificate)."""
    clock = clock or SimClock()
    reports: list[SessionReport] = []
    async with httpx.AsyncClient(timeout=HTTP_TIMEOUT_S, verify=verify) as http:
        while True:
            report = await run_session(url, username, password, company, knobs, clock, owner_id=owner_id, http=http)
            reports.append(report)
            if on_report is not None:
                on_report(report)
            if stop_when(reports) or (max_sessions is not None and len(reports) >= max_sessions):
                return reports
            await clock.sleep(interval_s)


def run_session_sync(*args: object, **kwargs: object) -> SessionReport:
    """Convenience for scripts: ``trio.run`` around :func:`run_session`."""
    return trio.run(lambda: run_session(*args, **kwargs))  # type: ignore[arg-type]
