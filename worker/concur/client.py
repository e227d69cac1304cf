"""ConcurClient: every Concur HTTP call of the worker, with tokens, routing and retries.

- Tokens come from a ``TokenStore``; a refresh's new refresh token and geolocation are saved
  BEFORE the new access token is used (Concur may rotate the refresh token; the old one is dead).
- Every call goes to the geolocation of the company's current token (hrefs are re-based there).
- At most ``max_calls_in_flight`` API calls per company at once, fewer for a while after a 429
  (``AdaptiveLimit``: halve on 429, grow back one call per window of answers; token requests are
  outside it). A 429 waits its Retry-After when positive, else our own backoff with jitter.
- 401/403 -> one forced refresh, then retry; 429 -> Retry-After (if > 0) else exponential backoff
  with jitter; 503 -> wait ``unavailable_wait`` (minutes in production); other 5xx, network
  errors and timeouts -> backoff and retry; after ``max_attempts`` -> ``ConcurUnavailable``.
- Token error code 16 -> the same token request again at the geolocation it names;
  invalid_grant & co -> ``mark_needs_reconnect`` and ``NeedsReconnect``.
- Secrets never appear in exceptions or logs; ``concur-correlationid`` is sent on every call.

Runs under trio (httpx uses anyio's trio backend).
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
import trio

from worker.concur import oauth
from worker.concur.errors import (
    ConcurError,
    ConcurHTTPError,
    ConcurNotFound,
    ConcurUnavailable,
    NeedsReconnect,
    NotConnected,
    TokenError,
    UserLivesElsewhere,
)
from worker.concur.limiter import AdaptiveLimit
from worker.concur.normalise import loads
from worker.concur.oauth import Tokens
from worker.concur.tokens import TokenStore

log = logging.getLogger("mlc.concur")

EXPENSE_REPORT_TOPIC = "public.concur.expense.report"
WEBHOOK_PATH = "/webhooks/concur"
_MAX_GEO_HOPS = 2


@dataclass(frozen=True)
class CompanyCredentials:
    """What the config says about one company's Concur connection (secrets already resolved)."""

    company: str
    base_url: str
    client_id: str
    client_secret: str = field(repr=False)
    company_uuid: str
    request_token: str | None = field(default=None, repr=False)
    max_calls_in_flight: int = 8  # [companies.concur] max_calls_in_flight


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 6
    backoff_base: float = 1.0  # seconds; doubles per attempt, with jitter
    backoff_max: float = 60.0
    retry_after_max: float = 600.0
    unavailable_wait: float = 300.0  # 503 = maintenance: Concur says sleep 5 minutes
    timeout: float = 60.0  # Concur: no response in 60 s -> retry later
    refresh_margin: float = 300.0  # refresh the access token this long before it expires

    def backoff(self, attempt: int, rng: random.Random) -> float:
        ceiling = min(self.backoff_max, self.backoff_base * (2**attempt))
        return ceiling * (0.5 + rng.random() / 2)


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _path_of(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def _safe_path(url: str) -> str:
    """For messages: the path only (queries could carry ids we'd rather not spread)."""
    return urlsplit(url).path


def _error_detail(response: httpx.Response) -> str:
    try:
        data = loads(response.content)
    except ValueError:
        return ""
    if isinstance(data, dict):
        for key in ("errorMessage", "Message", "message", "error_description"):
            if isinstance(data.get(key), str):
                return data[key][:200]
        error = data.get("error")
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return error["message"][:200]
    return ""


@asynccontextmanager
async def _no_slot() -> AsyncIterator[None]:
    yield None


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        return None


class ConcurClient:
    def __init__(
        self,
        companies: Mapping[str, CompanyCredentials] | list[CompanyCredentials],
        tokens: TokenStore,
        *,
        policy: RetryPolicy | None = None,
        http: httpx.AsyncClient | None = None,
        now: Callable[[], dt.datetime] = _utcnow,
        sleep: Callable[[float], Awaitable[None]] = trio.sleep,
        rng: random.Random | None = None,
    ):
        if isinstance(companies, list):
            companies = {c.company: c for c in companies}
        self.companies = dict(companies)
        self.tokens = tokens
        self.policy = policy or RetryPolicy()
        self._own_http = http is None
        self.http = http or httpx.AsyncClient(timeout=self.policy.timeout, follow_redirects=False)
        self.now = now
        self.sleep = sleep
        self.rng = rng or random.Random()
        self._locks: dict[str, trio.Lock] = {}
        self._limits: dict[str, AdaptiveLimit] = {}
        self._usable: dict[str, Tokens] = {}  # per company: the tokens last loaded or saved, while usable
        self._app_tokens: dict[tuple[str, str], Tokens] = {}

    async def aclose(self) -> None:
        if self._own_http:
            await self.http.aclose()

    async def __aenter__(self) -> ConcurClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def _creds(self, company: str) -> CompanyCredentials:
        try:
            return self.companies[company]
        except KeyError:
            raise ConcurError(f"company {company!r} has no Concur configuration") from None

    def _lock(self, company: str) -> trio.Lock:
        return self._locks.setdefault(company, trio.Lock())

    def limit(self, company: str) -> AdaptiveLimit:
        """The company's window of API calls in flight (shared by every task using this client)."""
        if company not in self._limits:
            self._limits[company] = AdaptiveLimit(self._creds(company).max_calls_in_flight)
        return self._limits[company]

    # ---------------------------------------------------------------- transport with retries

    async def _send(
        self,
        method: str,
        url: str,
        *,
        headers: dict[str, str],
        data: dict[str, str] | None = None,
        json_body: Any = None,
        params: Mapping[str, str] | None = None,
        what: str,
        limit: AdaptiveLimit | None = None,
    ) -> httpx.Response:
        """One logical request: retries transport errors, 429, 5xx. Returns any other response.
        With ``limit``, each attempt holds a place in the company's window only while on the wire
        (never while waiting to retry) and tells it about a 429."""
        policy = self.policy
        attempt = 0
        while True:
            correlation = str(uuid.uuid4())
            try:
                async with limit.slot() if limit is not None else _no_slot() as slot:
                    response = await self.http.request(
                        method,
                        url,
                        headers={**headers, "concur-correlationid": correlation},
                        data=data,
                        json=json_body,
                        params=params,
                        timeout=policy.timeout,
                    )
                    if response.status_code == 429 and slot is not None:
                        slot.throttled = True
                        slot.retry_after = min(_retry_after(response) or 0.0, policy.retry_after_max)
            except httpx.TransportError as exc:  # connect errors, resets, timeouts
                reason = f"{type(exc).__name__}"
                wait = policy.backoff(attempt, self.rng)
            else:
                if response.status_code not in (429, 500, 502, 503, 504):
                    if response.status_code >= 400:
                        log.info(
                            "concur %s %s -> %s (correlation %s, response %s)",
                            method,
                            what,
                            response.status_code,
                            correlation,
                            response.headers.get("concur-correlationid", "-"),
                        )
                    return response
                reason = f"HTTP {response.status_code}"
                if response.status_code == 429:
                    retry_after = _retry_after(response)
                    # Retry-After can be 0: fall back to our own backoff then.
                    wait = min(retry_after, policy.retry_after_max) if retry_after else policy.backoff(attempt, self.rng)
                elif response.status_code == 503:
                    wait = policy.unavailable_wait
                else:
                    wait = policy.backoff(attempt, self.rng)
            attempt += 1
            if attempt >= policy.max_attempts:
                raise ConcurUnavailable(f"Concur {method} {what}: {reason}, gave up after {attempt} attempts")
            log.warning("concur %s %s: %s; retry %d in %.1fs", method, what, reason, attempt, wait)
            await self.sleep(wait)

    # ---------------------------------------------------------------- tokens

    async def _token_request(self, base: str, form: dict[str, str], previous: Tokens | None) -> Tokens:
        """POST the token endpoint; follows code 16 to the named geolocation."""
        for _hop in range(_MAX_GEO_HOPS + 1):
            url = oauth.normalise_base_url(base) + oauth.TOKEN_PATH
            response = await self._send("POST", url, headers={"Accept": "application/json"}, data=form, what=oauth.TOKEN_PATH)
            if response.status_code == 200:
                try:
                    data = loads(response.content)
                except ValueError:
                    raise TokenError(200, None, "bad_response", "token response is not JSON") from None
                return oauth.parse_token_response(data, self.now(), oauth.normalise_base_url(base), previous)
            error = oauth.token_error(response.status_code, response.content)
            if isinstance(error, UserLivesElsewhere):
                log.info("concur token: user lives elsewhere, retrying at %s", error.geolocation)
                base = error.geolocation or base
                continue
            raise error
        raise TokenError(400, 16, "invalid_request", "user lives elsewhere: too many redirects")

    async def connect(self, company: str) -> Tokens:
        """Exchange the company request token (password grant, credtype=authtoken)."""
        creds = self._creds(company)
        if not creds.request_token:
            raise NotConnected(f"{company}: no Concur request token configured; generate one in Concur and run `mlc concur connect`")
        form = oauth.request_token_form(creds.client_id, creds.client_secret, creds.company_uuid, creds.request_token)
        async with self._lock(company):
            try:
                tokens = await self._token_request(creds.base_url, form, None)
            except NeedsReconnect as exc:
                await self.tokens.mark_needs_reconnect(company, f"connect failed: {exc.reason}")
                raise
            with trio.CancelScope(shield=True):  # a request token is good for one exchange: keep what it gave
                await self.tokens.save(company, tokens)
            self._usable[company] = tokens
            log.info("concur %s: connected, geolocation %s", company, tokens.geolocation)
            return tokens

    async def _refresh_locked(self, company: str, current: Tokens) -> Tokens:
        creds = self._creds(company)
        if not current.refresh_token:
            reason = f"{company}: no refresh token stored; a new company request token is needed"
            await self.tokens.mark_needs_reconnect(company, reason)
            raise NeedsReconnect(reason)
        form = oauth.refresh_form(creds.client_id, creds.client_secret, current.refresh_token)
        try:
            tokens = await self._token_request(current.geolocation, form, current)
        except NeedsReconnect as exc:
            await self.tokens.mark_needs_reconnect(company, exc.reason)
            raise
        # Persist first: after rotation only the new refresh token works. Not cancellable: a job
        # stopped now (its lease handed to another worker, a graceful stop) still saves what
        # Concur answered.
        with trio.CancelScope(shield=True):
            await self.tokens.save(company, tokens)
        log.info("concur %s: access token refreshed (geolocation %s)", company, tokens.geolocation)
        return tokens

    async def access(self, company: str, *, force_refresh: bool = False, stale: Tokens | None = None) -> Tokens:
        """Current usable tokens, refreshing ahead of expiry (or when ``force_refresh``). A company
        with nothing stored is connected with its request token when one is configured.

        Tokens this client last loaded or saved are used from memory while their access token is
        good for longer than the refresh margin: a call then costs no store round trip and no wait
        for the company's lock (at several calls in flight those serialised every call). Anything
        else (a refresh, a 401, a reconnect) goes through the store under the lock, so a refresh
        token rotated by another process (``mlc concur connect``) is read before it is used."""
        margin = dt.timedelta(seconds=self.policy.refresh_margin)
        cached = self._usable.get(company)
        if not force_refresh and cached is not None and not cached.expires_within(self.now(), margin):
            return cached
        self._usable.pop(company, None)
        tokens = await self._access_locked(company, margin, force_refresh, stale)
        self._usable[company] = tokens
        return tokens

    async def _access_locked(self, company: str, margin: dt.timedelta, force_refresh: bool, stale: Tokens | None) -> Tokens:
        async with self._lock(company):
            current = await self.tokens.load(company)
            if current is None or (not current.refresh_token and not current.access_token):
                creds = self._creds(company)
                if current is not None and current.needs_reconnect:
                    raise NeedsReconnect(current.reason or f"{company}: needs reconnect")
                if not creds.request_token:
                    raise NotConnected(f"{company}: not connected to Concur; run `mlc concur connect {company}`")
                form = oauth.request_token_form(creds.client_id, creds.client_secret, creds.company_uuid, creds.request_token)
                try:
                    current = await self._token_request(creds.base_url, form, None)
                except NeedsReconnect as exc:
                    await self.tokens.mark_needs_reconnect(company, f"connect failed: {exc.reason}")
                    raise
                await self.tokens.save(company, current)
                return current
            if current.needs_reconnect:
                raise NeedsReconnect(current.reason or f"{company}: needs reconnect")
            if stale is not None and current.access_token != stale.access_token and not current.expires_within(self.now(), margin):
                return current  # someone refreshed while we waited for the lock
            if force_refresh or current.expires_within(self.now(), margin):
                return await self._refresh_locked(company, current)
            return current

    async def keep_alive(self, company: str) -> Tokens:
        """The daily refresh that keeps the (sliding) refresh token alive."""
        return await self.access(company, force_refresh=True)

    async def app_token(self, company: str) -> Tokens:
        """client_credentials App token (for the Event Subscription Service), cached until expiry."""
        creds = self._creds(company)
        stored = await self.tokens.load(company)
        base = stored.geolocation if stored and stored.geolocation else oauth.normalise_base_url(creds.base_url)
        key = (creds.client_id, base)
        cached = self._app_tokens.get(key)
        if cached and not cached.expires_within(self.now(), dt.timedelta(seconds=self.policy.refresh_margin)):
            return cached
        tokens = await self._token_request(base, oauth.client_credentials_form(creds.client_id, creds.client_secret), None)
        self._app_tokens[key] = tokens
        return tokens

    # ---------------------------------------------------------------- API calls

    async def request(
        self, company: str, method: str, path_or_url: str, *, params: Mapping[str, str] | None = None, json_body: Any = None, app: bool = False
    ) -> Any:
        """Authorised call at the token's geolocation; returns decoded JSON (Decimal numbers) or None."""
        path = _path_of(path_or_url) if path_or_url.startswith(("http://", "https://")) else path_or_url
        tokens = await (self.app_token(company) if app else self.access(company))
        refreshed = False
        while True:
            url = tokens.geolocation + path
            response = await self._send(
                method,
                url,
                params=params,
                json_body=json_body,
                headers={"Authorization": f"Bearer {tokens.access_token}", "Accept": "application/json"},
                what=_safe_path(url),
                limit=self.limit(company),
            )
            status = response.status_code
            if status in (401, 403) and not refreshed:
                refreshed = True
                if app:
                    self._app_tokens.clear()
                    tokens = await self.app_token(company)
                else:
                    tokens = await self.access(company, force_refresh=True, stale=tokens)
                continue
            if status == 404:
                raise ConcurNotFound(status, method, _safe_path(url), _error_detail(response))
            if status >= 400:
                raise ConcurHTTPError(status, method, _safe_path(url), _error_detail(response))
            if status == 204 or not response.content:
                return None
            try:
                return loads(response.content)
            except ValueError:
                raise ConcurHTTPError(status, method, _safe_path(url), "response is not JSON") from None

    async def get(self, company: str, path_or_url: str, params: Mapping[str, str] | None = None) -> Any:
        return await self.request(company, "GET", path_or_url, params=params)

    # Expense v4 ----------------------------------------------------------------

    @staticmethod
    def report_path(user_id: str, report_id: str, context: str = "TRAVELER") -> str:
        return f"/expensereports/v4/users/{quote(user_id, safe='')}/context/{context}/reports/{quote(report_id, safe='')}"

    async def get_report(self, company: str, href_or_path: str) -> dict[str, Any]:
        return await self.get(company, href_or_path)

    async def get_expenses(self, company: str, report_path: str) -> list[dict[str, Any]]:
        data = await self.get(company, _path_of(report_path).split("?")[0] + "/expenses")
        return list(data or [])

    async def get_allocations(self, company: str, report_path: str, expense_id: str) -> list[dict[str, Any]]:
        base = _path_of(report_path).split("?")[0]
        data = await self.get(company, f"{base}/expenses/{quote(expense_id, safe='')}/allocations")
        return list(data or [])

    async def get_expense(self, company: str, report_path: str, expense_id: str) -> dict[str, Any]:
        base = _path_of(report_path).split("?")[0]
        data = await self.get(company, f"{base}/expenses/{quote(expense_id, safe='')}")
        return dict(data) if isinstance(data, dict) else {}

    async def get_itemizations(self, company: str, report_path: str, expense_id: str) -> list[dict[str, Any]]:
        base = _path_of(report_path).split("?")[0]
        data = await self.get(company, f"{base}/expenses/{quote(expense_id, safe='')}/itemizations")
        return list(data or [])

    async def get_user(self, company: str, user_id: str) -> dict[str, Any]:
        return await self.get(company, f"/profile/identity/v4/Users/{quote(user_id, safe='')}")

    async def find_user_by_login(self, company: str, login: str) -> dict[str, Any] | None:
        """Identity v4 SCIM filter on userName (v3 lists name owners by login, v4 wants the UUID)."""
        escaped = login.replace("\\", "\\\\").replace('"', '\\"')
        data = await self.get(company, "/profile/identity/v4/Users", {"filter": f'userName eq "{escaped}"'})
        resources = (data or {}).get("Resources") or []
        return resources[0] if resources else None

    async def get_list_item(self, company: str, item_id: str) -> dict[str, Any] | None:
        try:
            return await self.get(company, f"/list/v4/items/{quote(item_id, safe='')}")
        except ConcurNotFound:
            return None

    # v3 lists, paged by NextPage --------------------------------------------------

    async def _paged(self, company: str, path: str, params: dict[str, str], items_key: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        next_url: str | None = None
        pages = 0
        while True:
            data = await (self.get(company, next_url) if next_url else self.get(company, path, params))
            data = data or {}
            page = data.get(items_key)
            if page is None and items_key != "Items":
                page = data.get("Items")
            items.extend(p for p in (page or []) if isinstance(p, dict))
            next_url = data.get("NextPage") or None
            pages += 1
            if not next_url or pages > 10_000:
                return items

    async def list_reports_modified_since(self, company: str, since: dt.date, limit: int = 100) -> list[dict[str, Any]]:
        params = {"user": "ALL", "modifiedDateAfter": since.isoformat(), "limit": str(limit)}
        return await self._paged(company, "/api/v3.0/expense/reports", params, "Items")

    async def list_payment_request_digests_since(self, company: str, since: dt.date, limit: int = 1000) -> list[dict[str, Any]]:
        params = {"lastModifiedDateAfter": since.isoformat(), "limit": str(limit)}
        return await self._paged(company, "/api/v3.0/invoice/paymentrequestdigests", params, "PaymentRequestDigest")

    async def get_payment_request(self, company: str, request_id: str) -> dict[str, Any]:
        # v3 ids are opaque and may contain '$': always percent-encode.
        return await self.get(company, f"/api/v3.0/invoice/paymentrequest/{quote(request_id, safe='')}")

    async def get_report_v3(self, company: str, report_id: str, login: str) -> dict[str, Any] | None:
        """One report through v3 (``…/reports/{id}?user=<login>``): the only public source of a
        report's ``PaidDate`` (v4 has none). None when v3 does not show it."""
        try:
            return await self.get(company, f"/api/v3.0/expense/reports/{quote(report_id, safe='')}", {"user": login or "ALL"})
        except ConcurNotFound:
            return None

    async def get_payment_request_digest(self, company: str, request_id: str) -> dict[str, Any] | None:
        try:
            return await self.get(company, f"/api/v3.0/invoice/paymentrequestdigests/{quote(request_id, safe='')}")
        except ConcurNotFound:
            return None

    # Event Subscription Service ----------------------------------------------------

    @staticmethod
    def default_subscription_id(company_uuid: str, topic: str) -> str:
        """Ids are global across Concur: make ours unique per company and topic."""
        short = re.sub(r"[^a-z0-9.-]", "-", topic.lower().removeprefix("public.concur."))
        return f"mlc-{company_uuid.lower()[:13]}-{short}".strip("-")

    async def subscribe(
        self, company: str, public_url: str, *, topic: str = EXPENSE_REPORT_TOPIC, subscription_id: str | None = None, filter: str = ".*"
    ) -> dict[str, Any]:
        creds = self._creds(company)
        body = {
            "id": subscription_id or self.default_subscription_id(creds.company_uuid, topic),
            "filter": filter,
            "topic": topic,
            "webHookConfig": {"endpoint": public_url.rstrip("/") + WEBHOOK_PATH},
        }
        answer = await self.request(company, "PUT", "/events/v4/subscriptions/webhook", json_body=body, app=True)
        return {"id": body["id"], "message": (answer or {}).get("message", "")}

    async def list_subscriptions(self, company: str) -> list[dict[str, Any]]:
        return list(await self.request(company, "GET", "/events/v4/subscriptions", app=True) or [])

    async def unsubscribe(self, company: str, subscription_id: str) -> str:
        answer = await self.request(company, "DELETE", f"/events/v4/subscriptions/{quote(subscription_id, safe='')}", app=True)
        return (answer or {}).get("message", "")
