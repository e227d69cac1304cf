"""Small text helper for callers that hand-write qbXML (tests, benches, the demo)."""

from __future__ import annotations


def message_set(body: str, on_error: str = "stopOnError", version: str = "13.0", attrs: str = "") -> str:
    """Wrap ``*Rq`` elements in the qbXML envelope QuickBooks expects (PI included)."""
    return f'<?xml version="1.0" encoding="utf-8"?><?qbxml version="{version}"?><QBXML><QBXMLMsgsRq onError="{on_error}"{attrs}>{body}</QBXMLMsgsRq></QBXML>'
