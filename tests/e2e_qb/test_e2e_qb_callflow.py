"""Every QBWC callback, driven over HTTP against the real worker: the normal call flow, the
authenticate statuses, login throttling, connectionError (QuickBooks offline) and the interactive
callbacks."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from mlc import harness
from shared.config import load_config
from sim.webconnector.knobs import FaultKnobs

from e2e_qb_helpers import (
    DEMO_CONFIG,
    INTUIT_NS,
    approve_and_deliver,
    doc_states,
    envelope,
    execute,
    manual_session,
    planned,
    qbwc_service,
    query,
    running,
    soap_string,
    soap_strings,
    wait_fetched,
    wait_for,
)

LIST_QUERIES = ["AccountQueryRq", "ClassQueryRq", "CustomerQueryRq", "VendorQueryRq"]


@pytest.mark.trio
async def test_full_call_flow_progress_noop_and_close(tmp_path, store_url):
    async with running(tmp_path, store_url=store_url) as h:
        # No documents yet, lists never read: there is work (the list sync).
        first = await harness.web_connector_run(h)
        assert first.auth_status == ""
        assert first.soap_calls[:4] == ["serverVersion", "clientVersion", "authenticate", "sendRequestXML"]
        assert first.soap_calls[-1] == "closeConnection" and first.ended_by == "closeConnection"
        assert h.recorder.request_tags()[:4] == LIST_QUERIES
        assert first.close_message.startswith("OK")
        # Lists fresh, nothing queued: "none" and straight to closeConnection.
        idle = await harness.web_connector_run(h)
        assert idle.auth_status == "none"
        assert idle.soap_calls == ["serverVersion", "clientVersion", "authenticate", "closeConnection"]

        k = await approve_and_deliver(h)
        await wait_fetched(h, k)
        await planned(h, k)
        trace = await manual_session(h)
        assert trace["server_version"]
        assert trace["client_version"] == ""  # any QBWC 2.x is welcome: no W:/E:/O:
        assert trace["auth"][1] == "" and len(trace["auth"][0]) == 32
        percents = trace["percent"]
        assert percents and percents[-1] == 100, trace
        assert all(1 <= p <= 99 for p in percents[:-1]), percents
        assert trace["close"].startswith("OK"), trace["close"]
        assert (await doc_states(h)) == {"posted": k}
        # getServerVersion (the newer name) answers the same.
        assert await soap_string(h.qbwc_url, "getServerVersion", ticket="") == trace["server_version"]

        # A document waiting for the planner: sendRequestXML "" then getLastError "NoOp" (QBWC
        # waits 5 s and asks again); once planned and nothing is left, a plain message ends it.
        # (Made fetched without waking the planner: it notices within its 2 s idle wait, so a
        # retry covers the odd early wake-up before the first sendRequestXML.)
        for _attempt in range(4):
            await execute(h, "UPDATE documents SET state = 'fetched' WHERE id = (SELECT MIN(id) FROM documents)")
            trace = await manual_session(h)
            if trace["last_errors"][:1] == ["NoOp"]:
                break
        assert trace["auth"][1] == ""
        assert trace["last_errors"][0] == "NoOp", trace
        assert trace["last_errors"][-1] not in ("", "NoOp"), trace
        assert trace["close"]
        assert (await doc_states(h)) == {"posted": k}
        assert len(harness.quickbooks_transactions(h.company_file)) == k


@pytest.mark.trio
async def test_first_send_without_hcp_is_refused(tmp_path):
    async with running(tmp_path) as h:
        url = h.qbwc_url
        ticket, status = (await soap_strings(url, "authenticate", strUserName="demo-sync", strPassword=h.password))[:2]
        assert status == ""
        sent = await soap_string(
            url, "sendRequestXML", ticket=ticket, strHCPResponse="", strCompanyFileName="x.QBW", qbXMLCountry="US", qbXMLMajorVers="13", qbXMLMinorVers="0"
        )
        assert sent == ""
        assert "strHCPResponse" in await soap_string(url, "getLastError", ticket=ticket)
        assert (await soap_string(url, "closeConnection", ticket=ticket)).startswith("Finished with a problem")
        assert not h.recorder.sets


@pytest.mark.trio
async def test_authenticate_nvu_same_for_unknown_user_and_busy(tmp_path):
    async with running(tmp_path) as h:
        url = h.qbwc_url
        t0 = time.perf_counter()
        bad = await soap_strings(url, "authenticate", strUserName="demo-sync", strPassword="wrong")
        t_bad = time.perf_counter() - t0
        t0 = time.perf_counter()
        unknown = await soap_strings(url, "authenticate", strUserName="nobody-here", strPassword="wrong")
        t_unknown = time.perf_counter() - t0
        assert bad[1] == "nvu" and unknown[1] == "nvu"
        # Always the padded four strings (QBWC reads the positions): postpone empty, minimum run interval set.
        assert bad[2:] == ["", "60"] and unknown[2:] == ["", "60"]
        assert len(bad[0]) == len(unknown[0]) == 32  # a ticket-shaped value even when refused
        # An unknown user costs an argon2 verification too (no user enumeration by timing).
        assert t_unknown > 0.3 * t_bad, (t_unknown, t_bad)
        report = await harness.web_connector_run(
            h,
        )  # bad tries of another user name do not matter
        assert report.auth_status == ""

        # A session of this company is open on another machine (authenticated moments ago): "busy".
        async with _client_from("127.0.0.2") as other_pc:
            ticket = await _auth_from(other_pc, url, "demo-sync", h.password, field=0)
            busy = await harness.web_connector_run(h)
            assert busy.auth_status == "busy" and busy.postpone_s == 60 and busy.min_run_every_s == 60
            assert busy.soap_calls[-1] == "closeConnection" and "sendRequestXML" not in busy.soap_calls
            assert await soap_string(url, "closeConnection", ticket=ticket)
        again = await harness.web_connector_run(h)
        assert again.auth_status in ("", "none")
        # The same machine authenticating again means its last session broke off: not busy.
        await soap_strings(url, "authenticate", strUserName="demo-sync", strPassword=h.password)
        retaken = await harness.web_connector_run(h)
        assert retaken.auth_status in ("", "none")


def _client_from(address: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(timeout=30, transport=httpx.AsyncHTTPTransport(local_address=address))


async def _auth_from(client: httpx.AsyncClient, url: str, user: str, password: str, field: int = 1, forwarded_for: str | None = None) -> str:
    from lxml import etree

    reply = await client.post(
        url,
        content=envelope("authenticate", strUserName=user, strPassword=password),
        headers={
            "Content-Type": "text/xml; charset=utf-8",
            "SOAPAction": f'"{INTUIT_NS}authenticate"',
            **({"X-Forwarded-For": forwarded_for} if forwarded_for else {}),
        },
    )
    root = etree.fromstring(reply.content)
    return [s.text or "" for s in root.iter(f"{{{INTUIT_NS}}}string")][field]


@pytest.mark.trio
async def test_failed_logins_slow_their_client_down_but_never_lock_the_right_password_out(tmp_path):
    async with running(tmp_path) as h:
        url = h.qbwc_url
        svc = qbwc_service(h)
        async with _client_from("127.0.0.1") as here, _client_from("127.0.0.2") as there:
            for _ in range(5):
                assert await _auth_from(here, url, "demo-sync", "guess") == "nvu"
            assert svc.backoff.delay("127.0.0.1") > 0 and svc.backoff.delay("127.0.0.2") == 0
            # The right password from the same client still gets in (after the delay) and clears it.
            assert await _auth_from(here, url, "demo-sync", h.password) in ("", "none")
            assert svc.backoff.delay("127.0.0.1") == 0
            assert await _auth_from(there, url, "demo-sync", h.password) in ("", "none", "busy")
        # Keys are digests, swept once the window has passed, and capped under a flood.
        assert all(len(key) == 32 for key in svc.backoff._failures)
        real = svc.backoff.clock
        svc.backoff.clock = lambda: real() + svc.backoff.window + svc.backoff.sweep_every + 1
        svc.backoff.sweep(force=True)
        assert svc.backoff.tracked() == 0
        svc.backoff.clock = real
        for i in range(svc.backoff.max_keys + 50):
            svc.backoff.end(f"10.0.{i // 256}.{i % 256}", good=False)
        assert svc.backoff.tracked() <= svc.backoff.max_keys


@pytest.mark.trio
async def test_forwarded_for_is_trusted_only_from_configured_proxies(tmp_path):
    """Behind a reverse proxy named in worker.trusted_proxies, the client is the address the proxy
    appended; from any other peer (loopback included) the header is ignored."""

    def trust_loopback(h):
        text = h.config.path.read_text(encoding="utf-8")
        text = (
            text.replace("trusted_proxies = []", 'trusted_proxies = ["127.0.0.1"]')
            if "trusted_proxies = []" in text
            else text.replace("[worker]\n", '[worker]\ntrusted_proxies = ["127.0.0.1"]\n', 1)
        )
        h.config.path.write_text(text, encoding="utf-8")
        h.config = load_config(h.config.path)

    async with running(tmp_path, before_worker=trust_loopback) as h:
        url = h.qbwc_url
        async with _client_from("127.0.0.1") as proxy:
            for _ in range(5):  # the stranger claims to be the Web Connector's machine, in vain
                assert await _auth_from(proxy, url, "demo-sync", "guess", forwarded_for="192.0.2.10, 203.0.113.66") == "nvu"
            svc = qbwc_service(h)
            assert svc.backoff.delay("203.0.113.66") > 0 and svc.backoff.delay("192.0.2.10") == 0
            assert await _auth_from(proxy, url, "demo-sync", h.password, forwarded_for="192.0.2.10") in ("", "none")
    from worker.qbwc.routes import client_address

    assert client_address("127.0.0.1", "198.51.100.7") == "127.0.0.1"  # nobody trusted: header ignored
    assert client_address("198.51.100.1", "127.0.0.1", ("127.0.0.1",)) == "198.51.100.1"
    assert client_address("::1", "2001:db8::5", ("::1",)) == "2001:db8::5"
    assert client_address("10.1.2.3", "2001:db8::5", ("10.0.0.0/8",)) == "2001:db8::5"
    assert client_address("127.0.0.1", " ", ("127.0.0.1",)) == "127.0.0.1"


FAULTS = [
    ("quickbooks_closed", "0x80040408", "could not be started"),
    ("other_company_open", "0x8004040A", "different QuickBooks company file"),
    ("modal_dialog", "0x80040414", "dialog"),
]


@pytest.mark.trio
@pytest.mark.parametrize(("knob", "hresult", "words"), FAULTS)
async def test_connection_error_keeps_documents_pending_offline(tmp_path, knob, hresult, words):
    async with running(tmp_path) as h:
        await harness.web_connector_run(h)  # lists read while QuickBooks was fine
        k = await approve_and_deliver(h)
        await wait_fetched(h, k)
        await planned(h, k)
        report = await harness.web_connector_run(h, FaultKnobs(**{knob: True}))
        assert report.ended_by == "connectionError" and report.last_hresult == hresult
        assert report.soap_calls.count("connectionError") == 1  # "done": QBWC does not retry
        assert report.soap_calls[-1] == "connectionError"
        row = (await query(h, "SELECT * FROM qb_company WHERE company = 'demo'"))[0]
        assert row["unreachable_since"] and row["last_result"] == "unreachable"
        assert words.casefold() in row["last_error"].casefold()
        assert set(await doc_states(h)) <= {"queued", "fetched"}  # pending, nothing posted
        assert "quickbooks_unreachable" in [r["action"] for r in await query(h, "SELECT action FROM audit")]
        assert not harness.quickbooks_transactions(h.company_file)
        offline = await api_company(h)
        queued_now = (await doc_states(h)).get("queued", 0)
        assert queued_now and offline["pending_offline"] == queued_now, offline
        assert offline["pending_offline_since"] == row["unreachable_since"]
        # QuickBooks is back: everything is posted and the company is reachable again.
        counts = await harness.drain(h, expected=k, timeout_s=20)
        assert counts == {"posted": k}
        row = (await query(h, "SELECT * FROM qb_company WHERE company = 'demo'"))[0]
        assert row["unreachable_since"] is None and row["last_result"] == "ok"
        assert (await api_company(h))["pending_offline"] == 0


async def api_company(h) -> dict:
    """The company's line of the operator API's summary (what the console shows)."""
    from shared.tokens import read_tokens

    token = read_tokens(h.config.operator.token_file)[0].token
    async with httpx.AsyncClient(timeout=10) as client:
        reply = await client.get(h.worker.url + "/api/v1/summary", headers={"Authorization": f"Bearer {token}"})
    assert reply.status_code == 200, reply.text
    return next(c for c in reply.json()["companies"] if c["id"] == "demo")


@pytest.mark.trio
async def test_connection_error_with_unknown_ticket_and_interactive_callbacks(tmp_path):
    async with running(tmp_path) as h:
        url = h.qbwc_url
        assert await soap_string(url, "connectionError", ticket="nope", hresult="0x80040408", message="x") == "done"
        ticket = (await soap_strings(url, "authenticate", strUserName="demo-sync", strPassword=h.password))[0]
        # We never ask for interactive mode; if QBWC calls these anyway the answers are harmless.
        assert await soap_string(url, "getInteractiveURL", wcTicket=ticket, sessionID="s1") == ""
        assert await soap_string(url, "interactiveDone", wcTicket=ticket) == "Done"
        assert await soap_string(url, "interactiveRejected", wcTicket=ticket, reason="user said no") == ""
        assert await soap_string(url, "closeConnection", ticket=ticket)
        # Unknown tickets are answered, not faulted.
        assert await soap_string(url, "interactiveDone", wcTicket="unknown") == "Done"
        assert await soap_string(url, "closeConnection", ticket="unknown") == "OK"


@pytest.mark.trio
async def test_a_password_changed_in_the_config_applies_without_a_restart(tmp_path):
    from worker.qbwc.passwords import hash_password

    async with running(tmp_path) as h:
        url = h.qbwc_url
        assert (await soap_strings(url, "authenticate", strUserName="demo-sync", strPassword=h.password))[1] in ("", "none")
        generation = h.worker.ctx.config_generation
        new_hash = hash_password("a-brand-new-password")
        harness.edit_run_config(h, lambda raw: raw["companies"][0]["qbwc"].update(password_hash=new_hash))

        async def reloaded():
            return h.worker.ctx.config_generation > generation

        await wait_for(reloaded, timeout_s=10)
        assert (await soap_strings(url, "authenticate", strUserName="demo-sync", strPassword="a-brand-new-password"))[1] in ("", "none")
        assert (await soap_strings(url, "authenticate", strUserName="demo-sync", strPassword=h.password))[1] == "nvu"


@pytest.mark.trio
async def test_password_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("MLC_TEST_QBWC_PASSWORD", "from-the-environment")
    config = tmp_path / "env.toml"
    text = DEMO_CONFIG.read_text(encoding="utf-8")
    start = text.index("password_hash = ")
    config.write_text(text[:start] + 'password_env = "MLC_TEST_QBWC_PASSWORD"\n' + text[text.index("\n", start) + 1 :], encoding="utf-8")
    async with running(tmp_path, config_path=config, password="from-the-environment") as h:
        report = await harness.web_connector_run(h)
        assert report.auth_status == ""
        assert (await soap_strings(h.qbwc_url, "authenticate", strUserName="demo-sync", strPassword="demo-sync-password"))[1] == "nvu"


@pytest.mark.trio
async def test_the_session_measures_quickbooks_pace_from_the_stored_session(tmp_path, store_url):
    """Sessions live in the store (any worker may answer the next call), so the time a set left
    for QuickBooks must be in the stored session; the next set is sized by the pace measured from it."""
    async with running(tmp_path, store_url=store_url, reports=3, invoices=2) as h:
        await harness.web_connector_run(h)  # lists
        k = await approve_and_deliver(h)
        await wait_fetched(h, k)
        await planned(h, k)
        await harness.web_connector_run(h)
        assert await doc_states(h) == {"posted": k}
        rows = await query(h, "SELECT state FROM qbwc_sessions ORDER BY created_at")
        paces = [json.loads(r["state"])["pace_s"] for r in rows]
        assert paces and paces[-1] > 0, paces
