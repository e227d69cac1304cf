"""The quart-trio application: routes are thin; each blueprint lives beside the code it serves."""

from __future__ import annotations

import ipaddress
import logging
from importlib import resources
from urllib.parse import urlsplit

from quart import Response, current_app, jsonify, request
from quart_trio import QuartTrio
from werkzeug.exceptions import HTTPException

from worker.context import WorkerContext
from worker.web import HOST_REFUSED, context, json_error

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 10 * 1024 * 1024


def create_app(ctx: WorkerContext) -> QuartTrio:
    app = QuartTrio("ml-connector")
    app.extensions["mlc"] = ctx
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    app.config["PROVIDE_AUTOMATIC_OPTIONS"] = True

    from worker.api.operator import blueprint as operator_api
    from worker.concur.intake import Intake
    from worker.concur.intake_http import WebhookEndpoint
    from worker.qbwc.routes import blueprint as qbwc
    from worker.qbwc.service import QbwcService

    app.extensions["qbwc"] = QbwcService(ctx)
    app.extensions["hosts"] = HostCheck(ctx)
    app.register_blueprint(qbwc)
    app.register_blueprint(operator_api)
    # Concur's webhooks, by the thousand, skip Quart's per-request machinery (see intake_http).
    app.asgi_app = WebhookEndpoint(app.asgi_app, Intake(ctx), app.extensions["hosts"])  # type: ignore[method-assign, assignment, arg-type]

    app.before_request(check_host)
    app.after_request(drain_request_body)
    app.add_url_rule("/healthz", view_func=healthz)
    app.add_url_rule("/metrics", view_func=metrics)
    app.add_url_rule("/support", view_func=support)
    app.register_error_handler(HTTPException, http_error)
    app.register_error_handler(Exception, internal_error)
    return app


async def healthz() -> Response:
    ctx = context()
    ok = await ctx.store.healthy()
    companies = await ctx.store.run(_company_health, [c.id for c in ctx.config.companies]) if ok else []
    body = {"status": "ok" if ok else "store unusable", "store": "ok" if ok else "error", "companies": companies}
    response = jsonify(body)
    response.status_code = 200 if ok else 503
    return response


def _company_health(conn, company_ids: list[str]) -> list[dict]:
    result = []
    for company in company_ids:
        token = conn.execute(
            "SELECT needs_reconnect, reason, refresh_token IS NOT NULL AS has_refresh FROM concur_tokens WHERE company = ?", (company,)
        ).fetchone()
        if token is None:
            concur = "not_connected"
        elif token["needs_reconnect"]:
            concur = "needs_reconnect"
        else:
            concur = "connected"
        qb = conn.execute("SELECT last_contact_at, last_result, unreachable_since FROM qb_company WHERE company = ?", (company,)).fetchone()
        result.append(
            {
                "id": company,
                "concur": concur,
                "concur_reason": token["reason"] if token is not None else "",
                "quickbooks_last_contact_at": qb["last_contact_at"] if qb else None,
                "quickbooks_last_result": qb["last_result"] if qb else None,
                "quickbooks_unreachable_since": qb["unreachable_since"] if qb else None,
            }
        )
    return result


async def metrics() -> Response:
    ctx = context()
    counts = await ctx.store.run(lambda conn: conn.execute("SELECT company, state, COUNT(*) FROM documents GROUP BY company, state").fetchall())
    ctx.metrics.documents.clear()
    for company, state, count in counts:
        ctx.metrics.documents.labels(company, state).set(count)
    return Response(ctx.metrics.render(), content_type="text/plain; version=0.0.4; charset=utf-8")


async def support() -> Response:
    html = resources.files("worker").joinpath("support.html").read_text(encoding="utf-8")
    return Response(html, content_type="text/html; charset=utf-8")


def allowed_host(host_header: str, allowed: frozenset[str]) -> bool:
    """A DNS-rebinding page reaches this worker under the attacker's host name; the Web Connector,
    Concur and the console use the public_url's, the listen address's, an IP literal or localhost."""
    host = host_header.strip().lower()
    if host.startswith("["):
        host = host[1 : host.find("]")] if "]" in host else host
    elif host.count(":") == 1:
        host = host.rsplit(":", 1)[0]
    host = host.rstrip(".")
    if host in allowed or host == "localhost":
        return True
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return False


def allowed_hosts(ctx: WorkerContext) -> frozenset[str]:
    w = ctx.config.worker
    return frozenset({(urlsplit(w.public_url).hostname or "").lower(), w.listen_host.lower(), *w.allowed_hosts})


class HostCheck:
    """``allowed_host`` against this worker's names, worked out once per config (a reload replaces
    ``ctx.config``) rather than per request."""

    def __init__(self, ctx: WorkerContext) -> None:
        self.ctx = ctx
        self._config: object = None
        self._hosts: frozenset[str] = frozenset()

    def __call__(self, host_header: str) -> bool:
        if self._config is not self.ctx.config:
            self._hosts, self._config = allowed_hosts(self.ctx), self.ctx.config
        return allowed_host(host_header, self._hosts)


async def check_host():
    if not current_app.extensions["hosts"](request.headers.get("Host", "")):
        return json_error(421, HOST_REFUSED)
    return None


async def drain_request_body(response: Response) -> Response:
    """Read what is left of the request body before answering.

    A response sent while the client is still sending its body (a 401, 404 or 405 answered before
    the view read anything) leaves Hypercorn's kept-alive connection in a state where the next
    request on it is sometimes never answered. Reading the rest first keeps the connection in step;
    when the rest is too large to read, the connection is closed instead.
    """
    if request.method in ("POST", "PUT", "PATCH", "DELETE"):
        try:
            await request.get_data()
        except HTTPException:
            response.headers["Connection"] = "close"
    return response


async def http_error(error: HTTPException):
    return json_error(error.code or 500, error.description or error.name)


async def internal_error(error: Exception):
    # Never a traceback to the caller; the log (scrubbed) keeps it.
    log.exception("unhandled error on %s %s", request.method, request.path)
    return json_error(500, "internal error; see the worker log")
