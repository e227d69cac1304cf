"""Responses look like QuickBooks': they validate against the 13.0 XSD, and their element order,
attributes and prolog match the real QuickBooks output kept in the reference folder."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from sim.quickbooks.engine import CompanyFile
from sim.quickbooks.messages import message_set
from sim.quickbooks.strict import load_xsd

OWNER_ID = "{0D4E6F80-91A2-4B3C-8D5E-6F708192A3B4}"


@pytest.fixture
def real(qbxml_ref: Path) -> Path:
    return qbxml_ref / "samples" / "real-responses"


@pytest.fixture
def busy_company(company: CompanyFile, qbxml_ref: Path) -> CompanyFile:
    """The seeded company plus the accounts the constructed samples name, after running them all."""
    company.add_list_record("Account", "Travel Expense", AccountType="Expense")
    company.add_list_record("Account", "Airfare", "Travel Expense", AccountType="Expense")
    company.add_list_record("Account", "Meals", "Travel Expense", AccountType="Expense")
    for path in sorted((qbxml_ref / "samples" / "constructed").glob("*.xml")):
        company.process(path.read_text(encoding="utf-8"))
    return company


def responses(company: CompanyFile) -> list[str]:
    bodies = [
        "<VendorQueryRq><ActiveStatus>All</ActiveStatus></VendorQueryRq>",
        "<AccountQueryRq/>",
        "<ClassQueryRq/>",
        "<CustomerQueryRq/>",
        "<EmployeeQueryRq/>",
        "<OtherNameQueryRq/>",
        "<EntityQueryRq><ActiveStatus>All</ActiveStatus></EntityQueryRq>",
        "<BillQueryRq><IncludeLineItems>true</IncludeLineItems></BillQueryRq>",
        "<JournalEntryQueryRq><IncludeLineItems>true</IncludeLineItems></JournalEntryQueryRq>",
        '<VendorQueryRq requestID="1" iterator="Start"><MaxReturned>2</MaxReturned></VendorQueryRq>',
        "<VendorAddRq><VendorAdd><Name>Jane Doe</Name></VendorAdd></VendorAddRq>",
    ]
    out = [company.execute(message_set(b)) for b in bodies]
    out.append(company.hcp_response(OWNER_ID))
    return out


def test_responses_validate_against_the_13_0_xsd(busy_company: CompanyFile, xsd_path: Path) -> None:
    schema = load_xsd(str(xsd_path))
    assert len(busy_company.state.txns["Bill"]) == 2 and len(busy_company.state.txns["JournalEntry"]) == 1
    for text in responses(busy_company):
        doc = etree.fromstring(text.encode())
        assert schema.validate(doc.getroottree()), f"{schema.error_log.last_error}\n{text[:800]}"


def test_real_hcp_response_is_itself_valid_so_the_comparison_means_something(xsd_path: Path, real: Path) -> None:
    schema = load_xsd(str(xsd_path))
    assert schema.validate(etree.parse(str(real / "qbwc-gem-strHCPResponse.fixed.xml")))


def _order_agrees(ours: etree._Element, real: etree._Element, where: str) -> None:
    """Tags both have appear in the same relative order, recursively for aggregates both have."""
    our_tags = [c.tag for c in ours]
    real_tags = [c.tag for c in real]
    common = [t for t in dict.fromkeys(real_tags) if t in our_tags]
    assert [t for t in dict.fromkeys(our_tags) if t in common] == common, where
    for tag in common:
        a, b = ours.find(tag), real.find(tag)
        if len(a) and len(b):
            _order_agrees(a, b, f"{where}/{tag}")


@pytest.mark.parametrize(
    "real_file, request_body, ret",
    [
        ("VendorQueryRs.bill-ash-qbwc.xml", "<VendorQueryRq><FullName>Acme Travel LLC</FullName></VendorQueryRq>", "VendorRet"),
        ("AccountQueryRs.creditcards.bill-ash-qbwc.xml", "<AccountQueryRq><FullName>Company Card</FullName></AccountQueryRq>", "AccountRet"),
    ],
)
def test_ret_element_order_matches_real_quickbooks(company: CompanyFile, real: Path, real_file: str, request_body: str, ret: str) -> None:
    theirs = etree.parse(str(real / real_file)).getroot()
    ours = etree.fromstring(company.execute(message_set(request_body)).encode())
    real_rs, our_rs = theirs.find("QBXMLMsgsRs")[0], ours.find("QBXMLMsgsRs")[0]
    assert list(our_rs.attrib)[:3] == list(real_rs.attrib)[1:4] == ["statusCode", "statusSeverity", "statusMessage"]
    assert our_rs.attrib["statusMessage"] == real_rs.attrib["statusMessage"] == "Status OK"
    shared = [t for t in dict.fromkeys(c.tag for c in real_rs.find(ret)) if our_rs.find(ret).find(t) is not None]
    assert len(shared) >= 8  # enough overlap for the order check to bite
    _order_agrees(our_rs.find(ret), real_rs.find(ret), ret)


def test_hcp_shape_matches_real_quickbooks(company: CompanyFile, real: Path) -> None:
    theirs = etree.parse(str(real / "qbwc-gem-strHCPResponse.fixed.xml")).getroot()
    ours = etree.fromstring(company.hcp_response(OWNER_ID).encode())
    _order_agrees(ours.find("QBXMLMsgsRs"), theirs.find("QBXMLMsgsRs"), "QBXMLMsgsRs")
    for rs_ours, rs_real in zip(ours.find("QBXMLMsgsRs"), theirs.find("QBXMLMsgsRs"), strict=True):
        assert dict(rs_ours.attrib) == dict(rs_real.attrib)  # requestID 0/1/2, Status OK
        _order_agrees(rs_ours[0], rs_real[0], rs_ours[0].tag)


def test_error_responses_are_attribute_only_like_real_batches(company: CompanyFile, real: Path) -> None:
    theirs = etree.parse(str(real / "hotglue-customer-batch-mixed.response.xml")).getroot()
    real_3100 = next(rs for rs in theirs.find("QBXMLMsgsRs") if rs.get("statusCode") == "3100")
    text = company.execute(message_set('<VendorAddRq requestID="ext-mix-2"><VendorAdd><Name>Jane Doe</Name></VendorAdd></VendorAddRq>'))
    ours = etree.fromstring(text.encode()).find("QBXMLMsgsRs")[0]
    assert list(ours.attrib) == list(real_3100.attrib)
    assert len(ours) == len(real_3100) == 0
    assert ours.get("statusMessage") == real_3100.get("statusMessage").replace("HG-BATCH-MIX-1785964184-1", "Jane Doe")
    assert text.startswith('<?xml version="1.0" ?>\n<QBXML>\n<QBXMLMsgsRs>\n')
    assert "&quot;Jane Doe&quot;" in text  # quotes escaped in attributes as QuickBooks does


def test_real_response_samples_parse_as_the_worker_will_see_ours(real: Path) -> None:
    """Replay: every real response file parses, and each *Rs carries the three status attributes."""
    for path in sorted(real.glob("*.xml")):
        if "request" in path.name or "HostQuery-CompanyQuery" in path.name:  # the unfixed HCP has a typo
            continue
        root = etree.parse(str(path)).getroot()
        for rs in root.find("QBXMLMsgsRs"):
            assert {"statusCode", "statusSeverity", "statusMessage"} <= set(rs.attrib), path.name
