"""Security at the process boundary, with the worker as a real child process and secrets coming
from the environment (as at a customer's site):

* no operator API without a valid token (401), read-only tokens read but cannot act (403);
* a wrong Web Connector password gets "nvu"; after a few, that client is slowed down, yet the right
  password still gets in (a backoff, never a lockout of the real Web Connector);
* no secret (Concur client secret, request token, access/refresh tokens, Web Connector password,
  operator tokens) in the worker's log files, its stdout/stderr, or any HTTP answer — including
  error pages (401/403/404/405/413, SOAP faults) and the pages written after Concur refused the
  worker's refresh token. ``tests/foundation/test_secrets.py`` checks the happy path in-process;
  this one the failure paths of the real process.
"""

from __future__ import annotations

import os
import secrets as pysecrets

import httpx
import pytest
import trio

from mlc import harness
from shared.config import load_config
from sim.webconnector import soap as wc_soap
from sim.webconnector.client import run_session

from faults_helpers import DEMO_CONFIG, WorkerProcess, free_port, read_db, until

CLIENT_SECRET = "client-secret-F4ultsZq81Lq0Pz"
REQUEST_TOKEN = "request-token-F4ultsQw93Ld7H"
QBWC_PASSWORD = "qbwc-pass-F4ultsZr7Kq9wLm2"
ACTIONS = ("hold", "release", "replay", "skip")

# httpx leaves a request-body generator unfinished when the worker dies mid-request (the point of
# these tests); its ResourceWarning at garbage collection is not a failure.
pytestmark = [
    pytest.mark.filterwarnings("ignore:Async generator 'httpx._content.ByteStream.__aiter__':ResourceWarning"),
    pytest.mark.filterwarnings("ignore:Exception ignored in. <async_generator object ByteStream.__aiter__:pytest.PytestUnraisableExceptionWarning"),
]


def secret_config(tmp_path):
    text = DEMO_CONFIG.read_text(encoding="utf-8")
    text = text.replace('log_level = "info"', 'log_level = "debug"')
    text = text.replace('client_secret = "demo-client-secret-not-for-production"', 'client_secret_env = "MLC_FAULTS_CLIENT_SECRET"')
    text = text.replace('request_token = "demo-request-token"', 'request_token_env = "MLC_FAULTS_REQUEST_TOKEN"')
    start = text.index("password_hash = ")
    text = text[:start] + 'password_env = "MLC_FAULTS_QBWC_PASSWORD"' + text[text.index("\n", start) :]
    path = tmp_path / "base.toml"
    path.write_text(text, encoding="utf-8")
    return path


async def soap_call(http: httpx.AsyncClient, method: str, **values) -> httpx.Response:
    return await http.post("/qbwc", content=wc_soap.build_request(method, **values), headers=wc_soap.headers(method))


@pytest.mark.trio
async def test_tokens_passwords_and_no_secret_anywhere(tmp_path, monkeypatch):
    for name, value in (("MLC_FAULTS_CLIENT_SECRET", CLIENT_SECRET), ("MLC_FAULTS_REQUEST_TOKEN", REQUEST_TOKEN), ("MLC_FAULTS_QBWC_PASSWORD", QBWC_PASSWORD)):
        monkeypatch.setenv(name, value)
    admin, viewer = pysecrets.token_urlsafe(24), pysecrets.token_urlsafe(24)
    port = free_port()
    answers: list[str] = []
    async with trio.open_nursery() as nursery:
        h = await harness.start(
            nursery,
            load_config(secret_config(tmp_path), environ=dict(os.environ)),
            tmp_path / "run",
            reports=4,
            invoices=2,
            worker_port=port,
            concur_port=0,
            start_worker=False,
            password=QBWC_PASSWORD,
        )
        token_file = h.config.operator.token_file
        token_file.write_text(f"admin {admin}\nviewer {viewer} read-only\n", encoding="utf-8")
        url = f"http://127.0.0.1:{port}"
        worker = WorkerProcess(h.config.path, url, tmp_path / "worker.out")
        worker.start()
        try:
            await worker.wait_healthy()
            expected = harness.approve_everything(h)
            await h.concur.deliver_events(url + "/webhooks/concur", duplicates=1)
            company = h.config.companies[0]
            with trio.fail_after(30):
                while read_db(h, "SELECT COUNT(*) FROM documents WHERE state = 'posted'")[0][0] < expected:
                    await run_session(url + "/qbwc", company.qbwc.username, QBWC_PASSWORD, h.company_file, owner_id=company.qbwc.owner_id)
            doc_id = read_db(h, "SELECT id FROM documents ORDER BY id LIMIT 1")[0][0]

            async with httpx.AsyncClient(base_url=url, timeout=30) as http:

                def keep(response: httpx.Response) -> httpx.Response:
                    answers.append(f"{response.status_code} {dict(response.headers)} {response.text}")
                    return response

                reads = ["/api/v1/summary", "/api/v1/documents", f"/api/v1/documents/{doc_id}", "/api/v1/audit", "/api/v1/stream"]
                for path in reads:
                    for headers in ({}, {"Authorization": "Bearer " + admin[:-1] + "x"}, {"Authorization": admin}, {"Authorization": "Basic " + admin}):
                        assert keep(await http.get(path, headers=headers)).status_code == 401, (path, headers)
                for path in reads[:4]:
                    assert keep(await http.get(path, headers={"Authorization": f"Bearer {viewer}"})).status_code == 200, path
                for action in ACTIONS:
                    path = f"/api/v1/documents/{doc_id}/{action}"
                    # Refused POSTs one after another on the same kept-alive connection (they once hung).
                    assert keep(await http.post(path, json={"reason": "x"})).status_code == 401
                    assert keep(await http.post(path, json={"reason": "x"}, headers={"Authorization": f"Bearer {viewer}"})).status_code == 403
                held = keep(await http.post(f"/api/v1/documents/{doc_id}/hold", json={"reason": "check"}, headers={"Authorization": f"Bearer {admin}"}))
                assert held.status_code in (200, 409), held.text  # allowed to act (posted documents cannot be held: 409)
                assert keep(await http.post("/api/v1/documents/999999/hold", json={}, headers={"Authorization": f"Bearer {admin}"})).status_code == 404

                # Wrong Web Connector passwords: nvu; the right one afterwards still gets in.
                statuses = []
                for _ in range(7):
                    reply = keep(await soap_call(http, "authenticate", strUserName=company.qbwc.username, strPassword="guess-" + QBWC_PASSWORD[::-1]))
                    statuses.append(wc_soap.parse_string_array("authenticate", reply.content)[1])
                assert statuses == ["nvu"] * 7
                blocked = keep(await soap_call(http, "authenticate", strUserName=company.qbwc.username, strPassword=QBWC_PASSWORD))
                assert wc_soap.parse_string_array("authenticate", blocked.content)[1] in ("", "none"), "the right password is never locked out"

                # Error pages and public pages.
                for method, path, kw in [
                    ("GET", "/nope", {}),
                    ("DELETE", "/qbwc", {}),
                    ("GET", "/qbwc?wsdl", {}),
                    ("GET", "/support", {}),
                    ("GET", "/healthz", {}),
                    ("GET", "/metrics", {}),
                    ("POST", "/qbwc", {"content": b"<x"}),
                    ("POST", "/webhooks/concur", {"content": b"{}", "headers": {"Concur-Signature": "AAAA"}}),
                    ("POST", f"/api/v1/documents/{doc_id}/explode", {"headers": {"Authorization": f"Bearer {admin}"}}),
                    ("GET", "/api/v1/documents?cursor=%FF%FE", {"headers": {"Authorization": f"Bearer {admin}"}}),
                ]:
                    keep(await http.request(method, path, **kw))
                # Concur refuses the worker from now on: token errors get logged (without the tokens).
                h.concur.revoke_refresh_tokens(h.company)
                h.concur.expire_access_tokens(h.company)
                h.concur.create_report(h.company)
                harness.approve_everything(h)
                await h.concur.deliver_events(url + "/webhooks/concur")
                await until(lambda: bool(read_db(h, "SELECT needs_reconnect FROM concur_tokens")[0][0]), 30, "the worker noticing the revoked token")
                keep(await http.get("/healthz"))
                keep(await http.get("/api/v1/summary", headers={"Authorization": f"Bearer {admin}"}))
            access, refresh = read_db(h, "SELECT access_token, refresh_token FROM concur_tokens")[0]
        finally:
            worker.stop()
            nursery.cancel_scope.cancel()
    secrets = {
        "Concur client secret": CLIENT_SECRET,
        "Concur request token": REQUEST_TOKEN,
        "Web Connector password": QBWC_PASSWORD,
        "admin token": admin,
        "read-only token": viewer,
    }
    if access:
        secrets["Concur access token (last)"] = access
    if refresh:
        secrets["Concur refresh token (last)"] = refresh
    logs = "\n".join(p.read_text(encoding="utf-8", errors="replace") for p in (h.config.worker.data_dir / "logs").glob("*"))
    output = (tmp_path / "worker.out").read_text(encoding="utf-8", errors="replace")
    assert len(logs) > 1000 and "/oauth2/v0/token -> 400" in logs, "debug logs, including the refused refresh, were written"
    for name, value in secrets.items():
        assert len(value) >= 12, name
        assert value not in logs, f"{name} in the log files"
        assert value not in output, f"{name} on the worker's stdout/stderr"
        for answer in answers:
            assert value not in answer, f"{name} in an HTTP answer: {answer[:300]}"


@pytest.mark.trio
async def test_refused_posts_on_one_connection_are_all_answered(tmp_path):
    port = free_port()
    async with trio.open_nursery() as nursery:
        h = await harness.start(nursery, load_config(DEMO_CONFIG), tmp_path / "run", reports=0, invoices=0, worker_port=port, concur_port=0, start_worker=False)
        worker = WorkerProcess(h.config.path, f"http://127.0.0.1:{port}", tmp_path / "worker.out")
        worker.start()
        try:
            await worker.wait_healthy()
            outcomes = []
            for _ in range(6):  # the hang depends on timing; it shows in most attempts
                async with httpx.AsyncClient(base_url=worker.url, timeout=3) as http:
                    for _ in range(2):
                        try:
                            outcomes.append((await http.post("/api/v1/documents/1/hold", json={"reason": "x"})).status_code)
                        except httpx.ReadTimeout:
                            outcomes.append("no answer")
            assert outcomes == [401] * 12, outcomes
        finally:
            worker.kill()
            nursery.cancel_scope.cancel()
