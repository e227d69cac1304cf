"""``POST /webhooks/concur`` served straight from ASGI, in front of the Quart app.

Concur's deliveries are the one request the worker gets by the thousand, and Quart's per-request
machinery (request object, contexts, URL matching, hooks, response conversion) cost as much as
everything the intake itself does (bench/RESULTS.md, "Intake profile"). This shell gives the
webhook path what those layers gave it, and nothing else: the Host check of ``worker.app``, the
body read in full before answering (bounded; past the bound the connection is closed), JSON
answers, 405 for other methods and a 500 without details for the unexpected. Every other path
goes to Quart unchanged.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from worker.concur.intake import MAX_WEBHOOK_BYTES, Answer, Intake
from worker.web import HOST_REFUSED

log = logging.getLogger(__name__)

PATH = "/webhooks/concur"
DISCARD_LIMIT_BYTES = 8 * MAX_WEBHOOK_BYTES  # a refused body is read (and dropped) up to this, then the connection closes
SIGNATURE_HEADER = b"concur-signature"

ASGIApp = Callable[[dict, Callable[[], Awaitable[dict]], Callable[[dict], Awaitable[None]]], Awaitable[None]]


class ClientGone(Exception):
    """The client disconnected before its body arrived: nobody to answer."""


class WebhookEndpoint:
    """ASGI middleware: the webhook path here, everything else to ``inner`` (the Quart app)."""

    def __init__(self, inner: ASGIApp, intake: Intake, host_allowed: Callable[[str], bool]) -> None:
        self.inner = inner
        self.intake = intake
        self.host_allowed = host_allowed

    async def __call__(self, scope: dict, receive, send) -> None:
        if scope["type"] != "http" or scope["path"] != PATH:
            await self.inner(scope, receive, send)
            return
        try:
            answer, complete = await self._answer(scope, receive)
        except ClientGone:
            return
        except Exception:  # never a traceback to the caller; the log (scrubbed) keeps it
            log.exception("unhandled error on %s %s", scope["method"], PATH)
            answer, complete = Answer(500, {"error": "internal error; see the worker log"}), False
        await _send(send, answer, close=not complete, allow=b"POST" if answer.status == 405 else None)

    async def _answer(self, scope: dict, receive) -> tuple[Answer, bool]:
        """The answer, and whether the request body was read to its end (else the connection closes)."""
        headers = dict(scope["headers"])
        declared = _content_length(headers)
        source = (scope.get("client") or ("",))[0] or ""
        oversize = declared is not None and declared > MAX_WEBHOOK_BYTES
        body, complete = await _read_body(receive, 0 if oversize else MAX_WEBHOOK_BYTES)
        if not self.host_allowed(headers.get(b"host", b"").decode("latin-1")):
            return Answer(421, {"error": HOST_REFUSED}), complete
        if scope["method"] != "POST":
            return Answer(405, {"error": "The method is not allowed for the requested URL."}), complete
        if oversize or body is None:
            return await self.intake.refuse(413, "too_large", "body too large", source), complete
        signature = headers.get(SIGNATURE_HEADER)
        return await self.intake.accept(body, signature.decode("latin-1") if signature is not None else None, source), complete


def _content_length(headers: dict[bytes, bytes]) -> int | None:
    try:
        return int(headers[b"content-length"])
    except (KeyError, ValueError):
        return None


async def _read_body(receive, keep: int) -> tuple[bytes | None, bool]:
    """(body, read to the end). Past ``keep`` bytes the body is None and the rest is read and
    dropped up to DISCARD_LIMIT_BYTES, so a client still sending reads our 413 instead of a reset."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone
        chunk = message.get("body", b"")
        size += len(chunk)
        if size <= keep:
            chunks.append(chunk)
        more = message.get("more_body", False)
        if not more:
            return (b"".join(chunks) if size <= keep else None), True
        if size > DISCARD_LIMIT_BYTES:
            return None, False


async def _send(send, answer: Answer, *, close: bool, allow: bytes | None) -> None:
    payload = json.dumps(answer.body).encode("utf-8")
    headers: list[tuple[bytes, Any]] = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode("ascii"))]
    if allow is not None:
        headers.append((b"allow", allow))
    if close:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": answer.status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})
