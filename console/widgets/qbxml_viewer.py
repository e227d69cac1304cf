"""The qbXML requests and responses of a document, in a read-only, scrollable, searchable text area."""

from __future__ import annotations

from textual.widgets import TextArea

from shared.api import Posting


def postings_text(postings: list[Posting]) -> str:
    if not postings:
        return "(no qbXML yet: nothing was planned for QuickBooks)"
    parts = []
    for n, p in enumerate(postings, 1):
        status = f"status {p.status_code} {p.status_message or ''}".strip() if p.status_code is not None else "no answer yet"
        parts.append(f"── {n}. {p.op} · {p.state} · attempts {p.attempts} · {status}")
        parts.append("request:")
        parts.append(p.request_xml.strip())
        parts.append("response:")
        parts.append((p.response_xml or "(none)").strip())
        parts.append("")
    return "\n".join(parts)


class QbxmlViewer(TextArea):
    DEFAULT_CSS = "QbxmlViewer { height: 14; }"

    def __init__(self, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__("", read_only=True, show_line_numbers=False, soft_wrap=False, **kwargs)

    def show(self, postings: list[Posting]) -> None:
        self.load_text(postings_text(postings))
