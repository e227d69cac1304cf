"""The Web Connector simulator against a small but honest QBWC service (``conftest.MiniQBWC``: real
SOAP over real HTTP on 127.0.0.1, quart-trio on Hypercorn): call order, HCP on the first call only, NoOp,
nvu/none, connectionError, lost responses, QBWC1041/1042, kill, scheduled runs."""

from __future__ import annotations

import pytest
from lxml import etree

from sim.quickbooks.engine import CompanyFile
from sim.quickbooks.latency import SimClock
from sim.quickbooks.messages import message_set
from sim.webconnector.client import run_every, run_session
from sim.webconnector.knobs import FaultKnobs

FILE_ID = "{5C1B7E3A-2F4D-4A8B-9C0D-1E2F3A4B5C6D}"


class RecordingClock(SimClock):
    def __init__(self) -> None:
        super().__init__(scale=0.0)
        self.sleeps: list[float] = []

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        await super().sleep(seconds)


def vendor_add(name: str) -> str:
    return message_set(f'<VendorAddRq requestID="7"><VendorAdd><Name>{name}</Name></VendorAdd></VendorAddRq>')


@pytest.mark.trio
async def test_happy_session_call_order_hcp_and_headers(server, company: CompanyFile) -> None:
    url, svc = server
    svc.work = [vendor_add("Web Vendor 1"), vendor_add("Web Vendor 2")]
    report = await run_session(url, "demo-sync", "secret", company, clock=RecordingClock())
    assert svc.calls == [
        "serverVersion",
        "clientVersion",
        "authenticate",
        "sendRequestXML",
        "receiveResponseXML",
        "sendRequestXML",
        "receiveResponseXML",
        "closeConnection",
    ]
    assert report.soap_calls == svc.calls and report.ended_by == "closeConnection"
    assert [(a, c) for a, c in svc.headers][:2] == [
        ('"http://developer.intuit.com/serverVersion"', "text/xml; charset=utf-8"),
        ('"http://developer.intuit.com/clientVersion"', "text/xml; charset=utf-8"),
    ]
    assert svc.hcp[0] and svc.hcp[1] == ""  # strHCPResponse only on the first call
    hcp = etree.fromstring(svc.hcp[0].encode())
    assert [e.findtext("DataExtValue") for e in hcp.iter("DataExtRet") if e.findtext("DataExtName") == "FileID"] == [FILE_ID]
    assert all('statusCode="0"' in r for r, _, _ in svc.responses)
    assert company.find_list("Vendor", "Web Vendor 2") is not None
    assert report.qbxml_requests == 2 and report.writes == 2 and report.close_message == "OK: 2 done"
    assert not company.in_session


@pytest.mark.trio
@pytest.mark.parametrize("password, forced, status", [("wrong", None, "nvu"), ("secret", "none", "none"), ("secret", "busy", "busy")])
async def test_no_work_or_bad_login_closes(server, company: CompanyFile, password: str, forced: str | None, status: str) -> None:
    url, svc = server
    svc.auth_status = forced
    report = await run_session(url, "demo-sync", password, company, clock=RecordingClock())
    assert svc.calls == ["serverVersion", "clientVersion", "authenticate", "closeConnection"]
    assert report.auth_status == status


@pytest.mark.trio
async def test_empty_send_then_noop_pauses_five_seconds_and_retries(server, company: CompanyFile) -> None:
    url, svc = server
    svc.noops_first = 2
    svc.work = [vendor_add("After NoOp")]
    clock = RecordingClock()
    report = await run_session(url, "demo-sync", "secret", company, clock=clock)
    assert svc.calls == [
        "serverVersion",
        "clientVersion",
        "authenticate",
        "sendRequestXML",
        "getLastError",
        "sendRequestXML",
        "getLastError",
        "sendRequestXML",
        "receiveResponseXML",
        "closeConnection",
    ]
    assert clock.sleeps.count(5.0) == 2 and report.noops == 2
    assert svc.hcp[0] and svc.hcp[1:] == ["", ""]


@pytest.mark.trio
async def test_empty_send_with_message_ends_session(server, company: CompanyFile) -> None:
    url, svc = server
    report = await run_session(url, "demo-sync", "secret", company, clock=RecordingClock())
    assert svc.calls[-3:] == ["sendRequestXML", "getLastError", "closeConnection"]
    assert report.last_error == "nothing to do"


@pytest.mark.trio
@pytest.mark.parametrize("knob, hresult", [("quickbooks_closed", "0x80040408"), ("other_company_open", "0x8004040A"), ("modal_dialog", "0x80040414")])
async def test_connection_error_instead_of_send(server, company: CompanyFile, knob: str, hresult: str) -> None:
    url, svc = server
    svc.work = [vendor_add("Never")]
    report = await run_session(url, "demo-sync", "secret", company, FaultKnobs(**{knob: True}), RecordingClock())
    assert svc.calls == ["serverVersion", "clientVersion", "authenticate", "connectionError"]
    assert svc.connection_errors[0][0] == hresult and report.last_hresult == hresult
    assert company.find_list("Vendor", "Never") is None


@pytest.mark.trio
async def test_lost_response_after_quickbooks_applied_it(server, company: CompanyFile) -> None:
    url, svc = server
    svc.work = [vendor_add("Applied But Unknown")]
    report = await run_session(url, "demo-sync", "secret", company, FaultKnobs(lose_responses=frozenset({1})), RecordingClock())
    assert svc.calls[-1] == "sendRequestXML" and "receiveResponseXML" not in svc.calls
    assert report.lost_responses == 1 and report.ended_by == "lost_response"
    assert company.find_list("Vendor", "Applied But Unknown") is not None  # QuickBooks did it anyway


@pytest.mark.trio
@pytest.mark.parametrize("method, code", [("receiveResponseXML", "QBWC1042"), ("sendRequestXML", "QBWC1041")])
async def test_reply_that_is_not_soap_counts_as_qbwc_failure(server, company: CompanyFile, method: str, code: str) -> None:
    url, svc = server
    svc.work = [vendor_add("Garbled")]
    svc.garbage_for = {method}
    report = await run_session(url, "demo-sync", "secret", company, clock=RecordingClock())
    assert report.failures == {code: 1} and report.ended_by == "failure"
    assert svc.calls[-1] == method and "closeConnection" not in svc.calls


@pytest.mark.trio
async def test_parse_error_goes_to_get_last_error_then_close(server, company: CompanyFile) -> None:
    url, svc = server
    svc.work = [message_set("<VendorAddRq><VendorAdd><IsActive>true</IsActive><Name>X</Name></VendorAdd></VendorAddRq>")]
    report = await run_session(url, "demo-sync", "secret", company, clock=RecordingClock())
    assert svc.responses == [("", "0x80040400", "QuickBooks found an error when parsing the provided XML text stream.")]
    assert svc.calls[-3:] == ["receiveResponseXML", "getLastError", "closeConnection"]
    assert report.last_error == "QuickBooks said 0x80040400"


@pytest.mark.trio
async def test_killed_web_connector_stops_without_close(server, company: CompanyFile) -> None:
    url, svc = server
    svc.work = [vendor_add("K1"), vendor_add("K2")]
    report = await run_session(url, "demo-sync", "secret", company, FaultKnobs(kill_after_calls=5), RecordingClock())
    assert len(svc.calls) == 5 and report.killed and "closeConnection" not in svc.calls


@pytest.mark.trio
async def test_run_every_with_user_edit_between_sessions(server, company: CompanyFile, now) -> None:
    url, svc = server
    before = company.find_list("Vendor", "Office Depot")["EditSequence"]
    clock = RecordingClock()
    reports = await run_every(
        url,
        "demo-sync",
        "secret",
        company,
        interval_s=60,
        clock=clock,
        knobs=FaultKnobs(user_edits_vendors=("Office Depot",), network_latency_s=0.25),
        stop_when=lambda rs: len(rs) == 3,
    )
    assert len(reports) == 3 and svc.calls.count("authenticate") == 3
    assert clock.sleeps.count(60) == 2 and 0.25 in clock.sleeps
    assert int(company.find_list("Vendor", "Office Depot")["EditSequence"]) >= int(before) + 3


@pytest.mark.trio
async def test_authenticate_naming_another_company_file_gives_0x8004040a(server, company: CompanyFile) -> None:
    url, svc = server
    svc.auth_status = r"C:\Company Files\Someone Else.QBW"
    report = await run_session(url, "demo-sync", "secret", company, clock=RecordingClock())
    assert svc.calls[-1] == "connectionError" and svc.connection_errors[0][0] == "0x8004040A"
    assert report.ended_by == "connectionError"


@pytest.mark.trio
async def test_authenticate_naming_this_company_file_proceeds(server, company: CompanyFile) -> None:
    url, svc = server
    svc.auth_status = company.state.file_path.upper()
    svc.work = [vendor_add("Named File")]
    report = await run_session(url, "demo-sync", "secret", company, clock=RecordingClock())
    assert report.ended_by == "closeConnection" and company.find_list("Vendor", "Named File") is not None
