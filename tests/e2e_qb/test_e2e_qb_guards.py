"""What the worker refuses: the wrong company file, another company's ticket, unknown and expired
tickets, hostile SOAP bodies; and what it publishes: the WSDL and the .qwc file."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from lxml import etree

from mlc import harness
from sim.quickbooks.latency import LatencyModel
from sim.quickbooks.seed import seed_company
from sim.webconnector.client import run_session
from tests.helpers.oversize import oversize_post

from e2e_qb_helpers import (
    DEMO_CONFIG,
    INTUIT_NS,
    SOAP_NS,
    approve_and_deliver,
    audit_actions,
    doc_states,
    envelope,
    manual_session,
    planned,
    qbwc_service,
    query,
    running,
    soap_int,
    soap_post,
    soap_string,
    soap_strings,
    wait_fetched,
)

OTHER_FILE_ID = "{11111111-2222-3333-4444-555555555555}"


@pytest.mark.trio
async def test_wrong_company_file_gets_nothing(tmp_path):
    async with running(tmp_path) as h:
        await harness.web_connector_run(h)
        k = await approve_and_deliver(h)
        await wait_fetched(h, k)
        await planned(h, k)
        sets_before = len(h.recorder.sets)
        # The same machine now has another company file open (its FileID differs).
        owner = h.config.companies[0].qbwc.owner_id.upper()
        h.company_file.state.data_ext[owner] = {"FileID": OTHER_FILE_ID}
        report = await harness.web_connector_run(h)
        assert report.auth_status == ""
        assert report.writes == 0 and report.qbxml_requests == 0
        assert len(h.recorder.sets) == sets_before
        assert "different company file" in report.last_error and OTHER_FILE_ID in report.last_error
        assert report.close_message.startswith("Finished with a problem")
        assert not harness.quickbooks_transactions(h.company_file)
        assert set(await doc_states(h)) <= {"queued", "fetched"}  # pending, nothing posted
        assert "company_file_refused" in await audit_actions(h)
        row = (await query(h, "SELECT last_result, last_error FROM qb_company WHERE company = 'demo'"))[0]
        assert row["last_result"] == "refused" and OTHER_FILE_ID in row["last_error"]
        # The right file again: everything goes in.
        h.company_file.state.data_ext[owner] = {"FileID": h.config.companies[0].qbwc.file_id}
        assert (await harness.drain(h, expected=k, timeout_s=20)) == {"posted": k}


def two_company_config(tmp_path: Path) -> Path:
    """The demo config plus a second company "beta" (own user, FileID and Concur client)."""
    text = DEMO_CONFIG.read_text(encoding="utf-8")
    start = text.index("\n[[companies]]")
    second = text[start:]
    for old, new in (
        ('id = "demo"', 'id = "beta"'),
        ('name = "Demo Consulting LLC"', 'name = "Beta Partners LLC"'),
        ('client_id = "demo-client"', 'client_id = "beta-client"'),
        ('company_uuid = "5bdf71c5-1f82-4b4a-ad67-140ac6aaf75f"', 'company_uuid = "0c0f2f43-6a55-4e4e-9b1e-3cbe1f3c2d7a"'),
        ('username = "demo-sync"', 'username = "beta-sync"'),
        ('file_id = "{FAF95B0C-891A-4578-9057-7CAF0389A2AA}"', 'file_id = "{0B7D1C2E-3F40-4A5B-8C6D-7E8F9A0B1C2D}"'),
    ):
        assert old in second, old
        second = second.replace(old, new, 1)
    path = tmp_path / "two.toml"
    path.write_text(text + "\n" + second, encoding="utf-8")
    return path


@pytest.mark.trio
async def test_a_ticket_never_acts_on_another_company(tmp_path):
    async with running(tmp_path, config_path=two_company_config(tmp_path)) as h:
        beta = h.config.company("beta")
        beta_file = seed_company(beta.qbwc.file_id, beta.qbwc.owner_id, company_name=beta.name, latency=LatencyModel(0, 0, 0, 0, 0))
        h.recorder.install(beta_file)

        async def beta_session():
            return await run_session(h.qbwc_url, beta.qbwc.username, h.password, beta_file, clock=h.clock, owner_id=beta.qbwc.owner_id)

        await harness.web_connector_run(h)
        await beta_session()
        k_demo = len(h.concur.approve_all("demo"))
        k_beta = len(h.concur.approve_all("beta"))
        await h.concur.deliver_events(h.webhook_url)
        await wait_fetched(h, k_demo + k_beta)
        await planned(h, k_demo, "demo")
        await planned(h, k_beta, "beta")

        # demo's ticket, beta's company file open: refused, nothing of beta's handed out.
        trace = await manual_session(h, company_file=beta_file)
        assert trace["sets"] == 0 and "different company file" in trace["last_errors"][-1]
        assert not beta_file.state.txns["Bill"] and not beta_file.state.txns["JournalEntry"]
        states = await query(h, "SELECT company, state, COUNT(*) AS n FROM postings GROUP BY company, state")
        assert {(r["company"], r["state"]) for r in states} == {("demo", "queued"), ("beta", "queued")}

        # demo's ticket on demo's file: only demo's writes travel; beta's stay queued.
        trace = await manual_session(h)
        assert trace["percent"][-1] == 100
        rows = await query(h, "SELECT company, state, op, status_code, status_message FROM postings")
        assert all(r["state"] in ("done", "cancelled", "failed") for r in rows if r["company"] == "demo"), [tuple(r) for r in rows]
        assert all(r["state"] == "queued" for r in rows if r["company"] == "beta")
        assert len(harness.quickbooks_transactions(h.company_file)) == k_demo
        assert not harness.quickbooks_transactions(beta_file)

        # Unknown ticket: "" / -1, and getLastError explains.
        url = h.qbwc_url
        assert (
            await soap_string(
                url, "sendRequestXML", ticket="0" * 32, strHCPResponse="", strCompanyFileName="", qbXMLCountry="US", qbXMLMajorVers="13", qbXMLMinorVers="0"
            )
            == ""
        )
        assert "unknown" in await soap_string(url, "getLastError", ticket="0" * 32)
        assert await soap_int(url, "receiveResponseXML", ticket="0" * 32, response="<QBXML/>", hresult="", message="") == -1

        # An expired ticket (30 min idle) acts no more.
        ticket = (await soap_strings(url, "authenticate", strUserName="beta-sync", strPassword=h.password))[0]
        svc = qbwc_service(h)
        svc.clock = lambda: time.time() + 31 * 60
        try:
            assert (
                await soap_string(
                    url,
                    "sendRequestXML",
                    ticket=ticket,
                    strHCPResponse=beta_file.hcp_response(beta.qbwc.owner_id),
                    strCompanyFileName=beta_file.state.file_path,
                    qbXMLCountry="US",
                    qbXMLMajorVers="13",
                    qbXMLMinorVers="0",
                )
                == ""
            )
            assert "expired" in await soap_string(url, "getLastError", ticket=ticket)
        finally:
            svc.clock = time.time
        assert all(r["state"] == "queued" for r in await query(h, "SELECT state FROM postings WHERE company = 'beta'"))

        report = await beta_session()
        assert report.auth_status == ""
        assert len(harness.quickbooks_transactions(beta_file)) == k_beta
        assert len(harness.quickbooks_transactions(h.company_file)) == k_demo
        counts = await query(h, "SELECT company, state, COUNT(*) AS n FROM documents GROUP BY company, state")
        assert {(r["company"], r["state"], r["n"]) for r in counts} == {("demo", "posted", k_demo), ("beta", "posted", k_beta)}


XXE = b"""<?xml version="1.0"?><!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>
<authenticate xmlns="http://developer.intuit.com/"><strUserName>&xxe;</strUserName><strPassword>x</strPassword></authenticate>
</soap:Body></soap:Envelope>"""
LAUGHS = b"""<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;"><!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
<!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;"><!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
<!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;"><!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
<!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">]>
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>
<authenticate xmlns="http://developer.intuit.com/"><strUserName>&lol9;</strUserName><strPassword>x</strPassword></authenticate>
</soap:Body></soap:Envelope>"""
HOSTILE = {
    "xxe": XXE,
    "billion_laughs": LAUGHS,
    "garbage": b"\x00\xff this is not xml <<<>>> \x89PNG",
    "empty": b"",
    "html": b"<html><body>hello</body></html>",
    "wrong_namespace": envelope("authenticate", strUserName="demo-sync", strPassword="x").replace(INTUIT_NS.encode(), b"http://evil.example/"),
    "unknown_method": envelope("dropTables", ticket="x"),
    "soap12": envelope("serverVersion").replace(SOAP_NS.encode(), b"http://www.w3.org/2003/05/soap-envelope"),
    "no_body": b'<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"/>',
    "truncated": envelope("authenticate", strUserName="a", strPassword="b")[:-30],
    "external_dtd": b'<?xml version="1.0"?><!DOCTYPE x SYSTEM "http://127.0.0.1:9/evil.dtd">' + envelope("serverVersion")[38:],
}


def assert_fault(reply, status: int = 500) -> str:
    assert reply.status_code == status, (reply.status_code, reply.text[:300])
    assert reply.headers["content-type"].startswith("text/xml"), reply.headers
    text = reply.text
    assert "Traceback" not in text and "<html" not in text.lower()
    root = etree.fromstring(reply.content, etree.XMLParser(resolve_entities=False, no_network=True))
    fault = root.find(f"{{{SOAP_NS}}}Body/{{{SOAP_NS}}}Fault")
    assert fault is not None, text
    assert fault.findtext("faultcode", "").startswith("soap:")
    return fault.findtext("faultstring", "")


@pytest.mark.trio
async def test_hostile_soap_gets_faults_and_the_worker_keeps_serving(tmp_path):
    async with running(tmp_path) as h:
        url = h.qbwc_url
        for name, body in HOSTILE.items():
            reply = await soap_post(url, body, "authenticate")
            text = assert_fault(reply)
            assert "root:" not in text and "lol" not in text, name  # nothing expanded or read
        # Oversize: refused while it is still arriving, with a Content-Length or chunked. (Raw
        # sockets: httpx would insist on writing the whole body before reading the 413.)
        for chunked in (False, True):
            answer = await oversize_post(url, 11 * 1024 * 1024, chunked)
            head, _, body = answer.partition(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 413"), (chunked, answer[:300])
            assert b"content-type: text/xml" in head.lower(), (chunked, head)
            assert b"<soap:Fault>" in body and b"request too large" in body, (chunked, body[:300])
        # None of them reached a callback (no login attempt counted), and a normal session works afterwards.
        k = await approve_and_deliver(h)
        assert (await harness.drain(h, expected=k, timeout_s=20)) == {"posted": k}
        assert all(not r.failures for r in h.sessions)


@pytest.mark.trio
async def test_wsdl_names_every_operation(tmp_path):
    async with running(tmp_path) as h:
        async with __import__("httpx").AsyncClient() as client:
            reply = await client.get(h.qbwc_url + "?wsdl")
        assert reply.status_code == 200
        root = etree.fromstring(reply.content)
        wsdl = "http://schemas.xmlsoap.org/wsdl/"
        assert root.tag == f"{{{wsdl}}}definitions" and root.get("targetNamespace") == INTUIT_NS
        operations = {op.get("name") for op in root.iter(f"{{{wsdl}}}operation")}
        assert operations >= {
            "serverVersion",
            "getServerVersion",
            "clientVersion",
            "authenticate",
            "sendRequestXML",
            "receiveResponseXML",
            "connectionError",
            "getLastError",
            "closeConnection",
            "getInteractiveURL",
            "interactiveDone",
            "interactiveRejected",
        }
        address = next(root.iter("{http://schemas.xmlsoap.org/wsdl/soap/}address")).get("location")
        assert address == h.config.worker.public_url + "/qbwc"


QWC_ELEMENTS = (
    "AppName",
    "AppID",
    "AppURL",
    "AppDescription",
    "AppSupport",
    "UserName",
    "OwnerID",
    "FileID",
    "QBType",
    "Scheduler",
    "IsReadOnly",
    "UnattendedModePref",
    "PersonalDataPref",
    "AuthFlags",
)


def test_qwc_has_every_element_and_refuses_an_ip_http_url(tmp_path):
    from mlc.cli import main

    result = CliRunner().invoke(main, ["--config", str(DEMO_CONFIG), "qwc", "demo"])
    assert result.exit_code == 0, result.output
    root = etree.fromstring(result.stdout.encode("utf-8"))
    assert root.tag == "QBWCXML"
    values = {el.tag: (el.text or "").strip() for el in root.iter() if isinstance(el.tag, str)}
    missing = [tag for tag in QWC_ELEMENTS if tag not in values]
    assert not missing, result.stdout
    assert values["AppURL"] == "http://localhost:8750/qbwc"
    assert values["AppSupport"].startswith("http://localhost:8750/")
    assert values["FileID"] == "{FAF95B0C-891A-4578-9057-7CAF0389A2AA}"
    assert values["QBType"] == "QBFS" and values["IsReadOnly"] == "false"
    assert values["UnattendedModePref"] == "umpRequired" and values["PersonalDataPref"] == "pdpNotNeeded"
    assert values["AuthFlags"].lower() == "0xf"
    assert root.find("Scheduler/RunEveryNMinutes").text.strip() == "5"

    ip_config = tmp_path / "ip.toml"
    ip_config.write_text(
        DEMO_CONFIG.read_text(encoding="utf-8").replace('public_url = "http://localhost:8750"', 'public_url = "http://127.0.0.1:8750"'), encoding="utf-8"
    )
    (tmp_path / "var").mkdir()
    result = CliRunner().invoke(main, ["--config", str(ip_config), "qwc", "demo"])
    assert result.exit_code != 0
    assert "127.0.0.1" in result.output and ("IP" in result.output or "address" in result.output), result.output
    assert "<QBWCXML" not in result.output


QBXML_XXE = (
    '<?xml version="1.0"?><!DOCTYPE QBXML [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><?qbxml version="13.0"?>'
    '<QBXML><QBXMLMsgsRs><VendorAddRs requestID="1" statusCode="0" statusSeverity="Info" statusMessage="&xxe;"/>'
    "</QBXMLMsgsRs></QBXML>"
)
QBXML_LAUGHS = (
    LAUGHS.decode().split("]>")[0]
    + ']><QBXML><QBXMLMsgsRs><VendorAddRs requestID="1" statusCode="0" statusSeverity="Info" statusMessage="&lol9;"/></QBXMLMsgsRs></QBXML>'
)


@pytest.mark.trio
async def test_hostile_qbxml_inside_valid_calls_is_not_believed(tmp_path):
    """The qbXML strings inside SOAP (HCP response, QuickBooks' answer) are untrusted too: an
    entity-laden answer is not expanded, not believed, and what it claimed to answer stays uncertain."""
    async with running(tmp_path, reports=3, invoices=1) as h:
        await harness.web_connector_run(h)  # lists
        k = await approve_and_deliver(h)
        await wait_fetched(h, k)
        await planned(h, k)
        url, cf = h.qbwc_url, h.company_file
        owner = h.config.companies[0].qbwc.owner_id
        # An HCP answer with an external entity: refused, nothing sent.
        ticket = (await soap_strings(url, "authenticate", strUserName="demo-sync", strPassword=h.password))[0]
        evil_hcp = cf.hcp_response(owner).replace("<QBXML>", '<!DOCTYPE QBXML [<!ENTITY x SYSTEM "file:///etc/passwd">]><QBXML>', 1)
        assert (
            await soap_string(
                url,
                "sendRequestXML",
                ticket=ticket,
                strHCPResponse=evil_hcp,
                strCompanyFileName=cf.state.file_path,
                qbXMLCountry="US",
                qbXMLMajorVers="13",
                qbXMLMinorVers="0",
            )
            == ""
        )
        last = await soap_string(url, "getLastError", ticket=ticket)
        assert last and "root:" not in last
        await soap_string(url, "closeConnection", ticket=ticket)
        assert not await query(h, "SELECT 1 FROM postings WHERE state != 'queued'")
        # QuickBooks' "answer" to a real set is hostile: -1, and the writes it claims are uncertain.
        for hostile in (QBXML_XXE, QBXML_LAUGHS, "<QBXML><QBXMLMsgsRs>", "\x00garbage"):
            ticket = (await soap_strings(url, "authenticate", strUserName="demo-sync", strPassword=h.password))[0]
            request = await soap_string(
                url,
                "sendRequestXML",
                ticket=ticket,
                strHCPResponse=cf.hcp_response(owner),
                strCompanyFileName=cf.state.file_path,
                qbXMLCountry="US",
                qbXMLMajorVers="13",
                qbXMLMinorVers="0",
            )
            assert request
            assert await soap_int(url, "receiveResponseXML", ticket=ticket, response=hostile.replace("\x00", ""), hresult="", message="") == -1
            last = await soap_string(url, "getLastError", ticket=ticket)
            assert last and "root:" not in last and "lollol" not in last
            await soap_string(url, "closeConnection", ticket=ticket)
            assert not await query(h, "SELECT 1 FROM postings WHERE state IN ('done', 'sent')"), "nothing believed"
        assert (await doc_states(h)).get("unknown", 0) >= 1
        assert not harness.quickbooks_transactions(cf)
        # A normal session settles (nothing was applied: settled absent) and posts everything once.
        counts = await harness.drain(h, expected=k, timeout_s=20)
        assert counts == {"posted": k}
        assert "settled_absent" in await audit_actions(h)
        assert len(harness.quickbooks_transactions(cf)) == k


@pytest.mark.trio
async def test_two_companies_sessions_at_the_same_time_stay_apart(tmp_path):
    import trio

    async with running(tmp_path, config_path=two_company_config(tmp_path), reports=5, invoices=2) as h:
        beta = h.config.company("beta")
        beta_file = seed_company(beta.qbwc.file_id, beta.qbwc.owner_id, company_name=beta.name, latency=LatencyModel(0, 0, 0, 0, 0))
        h.recorder.install(beta_file)
        k_demo = len(h.concur.approve_all("demo"))
        k_beta = len(h.concur.approve_all("beta"))
        await h.concur.deliver_events(h.webhook_url)
        await wait_fetched(h, k_demo + k_beta)

        async def drain_beta():
            for _ in range(30):
                await run_session(h.qbwc_url, beta.qbwc.username, h.password, beta_file, clock=h.clock, owner_id=beta.qbwc.owner_id)
                rows = await query(h, "SELECT COUNT(*) AS n FROM documents WHERE company = 'beta' AND state = 'posted'")
                if rows[0]["n"] == k_beta:
                    return
                await trio.sleep(0.02)

        async def drain_demo():
            for _ in range(30):
                await harness.web_connector_run(h)
                rows = await query(h, "SELECT COUNT(*) AS n FROM documents WHERE company = 'demo' AND state = 'posted'")
                if rows[0]["n"] == k_demo:
                    return
                await trio.sleep(0.02)

        with trio.fail_after(30):
            async with trio.open_nursery() as both:
                both.start_soon(drain_demo)
                both.start_soon(drain_beta)
        counts = await query(h, "SELECT company, state, COUNT(*) AS n FROM documents GROUP BY company, state")
        assert {(r["company"], r["state"], r["n"]) for r in counts} == {("demo", "posted", k_demo), ("beta", "posted", k_beta)}
        assert len(harness.quickbooks_transactions(h.company_file)) == k_demo
        assert len(harness.quickbooks_transactions(beta_file)) == k_beta
        assert all(s.auth_status != "busy" for s in h.sessions), "one company's session never makes the other busy"
        demo_refs = {t["RefNumber"] for _, t in harness.quickbooks_transactions(h.company_file)}
        beta_refs = {t["RefNumber"] for _, t in harness.quickbooks_transactions(beta_file)}
        stored = await query(h, "SELECT company, ref_number FROM postings WHERE op IN ('BillAdd', 'JournalEntryAdd') AND state = 'done'")
        assert {r["ref_number"] for r in stored if r["company"] == "demo"} == demo_refs
        assert {r["ref_number"] for r in stored if r["company"] == "beta"} == beta_refs


# --- issue 14: QuickBooks closed is normal; the right company file, strictly ---------------------


def _set_company_file(h) -> None:
    path = h.company_file.state.file_path
    harness.edit_run_config(h, lambda raw: raw["companies"][0]["qbwc"].__setitem__("company_file", path))


@pytest.mark.trio
async def test_quickbooks_closed_the_web_connector_opens_the_configured_file(tmp_path):
    from sim.webconnector.knobs import FaultKnobs

    closed = FaultKnobs(quickbooks_closed=True)
    async with running(tmp_path, before_worker=_set_company_file) as h:
        path = h.company_file.state.file_path
        # Without the "even if QuickBooks is not running" permission the file cannot be opened.
        denied = await harness.web_connector_run(h, FaultKnobs(quickbooks_closed=True, unattended_allowed=False))
        assert denied.auth_status == path and denied.ended_by == "connectionError" and denied.last_hresult == "0x8004041D"
        row = (await query(h, "SELECT last_result, last_error FROM qb_company WHERE company = 'demo'"))[0]
        assert row["last_result"] == "unreachable" and row["last_error"]
        report = await harness.web_connector_run(h, closed)  # the lists are read: work to do
        assert report.auth_status == path and report.opened_in_background == path
        assert report.ended_by == "closeConnection" and report.qbxml_requests >= 1
        k = await approve_and_deliver(h)
        assert (await harness.drain(h, expected=k, timeout_s=20, knobs=closed)) == {"posted": k}
        assert len(harness.quickbooks_transactions(h.company_file)) == k
        # Nothing to do: "none", so QuickBooks is not started for nothing.
        idle = await harness.web_connector_run(h, closed)
        assert idle.auth_status == "none" and idle.opened_in_background == "" and idle.soap_calls[-1] == "closeConnection"


@pytest.mark.trio
async def test_quickbooks_closed_without_a_company_file_is_a_connection_error(tmp_path):
    from sim.webconnector.knobs import FaultKnobs

    async with running(tmp_path) as h:
        report = await harness.web_connector_run(h, FaultKnobs(quickbooks_closed=True))
        assert report.auth_status == "" and report.opened_in_background == ""
        assert report.ended_by == "connectionError" and report.last_hresult == "0x80040408"
        row = (await query(h, "SELECT last_result FROM qb_company WHERE company = 'demo'"))[0]
        assert row["last_result"] == "unreachable"


@pytest.mark.trio
async def test_first_contact_file_recorded_later_files_refused_copy_accepted_by_the_operator(tmp_path):
    from mlc.cli import main

    async with running(tmp_path) as h:
        cf = h.company_file
        owner = h.config.companies[0].qbwc.owner_id.upper()
        right_path = cf.state.file_path
        await harness.web_connector_run(h)  # first contact
        rows = await query(h, "SELECT file_id, company_name, path FROM qb_company_file WHERE company = 'demo'")
        assert [tuple(r) for r in rows] == [(h.config.companies[0].qbwc.file_id, "Demo Consulting LLC", right_path)]
        assert "company_file_recorded" in await audit_actions(h)
        k = await approve_and_deliver(h)
        await wait_fetched(h, k)
        await planned(h, k)
        sets_before = len(h.recorder.sets)

        # The same file without our FileID (a file set up again, or another one): refused.
        saved = dict(cf.state.data_ext[owner])
        cf.state.data_ext[owner] = {}
        report = await harness.web_connector_run(h)
        assert report.writes == 0 and len(h.recorder.sets) == sets_before
        assert "carries no ml-connector FileID" in report.last_error and "mlc accept-company-file demo" in report.last_error
        assert report.close_message.startswith("Finished with a problem")
        cf.state.data_ext[owner] = saved

        # A backup restored elsewhere: same FileID, other path. Named a copy; nothing sent.
        cf.state.file_path = r"D:\Backups\Demo Consulting LLC (restored).QBW"
        report = await harness.web_connector_run(h)
        assert report.writes == 0 and len(h.recorder.sets) == sets_before
        assert "copy or backup" in report.last_error and "Demo Consulting LLC (restored).QBW" in report.last_error
        assert "mlc accept-company-file demo" in report.last_error
        row = (await query(h, "SELECT last_result, last_error FROM qb_company WHERE company = 'demo'"))[0]
        assert row["last_result"] == "refused" and "copy or backup" in row["last_error"]
        assert "company_file_refused" in await audit_actions(h)
        assert not harness.quickbooks_transactions(cf)
        assert set(await doc_states(h)) <= {"queued", "fetched"}

        # The operator accepts the copy: it is the company's file from now on.
        result = CliRunner().invoke(main, ["--config", str(h.config.path), "accept-company-file", "demo"])
        assert result.exit_code == 0, result.output
        assert "Demo Consulting LLC (restored).QBW" in result.output
        assert "company_file_accepted" in await audit_actions(h)
        assert (await harness.drain(h, expected=k, timeout_s=20)) == {"posted": k}
        # Nothing left to accept: a clear refusal, exit 1.
        again = CliRunner().invoke(main, ["--config", str(h.config.path), "accept-company-file", "demo"])
        assert again.exit_code == 1 and "no company file of demo was refused" in again.output
