"""The click entry points the lead mounts under ``mlc sim``: quickbooks new/show, and webconnector
against a live QBWC service (the test service from test_webconnector, run in its own thread)."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from sim.quickbooks.cli import quickbooks
from sim.quickbooks.engine import CompanyFile
from sim.quickbooks.messages import message_set
from sim.webconnector.cli import webconnector

OWNER = "{0D4E6F80-91A2-4B3C-8D5E-6F708192A3B4}"
FILE_ID = "{5C1B7E3A-2F4D-4A8B-9C0D-1E2F3A4B5C6D}"


def test_new_then_show_lists_vendors_bills_and_totals(tmp_path: Path) -> None:
    path = tmp_path / "demo.qbsim"
    runner = CliRunner()
    result = runner.invoke(quickbooks, ["new", str(path), "--file-id", FILE_ID, "--owner-id", OWNER])
    assert result.exit_code == 0, result.output
    assert runner.invoke(quickbooks, ["new", str(path)]).exit_code != 0  # no silent overwrite
    cf = CompanyFile.load(path)
    cf.execute(
        message_set(
            "<BillAddRq><BillAdd><VendorRef><FullName>Acme Travel LLC</FullName></VendorRef><TxnDate>2026-03-01</TxnDate>"
            "<RefNumber>CNC-42</RefNumber><ExpenseLineAdd><AccountRef><FullName>Travel:Hotel</FullName></AccountRef>"
            "<Amount>250.00</Amount><ClassRef><FullName>Sales</FullName></ClassRef></ExpenseLineAdd>"
            "<ExpenseLineAdd><AccountRef><FullName>Travel:Meals</FullName></AccountRef><Amount>40.50</Amount>"
            "</ExpenseLineAdd></BillAdd></BillAddRq>"
        )
    )
    cf.save(path)
    shown = runner.invoke(quickbooks, ["show", str(path)])
    assert shown.exit_code == 0, shown.output
    out = shown.output
    assert "Acme Travel LLC" in out and "CNC-42" in out and "290.50" in out
    assert f"FileID = {FILE_ID}" in out
    assert "Travel:Hotel" in out and "250.00" in out
    assert "(no class)" in out and "40.50" in out
    assert "Total posted: 290.50" in out


def test_show_refuses_a_file_that_is_not_a_company(tmp_path: Path) -> None:
    bad = tmp_path / "x.qbsim"
    bad.write_text('{"format": 99}', encoding="utf-8")
    result = CliRunner().invoke(quickbooks, ["show", str(bad)])
    assert result.exit_code != 0 and "not a company file" in result.output


def test_webconnector_command_runs_a_session_against_a_live_service(tmp_path: Path, threaded_server) -> None:
    url, service = threaded_server
    path = tmp_path / "demo.qbsim"
    assert CliRunner().invoke(quickbooks, ["new", str(path), "--file-id", FILE_ID, "--owner-id", OWNER]).exit_code == 0
    service.work = [message_set("<VendorAddRq><VendorAdd><Name>From CLI</Name></VendorAdd></VendorAddRq>")]
    result = CliRunner().invoke(webconnector, ["--url", url, "--company-file", str(path), "--password", "secret", "--once", "--latency-scale", "0"])
    assert result.exit_code == 0, result.output
    assert "ended_by=closeConnection" in result.output and "writes=1" in result.output
    assert CompanyFile.load(path).find_list("Vendor", "From CLI") is not None  # saved after the session
    assert service.calls[0] == "serverVersion" and service.calls[-1] == "closeConnection"


def test_webconnector_command_exits_1_when_quickbooks_is_closed(tmp_path: Path, threaded_server) -> None:
    url, service = threaded_server
    path = tmp_path / "demo.qbsim"
    assert CliRunner().invoke(quickbooks, ["new", str(path)]).exit_code == 0
    result = CliRunner().invoke(
        webconnector, ["--url", url, "--company-file", str(path), "--password", "secret", "--quickbooks-closed", "--latency-scale", "0"]
    )
    assert result.exit_code == 1
    assert "0x80040408" in result.output and service.calls[-1] == "connectionError"
