"""Hostile requests over HTTP against the real worker process: XXE, billion laughs, oversize and
chunked bodies, random and mutated SOAP envelopes, signed and unsigned garbage webhooks, random API
parameters. Each is refused with its documented status (never a 5xx for what a stranger can send,
never a dropped connection), the worker keeps serving — a full Web Connector session still posts —
and its memory stays bounded (RSS before/after the burst, Linux).
"""

from __future__ import annotations

import json
import random
import sys

import httpx
import pytest
import trio

from mlc import harness
from shared.config import load_config
from shared.tokens import read_tokens
from sim.webconnector import soap as wc_soap
from sim.webconnector.client import run_session
from tests.helpers.oversize import oversize_post, status_line
from worker.concur.intake import MAX_WEBHOOK_BYTES
from worker.qbwc.soap import MAX_SOAP_BYTES

from faults_helpers import DEMO_CONFIG, WorkerProcess, free_port, read_db, rss_mb

CANARY = "ml-connector-hostile-canary"
RSS_MARGIN_MB = 40
SOAP_OK = {200, 500}  # an answer or a SOAP fault (QBWC reads both)

LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + "".join(f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">' for i in range(1, 10))
    + ']><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>'
    '<authenticate xmlns="http://developer.intuit.com/"><strUserName>&lol9;</strUserName><strPassword>x</strPassword>'
    "</authenticate></soap:Body></soap:Envelope>"
).encode()

# httpx leaves a request-body generator unfinished when the worker dies mid-request (the point of
# these tests); its ResourceWarning at garbage collection is not a failure.
pytestmark = [
    pytest.mark.filterwarnings("ignore:Async generator 'httpx._content.ByteStream.__aiter__':ResourceWarning"),
    pytest.mark.filterwarnings("ignore:Exception ignored in. <async_generator object ByteStream.__aiter__:pytest.PytestUnraisableExceptionWarning"),
]


def xxe(path: str) -> bytes:
    return (
        f'<?xml version="1.0"?><!DOCTYPE e [<!ENTITY x SYSTEM "file://{path}">]>'
        '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>'
        '<authenticate xmlns="http://developer.intuit.com/"><strUserName>&x;</strUserName><strPassword>p</strPassword>'
        "</authenticate></soap:Body></soap:Envelope>"
    ).encode()


def mutate(rng: random.Random, data: bytes) -> bytes:
    data = bytearray(data)
    for _ in range(rng.randint(1, 6)):
        choice = rng.random()
        if choice < 0.4 and data:
            data[rng.randrange(len(data))] = rng.randrange(256)
        elif choice < 0.6:
            del data[rng.randrange(len(data) + 1) :]
        elif choice < 0.8:
            at = rng.randrange(len(data) + 1)
            data[at:at] = rng.choice([b"<", b"&", b"]]>", b"<!--", b"\x00", b"&#0;", b"<x>" * 50, "é".encode("latin-1")])
        else:
            at = rng.randrange(len(data) + 1)
            data[at:at] = data[: rng.randrange(len(data) + 1)]
    return bytes(data)


async def oversize_status(port: int, path: str, total: int, chunked: bool) -> str:
    """The status line of the answer to ``total`` bytes sent to ``path``, or how the connection ended."""
    return status_line(await oversize_post(f"http://127.0.0.1:{port}{path}", total, chunked, content_type="text/xml"))


@pytest.mark.trio
async def test_hostile_requests_are_refused_and_the_worker_keeps_serving(tmp_path):
    rng = random.Random(8)
    canary = tmp_path / "canary.txt"
    canary.write_text(CANARY, encoding="utf-8")
    port = free_port()
    async with trio.open_nursery() as nursery:
        h = await harness.start(nursery, load_config(DEMO_CONFIG), tmp_path / "run", reports=3, invoices=2, worker_port=port, concur_port=0, start_worker=False)
        url = f"http://127.0.0.1:{port}"
        worker = WorkerProcess(h.config.path, url, tmp_path / "worker.log")
        worker.start()
        try:
            await worker.wait_healthy()
            token = read_tokens(h.config.operator.token_file)[0].token
            valid = [
                wc_soap.build_request("authenticate", strUserName="demo-sync", strPassword="wrong"),
                wc_soap.build_request(
                    "sendRequestXML", ticket="t", strHCPResponse="<x/>", strCompanyFileName="c", qbXMLCountry="US", qbXMLMajorVers=13, qbXMLMinorVers=0
                ),
                wc_soap.build_request("receiveResponseXML", ticket="t", response="<QBXML/>", hresult="", message=""),
            ]
            event = json.dumps(
                {"id": "e", "topic": "concur.expense.report", "eventType": "statusChanged", "facts": {"companyId": "x", "reportId": "R"}}
            ).encode()
            failures: list[str] = []

            async with httpx.AsyncClient(base_url=url, timeout=30) as http:

                async def expect(what: str, allowed: set[int], method: str = "POST", path: str = "/qbwc", **kw) -> httpx.Response | None:
                    if path == "/qbwc" and method == "POST":
                        kw.setdefault("headers", wc_soap.headers("authenticate"))  # as the Web Connector sends them
                    try:
                        response = await http.request(method, path, **kw)
                    except httpx.HTTPError as exc:
                        failures.append(f"{what}: {type(exc).__name__}: {exc}")
                        return None
                    if response.status_code not in allowed:
                        failures.append(f"{what}: {response.status_code} {response.text[:200]}")
                    if CANARY in response.text:
                        failures.append(f"{what}: a local file's content came back")
                    return response

                async def burst(rounds: int) -> None:
                    for _ in range(rounds):
                        await expect("xxe", SOAP_OK, content=xxe(canary.as_posix()))
                        await expect("billion laughs", SOAP_OK, content=LAUGHS)
                        await expect("random bytes", SOAP_OK, content=rng.randbytes(rng.randint(0, 2000)))
                        await expect("mutated envelope", SOAP_OK, content=mutate(rng, rng.choice(valid)))
                        await expect("unsigned webhook", {401}, path="/webhooks/concur", content=mutate(rng, event))
                        garbage = rng.choice([mutate(rng, event), rng.randbytes(rng.randint(0, 500)), b"[]", b"{}", b'"x"', b"null"])
                        await expect(
                            "signed garbage webhook", {200, 400}, path="/webhooks/concur", content=garbage, headers={"Concur-Signature": h.concur.sign(garbage)}
                        )
                        params = {
                            rng.choice(["limit", "cursor", "q", "state", "company", "kind"]): rng.choice(
                                ["-1", "0", "100000", "abc", "%00", "' OR 1=1 --", "x" * 300, "eyJ4Ijo", "held", "\u202e"]
                            )
                            for _ in range(2)
                        }
                        await expect(
                            "api params", {200, 400}, method="GET", path="/api/v1/documents", params=params, headers={"Authorization": f"Bearer {token}"}
                        )
                        await expect("api without token", {401}, method="GET", path="/api/v1/documents")

                await burst(5)  # warm-up: caches, first allocations
                before = rss_mb(worker.pid)
                for path, limit in (("/qbwc", MAX_SOAP_BYTES), ("/webhooks/concur", MAX_WEBHOOK_BYTES)):
                    for chunked in (False, True):
                        status = await oversize_status(port, path, limit + 0x20000, chunked)
                        if " 413 " not in status + " ":
                            failures.append(f"oversize {path} ({'chunked' if chunked else 'Content-Length'}): {status}")
                await burst(60)
                after = rss_mb(worker.pid)
                assert (await http.get("/healthz")).status_code == 200
            assert not failures, "\n".join(failures[:20])
            assert worker.alive()
            print(f"hostile burst: worker RSS {before} MB -> {after} MB")
            if before is not None and after is not None:
                assert after - before < RSS_MARGIN_MB, f"RSS grew from {before:.0f} MB to {after:.0f} MB over the burst"
            # Still a working connector: a normal session posts what Concur approved.
            expected = harness.approve_everything(h)
            await h.concur.deliver_events(url + "/webhooks/concur")
            company = h.config.companies[0]
            with trio.fail_after(30):
                while read_db(h, "SELECT COUNT(*) FROM documents WHERE state = 'posted'")[0][0] < expected:
                    report = await run_session(url + "/qbwc", company.qbwc.username, h.password, h.company_file, owner_id=company.qbwc.owner_id)
                    assert report.auth_status not in ("nvu", "busy") or report.auth_status == "busy", report.summary()
                    await trio.sleep(0.1)
        except BaseException:
            print(worker.log_tail(60), file=sys.stderr)
            raise
        finally:
            worker.kill()
            nursery.cancel_scope.cancel()


@pytest.mark.trio
async def test_signed_deeply_nested_webhook_is_a_400(tmp_path):
    port = free_port()
    async with trio.open_nursery() as nursery:
        h = await harness.start(nursery, load_config(DEMO_CONFIG), tmp_path / "run", reports=0, invoices=0, worker_port=port, concur_port=0, start_worker=False)
        url = f"http://127.0.0.1:{port}"
        worker = WorkerProcess(h.config.path, url, tmp_path / "worker.log")
        worker.start()
        try:
            await worker.wait_healthy()
            body = b"[" * 100_000
            async with httpx.AsyncClient(base_url=url, timeout=30) as http:
                response = await http.post("/webhooks/concur", content=body, headers={"Concur-Signature": h.concur.sign(body)})
                assert (await http.get("/healthz")).status_code == 200
            assert response.status_code == 400, response.status_code
        finally:
            worker.kill()
            nursery.cancel_scope.cancel()
