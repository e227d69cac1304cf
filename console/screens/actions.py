"""Hold, release, replay, skip from any screen that has a current document: confirm, call, show the result."""

from __future__ import annotations

from rich.text import Text
from textual.screen import Screen
from textual.widgets import Static

from console.client import ApiError, WorkerUnreachable
from console.widgets.confirm import ActionRequest, ConfirmDialog
from shared.api import ACTIONS, Document


class DocumentActions(Screen):
    """A screen mixin: subclasses give ``current_document`` and a ``Static#result`` line."""

    def current_document(self) -> Document | None:
        raise NotImplementedError

    def show_result(self, text: str, ok: bool) -> None:
        line = self.query_one("#result", Static)
        line.update(Text(("✔ " if ok else "✖ ") + text, style="green" if ok else "bold red"))

    def action_act(self, action: str) -> None:
        if action not in ACTIONS:
            return
        doc = self.current_document()
        if doc is None:
            self.show_result("no document selected", ok=False)
            return
        self.app.push_screen(ConfirmDialog(action, doc), callback=self._confirmed)

    def _confirmed(self, request: ActionRequest | None) -> None:
        if request is None:
            self.show_result("cancelled", ok=False)
            return
        self.run_worker(self._apply(request), group="action", exclusive=True)

    async def _apply(self, request: ActionRequest) -> None:
        try:
            doc = await self.app.client.act(request.document_id, request.action, request.reason, request.force)  # type: ignore[attr-defined]
        except ApiError as exc:
            state = f" (state: {exc.state})" if exc.state else ""
            self.show_result(f"{request.action} refused: {exc.message}{state}", ok=False)
            return
        except WorkerUnreachable as exc:
            self.show_result(f"{request.action} not sent: worker unreachable ({exc})", ok=False)
            return
        self.show_result(f"{request.action}: {doc.concur_id} is now {doc.state}" + (f" ({doc.reason})" if doc.reason else ""), ok=True)
        self.app.document_updated(doc)  # type: ignore[attr-defined]
