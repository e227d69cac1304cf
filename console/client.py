"""HTTP client of the operator API (httpx, asyncio) and a Server-Sent Events reader.

The console talks to the worker only through this module. Every failure is one of two
exceptions: ``WorkerUnreachable`` (no answer: the console keeps its last data and retries) or
``ApiError`` (the worker answered with an error; its message is shown to the operator).
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from shared.api import API_PREFIX, AuditPage, Document, DocumentDetail, DocumentPage, DuplicatePage, Summary

HEARTBEAT_GRACE_S = 45.0  # the worker sends a heartbeat every 15 s; three missed means a dead link


class WorkerUnreachable(Exception):
    pass


class ApiError(Exception):
    def __init__(self, status: int, message: str, state: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.state = state


@dataclass(frozen=True)
class SseEvent:
    event: str
    data: str
    id: str | None = None


class SseParser:
    """Turns stream lines into events (the text/event-stream rules the worker uses)."""

    def __init__(self) -> None:
        self._reset()
        self.last_event_id: str | None = None

    def _reset(self) -> None:
        self._event, self._data, self._id = "message", [], None  # type: ignore[var-annotated]

    def feed(self, line: str) -> SseEvent | None:
        if line == "":
            if not self._data:
                self._reset()
                return None
            event = SseEvent(self._event, "\n".join(self._data), self._id)
            if self._id is not None:
                self.last_event_id = self._id
            self._reset()
            return event
        if line.startswith(":"):
            return None
        name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "id":
            self._id = value
        return None


class Backoff:
    """Reconnect delays: 0.5 s doubling to ``maximum``, with jitter so consoles do not stampede."""

    def __init__(self, initial: float = 0.5, maximum: float = 10.0) -> None:
        self.initial, self.maximum = initial, maximum
        self.current = initial

    def next(self) -> float:
        delay = self.current
        self.current = min(self.maximum, self.current * 2)
        return delay * random.uniform(0.8, 1.2)

    def reset(self) -> None:
        self.current = self.initial


class ApiClient:
    def __init__(self, base_url: str, token: str, *, timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.AsyncClient(
            base_url=self.base_url + API_PREFIX,
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
            timeout=timeout,
            # Plain http has no TLS to verify; loading the CA store anyway cost 20-100 ms of the
            # console's first paint. https is verified as always (the client never leaves base_url).
            verify=urlsplit(self.base_url).scheme != "http",
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = await self._http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise WorkerUnreachable(_describe(exc)) from None
        if response.status_code >= 400:
            raise _error(response)
        return response.json()

    async def summary(self) -> Summary:
        return Summary.from_dict(await self._request("GET", "/summary"))

    async def documents(self, state: str = "", company: str = "", q: str = "", cursor: str | None = None, limit: int = 100) -> DocumentPage:
        params = {k: v for k, v in {"state": state, "company": company, "q": q, "cursor": cursor or "", "limit": str(limit)}.items() if v}
        return DocumentPage.from_dict(await self._request("GET", "/documents", params=params))

    async def document(self, document_id: int) -> DocumentDetail:
        return DocumentDetail.from_dict(await self._request("GET", f"/documents/{document_id}"))

    async def act(self, document_id: int, action: str, reason: str, force: bool = False) -> Document:
        return Document.from_dict(await self._request("POST", f"/documents/{document_id}/{action}", json={"reason": reason, "force": force}))

    async def duplicates(self, company: str = "", cursor: str | None = None, limit: int = 100) -> DuplicatePage:
        params = {"company": company, "cursor": cursor or "", "limit": str(limit)}
        return DuplicatePage.from_dict(await self._request("GET", "/duplicates", params={k: v for k, v in params.items() if v}))

    async def audit(self, company: str = "", document_id: int | None = None, cursor: str | None = None, limit: int = 100) -> AuditPage:
        params = {"company": company, "document": "" if document_id is None else str(document_id), "cursor": cursor or "", "limit": str(limit)}
        return AuditPage.from_dict(await self._request("GET", "/audit", params={k: v for k, v in params.items() if v}))

    async def events(self, last_event_id: str | None = None, params: dict[str, str] | None = None) -> AsyncIterator[SseEvent]:
        """One connection's events; ends when the worker ends the stream. Raises as ``_request`` does."""
        headers = {"Accept": "text/event-stream"}
        if last_event_id:
            headers["Last-Event-ID"] = last_event_id
        timeout = httpx.Timeout(10.0, read=HEARTBEAT_GRACE_S)
        parser = SseParser()
        try:
            async with self._http.stream("GET", "/stream", headers=headers, params=params, timeout=timeout) as response:
                if response.status_code >= 400:
                    await response.aread()
                    raise _error(response)
                async for line in response.aiter_lines():
                    event = parser.feed(line)
                    if event is not None:
                        yield event
        except httpx.TransportError as exc:
            raise WorkerUnreachable(_describe(exc)) from None


def _describe(exc: httpx.TransportError) -> str:
    if isinstance(exc, httpx.ConnectError):
        return "connection refused"
    if isinstance(exc, httpx.TimeoutException):
        return "timed out"
    return type(exc).__name__


def _error(response: httpx.Response) -> ApiError:
    try:
        body = response.json()
        message, state = str(body.get("error", response.reason_phrase)), body.get("state")
    except ValueError:
        message, state = f"HTTP {response.status_code} {response.reason_phrase}", None
    return ApiError(response.status_code, message, state)
