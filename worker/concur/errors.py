"""Errors of the Concur side. Messages are safe to log and show: never a token, secret or form body."""

from __future__ import annotations


class ConcurError(Exception):
    """Base class; ``str(exc)`` is meant for operators (document reason, logs)."""


class TokenError(ConcurError):
    """The token endpoint refused a request (Concur's ``{"code", "error", "error_description"}``)."""

    def __init__(self, status: int, code: int | None, error: str, description: str, geolocation: str | None = None):
        self.status = status
        self.code = code
        self.error = error
        self.description = description
        self.geolocation = geolocation
        super().__init__(f"Concur token endpoint: HTTP {status} {error or 'error'} (code {code}): {description}".strip())


class UserLivesElsewhere(TokenError):
    """Code 16: retry the same token request at ``geolocation``."""


class NeedsReconnect(ConcurError):
    """A person must act (new company request token, or fix client credentials); retrying cannot help."""

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(reason)


class NotConnected(NeedsReconnect):
    """No tokens stored and no request token configured."""


class ConcurHTTPError(ConcurError):
    def __init__(self, status: int, method: str, path: str, detail: str = ""):
        self.status = status
        self.method = method
        self.path = path
        self.detail = detail
        super().__init__(f"Concur {method} {path}: HTTP {status}" + (f": {detail}" if detail else ""))


class ConcurNotFound(ConcurHTTPError):
    pass


class ConcurUnavailable(ConcurError):
    """Transient trouble (network, timeouts, 429, 5xx) outlasted the retries; try again later."""


class BadConcurData(ConcurError):
    """Concur answered 200 with content we cannot normalise (missing or malformed field)."""
