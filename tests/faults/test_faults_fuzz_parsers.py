"""Structured fuzzing of the three parsers that read what strangers send: only their documented
errors ever escape. (Random-bytes fuzzing of the SOAP and qbXML parsers already lives in
tests/qbwc_pure and tests/qbxml; these generate *plausible* inputs, which reach deeper code.)

* ``worker.concur.webhooks.parse_event``: an ``Event`` or ``BadEvent``;
* ``worker.qbxml.parse.parse_message_set`` / ``parse_response_set``: responses or ``QbxmlParseError``;
* ``worker.qbwc.soap.parse_request``: ``(method, params)`` or ``SoapError``, never a local file's text.
"""

from __future__ import annotations

import contextlib
import json
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from worker.concur.webhooks import BadEvent, Event, parse_event
from worker.qbwc.soap import SoapError, parse_request
from worker.qbxml.parse import QbxmlParseError, parse_message_set, parse_response_set

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

json_leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.text(max_size=30),
    st.sampled_from(
        [
            "",
            " ",
            "public.concur.expense.report",
            "concur.expense.report",
            "public.concur.invoice.paymentrequest",
            "statusChanged",
            "A_APPR",
            "\u0000",
            "x" * 300,
        ]
    ),
)
json_values = st.recursive(
    json_leaves, lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)), max_leaves=20
)
FACT_KEYS = ["companyId", "reportId", "href", "currentApprovalStatus", "paymentRequestId", "requestId", "id", "lastModifiedDate", "userId"]
envelopes = st.fixed_dictionaries(
    {},
    optional={
        "id": json_values,
        "topic": json_values,
        "eventType": json_values,
        "timeStamp": json_values,
        "subtopic": json_values,
        "correlationId": json_values,
        "facts": st.one_of(json_values, st.dictionaries(st.sampled_from(FACT_KEYS), json_values, max_size=6)),
    },
)


def _check_event(raw: bytes) -> None:
    try:
        event = parse_event(raw)
    except BadEvent as exc:
        assert str(exc)  # the message is what a 400 answers
        return
    assert isinstance(event, Event)
    assert event.id and event.topic.startswith("public.") and event.event_type
    for value in (event.report_id, event.payment_request_id, event.href, event.company_id):
        assert value is None or isinstance(value, str)


@SETTINGS
@given(envelopes)
def test_event_envelopes_parse_or_raise_bad_event(envelope: dict) -> None:
    _check_event(json.dumps(envelope).encode("utf-8"))


@SETTINGS
@given(json_values)
def test_any_json_parses_or_raises_bad_event(value) -> None:
    _check_event(json.dumps(value).encode("utf-8"))


@SETTINGS
@given(st.binary(max_size=200), st.sampled_from([b"", b"{", b'{"id":', b"\xef\xbb\xbf", b"\xff\xfe"]))
def test_broken_bodies_raise_bad_event(tail: bytes, head: bytes) -> None:
    _check_event(head + tail)


@pytest.mark.parametrize(
    "raw",
    [
        b'{"id": 1e999999, "topic": "t", "eventType": "e"}',  # a number Decimal can hold but float cannot
        b'{"id": ' + b"9" * 5000 + b', "topic": "t", "eventType": "e"}',  # beyond Python's int digit limit
        b'{"id": "x", "topic": "t", "eventType": "e", "facts": {"reportId": 12345678901234567890}}',
        '{"id": "é", "topic": "t", "eventType": "e"}'.encode("utf-16"),
    ],
    ids=["huge-exponent", "5000-digits", "numeric-report-id", "utf-16"],
)
def test_awkward_numbers_and_encodings(raw: bytes) -> None:
    _check_event(raw)


@pytest.mark.parametrize(
    "raw",
    [b"[" * 100_000, b'{"id":"x","topic":"t","eventType":"e","facts":{"a":' + b"[" * 50_000 + b"]" * 50_000 + b"}}"],
    ids=["nested-array", "nested-facts"],
)
def test_deeply_nested_json_raises_bad_event(raw: bytes) -> None:
    with pytest.raises(BadEvent):
        parse_event(raw)


# --- qbXML answers -----------------------------------------------------------------------------

attr_values = st.one_of(st.text(max_size=12), st.sampled_from(["0", "1", "-1", "3100", "500", "99999999999999999999", "Error", "Warn", "Info", ""]))
RS_NAMES = ["BillAddRs", "JournalEntryAddRs", "VendorQueryRs", "VendorAddRs", "AccountQueryRs", "BillQueryRs", "HostQueryRs", "XRs", "Rs"]
ATTRS = ["requestID", "statusCode", "statusSeverity", "statusMessage", "iteratorID", "iteratorRemainingCount", "retCount"]
xml_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=20)


@st.composite
def qbxml_answers(draw) -> str:
    import xml.sax.saxutils as sx

    def ret(depth: int) -> str:
        tag = draw(st.sampled_from(["BillRet", "VendorRet", "ListID", "TxnID", "Name", "Amount", "EditSequence", "IsActive", "ExternalGUID"]))
        if depth > 2 or draw(st.booleans()):
            return f"<{tag}>{sx.escape(draw(xml_text))}</{tag}>"
        return f"<{tag}>" + "".join(ret(depth + 1) for _ in range(draw(st.integers(0, 3)))) + f"</{tag}>"

    responses = []
    for _ in range(draw(st.integers(0, 4))):
        name = draw(st.sampled_from(RS_NAMES))
        attrs = draw(st.dictionaries(st.sampled_from(ATTRS), attr_values, max_size=5))
        attr_text = "".join(f' {k}="{sx.escape(v, {chr(34): "&quot;"})}"' for k, v in attrs.items())
        body = "".join(ret(0) for _ in range(draw(st.integers(0, 3))))
        responses.append(f"<{name}{attr_text}>{body}</{name}>")
    set_attrs = draw(st.sampled_from(["", ' newMessageSetID="1"', ' messageSetStatusCode="x"', ' messageSetStatusCode="9"']))
    root = draw(st.sampled_from(["QBXML", "QBXML", "QBXML", "qbxml", "Other"]))
    msgs = draw(st.sampled_from(["QBXMLMsgsRs", "QBXMLMsgsRs", "QBXMLMsgsRq", "X"]))
    prolog = draw(st.sampled_from(['<?xml version="1.0" ?>', '<?xml version="1.0" encoding="utf-8"?><?qbxml version="13.0"?>', ""]))
    return f"{prolog}<{root}><{msgs}{set_attrs}>{''.join(responses)}</{msgs}></{root}>"


@SETTINGS
@given(qbxml_answers())
def test_qbxml_answers_parse_or_raise_qbxml_parse_error(text: str) -> None:
    for parse in (parse_message_set, parse_response_set):
        with contextlib.suppress(QbxmlParseError):
            parse(text)


SECRET_FILE_TEXT = "ml-connector-fuzz-canary"


@pytest.mark.parametrize(
    "template",
    [
        '<?xml version="1.0"?><!DOCTYPE QBXML [<!ENTITY x SYSTEM "file://{path}">]><QBXML><QBXMLMsgsRs><BillAddRs requestID="1" statusCode="0" statusSeverity="Info" statusMessage="&x;"/></QBXMLMsgsRs></QBXML>',
        '<?xml version="1.0"?><!DOCTYPE QBXML [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;"><!ENTITY e "&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;"><!ENTITY f "&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;">]><QBXML><QBXMLMsgsRs><BillAddRs requestID="1" statusCode="0" statusSeverity="Info" statusMessage="&f;"/></QBXMLMsgsRs></QBXML>',
    ],
)
def test_entities_in_qbxml_answers_are_refused(tmp_path, template: str) -> None:
    canary = tmp_path / "canary.txt"
    canary.write_text(SECRET_FILE_TEXT, encoding="utf-8")
    text = template.replace("{path}", canary.as_posix())
    with pytest.raises(QbxmlParseError):
        parse_message_set(text)


def test_soap_xxe_never_reads_a_local_file(tmp_path) -> None:
    canary = tmp_path / "canary.txt"
    canary.write_text(SECRET_FILE_TEXT, encoding="utf-8")
    body = (
        f'<?xml version="1.0"?><!DOCTYPE e [<!ENTITY x SYSTEM "file://{canary.as_posix()}">]>'
        '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>'
        '<authenticate xmlns="http://developer.intuit.com/"><strUserName>&x;</strUserName><strPassword>p</strPassword></authenticate>'
        "</soap:Body></soap:Envelope>"
    ).encode()
    try:
        _, params = parse_request(body)
    except SoapError:
        return
    assert SECRET_FILE_TEXT not in json.dumps(params)


def test_decimal_event_values_are_not_floats() -> None:
    event = parse_event(b'{"id": "e1", "topic": "concur.expense.report", "eventType": "statusChanged", "facts": {"amount": 0.1}}')
    assert event.facts["amount"] == Decimal("0.1")
