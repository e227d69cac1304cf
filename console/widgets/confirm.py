"""The confirmation for an operator action: what will happen, to which document, and why (the reason)."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label

from shared.api import Document

EXPLAIN = {
    "hold": "Stop this document from posting until it is released.",
    "release": "Let this held document be planned and posted again.",
    "replay": "Plan and post this document again from its Concur content.",
    "skip": "Never post this document (it stays in the audit trail).",
    "reject": "FIS: send it back to Concur's processor with an error; the reason is what they will read.",
}


@dataclass(frozen=True)
class ActionRequest:
    action: str
    document_id: int
    reason: str
    force: bool = False


class ConfirmDialog(ModalScreen[ActionRequest | None]):
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, action: str, document: Document) -> None:
        super().__init__()
        self.action_name = action
        self.document = document

    def compose(self) -> ComposeResult:
        d = self.document
        with Vertical(id="dialog"):
            yield Label(Text(f"{self.action_name.capitalize()} {d.concur_id} ({d.company}, {d.state})?"), id="dialog-title")
            yield Label(EXPLAIN.get(self.action_name, ""), id="dialog-explain")
            yield Input(placeholder="reason (kept in the audit trail)", id="reason")
            if self.action_name == "replay":
                yield Checkbox("force (only if QuickBooks does not have it)", id="force", value=False)
            with Horizontal(id="dialog-buttons"):
                yield Button(self.action_name.capitalize(), variant="warning", id="confirm")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#reason", Input).focus()

    def _confirm(self) -> None:
        reason = self.query_one("#reason", Input).value.strip()
        force = bool(self.query("#force") and self.query_one("#force", Checkbox).value)
        self.dismiss(ActionRequest(self.action_name, self.document.id, reason, force))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._confirm()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "confirm":
            self._confirm()
        else:
            self.dismiss(None)

    def action_cancel(self) -> None:
        self.dismiss(None)
