"""What the console knows about its link to the worker (shown by every status bar)."""

from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True)
class ConnectionState:
    label: str  # what to call the worker (its URL)
    connected: bool = False
    ever_connected: bool = False
    detail: str = "connecting"
    updated: str = ""  # wall time of the last data received, HH:MM:SS UTC
    refused: bool = False  # the worker answered with an error (token) instead of not answering

    def online(self, updated: str | None = None) -> ConnectionState:
        return replace(self, connected=True, ever_connected=True, detail="", refused=False, updated=updated or self.updated)

    def offline(self, detail: str, refused: bool = False) -> ConnectionState:
        return replace(self, connected=False, detail=detail, refused=refused)
