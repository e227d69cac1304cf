"""Bearer tokens for the operator API: who is calling, and may they act.

Tokens come from ``operator.token_file`` (``NAME TOKEN [read-only]``). Every token is compared in
constant time, and all of them are compared, so the answer's timing tells nothing about which
token or how much of it matched. The token's NAME becomes the actor in the audit trail.
"""

from __future__ import annotations

import hmac
import logging
import os
from collections.abc import Awaitable, Callable
from functools import wraps
from typing import Any, TypeVar

from quart import g, request

from shared.tokens import OperatorToken, TokenFileError, read_tokens
from worker.context import WorkerContext
from worker.web import context, json_error

log = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Awaitable[Any]])


def match_token(tokens: list[OperatorToken], header: str | None) -> OperatorToken | None:
    """The token an ``Authorization`` header carries, or None."""
    if not header:
        return None
    scheme, _, presented = header.partition(" ")
    if scheme.lower() != "bearer" or not presented.strip():
        return None
    given = presented.strip().encode("utf-8")
    found: OperatorToken | None = None
    for token in tokens:
        if hmac.compare_digest(token.token.encode("utf-8"), given) and found is None:
            found = token
    return found


def current_tokens(ctx: WorkerContext) -> list[OperatorToken]:
    """The token file as it is now: re-read whenever it changed (a removed token stops working at
    once, without a restart). A file that is gone or unreadable lets nobody in until it is fixed."""
    path = ctx.config.operator.token_file
    try:
        st = os.stat(path)
        signature = (st.st_ino, st.st_size, st.st_mtime_ns)
    except OSError:
        signature = None
    if signature == ctx.tokens_signature and signature is not None:
        return ctx.operator_tokens
    try:
        tokens = read_tokens(path)
    except TokenFileError as exc:
        if ctx.operator_tokens or ctx.tokens_signature != signature:
            log.error("operator token file unusable, no operator token accepted until it is fixed: %s", exc)
        tokens = []
    for token in tokens:
        ctx.scrub.add(token.token)
    ctx.operator_tokens, ctx.tokens_signature = tokens, signature
    return tokens


def _unauthorised(message: str):
    body, status = json_error(401, message)
    return body, status, {"WWW-Authenticate": 'Bearer realm="ml-connector"'}


def require_token(*, write: bool = False) -> Callable[[F], F]:
    """Route decorator: 401 without a valid token, 403 when ``write`` and the token is read-only."""

    def decorate(view: F) -> F:
        @wraps(view)
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            header = request.headers.get("Authorization")
            token = match_token(current_tokens(context()), header)
            if token is None:
                return _unauthorised("missing bearer token" if not header else "invalid bearer token")
            if write and token.read_only:
                return json_error(403, f"token {token.name!r} is read-only")
            g.operator = token
            return await view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate


def current_operator() -> OperatorToken:
    return g.operator
