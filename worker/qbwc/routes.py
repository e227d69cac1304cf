"""``POST /qbwc`` (the Web Connector's SOAP calls) and ``GET /qbwc?wsdl``: thin HTTP around the service."""

from __future__ import annotations

import ipaddress
import time

from quart import Blueprint, Response, current_app, request
from werkzeug.exceptions import HTTPException

from worker.qbwc import soap
from worker.qbwc.service import Call, QbwcService
from worker.web import context

blueprint = Blueprint("qbwc", __name__)


def service() -> QbwcService:
    return current_app.extensions["qbwc"]


def _xml(body: bytes, status: int = 200) -> Response:
    return Response(body, status=status, content_type=soap.CONTENT_TYPE)


def client_address(remote_addr: str, forwarded_for: str, trusted_proxies: tuple[str, ...] = ()) -> str:
    """Who is calling, for the login backoff. Behind a reverse proxy every request comes from the
    proxy, which would make one stranger's bad passwords slow the real Web Connector down too; so
    from a proxy named in ``worker.trusted_proxies`` the address it appended (the last
    X-Forwarded-For entry; earlier ones are whatever the client claimed) is the caller. From any
    other peer, loopback included, the header is ignored: anyone could send it."""
    if forwarded_for and _trusted(remote_addr, trusted_proxies):
        last = forwarded_for.split(",")[-1].strip()
        if last:
            return last[:64]
    return remote_addr


def _trusted(address: str, trusted_proxies: tuple[str, ...]) -> bool:
    try:
        peer = ipaddress.ip_address(address.strip("[]"))
    except ValueError:
        return False
    return any(peer in ipaddress.ip_network(proxy, strict=False) for proxy in trusted_proxies)


def _is_soap_post() -> bool:
    """The Web Connector always sends ``Content-Type: text/xml`` and a SOAPAction header; a web
    page posting text/plain (which a browser sends without asking) never can."""
    return request.mimetype == "text/xml" and "SOAPAction" in request.headers


@blueprint.get("/qbwc")
async def wsdl() -> Response:
    url = context().config.worker.public_url + "/qbwc"
    return Response(soap.wsdl_text(url), content_type="text/xml; charset=utf-8")


@blueprint.post("/qbwc")
async def callback() -> Response:
    length = request.content_length
    if length is not None and length > soap.MAX_SOAP_BYTES:
        return _xml(soap.fault_envelope("Client", "request too large"), 413)
    try:
        body = await request.get_data(cache=False)
    except HTTPException as exc:
        # A chunked body (no Content-Length) that grows past the app's limit, or one that stalls:
        # still a SOAP Fault, never the app's generic JSON/HTML error page.
        status = exc.code or 400
        return _xml(soap.fault_envelope("Client", "request too large" if status == 413 else "the request body could not be read"), status)
    if len(body) > soap.MAX_SOAP_BYTES:
        return _xml(soap.fault_envelope("Client", "request too large"), 413)
    if not _is_soap_post():
        return _xml(soap.fault_envelope("Client", "expected Content-Type text/xml and a SOAPAction header, as the Web Connector sends"), 400)
    try:
        method, params = soap.parse_request(body)
    except soap.SoapError as exc:
        return _xml(soap.fault_envelope(exc.code, exc.message), 500)
    svc = service()
    if method not in svc.handlers:
        return _xml(soap.fault_envelope("Client", f"unknown method {method}"), 500)
    ctx = context()
    ctx.metrics.qbwc_calls.labels(method).inc()
    started = time.perf_counter()
    value = await svc.call(
        Call(method, params, client_address(request.remote_addr or "", request.headers.get("X-Forwarded-For", ""), ctx.config.worker.trusted_proxies))
    )
    ctx.metrics.soap_seconds.labels(method).observe(time.perf_counter() - started)
    if svc.unrefreshed:
        current_app.add_background_task(svc.settle_documents)  # after this answer is out
    return _xml(soap.response_envelope(method, value))
