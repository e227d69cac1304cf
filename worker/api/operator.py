"""Operator API (/api/v1): summary, documents, actions, duplicates, audit and the event stream.

Routes are thin: they parse parameters, run one query or action in one store transaction, and
shape the answer. Errors are always JSON ``{"error": ...}``: 400 for bad parameters, 401/403 from
``auth``, 404 for unknown ids, 409 (naming the state) for an action the state does not allow.
"""

from __future__ import annotations

import json
import math

from quart import Blueprint, Response, current_app, jsonify, request

from shared.api import ACTIONS
from shared.clock import utc_now
from worker.api import queries, stream
from worker.api.auth import current_operator, require_token
from worker.api.queries import BadRequest
from worker.posting.actions import apply_action
from worker.store.documents import InvalidTransition, NotFound
from worker.web import context, json_error

blueprint = Blueprint("operator_api", __name__, url_prefix="/api/v1")


@blueprint.errorhandler(BadRequest)
async def bad_request(error: BadRequest):
    return json_error(400, str(error))


def _int_param(name: str, text: str | None) -> int | None:
    if text is None or text == "":
        return None
    if len(text) > 20:
        raise BadRequest(f"{name}: expected a whole number up to {queries.MAX_ID}")
    try:
        return queries.checked_id(name, int(text))
    except ValueError:
        raise BadRequest(f"{name}: expected a whole number") from None


# Stream timings below this keep a core busy for nothing; above an hour nobody waits for them.
MIN_STREAM_S, MAX_STREAM_S = 0.1, 3600.0


def _float_param(name: str, text: str | None, low: float = 0.0) -> float | None:
    if text is None or text == "":
        return None
    try:
        value = float(text)
    except ValueError:
        raise BadRequest(f"{name}: expected a number") from None
    if not math.isfinite(value) or value <= low or value > MAX_STREAM_S:
        raise BadRequest(f"{name}: expected a number of seconds above {low:g} and at most {MAX_STREAM_S:g}")
    return value


@blueprint.get("/summary")
@require_token()
async def summary():
    ctx = context()
    companies = [(c.id, c.name) for c in ctx.config.companies]
    result = await ctx.store.run(queries.summary, companies, utc_now())
    return jsonify(result.to_dict())


@blueprint.get("/documents")
@require_token()
async def documents():
    args = request.args
    f = queries.DocumentFilter(company=args.get("company", ""), state=args.get("state", ""), concur_id=args.get("concur_id", ""), q=args.get("q", ""))
    f.validate()
    limit = queries.parse_limit(args.get("limit"))
    page = await context().store.run(queries.list_documents, f, limit, args.get("cursor") or None)
    return jsonify(page.to_dict())


@blueprint.get("/documents/<int:document_id>")
@require_token()
async def document(document_id: int):
    queries.checked_id("document id", document_id)
    detail = await context().store.run(queries.document_detail, document_id)
    if detail is None:
        return json_error(404, f"no document {document_id}")
    return jsonify(detail.to_dict())


@blueprint.post("/documents/<int:document_id>/<action>")
@require_token(write=True)
async def act(document_id: int, action: str):
    queries.checked_id("document id", document_id)
    if action not in ACTIONS:
        return json_error(404, f"no action {action!r}; expected one of {', '.join(ACTIONS)}")
    raw = await request.get_data()
    try:
        body = json.loads(raw) if raw else {}
    except (ValueError, RecursionError):  # not JSON, or nested past the parser's depth
        body = None
    if not isinstance(body, dict):
        return json_error(400, 'body: expected a JSON object like {"reason": "...", "force": false}')
    reason, force = body.get("reason", ""), body.get("force", False)
    if not isinstance(reason, str) or len(reason) > 500:
        return json_error(400, "reason: expected text of 500 characters at most")
    if not isinstance(force, bool):
        return json_error(400, "force: expected true or false")
    ctx = context()
    actor = current_operator().name  # the token's name is who acted, in the audit trail

    def run(conn):
        apply_action(conn, document_id, action, reason, actor, force)
        return queries.get_document(conn, document_id)

    try:
        doc = await ctx.store.run(run, durable=True)
    except NotFound:
        return json_error(404, f"no document {document_id}")
    except InvalidTransition as exc:
        return json_error(409, str(exc), state=str(exc.state))
    ctx.changed.notify()
    return jsonify(doc.to_dict() if doc else {})


@blueprint.get("/audit")
@require_token()
async def audit():
    args = request.args
    limit = queries.parse_limit(args.get("limit"))
    document_id = _int_param("document", args.get("document"))
    page = await context().store.run(queries.list_audit, args.get("company", ""), document_id, limit, args.get("cursor") or None)
    return jsonify(page.to_dict())


@blueprint.get("/duplicates")
@require_token()
async def duplicates():
    args = request.args
    limit = queries.parse_limit(args.get("limit"))
    page = await context().store.run(queries.list_duplicates, args.get("company", ""), limit, args.get("cursor") or None)
    return jsonify(page.to_dict())


@blueprint.get("/stream")
@require_token()
async def event_stream():
    args = request.args
    last = request.headers.get("Last-Event-ID") or args.get("last_event_id")
    last_id = _int_param("Last-Event-ID", last)
    max_events = _int_param("max_events", args.get("max_events"))
    defaults = stream.StreamOptions()
    options = stream.StreamOptions(
        heartbeat_s=_float_param("heartbeat", args.get("heartbeat"), MIN_STREAM_S) or defaults.heartbeat_s,
        summary_every_s=_float_param("summary_every", args.get("summary_every"), MIN_STREAM_S) or defaults.summary_every_s,
        max_events=max_events if max_events is None else max(1, max_events),
        until_idle_s=_float_param("until_idle", args.get("until_idle")),
    )
    cache = current_app.extensions.setdefault("mlc_operator_summary", stream.SummaryCache())
    response = Response(
        stream.events(context(), last_id, options, cache),
        content_type="text/event-stream; charset=utf-8",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
    response.timeout = None  # a stream lives as long as its client
    return response
