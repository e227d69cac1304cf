"""Where a company's tokens live. The worker backs this with SQLite; tests and the demo use memory."""

from __future__ import annotations

import datetime as dt
from typing import Protocol

from worker.concur.oauth import Tokens


class TokenStore(Protocol):
    async def load(self, company: str) -> Tokens | None: ...

    async def save(self, company: str, tokens: Tokens) -> None:
        """Durably replace the company's tokens (and clear needs_reconnect). Called BEFORE the new
        access token is used, because the previous refresh token is dead once Concur rotates it."""

    async def mark_needs_reconnect(self, company: str, reason: str) -> None: ...


class MemoryTokenStore:
    def __init__(self) -> None:
        self.tokens: dict[str, Tokens] = {}
        self.saves: list[tuple[str, Tokens]] = []  # history, so tests can check rotation was persisted

    async def load(self, company: str) -> Tokens | None:
        return self.tokens.get(company)

    async def save(self, company: str, tokens: Tokens) -> None:
        tokens = tokens.replace(needs_reconnect=False, reason="")
        self.tokens[company] = tokens
        self.saves.append((company, tokens))

    async def mark_needs_reconnect(self, company: str, reason: str) -> None:
        current = self.tokens.get(company)
        if current is not None:
            self.tokens[company] = current.replace(needs_reconnect=True, reason=reason)
        else:
            self.tokens[company] = Tokens(
                access_token="",
                access_expires_at=dt.datetime.min.replace(tzinfo=dt.UTC),
                geolocation="",
                needs_reconnect=True,
                reason=reason,
            )
