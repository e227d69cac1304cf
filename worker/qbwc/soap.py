"""QBWC's SOAP 1.1 envelopes: read a request body, write a response or a fault.

Document/literal "wrapped": the Body's child is the method element in the namespace
``http://developer.intuit.com/``; its children are the parameters (Intuit's names); results go
back as ``<{method}Response><{method}Result>…``. qbXML travels as escaped text inside those
elements, never as raw elements (lxml escapes it for us).

The parser is the front door for anything the internet sends to ``POST /qbwc``: it only ever
returns ``(method, params)`` or raises ``SoapError`` with a message safe to put in a Fault.
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib import resources

from lxml import etree

from worker.qbxml.safexml import UnsafeXmlError, elements, local_name, namespace, parse_untrusted, xml_safe

MAX_SOAP_BYTES = 10 * 1024 * 1024  # the HTTP layer answers 413 beyond this, before parsing

INTUIT_NS = "http://developer.intuit.com/"
SOAP_NS = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12_NS = "http://www.w3.org/2003/05/soap-envelope"
CONTENT_TYPE = "text/xml; charset=utf-8"

# Parameters per callback, in Intuit's order (WCWebService.asmx.cs). Missing ones read as "".
METHOD_PARAMS: dict[str, tuple[str, ...]] = {
    "serverVersion": (),
    "getServerVersion": ("ticket",),
    "clientVersion": ("strVersion",),
    "authenticate": ("strUserName", "strPassword"),
    "sendRequestXML": (
        "ticket",
        "strHCPResponse",
        "strCompanyFileName",
        "qbXMLCountry",
        "qbXMLMajorVers",
        "qbXMLMinorVers",
    ),
    "receiveResponseXML": ("ticket", "response", "hresult", "message"),
    "connectionError": ("ticket", "hresult", "message"),
    "getLastError": ("ticket",),
    "closeConnection": ("ticket",),
    "getInteractiveURL": ("wcTicket", "sessionID"),
    "interactiveDone": ("wcTicket",),
    "interactiveRejected": ("wcTicket", "reason"),
}

INT_RESULT_METHODS = frozenset({"receiveResponseXML"})
ARRAY_RESULT_METHODS = frozenset({"authenticate"})

FAULT_CODES = ("Client", "Server", "VersionMismatch", "MustUnderstand")


class SoapError(Exception):
    """A request we will not serve; ``code`` is the SOAP faultcode (without prefix)."""

    def __init__(self, message: str, code: str = "Client") -> None:
        super().__init__(message)
        self.message = message
        self.code = code if code in FAULT_CODES else "Server"


# --- requests ---------------------------------------------------------------------------------


def parse_request(body: bytes | str) -> tuple[str, dict[str, str]]:
    """``(method, params)`` from a QBWC request body; raises only SoapError.

    Unknown child elements are ignored, missing parameters read as "", empty elements as "".
    """
    try:
        return _parse_request(body)
    except SoapError:
        raise
    except Exception:  # belt and braces: nothing but SoapError may leave this function
        raise SoapError("the request could not be read") from None


def _parse_request(body: bytes | str) -> tuple[str, dict[str, str]]:
    if isinstance(body, str):
        body = body.encode("utf-8")
    if not isinstance(body, bytes | bytearray | memoryview):
        raise SoapError("the request body must be bytes")
    body = bytes(body)
    if len(body) > MAX_SOAP_BYTES:
        raise SoapError("the request is too large")
    if not body.strip():
        raise SoapError("the request body is empty")
    try:
        root = parse_untrusted(body, max_bytes=MAX_SOAP_BYTES)
    except UnsafeXmlError as exc:
        raise SoapError(str(exc)) from None
    if local_name(root) != "Envelope":
        raise SoapError("not a SOAP envelope")
    if namespace(root) == SOAP12_NS:
        raise SoapError("only SOAP 1.1 is supported", code="VersionMismatch")
    if namespace(root) != SOAP_NS:
        raise SoapError("not a SOAP 1.1 envelope", code="VersionMismatch")
    body_element = next((c for c in elements(root) if local_name(c) == "Body" and namespace(c) == SOAP_NS), None)
    if body_element is None:
        raise SoapError("the SOAP envelope has no Body")
    calls = elements(body_element)
    if not calls:
        raise SoapError("the SOAP Body is empty")
    call = calls[0]
    method = local_name(call)
    if namespace(call) != INTUIT_NS:
        raise SoapError(f"unknown namespace for {method[:64]!r}; expected {INTUIT_NS}")
    if method not in METHOD_PARAMS:
        raise SoapError(f"unknown method {method[:64]!r}")
    params = dict.fromkeys(METHOD_PARAMS[method], "")
    for child in elements(call):
        name = local_name(child)
        if name in params and namespace(child) in (INTUIT_NS, ""):
            params[name] = "".join(child.itertext())
    return method, params


def int_param(params: dict[str, str], name: str, default: int) -> int:
    """An ``xs:int`` parameter (qbXMLMajorVers); ``default`` when empty or not a number."""
    text = params.get(name, "").strip()
    try:
        value = int(text)
    except ValueError:
        return default
    return value if -(2**31) <= value < 2**31 else default


# --- responses --------------------------------------------------------------------------------

_SOAP = f"{{{SOAP_NS}}}"
_NSMAP = {
    "soap": SOAP_NS,
    "xsi": "http://www.w3.org/2001/XMLSchema-instance",
    "xsd": "http://www.w3.org/2001/XMLSchema",
}


def _envelope() -> tuple[etree._Element, etree._Element]:
    envelope = etree.Element(_SOAP + "Envelope", nsmap=_NSMAP)
    body = etree.SubElement(envelope, _SOAP + "Body")
    return envelope, body


def _serialise(envelope: etree._Element) -> bytes:
    # The declaration in double quotes, as .NET (QBWC) and Intuit's samples write it.
    return b'<?xml version="1.0" encoding="utf-8"?>' + etree.tostring(envelope, encoding="utf-8")


# What a Web Connector callback returns: a string, an int (receiveResponseXML) or a string array.
SoapValue = str | int | Sequence[str]


def response_envelope(method: str, value: SoapValue) -> bytes:
    """The SOAP response for ``method``: a string, an int (receiveResponseXML) or a string
    array (authenticate: ``<authenticateResult><string>…</string>…``). Raises SoapError (Server)
    when the value does not fit the method — a bug on our side, answered as a Fault.
    """
    if method not in METHOD_PARAMS:
        raise SoapError(f"unknown method {method[:64]!r}", code="Server")
    envelope, body = _envelope()
    response = etree.SubElement(body, f"{{{INTUIT_NS}}}{method}Response", nsmap={None: INTUIT_NS})
    result = etree.SubElement(response, f"{{{INTUIT_NS}}}{method}Result")
    if method in ARRAY_RESULT_METHODS:
        if isinstance(value, str | bytes | int) or not isinstance(value, Sequence):
            raise SoapError(f"{method} answers a string array", code="Server")
        for item in value:
            if not isinstance(item, str):
                raise SoapError(f"{method} answers a string array", code="Server")
            etree.SubElement(result, f"{{{INTUIT_NS}}}string").text = xml_safe(item)
    elif method in INT_RESULT_METHODS:
        if isinstance(value, bool) or not isinstance(value, int) or not -(2**31) <= value < 2**31:
            raise SoapError(f"{method} answers an int", code="Server")
        result.text = str(value)
    else:
        if not isinstance(value, str):
            raise SoapError(f"{method} answers a string", code="Server")
        result.text = xml_safe(value)
    return _serialise(envelope)


def fault_envelope(code: str, text: str) -> bytes:
    """A SOAP 1.1 Fault: ``code`` is Client (their request is wrong) or Server (our side)."""
    if code not in FAULT_CODES:
        code = "Server"
    envelope, body = _envelope()
    fault = etree.SubElement(body, _SOAP + "Fault")
    etree.SubElement(fault, "faultcode").text = f"soap:{code}"
    etree.SubElement(fault, "faultstring").text = xml_safe(text)[:1000]
    return _serialise(envelope)


# --- WSDL ---------------------------------------------------------------------------------------


def wsdl_text(url: str) -> str:
    """Our WSDL with ``soap:address location`` set to ``url`` (XML-escaped)."""
    template = resources.files("worker.qbwc").joinpath("wsdl.xml").read_text(encoding="utf-8")
    escaped = xml_safe(url).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    return template.replace("{{URL}}", escaped)
