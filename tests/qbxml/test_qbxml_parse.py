from __future__ import annotations

import contextlib
import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from worker.qbxml.parse import (
    QbxmlParseError,
    choose_version,
    decimal_of,
    match_responses,
    parse_hcp,
    parse_message_set,
    parse_response_set,
    same_file_id,
)

GEM_OWNER = "{512349B1-1111-2222-3333-000DE1813D20}"


def real(samples: Path, name: str) -> bytes:
    return (samples / "real-responses" / name).read_bytes()


def test_every_real_response_file_is_read_or_refused_cleanly(samples: Path) -> None:
    files = sorted((samples / "real-responses").glob("*.xml"))
    assert len(files) >= 11
    outcomes = {}
    for path in files:
        try:
            outcomes[path.name] = parse_message_set(path.read_bytes())
        except QbxmlParseError as exc:
            outcomes[path.name] = str(exc)
    # A request is not an answer; the HCP with the "<yzer/DataExtType>" typo is not XML.
    assert "no QBXMLMsgsRs" in outcomes["hotglue-account-add.request.xml"]
    assert "not well-formed" in outcomes["qbwc-gem-strHCPResponse.HostQuery-CompanyQuery-PreferencesQuery.xml"]
    parsed = {k: v for k, v in outcomes.items() if isinstance(v, list)}
    assert len(parsed) == len(files) - 2
    assert all(parsed.values())


def test_vendor_query_records(samples: Path) -> None:
    (response,) = parse_message_set(real(samples, "VendorQueryRs.bill-ash-qbwc.xml").decode("utf-8"))
    assert (response.request_id, response.kind, response.status_code, response.status_severity) == (
        "1", "VendorQueryRs", 0, "Info",
    )  # fmt: skip
    assert len(response.records) == 54
    first = response.records[0]
    assert first["_ret"] == "VendorRet"
    assert first["ListID"] == "A60000-1197760912"
    assert first["EditSequence"] == "1702703204"
    assert first["Name"] == "A Cheung Limited"
    assert first["IsActive"] is True
    assert first["IsVendorEligibleFor1099"] is False
    assert first["VendorAddress"][0]["City"] == "Berkeley"  # type: ignore[index]
    assert len(first["AdditionalContactRef"]) == 3  # type: ignore[arg-type]
    assert decimal_of(first, "Balance") == Decimal("0.00")


def test_account_query_records(samples: Path) -> None:
    (response,) = parse_message_set(real(samples, "AccountQueryRs.creditcards.bill-ash-qbwc.xml"))
    names = [(r["FullName"], r["AccountType"], r["Sublevel"]) for r in response.records]
    assert names == [("QuickBooks Credit Card", "CreditCard", "0"), ("CalOil Credit Card", "CreditCard", "0")]
    assert response.extra == {}


def test_account_add_currency_ref(samples: Path) -> None:
    (response,) = parse_message_set(real(samples, "hotglue-account-add.response.xml"))
    record = response.records[0]
    assert record["CurrencyRef.FullName"] == "US Dollar"
    assert record["CurrencyRef.ListID"] == "80000096-1709842673"
    assert response.request_id == ""


def test_mixed_batch_statuses_and_matching(samples: Path) -> None:
    responses = parse_message_set(real(samples, "hotglue-customer-batch-mixed.response.xml"))
    assert [(r.request_id, r.status_code) for r in responses] == [
        ("ext-mix-1", 0), ("ext-mix-2", 3100), ("ext-mix-3", 3250), ("ext-mix-4", 3130), ("ext-mix-5", 0),
    ]  # fmt: skip
    assert responses[1].status_message == 'The name "HG-BATCH-MIX-1785964184-1" of the list element is already in use.'
    matched = match_responses(["ext-mix-1", "ext-mix-5", "ext-mix-9"], responses)
    assert set(matched.by_request_id) == {"ext-mix-1", "ext-mix-5"}
    assert matched.missing == ("ext-mix-9",)
    assert [r.request_id for r in matched.unexpected] == ["ext-mix-2", "ext-mix-3", "ext-mix-4"]


def test_warn_and_error_without_request_id(samples: Path) -> None:
    (warn,) = parse_message_set(real(samples, "qbwc-gem-CustomerQueryRs-500-Warn.xml"))
    (error,) = parse_message_set(real(samples, "qbwc-gem-CustomerQueryRs-3120-Error.xml"))
    assert (warn.status_code, warn.status_severity, warn.records) == (500, "Warn", ())
    assert error.status_code == 3120 and "8000001B-1405768916" in error.status_message


def test_iterator_attributes_and_message_set_attributes() -> None:
    text = (
        '<?xml version="1.0" encoding="utf-8"?><QBXML><QBXMLMsgsRs newMessageSetID="MLC-7" messageSetStatusCode="0">'
        '<VendorQueryRs requestID="4" statusCode="0" statusSeverity="Info" statusMessage="Status OK" retCount="1" '
        'iteratorRemainingCount="2345" iteratorID="{eb05f701-e727-472f-8ade-6753c4f67a46}">'
        "<VendorRet><ListID>1-1</ListID><Name>A</Name><NewerField>x</NewerField></VendorRet></VendorQueryRs>"
        '<BillAddRs requestID="5" statusCode="0" statusSeverity="Info" statusMessage="Status OK"><BillRet>'
        "<TxnID>7-7</TxnID><VendorRef><ListID>1-1</ListID><FullName>A</FullName></VendorRef><RefNumber>CNC-1</RefNumber>"
        "<ExternalGUID>{9B2E4C1A-0D3F-4A5B-8C7D-112233445566}</ExternalGUID><AmountDue>12.30</AmountDue>"
        "<ExpenseLineRet><TxnLineID>L1</TxnLineID><AccountRef><FullName>Travel</FullName></AccountRef>"
        "<Amount>12.30</Amount></ExpenseLineRet></BillRet></BillAddRs>"
        "</QBXMLMsgsRs></QBXML>"
    )
    message_set = parse_response_set(text)
    assert message_set.new_message_set_id == "MLC-7" and message_set.message_set_status_code == 0
    vendors, bill = message_set.responses
    assert vendors.iterator_id == "{eb05f701-e727-472f-8ade-6753c4f67a46}"
    assert vendors.iterator_remaining == 2345
    assert vendors.extra["retCount"] == 1
    assert vendors.records[0]["NewerField"] == "x"
    record = bill.records[0]
    assert record["VendorRef.FullName"] == "A" and record["RefNumber"] == "CNC-1"
    assert record["ExpenseLineRet"][0]["AccountRef.FullName"] == "Travel"  # type: ignore[index]
    assert decimal_of(record, "AmountDue") == Decimal("12.30")
    assert decimal_of(record, "Missing") is None


def test_hcp_sample(samples: Path) -> None:
    hcp = parse_hcp(real(samples, "qbwc-gem-strHCPResponse.fixed.xml"), owner_id=" " + GEM_OWNER.lower() + " ")
    assert hcp.supported_versions[-1] == "13.0" and len(hcp.supported_versions) == 16
    assert (hcp.product_name, hcp.major_version, hcp.country, hcp.file_mode) == (
        "QuickBooks Pro 2014", "24", "US", "SingleUser",
    )  # fmt: skip
    assert hcp.file_id == "{00000ee-1111-ffff-cccc-5ff123456047}"
    assert same_file_id(hcp.file_id, "{00000EE-1111-FFFF-CCCC-5FF123456047}")
    assert not same_file_id(hcp.file_id, "{11111111-1111-ffff-cccc-5ff123456047}")
    assert hcp.is_using_class_tracking is False
    assert hcp.is_multi_currency_on is False
    assert hcp.is_assigning_journal_entry_numbers is True
    assert hcp.is_automatic_login_allowed is False
    assert hcp.closing_date is None and hcp.home_currency == ""
    assert hcp.company_name == "myCompany"
    assert hcp.statuses["CompanyQueryRs"] == (0, "Status OK")


def test_hcp_other_owner_has_no_file_id(samples: Path) -> None:
    hcp = parse_hcp(real(samples, "qbwc-gem-strHCPResponse.fixed.xml"), owner_id="{3F2504E0-4F89-11D3-9A0C-0305E82C3301}")
    assert hcp.file_id is None
    assert not same_file_id(hcp.file_id, "{00000ee-1111-ffff-cccc-5ff123456047}")


def test_hcp_newer_fields() -> None:
    text = (
        '<QBXML><QBXMLMsgsRs><PreferencesQueryRs requestID="2" statusCode="0"><PreferencesRet>'
        "<AccountingPreferences><IsUsingAccountNumbers>true</IsUsingAccountNumbers><IsUsingClassTracking>true"
        "</IsUsingClassTracking><ClosingDate>2023-12-31</ClosingDate></AccountingPreferences>"
        "<MultiCurrencyPreferences><IsMultiCurrencyOn>true</IsMultiCurrencyOn><HomeCurrencyRef><ListID>1</ListID>"
        "<FullName>Euro</FullName></HomeCurrencyRef></MultiCurrencyPreferences></PreferencesRet></PreferencesQueryRs>"
        "</QBXMLMsgsRs></QBXML>"
    )
    hcp = parse_hcp(text, "{3F2504E0-4F89-11D3-9A0C-0305E82C3301}")
    assert hcp.closing_date == dt.date(2023, 12, 31)
    assert hcp.is_using_class_tracking is True and hcp.is_multi_currency_on is True
    assert hcp.home_currency == "Euro"
    assert hcp.supported_versions == () and hcp.file_id is None


def test_choose_version() -> None:
    assert choose_version("13.0", ["12.0", "13.0", "16.0"]) == "13.0"
    assert choose_version("13.0", ["1.0", "8.0", "12.0"]) == "12.0"
    assert choose_version("13.0", ["1.0", "8.0"]) is None  # below what our requests need
    assert choose_version("13.0", []) == "13.0"
    assert choose_version("16.0", ["2.1", "13.0", "bogus"]) == "13.0"


HOSTILE = [
    b'<?xml version="1.0"?><!DOCTYPE QBXML [<!ENTITY x SYSTEM "file:///etc/passwd">]><QBXML><QBXMLMsgsRs>&x;</QBXMLMsgsRs></QBXML>',
    b'<?xml version="1.0"?><!DOCTYPE lol [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><QBXML>&b;</QBXML>',
    b"<QBXML><QBXMLMsgsRs><X>&undefined;</X></QBXMLMsgsRs></QBXML>",
    b"",
    b"not xml at all",
    b"<Other/>",
    "<?xml version='1.0' encoding='utf-16'?><!DOCTYPE x><QBXML/>".encode("utf-16"),
]


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_or_broken_responses_are_refused(text: bytes) -> None:
    with pytest.raises(QbxmlParseError):
        parse_message_set(text)
    with pytest.raises(QbxmlParseError):
        parse_hcp(text, GEM_OWNER)


@given(st.one_of(st.binary(max_size=300), st.text(max_size=300)))
@settings(max_examples=300, deadline=None)
def test_parser_only_raises_its_own_error(data: bytes | str) -> None:
    with contextlib.suppress(QbxmlParseError):
        parse_message_set(data)


def test_str_with_encoding_declaration_is_accepted() -> None:
    text = '<?xml version="1.0" encoding="utf-8"?><QBXML><QBXMLMsgsRs><HostQueryRs statusCode="0"/></QBXMLMsgsRs></QBXML>'
    assert parse_message_set(text)[0].kind == "HostQueryRs"
