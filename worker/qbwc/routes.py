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


def client_address(remote_addr: str, forwarded_for: str) -> str:
    """Who is calling, for login throttling. Behind the recommended reverse proxy every request
    comes from loopback, which would let one stranger's bad passwords lock the real Web Connector
    out; so from a loopback peer the address the proxy appended (the last X-Forwarded-For entry;
    earlier ones are whatever the client claimed) is the caller. From any other peer the header
    is ignored: anyone could send it."""
    if forwarded_for and _is_loopback(remote_addr):
        last = forwarded_for.split(",")[-1].strip()
        if last:
            return last[:64]
    return remote_addr


def _is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address.strip("[]")).is_loopback
    except ValueError:
        return False


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
    value = await svc.call(Call(method, params, client_address(request.remote_addr or "", request.headers.get("X-Forwarded-For", ""))))
    ctx.metrics.soap_seconds.labels(method).observe(time.perf_counter() - started)
    return _xml(soap.response_envelope(method, value))
