"""SOAP 1.1 as QuickBooks Web Connector speaks it (document/literal, namespace
``http://developer.intuit.com/``): building its requests and reading the service's replies. Pure."""

from __future__ import annotations

from xml.sax.saxutils import escape

from lxml import etree

INTUIT_NS = "http://developer.intuit.com/"
SOAP_NS = "http://schemas.xmlsoap.org/soap/envelope/"
CONTENT_TYPE = "text/xml; charset=utf-8"

# The parameters of each callback, in order (Intuit's WCWebService.asmx.cs).
PARAMS: dict[str, tuple[str, ...]] = {
    "serverVersion": (),
    "clientVersion": ("strVersion",),
    "authenticate": ("strUserName", "strPassword"),
    "sendRequestXML": ("ticket", "strHCPResponse", "strCompanyFileName", "qbXMLCountry", "qbXMLMajorVers", "qbXMLMinorVers"),
    "receiveResponseXML": ("ticket", "response", "hresult", "message"),
    "connectionError": ("ticket", "hresult", "message"),
    "getLastError": ("ticket",),
    "closeConnection": ("ticket",),
}


class SoapReplyError(Exception):
    """The reply was not a usable SOAP answer (QBWC1041/1042/... in QBWC's log)."""


def soap_action(method: str) -> str:
    return f'"{INTUIT_NS}{method}"'


def headers(method: str) -> dict[str, str]:
    return {"Content-Type": CONTENT_TYPE, "SOAPAction": soap_action(method)}


def build_request(method: str, **values: object) -> bytes:
    names = PARAMS[method]
    unknown = set(values) - set(names)
    if unknown:
        raise TypeError(f"{method} has no parameters {sorted(unknown)}")
    if names:
        body = "".join(f"<{n}>{escape(str(values.get(n, '')))}</{n}>" for n in names)
        call = f'<{method} xmlns="{INTUIT_NS}">{body}</{method}>'
    else:
        call = f'<{method} xmlns="{INTUIT_NS}" />'
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        f'<soap:Envelope xmlns:soap="{SOAP_NS}" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        'xmlns:xsd="http://www.w3.org/2001/XMLSchema">'
        f"<soap:Body>{call}</soap:Body></soap:Envelope>"
    ).encode()


def _result_element(method: str, body: bytes) -> etree._Element:
    try:
        root = etree.fromstring(body, etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError as exc:
        raise SoapReplyError(f"Response is not well-formed XML: {exc}") from None
    if root.tag != f"{{{SOAP_NS}}}Envelope":
        raise SoapReplyError(f"not a SOAP 1.1 envelope: {root.tag}")
    soap_body = root.find(f"{{{SOAP_NS}}}Body")
    if soap_body is None:
        raise SoapReplyError("SOAP envelope without Body")
    fault = soap_body.find(f"{{{SOAP_NS}}}Fault")
    if fault is not None:
        raise SoapReplyError(f"SOAP Fault: {fault.findtext('faultstring') or ''}")
    response = soap_body.find(f"{{{INTUIT_NS}}}{method}Response")
    if response is None:
        raise SoapReplyError(f"no {method}Response in namespace {INTUIT_NS}")
    result = response.find(f"{{{INTUIT_NS}}}{method}Result")
    if result is None:
        raise SoapReplyError(f"no {method}Result")
    return result


def parse_string_result(method: str, body: bytes) -> str:
    return _result_element(method, body).text or ""


def parse_int_result(method: str, body: bytes) -> int:
    text = (_result_element(method, body).text or "").strip()
    try:
        return int(text)
    except ValueError:
        raise SoapReplyError(f"{method}Result {text!r} is not an int") from None


def parse_string_array(method: str, body: bytes) -> list[str]:
    return [(s.text or "") for s in _result_element(method, body).findall(f"{{{INTUIT_NS}}}string")]
