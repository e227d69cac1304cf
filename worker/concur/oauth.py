"""Concur OAuth 2.0 as values: form bodies for the token endpoint, token responses, token errors.

Pure: no network and no clock (``now`` is passed in). The client (client.py) does the I/O.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

from worker.concur.errors import NeedsReconnect, TokenError, UserLivesElsewhere

TOKEN_PATH = "/oauth2/v0/token"

# Token error codes that a retry cannot fix: bad/expired/revoked credentials, disabled or locked
# accounts, IP restrictions, unknown/disabled client, company not enabled for the client.
_PERMANENT_CODES = frozenset({5, 10, 11, 12, 13, 14, 19, 20, 53, 59, 60, 61, 64, 107, 108, 120, 123, 136})
# A refresh token older than this is treated as a duration rather than an epoch (docs say epoch).
_EPOCH_THRESHOLD = 100_000_000


@dataclass(frozen=True)
class Tokens:
    """A company's Concur tokens. Secrets are kept out of ``repr`` so they never reach a log."""

    access_token: str = field(repr=False)
    access_expires_at: dt.datetime
    geolocation: str
    refresh_token: str | None = field(default=None, repr=False)
    refresh_expires_at: dt.datetime | None = None
    scope: str = ""
    id_token: str | None = field(default=None, repr=False)
    needs_reconnect: bool = False
    reason: str = ""

    def expires_within(self, now: dt.datetime, margin: dt.timedelta) -> bool:
        return self.access_expires_at - now <= margin

    def replace(self, **changes: Any) -> Tokens:
        return dataclasses.replace(self, **changes)


def normalise_base_url(url: str) -> str:
    """``https://us.api.Concursolutions.com/`` -> ``https://us.api.concursolutions.com`` (host case varies)."""
    parts = urlsplit(url.strip())
    if not parts.scheme or not parts.netloc:
        raise ValueError("not an absolute URL")
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}{parts.path.rstrip('/')}"


def request_token_form(client_id: str, client_secret: str, company_uuid: str, request_token: str) -> dict[str, str]:
    """The only way to get a company token: password grant with the company request token."""
    return {
        "client_id": client_id,
        "client_secret": client_secret,
        "grant_type": "password",
        "username": company_uuid,
        "password": request_token,
        "credtype": "authtoken",
    }


def refresh_form(client_id: str, client_secret: str, refresh_token: str) -> dict[str, str]:
    return {
        "client_id": client_id,
        "client_secret": client_secret,
        "grant_type": "refresh_token",
        "refresh_token": refresh_token,
    }


def client_credentials_form(client_id: str, client_secret: str) -> dict[str, str]:
    """App token (no refresh token) for the Event Subscription Service."""
    return {"client_id": client_id, "client_secret": client_secret, "grant_type": "client_credentials"}


def _int(value: Any, name: str) -> int:
    try:
        return int(Decimal(str(value).strip()))
    except Exception as exc:
        raise TokenError(200, None, "bad_response", f"{name} is not a number") from exc


def parse_token_response(data: Any, now: dt.datetime, called_base: str, previous: Tokens | None = None) -> Tokens:
    """Token endpoint JSON -> Tokens.

    ``expires_in`` may be a number or a string; ``refresh_token``/``id_token`` are optional;
    ``refresh_expires_in`` is an absolute epoch. A missing ``geolocation`` keeps the host we
    called; a missing refresh token keeps the previous one (Concur says it *may* change).
    """
    if not isinstance(data, dict) or not data.get("access_token"):
        raise TokenError(200, None, "bad_response", "token response without access_token")
    expires_in = _int(data.get("expires_in", 3600), "expires_in")
    refresh_expires_at = previous.refresh_expires_at if previous else None
    if data.get("refresh_expires_in") not in (None, ""):
        value = _int(data["refresh_expires_in"], "refresh_expires_in")
        if value >= _EPOCH_THRESHOLD:
            refresh_expires_at = dt.datetime.fromtimestamp(value, dt.UTC)
        else:
            refresh_expires_at = now + dt.timedelta(seconds=value)
    geolocation = data.get("geolocation") or called_base
    return Tokens(
        access_token=str(data["access_token"]),
        access_expires_at=now + dt.timedelta(seconds=expires_in),
        geolocation=normalise_base_url(str(geolocation)),
        refresh_token=str(data["refresh_token"]) if data.get("refresh_token") else (previous.refresh_token if previous else None),
        refresh_expires_at=refresh_expires_at,
        scope=str(data.get("scope") or ""),
        id_token=str(data["id_token"]) if data.get("id_token") else None,
    )


def token_error(status: int, body: bytes) -> TokenError | NeedsReconnect:
    """Classify a non-2xx token endpoint answer.

    Returns (does not raise) ``UserLivesElsewhere`` for code 16, ``NeedsReconnect`` when a person
    must act (invalid_grant and friends, 403 = company has not authorised the app), else a plain
    ``TokenError`` that the caller may retry (5xx, 429, oddities).
    """
    try:
        data = json.loads(body or b"{}")
    except ValueError:
        data = {}
    if not isinstance(data, dict):
        data = {}
    code: int | None
    try:
        code = int(data["code"]) if data.get("code") not in (None, "") else None
    except (TypeError, ValueError):
        code = None
    error = str(data.get("error") or "")
    description = str(data.get("error_description") or "")[:200]
    if not description and status >= 500:
        description = (body or b"")[:200].decode("utf-8", "replace").strip()
    geolocation = data.get("geolocation")
    if code == 16 and geolocation:
        return UserLivesElsewhere(status, code, error, description, str(geolocation))
    if error in ("invalid_grant", "invalid_client", "unauthorized_client", "access_denied") or code in _PERMANENT_CODES or status == 403:
        what = {
            "invalid_grant": "the refresh or request token was rejected (expired, revoked or wrong)",
            "invalid_client": "the client id/secret were rejected",
        }.get(error, "Concur refused the credentials")
        return NeedsReconnect(f"{what}: {error or 'HTTP ' + str(status)} (code {code}) {description}".strip())
    return TokenError(status, code, error, description, str(geolocation) if geolocation else None)
