"""Bearer tokens for the operator API: who is calling, and may they act.

Tokens come from ``operator.token_file`` (``NAME TOKEN [read-only]``). Every token is compared in
constant time, and all of them are compared, so the answer's timing tells nothing about which
token or how much of it matched. The token's NAME becomes the actor in the audit trail.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from functools import wraps
from typing import Any, TypeVar

from quart import g, request

from shared.tokens import OperatorToken
from worker.web import context, json_error

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


def _unauthorised(message: str):
    body, status = json_error(401, message)
    return body, status, {"WWW-Authenticate": 'Bearer realm="ml-connector"'}


def require_token(*, write: bool = False) -> Callable[[F], F]:
    """Route decorator: 401 without a valid token, 403 when ``write`` and the token is read-only."""

    def decorate(view: F) -> F:
        @wraps(view)
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            header = request.headers.get("Authorization")
            token = match_token(context().operator_tokens, header)
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
