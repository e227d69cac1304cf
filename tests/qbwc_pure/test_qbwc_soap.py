from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from worker.qbwc.soap import (
    INTUIT_NS,
    MAX_SOAP_BYTES,
    METHOD_PARAMS,
    SOAP_NS,
    SoapError,
    fault_envelope,
    int_param,
    parse_request,
    response_envelope,
    wsdl_text,
)

ENVELOPE = (
    '<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>{body}</soap:Body></soap:Envelope>'
)


def envelope(body: str) -> bytes:
    return ENVELOPE.format(body=body).encode("utf-8")


def method_of(path: Path) -> str:
    return re.match(r"\d+-(\w+)\.", path.name).group(1)  # type: ignore[union-attr]


def canonical(element: etree._Element) -> list:
    return [
        element.tag,
        (element.text or "").strip(),
        [canonical(c) for c in element if isinstance(c.tag, str)],
    ]


# --- requests ----------------------------------------------------------------------------------


def test_every_request_sample_parses(qbwc_ref: Path) -> None:
    files = sorted((qbwc_ref / "soap-envelopes").glob("*.request*.xml"))
    assert len(files) == 9
    seen = {}
    for path in files:
        method, params = parse_request(path.read_bytes())
        assert method == method_of(path)
        assert set(params) == set(METHOD_PARAMS[method])
        assert all(isinstance(v, str) for v in params.values())
        seen[path.name] = params
    assert seen["03-authenticate.request.xml"] == {"strUserName": "concur-sync", "strPassword": "s3cret"}
    hcp = seen["04-sendRequestXML.request.first-call-with-HCP.xml"]
    assert hcp["strHCPResponse"].startswith('<?xml version="1.0" ?><QBXML><QBXMLMsgsRs><HostQueryRs requestID="0"')
    assert hcp["strCompanyFileName"].endswith("Acme.QBW")
    assert int_param(hcp, "qbXMLMajorVers", 0) == 16 and int_param(hcp, "qbXMLMinorVers", -1) == 0
    ok = seen["05-receiveResponseXML.request.ok.xml"]
    assert ok["response"].startswith("<?xml") and ok["hresult"] == "" and ok["message"] == ""
    failed = seen["05-receiveResponseXML.request.parse-error.xml"]
    assert failed["response"] == "" and failed["hresult"] == "0x80040400"
    assert seen["07-connectionError.request.xml"]["hresult"] == "0x80040408"
    assert seen["01-serverVersion.request.xml"] == {}


def test_extra_children_missing_params_and_foreign_namespaces() -> None:
    body = f'<authenticate xmlns="{INTUIT_NS}"><strUserName>me</strUserName><bonus>x</bonus><strPassword xmlns="urn:other">ignored</strPassword></authenticate>'
    assert parse_request(envelope(body)) == ("authenticate", {"strUserName": "me", "strPassword": ""})
    header = envelope(f'<getLastError xmlns="{INTUIT_NS}"><ticket/></getLastError>').replace(b"<soap:Body>", b"<soap:Header><x/></soap:Header><soap:Body>")
    assert parse_request(header) == ("getLastError", {"ticket": ""})
    # str bodies are accepted too, and getServerVersion is the Guide's alias
    assert parse_request(envelope(f'<getServerVersion xmlns="{INTUIT_NS}"><ticket>t</ticket></getServerVersion>').decode()) == (
        "getServerVersion",
        {"ticket": "t"},
    )


def test_int_param() -> None:
    assert int_param({"a": " 13 "}, "a", 0) == 13
    assert int_param({"a": ""}, "a", 7) == 7
    assert int_param({"a": "x"}, "a", 7) == 7
    assert int_param({"a": str(2**40)}, "a", 7) == 7
    assert int_param({}, "a", 7) == 7


HOSTILE = {
    "xxe": b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
    + envelope(f'<authenticate xmlns="{INTUIT_NS}"><strUserName>&e;</strUserName></authenticate>').split(b"?>", 1)[1],
    "billion-laughs": b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + b"".join(f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">'.encode() for i in range(1, 10))
    + b"]>"
    + envelope(f'<authenticate xmlns="{INTUIT_NS}"><strUserName>&lol9;</strUserName></authenticate>').split(b"?>", 1)[1],
    "external-dtd": b'<?xml version="1.0"?><!DOCTYPE soap:Envelope SYSTEM "http://example.invalid/x.dtd">'
    + envelope(f'<closeConnection xmlns="{INTUIT_NS}"/>').split(b"?>", 1)[1],
    "parameter-entity": b'<!DOCTYPE x [<!ENTITY % p SYSTEM "http://example.invalid/p">%p;]><x/>',
    "doctype-lowercase-spacing": b"<!doctype x><x/>",
    "undefined-entity": envelope(f'<closeConnection xmlns="{INTUIT_NS}"><ticket>&nbsp;</ticket></closeConnection>'),
    "utf16-doctype": '<?xml version="1.0" encoding="utf-16"?><!DOCTYPE x []><x/>'.encode("utf-16"),
    "empty": b"",
    "whitespace": b"   \n ",
    "garbage": b"\x00\xff\xfe garbage <<<",
    "html": b"<html><body>500 Internal Server Error</body></html>",
    "not-envelope": b'<Envelope xmlns="urn:x"><Body/></Envelope>',
    "soap12": b'<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope"><e:Body><serverVersion xmlns="http://developer.intuit.com/"/></e:Body></e:Envelope>',
    "no-body": f'<soap:Envelope xmlns:soap="{SOAP_NS}"><soap:Header/></soap:Envelope>'.encode(),
    "empty-body": envelope(""),
    "unknown-method": envelope(f'<dropTables xmlns="{INTUIT_NS}"/>'),
    "wrong-namespace": envelope('<authenticate xmlns="http://localhost:8000//"><strUserName>a</strUserName></authenticate>'),
    "no-namespace": envelope("<authenticate><strUserName>a</strUserName></authenticate>"),
    "deep": envelope(f'<closeConnection xmlns="{INTUIT_NS}">' + "<a>" * 5000 + "</a>" * 5000 + "</closeConnection>"),
    "truncated": envelope(f'<closeConnection xmlns="{INTUIT_NS}"><ticket>abc</ticket></closeConnection>')[:-20],
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_bodies_are_refused(name: str) -> None:
    with pytest.raises(SoapError) as caught:
        parse_request(HOSTILE[name])
    assert caught.value.code in ("Client", "VersionMismatch")
    assert "passwd" not in caught.value.message and len(caught.value.message) < 200


def test_soap12_is_a_version_mismatch() -> None:
    with pytest.raises(SoapError) as caught:
        parse_request(HOSTILE["soap12"])
    assert caught.value.code == "VersionMismatch"


def test_oversize_is_refused_before_parsing() -> None:
    padding = b" " * (MAX_SOAP_BYTES + 1)
    with pytest.raises(SoapError, match="too large"):
        parse_request(envelope(f'<closeConnection xmlns="{INTUIT_NS}"/>') + padding)


def test_large_but_allowed_body_parses() -> None:
    big = "x" * (2 * 1024 * 1024)
    method, params = parse_request(envelope(f'<receiveResponseXML xmlns="{INTUIT_NS}"><response>{big}</response></receiveResponseXML>'))
    assert method == "receiveResponseXML" and len(params["response"]) == len(big)


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=400))
def test_random_bytes_only_raise_soap_error(data: bytes) -> None:
    try:
        method, _params = parse_request(data)
    except SoapError:
        return
    assert method in METHOD_PARAMS  # pragma: no cover - random bytes are never a valid call


names = st.sampled_from(["Envelope", "Body", "Header", "authenticate", "ticket", "strUserName", "x", "sendRequestXML"])
namespaces = st.sampled_from([SOAP_NS, INTUIT_NS, "", "urn:x", "http://www.w3.org/2003/05/soap-envelope"])
texts = st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=20)


@st.composite
def xml_trees(draw: st.DrawFn, depth: int = 0) -> etree._Element:
    ns = draw(namespaces)
    tag = draw(names)
    element = etree.Element(f"{{{ns}}}{tag}" if ns else tag)
    text = draw(texts)
    element.text = "".join(c for c in text if c in "\t\n\r" or (ord(c) >= 0x20 and c not in "\ufffe\uffff"))
    if depth < 4:
        for child in draw(st.lists(xml_trees(depth + 1), max_size=3)):  # type: ignore[call-arg]
            element.append(child)
    return element


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(xml_trees())
def test_random_xml_only_returns_or_raises_soap_error(tree: etree._Element) -> None:
    data = etree.tostring(tree, xml_declaration=True, encoding="utf-8")
    try:
        method, params = parse_request(data)
    except SoapError:
        return
    assert method in METHOD_PARAMS
    assert set(params) == set(METHOD_PARAMS[method])
    assert all(isinstance(v, str) for v in params.values())


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(sorted(METHOD_PARAMS)), st.dictionaries(st.sampled_from(["ticket", "strUserName", "response", "hresult", "zz"]), texts))
def test_wellformed_calls_round_trip(method: str, values: dict[str, str]) -> None:
    clean = {k: "".join(c for c in v if c in "\t\n" or (ord(c) >= 0x20 and c not in "\ufffe\uffff")) for k, v in values.items()}
    call = etree.Element(f"{{{INTUIT_NS}}}{method}", nsmap={None: INTUIT_NS})
    for name, value in clean.items():
        etree.SubElement(call, f"{{{INTUIT_NS}}}{name}").text = value
    body = envelope(etree.tostring(call, encoding="unicode"))
    parsed_method, params = parse_request(body)
    assert parsed_method == method
    for name in METHOD_PARAMS[method]:
        assert params[name] == clean.get(name, "")


# --- responses ----------------------------------------------------------------------------------


def sample_value(path: Path) -> str | int | list[str]:
    root = etree.parse(str(path)).getroot()
    result = root.find(f"{{{SOAP_NS}}}Body")[0][0]  # type: ignore[index]
    method = method_of(path)
    if method == "authenticate":
        return [(s.text or "") for s in result]
    if method == "receiveResponseXML":
        return int(result.text)  # type: ignore[arg-type]
    return result.text or ""


def test_responses_match_samples(qbwc_ref: Path) -> None:
    files = sorted((qbwc_ref / "soap-envelopes").glob("*.response*.xml"))
    assert len(files) == 11
    for path in files:
        method = method_of(path)
        ours = response_envelope(method, sample_value(path))
        assert ours.startswith(b'<?xml version="1.0" encoding="utf-8"?><soap:Envelope ')
        expected = etree.parse(str(path)).getroot()
        assert canonical(etree.fromstring(ours)) == canonical(expected), path.name


def test_authenticate_array_is_padded_as_given() -> None:
    body = response_envelope("authenticate", ["ticket-1", "none", "", "60"])
    result = etree.fromstring(body).find(f".//{{{INTUIT_NS}}}authenticateResult")
    assert [(s.tag, s.text or "") for s in result] == [(f"{{{INTUIT_NS}}}string", v) for v in ["ticket-1", "none", "", "60"]]


def test_qbxml_travels_escaped_and_round_trips() -> None:
    qbxml = '<?xml version="1.0" encoding="utf-8"?><?qbxml version="13.0"?><QBXML><QBXMLMsgsRq onError="continueOnError"><VendorQueryRq requestID="1"><FullName>A &amp; B</FullName></VendorQueryRq></QBXMLMsgsRq></QBXML>'
    body = response_envelope("sendRequestXML", qbxml)
    assert b"&lt;QBXML&gt;" in body and b"<QBXML>" not in body
    result = etree.fromstring(body).find(f".//{{{INTUIT_NS}}}sendRequestXMLResult")
    assert len(result) == 0 and result.text == qbxml


def test_response_values_are_checked_and_sanitised() -> None:
    assert b"<receiveResponseXMLResult>-1</receiveResponseXMLResult>" in response_envelope("receiveResponseXML", -1)
    for method, value in [
        ("receiveResponseXML", "50"),
        ("receiveResponseXML", True),
        ("receiveResponseXML", 2**40),
        ("authenticate", "ticket"),
        ("authenticate", ["a", 1]),
        ("getLastError", 5),
        ("noSuchMethod", ""),
    ]:
        with pytest.raises(SoapError) as caught:
            response_envelope(method, value)  # type: ignore[arg-type]
        assert caught.value.code == "Server"
    body = response_envelope("getLastError", "bad\x00char\x1b here")
    assert etree.fromstring(body).find(f".//{{{INTUIT_NS}}}getLastErrorResult").text == "badchar here"


def test_fault_envelope() -> None:
    root = etree.fromstring(fault_envelope("Client", "unknown method 'x' <&>"))
    fault = root.find(f"{{{SOAP_NS}}}Body/{{{SOAP_NS}}}Fault")
    assert fault.findtext("faultcode") == "soap:Client"
    assert fault.findtext("faultstring") == "unknown method 'x' <&>"
    server = etree.fromstring(fault_envelope("Bogus", "oops"))
    assert server.findtext(".//faultcode") == "soap:Server"


# --- WSDL ----------------------------------------------------------------------------------------


def test_wsdl_describes_every_method_with_our_parameters() -> None:
    text = wsdl_text("https://qbwc.example.com/qbwc?a=1&b=2")
    root = etree.fromstring(text.encode("utf-8"))
    ns = {
        "wsdl": "http://schemas.xmlsoap.org/wsdl/",
        "s": "http://www.w3.org/2001/XMLSchema",
        "soap": "http://schemas.xmlsoap.org/wsdl/soap/",
    }
    assert root.find(".//soap:address", ns).get("location") == "https://qbwc.example.com/qbwc?a=1&b=2"
    operations = {op.get("name") for op in root.findall("wsdl:portType/wsdl:operation", ns)}
    assert operations == set(METHOD_PARAMS)
    for method, params in METHOD_PARAMS.items():
        element = root.find(f".//s:schema/s:element[@name='{method}']", ns)
        declared = tuple(e.get("name") for e in element.iter(f"{{{ns['s']}}}element") if e is not element)
        assert declared == params, method
        action = root.find(f"wsdl:binding/wsdl:operation[@name='{method}']/soap:operation", ns).get("soapAction")
        assert action == INTUIT_NS + method
    assert "{{URL}}" not in text


SEED = (
    b'<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">'
    b'<soap:Body><receiveResponseXML xmlns="http://developer.intuit.com/"><ticket>t-1</ticket>'
    b"<response>&lt;QBXML&gt;&lt;/QBXML&gt;</response><hresult/><message>m</message>"
    b"</receiveResponseXML></soap:Body></soap:Envelope>"
)


@settings(max_examples=400, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(min_value=0, max_value=len(SEED)), st.integers(min_value=0, max_value=8), st.binary(max_size=12)),
        min_size=1,
        max_size=4,
    )
)
def test_mutated_envelopes_only_return_or_raise_soap_error(edits: list[tuple[int, int, bytes]]) -> None:
    data = SEED
    for position, delete, insert in edits:
        data = data[:position] + insert + data[position + delete :]
    try:
        method, params = parse_request(data)
    except SoapError:
        return
    assert method in METHOD_PARAMS and all(isinstance(v, str) for v in params.values())


@settings(max_examples=300, deadline=None)
@given(st.text(), st.lists(st.text(), max_size=4))
def test_any_text_can_be_answered(text: str, strings: list[str]) -> None:
    body = response_envelope("getLastError", text)
    result = etree.fromstring(body).find(f".//{{{INTUIT_NS}}}getLastErrorResult")
    expected = "".join(c for c in text if c in "\t\n\r" or (ord(c) >= 0x20 and not 0xD800 <= ord(c) <= 0xDFFF and c not in "\ufffe\uffff"))
    assert (result.text or "") == expected
    array = etree.fromstring(response_envelope("authenticate", strings)).find(f".//{{{INTUIT_NS}}}authenticateResult")
    assert len(array) == len(strings)
    etree.fromstring(fault_envelope("Server", text))
