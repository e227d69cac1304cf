from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from worker.qbwc.qwc import QwcError, build_qwc, check_app_url, check_support_url

OWNER = "{3F2504E0-4F89-11D3-9A0C-0305E82C3301}"
FILE = "{6B29FC40-CA47-1067-B31D-00DD010662DA}"


def qwc(**overrides: object) -> str:
    args: dict[str, object] = {
        "app_name": "ml-connector (demo)",
        "app_url": "https://qbwc.example.com/qbwc",
        "support_url": "https://qbwc.example.com/support",
        "username": "demo-sync",
        "owner_id": OWNER,
        "file_id": FILE,
        "run_every_minutes": 5,
        "description": "Posts approved SAP Concur expenses & invoices",
    }
    args.update(overrides)
    return build_qwc(**args)  # type: ignore[arg-type]


def test_qwc_has_every_element() -> None:
    text = qwc()
    assert text.startswith('<?xml version="1.0"?>\n<QBWCXML>')
    root = etree.fromstring(text.encode("utf-8"))
    values = {child.tag: (child.text or "") for child in root}
    assert values == {
        "AppName": "ml-connector (demo)",
        "AppID": "",
        "AppURL": "https://qbwc.example.com/qbwc",
        "AppDescription": "Posts approved SAP Concur expenses & invoices",
        "AppSupport": "https://qbwc.example.com/support",
        "UserName": "demo-sync",
        "OwnerID": OWNER,
        "FileID": FILE,
        "QBType": "QBFS",
        "Scheduler": values["Scheduler"],
        "IsReadOnly": "false",
        "UnattendedModePref": "umpRequired",
        "PersonalDataPref": "pdpNotNeeded",
        "AuthFlags": "0xF",
    }
    assert root.findtext("Scheduler/RunEveryNMinutes") == "5"
    assert "&amp; invoices" in text


def test_qwc_covers_the_sample_files(qbwc_ref: Path) -> None:
    ours = etree.fromstring(qwc().encode("utf-8"))
    our_tags = {c.tag for c in ours}
    samples = sorted(qbwc_ref.glob("*.qwc"))
    assert len(samples) == 4
    required = {"AppName", "AppID", "AppURL", "AppDescription", "AppSupport", "UserName", "OwnerID", "FileID", "QBType"}
    for path in samples:
        sample = etree.parse(str(path)).getroot()
        assert sample.tag == ours.tag == "QBWCXML"
        sample_tags = {c.tag for c in sample}
        assert required <= sample_tags, path.name
        # Everything a sample sets, we set too (except optional extras we do not need).
        assert sample_tags - our_tags <= {"Style", "CertURL"}, path.name
        assert sample.findtext("QBType") == ours.findtext("QBType")
        if sample.find("AuthFlags") is not None:
            assert sample.findtext("AuthFlags") == ours.findtext("AuthFlags")


def test_sample_urls_by_our_rules(qbwc_ref: Path) -> None:
    verdicts = {}
    for path in sorted(qbwc_ref.glob("*.qwc")):
        sample = etree.parse(str(path)).getroot()
        try:
            check_app_url(sample.findtext("AppURL"))
            check_support_url(sample.findtext("AppURL"), sample.findtext("AppSupport"))
            verdicts[path.name] = "ok"
        except QwcError as exc:
            verdicts[path.name] = str(exc)
    assert verdicts["consolibyte-example.qwc"] == "ok"  # http on localhost
    assert verdicts["intuit-HTTPSWebService.qwc"] == "ok"  # https, same host (support may be http)
    assert verdicts["intuit-HTTPWebService.qwc"] == "ok"


def test_reused_sample_guids_are_refused(qbwc_ref: Path) -> None:
    sample = etree.parse(str(qbwc_ref / "intuit-HTTPSWebService.qwc")).getroot()
    with pytest.raises(QwcError, match="sample GUID"):
        qwc(owner_id=sample.findtext("OwnerID"))
    with pytest.raises(QwcError, match="sample GUID"):
        qwc(file_id=sample.findtext("FileID").lower())


@pytest.mark.parametrize(
    "url",
    [
        "https://qbwc.example.com/qbwc",
        "https://qbwc.example.com:8443/qbwc",
        "http://localhost:8750/qbwc",
        "http://LOCALHOST/qbwc",
        "https://localhost/qbwc",
        "https://intranet-box/qbwc",
    ],
)
def test_accepted_app_urls(url: str) -> None:
    check_app_url(url)


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://qbwc.example.com/qbwc", "QBWC1010"),
        ("http://127.0.0.1:8750/qbwc", "QBWC1001"),
        ("https://127.0.0.1/qbwc", "IP-address"),
        ("https://10.0.0.5/qbwc", "IP-address"),
        ("https://[::1]/qbwc", "IP-address"),
        ("ftp://example.com/qbwc", "not an http"),
        ("qbwc.example.com/qbwc", "not an http"),
        ("https://user:pw@example.com/qbwc", "user name"),
        ("https://example.com:99999/qbwc", "not a valid URL"),
        ("", "not an http"),
    ],
)
def test_refused_app_urls(url: str, why: str) -> None:
    with pytest.raises(QwcError, match=why):
        check_app_url(url)


def test_support_url_must_share_the_host() -> None:
    check_support_url("https://qbwc.example.com/qbwc", "https://QBWC.example.com/support")
    with pytest.raises(QwcError, match="QBWC1000"):
        check_support_url("https://qbwc.example.com/qbwc", "https://help.example.com/support")
    with pytest.raises(QwcError, match="QBWC1000"):
        qwc(support_url="https://other.example.com/support")


@pytest.mark.parametrize(
    "overrides",
    [
        {"app_url": "http://example.com/qbwc", "support_url": "http://example.com/support"},
        {"owner_id": "not-a-guid"},
        {"file_id": "3F2504E0-4F89-11D3-9A0C-0305E82C3301"},  # braces are required
        {"file_id": OWNER},
        {"username": " "},
        {"app_name": ""},
        {"run_every_minutes": 0},
        {"run_every_minutes": True},
    ],
)
def test_build_qwc_refuses(overrides: dict[str, object]) -> None:
    with pytest.raises(QwcError):
        qwc(**overrides)
