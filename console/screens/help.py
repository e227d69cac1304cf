"""Every key, per screen, generated from the bindings themselves so it cannot drift."""

from __future__ import annotations

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

KEY_NAMES = {
    "up": "↑",
    "down": "↓",
    "pageup": "PgUp",
    "pagedown": "PgDn",
    "question_mark": "?",
    "slash": "/",
    "left_square_bracket": "[",
    "right_square_bracket": "]",
    "escape": "Esc",
    "enter": "Enter",
}


def key_label(keys: str) -> str:
    return " ".join(KEY_NAMES.get(k.strip(), k.strip()) for k in keys.split(","))


def bindings_table() -> Table:
    from console.app import ConsoleApp
    from console.screens.detail import DetailScreen
    from console.screens.overview import OverviewScreen
    from console.screens.queue import QueueScreen
    from console.widgets.company_card import CompanyCard
    from console.widgets.confirm import ConfirmDialog

    table = Table(box=None, show_header=False, padding=(0, 1))
    table.add_column("key", style="bold cyan", no_wrap=True)
    table.add_column("what")
    sections = [
        ("Everywhere", ConsoleApp.BINDINGS + [Binding("ctrl+p", "", "Command palette: every action by name")]),
        ("Overview", OverviewScreen.BINDINGS + CompanyCard.BINDINGS),
        (
            "Queue",
            QueueScreen.BINDINGS
            + [
                Binding("up,down,pageup,pagedown", "", "Move in the table (the next page loads as you near the end)"),
                Binding("ctrl+home,ctrl+end", "", "First / last loaded row"),
            ],
        ),
        ("Detail", DetailScreen.BINDINGS),
        ("Confirmation", ConfirmDialog.BINDINGS + [Binding("enter", "", "Confirm with the reason typed")]),
    ]
    for title, bindings in sections:
        table.add_row(f"[u]{title}[/u]", "")
        for b in bindings:
            if isinstance(b, Binding):
                table.add_row(key_label(b.key), b.description or b.action)
    return table


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,question_mark,q", "close", "Close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help"):
            yield Static("Keys  (Esc or ? closes; ↑/↓ scroll)", id="help-title")
            yield Static(bindings_table(), id="help-keys")

    def on_mount(self) -> None:
        self.query_one("#help").focus()

    def action_close(self) -> None:
        self.dismiss(None)
