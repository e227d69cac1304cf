"""Shared pieces of the QuickBooks-side end-to-end tests.

Everything runs for real on 127.0.0.1: the Concur simulator, the worker (``serve_worker``), the
simulated company file and the Web Connector simulator speaking SOAP over HTTP. The company file's
``process`` is wrapped (not replaced) so every qbXML message set QuickBooks received is kept and can
be validated against the 13.0 XSD at the end of each test.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio
from lxml import etree

from mlc import harness
from shared.config import load_config
from sim.webconnector import soap as wc_soap

REPO = Path(__file__).resolve().parents[2]
REFERENCE = REPO / ".." / "shared" / "reference"
XSD_PATH = REFERENCE / "qbxml" / "schema-13.0" / "qbxmlops130.xsd"
DEMO_CONFIG = REPO / "mlc.toml"
INTUIT_NS = "http://developer.intuit.com/"
SOAP_NS = "http://schemas.xmlsoap.org/soap/envelope/"


def need_reference() -> None:
    if not XSD_PATH.exists():
        pytest.skip(f"qbXML 13.0 XSD not available ({XSD_PATH.resolve()}); it lives in /work/shared/reference")


_xsd_cache: list[etree.XMLSchema] = []


def xsd() -> etree.XMLSchema:
    need_reference()
    if not _xsd_cache:
        _xsd_cache.append(etree.XMLSchema(etree.parse(str(XSD_PATH))))
    return _xsd_cache[0]


def assert_valid_qbxml(text: str, where: str = "") -> None:
    schema = xsd()
    document = etree.fromstring(text.encode("utf-8") if isinstance(text, str) else text, etree.XMLParser(resolve_entities=False, no_network=True))
    if not schema.validate(document):
        raise AssertionError(f"invalid qbXML {where}: {schema.error_log}\n{text[:2000]}")


class Recorder:
    """Every message set the simulated QuickBooks received, with what it answered."""

    def __init__(self) -> None:
        self.sets: list[str] = []
        self.results: list[Any] = []
        self.skip_validation: set[int] = set()  # indexes of sets a test corrupted on purpose

    def install(self, company_file: Any) -> None:
        original = company_file.process

        def process(text: str):
            self.sets.append(text)
            result = original(text)
            self.results.append(result)
            return result

        company_file.process = process

    def request_tags(self) -> list[str]:
        tags = []
        for text in self.sets:
            root = etree.fromstring(text.encode("utf-8"), etree.XMLParser(resolve_entities=False))
            msgs = root.find("QBXMLMsgsRq")
            tags += [c.tag for c in (msgs if msgs is not None else []) if isinstance(c.tag, str)]
        return tags

    def validate_all(self) -> int:
        for i, text in enumerate(self.sets):
            if i not in self.skip_validation:
                assert_valid_qbxml(text, f"(message set {i} sent to QuickBooks)")
        return len(self.sets)


@asynccontextmanager
async def running(
    tmp_path: Path, *, reports: int = 4, invoices: int = 2, seed: int = 7, before_worker=None, config_path: Path = DEMO_CONFIG, **kwargs: Any
) -> AsyncIterator[harness.Harness]:
    """A harness (Concur sim + worker + company file) for one test; XSD-checks what QuickBooks got.

    ``before_worker(h)`` runs after seeding and before the worker starts (edit the company file
    or the run config there)."""
    need_reference()
    config = load_config(config_path)
    async with trio.open_nursery() as nursery:
        h = await harness.start(
            nursery,
            config,
            tmp_path / "run",
            reports=reports,
            invoices=invoices,
            seed=seed,
            worker_port=0,
            concur_port=0,
            start_worker=before_worker is None,
            **kwargs,
        )
        recorder = Recorder()
        recorder.install(h.company_file)
        h.recorder = recorder  # type: ignore[attr-defined]
        h.nursery = nursery  # type: ignore[attr-defined]
        if before_worker is not None:
            before_worker(h)
            await harness.start_worker_in(nursery, h, 0)
        try:
            yield h
            if h.worker is not None:
                await assert_store_requests_valid(h)
            recorder.validate_all()
        finally:
            if h.worker is not None:
                await harness.stop_worker(h)
            nursery.cancel_scope.cancel()


async def assert_store_requests_valid(h: harness.Harness) -> int:
    """Every write the worker queued (postings.request_xml), wrapped as QuickBooks gets it, is valid."""
    from worker.qbxml.build import wrap_requests

    rows = await query(h, "SELECT id, request_xml FROM postings WHERE request_xml != '' AND state != 'quarantined'")
    for row in rows:
        assert_valid_qbxml(wrap_requests([row["request_xml"]], "13.0", "continueOnError"), f"(postings row {row['id']})")
    return len(rows)


async def query(h: harness.Harness, sql: str, *args: Any) -> list[sqlite3.Row]:
    assert h.worker is not None

    def run(conn: sqlite3.Connection) -> list[sqlite3.Row]:
        return list(conn.execute(sql, args))

    return await h.worker.ctx.store.run(run)


async def settled_found_ops(h: harness.Harness) -> list[sqlite3.Row]:
    """The outbox rows a settlement query found in QuickBooks (their ids are in the audit detail)."""
    ids = [json.loads(r["detail"])["posting"] for r in await query(h, "SELECT detail FROM audit WHERE action = 'settled_found'")]
    if not ids:
        return []
    return await query(h, f"SELECT op FROM postings WHERE id IN ({','.join('?' * len(ids))})", *ids)


async def execute(h: harness.Harness, sql: str, *args: Any) -> int:
    assert h.worker is not None
    return await h.worker.ctx.store.run(lambda conn: conn.execute(sql, args).rowcount)


async def doc_states(h: harness.Harness) -> dict[str, int]:
    return await harness.progress(h)


async def audit_actions(h: harness.Harness) -> list[str]:
    return [r["action"] for r in await query(h, "SELECT action FROM audit ORDER BY id")]


def external_guids(h: harness.Harness) -> list[str]:
    return [str(t.get("ExternalGUID") or "") for _, t in harness.quickbooks_transactions(h.company_file)]


def assert_no_duplicates(h: harness.Harness) -> None:
    guids = external_guids(h)
    assert all(guids), "every transaction carries our ExternalGUID"
    assert len(guids) == len(set(guids)), f"a transaction was written twice: {sorted(guids)}"


async def approve_and_deliver(h: harness.Harness) -> int:
    k = harness.approve_everything(h)
    await harness.deliver(h)
    return k


async def wait_for(predicate, timeout_s: float = 8.0, pause_s: float = 0.05):
    """Await ``predicate()`` (async) until truthy; fail after ``timeout_s``."""
    with trio.move_on_after(timeout_s):
        while True:
            value = await predicate()
            if value:
                return value
            await trio.sleep(pause_s)
    raise AssertionError(f"condition not met within {timeout_s}s")


async def wait_fetched(h: harness.Harness, k: int) -> None:
    """All ``k`` approved documents arrived in the store (webhook processing is asynchronous)."""

    async def enough():
        return sum((await doc_states(h)).values()) >= k

    await wait_for(enough)


# --- raw SOAP ---------------------------------------------------------------------------------


def envelope(method: str, **values: str) -> bytes:
    from xml.sax.saxutils import escape

    body = "".join(f"<{k}>{escape(str(v))}</{k}>" for k, v in values.items())
    return (
        f'<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="{SOAP_NS}"><soap:Body>'
        f'<{method} xmlns="{INTUIT_NS}">{body}</{method}></soap:Body></soap:Envelope>'
    ).encode()


async def soap_post(url: str, body: bytes, method: str = "x", headers: dict[str, str] | None = None) -> httpx.Response:
    async with httpx.AsyncClient(timeout=30) as client:
        return await client.post(url, content=body, headers=headers if headers is not None else wc_soap.headers(method))


async def soap_call(url: str, method: str, **values: str) -> etree._Element:
    """Call one method with raw SOAP; return its ``{method}Result`` element (fails on a Fault)."""
    reply = await soap_post(url, envelope(method, **values), method)
    assert reply.status_code == 200, reply.text
    root = etree.fromstring(reply.content, etree.XMLParser(resolve_entities=False, no_network=True))
    result = root.find(f"{{{SOAP_NS}}}Body/{{{INTUIT_NS}}}{method}Response/{{{INTUIT_NS}}}{method}Result")
    assert result is not None, reply.text
    return result


async def soap_string(url: str, method: str, **values: str) -> str:
    return (await soap_call(url, method, **values)).text or ""


async def soap_strings(url: str, method: str, **values: str) -> list[str]:
    return [(s.text or "") for s in (await soap_call(url, method, **values)).findall(f"{{{INTUIT_NS}}}string")]


async def soap_int(url: str, method: str, **values: str) -> int:
    return int((await soap_call(url, method, **values)).text or "")


def qbwc_service(h: harness.Harness):
    """The worker's QbwcService, to steer its clocks."""
    assert h.worker is not None
    return h.worker.app.extensions["qbwc"]


async def restart_worker(h: harness.Harness) -> None:
    """Stop the worker (its in-memory sessions die with it) and start it again on the same data."""
    await harness.stop_worker(h)  # returns once it has shut down and closed its store
    await harness.start_worker_in(h.nursery, h, 0)  # type: ignore[attr-defined]


async def manual_session(
    h: harness.Harness, *, username: str | None = None, password: str | None = None, company_file=None, owner_id: str | None = None, max_rounds: int = 50
) -> dict[str, Any]:
    """A Web Connector session written out call by call, recording every answer (percentages,
    getLastError texts) the simulator does not keep."""
    url = h.qbwc_url
    company = h.config.companies[0]
    cf = company_file or h.company_file
    trace: dict[str, Any] = {"percent": [], "last_errors": [], "sets": 0}
    trace["server_version"] = await soap_string(url, "serverVersion")
    trace["client_version"] = await soap_string(url, "clientVersion", strVersion="2.3.0.215")
    auth = await soap_strings(url, "authenticate", strUserName=username or company.qbwc.username, strPassword=password or h.password)
    trace["auth"] = auth
    ticket = auth[0]
    if auth[1] in ("none", "nvu", "busy"):
        trace["close"] = await soap_string(url, "closeConnection", ticket=ticket)
        return trace
    cf.begin_session()
    try:
        first = True
        for _ in range(max_rounds):
            hcp = cf.hcp_response(owner_id or company.qbwc.owner_id) if first else ""
            request = await soap_string(
                url,
                "sendRequestXML",
                ticket=ticket,
                strHCPResponse=hcp,
                strCompanyFileName=cf.state.file_path,
                qbXMLCountry="US",
                qbXMLMajorVers="13",
                qbXMLMinorVers="0",
            )
            first = False
            if not request.strip():
                last = await soap_string(url, "getLastError", ticket=ticket)
                trace["last_errors"].append(last)
                if last == "NoOp":
                    await trio.sleep(0.05)
                    continue
                break
            result = cf.process(request)
            trace["sets"] += 1
            percent = await soap_int(url, "receiveResponseXML", ticket=ticket, response=result.response, hresult=result.hresult, message=result.message)
            trace["percent"].append(percent)
            if percent < 0:
                trace["last_errors"].append(await soap_string(url, "getLastError", ticket=ticket))
                break
            if percent >= 100:
                break
    finally:
        cf.end_session()
    trace["close"] = await soap_string(url, "closeConnection", ticket=ticket)
    h.company_file.save(h.company_path)
    return trace


async def planned(h: harness.Harness, k: int, company: str | None = None) -> None:
    """Wait until the planner has dealt with all ``k`` documents: each is fetched from Concur and
    past ``fetched``, or waits on purpose (for a vendor another document of the same employee is
    creating). A document still ``received`` is not settled: its fetch has not run yet."""

    async def done():
        rows = await query(h, "SELECT state, wait FROM documents WHERE company = COALESCE(?, company)", company)
        settled = [r for r in rows if r["state"] not in ("received", "fetched") or (r["state"] == "fetched" and r["wait"] != "none")]
        return len(rows) >= k and len(settled) == len(rows)

    await wait_for(done)
