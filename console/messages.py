"""Typed messages the console's background I/O posts to the app (which fans them out to screens)."""

from __future__ import annotations

from textual.message import Message

from shared.api import AuditEntry, Document, Summary


class SummaryUpdated(Message):
    def __init__(self, summary: Summary) -> None:
        super().__init__()
        self.summary = summary


class DocumentChanged(Message):
    def __init__(self, document: Document, audit: AuditEntry) -> None:
        super().__init__()
        self.document = document
        self.audit = audit


class ConnectionChanged(Message):
    """``refused``: the worker answered but said no (a wrong or missing token), rather than not answering."""

    def __init__(self, connected: bool, detail: str = "", refused: bool = False) -> None:
        super().__init__()
        self.connected = connected
        self.detail = detail
        self.refused = refused
