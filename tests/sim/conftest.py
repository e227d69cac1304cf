"""Shared helpers for the simulator tests: the reference folder, a controllable clock, a seeded company."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import hypercorn.config
import hypercorn.trio
import pytest
import trio
from lxml import etree
from quart import request
from quart_trio import QuartTrio

from sim.quickbooks.engine import CompanyFile
from sim.quickbooks.latency import ZERO_LATENCY
from sim.quickbooks.seed import seed_company
from sim.webconnector.soap import INTUIT_NS, SOAP_NS

REFERENCE = Path(__file__).resolve().parents[2] / ".." / "shared" / "reference"
QBXML_REF = REFERENCE / "qbxml"
XSD = QBXML_REF / "schema-13.0" / "qbxmlops130.xsd"
FILE_ID = "{5C1B7E3A-2F4D-4A8B-9C0D-1E2F3A4B5C6D}"
OWNER_ID = "{0D4E6F80-91A2-4B3C-8D5E-6F708192A3B4}"
TZ = dt.timezone(dt.timedelta(hours=-5))


def need_reference(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"shared reference not present: {path}")
    return path


class FakeNow:
    """A clock for the engine: starts at a fixed instant, moves only when told."""

    def __init__(self) -> None:
        self.value = dt.datetime(2026, 3, 2, 9, 30, 0, tzinfo=TZ)

    def __call__(self) -> dt.datetime:
        return self.value

    def advance(self, seconds: float) -> None:
        self.value += dt.timedelta(seconds=seconds)


@pytest.fixture
def qbxml_ref() -> Path:
    return need_reference(QBXML_REF)


@pytest.fixture
def xsd_path() -> Path:
    return need_reference(XSD)


@pytest.fixture
def now() -> FakeNow:
    return FakeNow()


@pytest.fixture
def company(now: FakeNow) -> CompanyFile:
    return seed_company(FILE_ID, OWNER_ID, now=now, latency=ZERO_LATENCY)


# --- a small, honest QBWC service (real SOAP over real HTTP) -----------------------------
# The worker's endpoint is written elsewhere; this one implements just enough of the protocol to
# prove the Web Connector simulator's behaviour.


@dataclass
class MiniQBWC:
    """The QBWC protocol, minimally: hands out queued qbXML, records what it is told."""

    password: str = "secret"
    work: list[str] = field(default_factory=list)
    noops_first: int = 0
    auth_status: str | None = None  # force "none"/"busy"
    garbage_for: set[str] = field(default_factory=set)  # methods answered with an HTML error page
    calls: list[str] = field(default_factory=list)
    headers: list[tuple[str, str]] = field(default_factory=list)
    hcp: list[str] = field(default_factory=list)
    responses: list[tuple[str, str, str]] = field(default_factory=list)
    connection_errors: list[tuple[str, str]] = field(default_factory=list)
    last_error: str = ""
    pending_noop: bool = False
    sent: int = 0

    def handle(self, method: str, p: dict[str, str]) -> Any:
        if method == "serverVersion":
            return "1.0.0"
        if method == "clientVersion":
            return ""
        if method == "authenticate":
            if p["strPassword"] != self.password:
                return ["", "nvu"]
            if self.auth_status:
                return ["ticket-1", self.auth_status]
            return ["ticket-1", ""]
        if method == "sendRequestXML":
            self.hcp.append(p["strHCPResponse"])
            if self.noops_first:
                self.noops_first -= 1
                self.pending_noop = True
                return ""
            if self.sent >= len(self.work):
                self.last_error = "nothing to do"
                return ""
            self.sent += 1
            return self.work[self.sent - 1]
        if method == "receiveResponseXML":
            self.responses.append((p["response"], p["hresult"], p["message"]))
            if p["hresult"]:
                self.last_error = f"QuickBooks said {p['hresult']}"
                return -1
            return 100 if self.sent >= len(self.work) else int(100 * self.sent / len(self.work))
        if method == "getLastError":
            if self.pending_noop:
                self.pending_noop = False
                return "NoOp"
            return self.last_error
        if method == "connectionError":
            self.connection_errors.append((p["hresult"], p["message"]))
            return "done"
        if method == "closeConnection":
            return f"OK: {self.sent} done"
        raise AssertionError(method)


def envelope(method: str, result: Any) -> str:
    if isinstance(result, list):
        inner = "".join(f"<string>{escape(s)}</string>" for s in result)
    else:
        inner = escape(str(result))
    return (
        f'<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="{SOAP_NS}"><soap:Body>'
        f'<{method}Response xmlns="{INTUIT_NS}"><{method}Result>{inner}</{method}Result></{method}Response>'
        "</soap:Body></soap:Envelope>"
    )


def make_app(service: MiniQBWC) -> QuartTrio:
    app = QuartTrio(__name__)

    @app.post("/qbwc")
    async def qbwc() -> Any:
        body = await request.get_data()
        root = etree.fromstring(body)
        call = root.find(f"{{{SOAP_NS}}}Body")[0]
        method = etree.QName(call).localname
        assert etree.QName(call).namespace == INTUIT_NS
        params = {etree.QName(c).localname: (c.text or "") for c in call}
        service.calls.append(method)
        service.headers.append((request.headers.get("SOAPAction", ""), request.headers.get("Content-Type", "")))
        if method in service.garbage_for:
            return "<html><body>502 Bad Gateway</body></html>", 502, {"Content-Type": "text/html"}
        result = service.handle(method, params)
        return envelope(method, result), 200, {"Content-Type": "text/xml; charset=utf-8"}

    return app


def _config() -> hypercorn.config.Config:
    config = hypercorn.config.Config()
    config.bind = ["127.0.0.1:0"]  # a free port, found by the OS
    config.accesslog = None
    config.errorlog = None
    return config


@pytest.fixture
async def server() -> AsyncIterator[tuple[str, MiniQBWC]]:
    """The mini QBWC service in the test's own trio loop (for ``@pytest.mark.trio`` tests)."""
    service = MiniQBWC()
    stop = trio.Event()
    async with trio.open_nursery() as nursery:
        binds = await nursery.start(lambda task_status: hypercorn.trio.serve(make_app(service), _config(), shutdown_trigger=stop.wait, task_status=task_status))
        yield binds[0] + "/qbwc", service
        stop.set()


@pytest.fixture
def threaded_server() -> Iterator[tuple[str, MiniQBWC]]:
    """The mini QBWC service in its own thread and trio loop (for code that calls ``trio.run`` itself)."""
    service = MiniQBWC()
    ready = threading.Event()
    state: dict[str, Any] = {}

    async def serve() -> None:
        stop = trio.Event()
        state["token"], state["stop"] = trio.lowlevel.current_trio_token(), stop
        async with trio.open_nursery() as nursery:
            binds = await nursery.start(
                lambda task_status: hypercorn.trio.serve(make_app(service), _config(), shutdown_trigger=stop.wait, task_status=task_status)
            )
            state["url"] = binds[0] + "/qbwc"
            ready.set()

    thread = threading.Thread(target=trio.run, args=(serve,), daemon=True)
    thread.start()
    assert ready.wait(10), "test QBWC service did not start"
    try:
        yield state["url"], service
    finally:
        trio.from_thread.run_sync(state["stop"].set, trio_token=state["token"])
        thread.join(10)
