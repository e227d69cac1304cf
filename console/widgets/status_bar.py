"""The line above the footer: is the worker reachable, and how fresh is what is on screen.

Not docked (a second bottom dock would sit on the footer): screens give their main area 1fr.
"""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static


class StatusBar(Static):
    DEFAULT_CSS = """
    StatusBar { height: 1; padding: 0 1; background: $panel; color: $text; }
    StatusBar.-offline { background: $error; color: $text; text-style: bold; }
    """

    def on_mount(self) -> None:
        app = self.app
        self.show(app.connection)  # type: ignore[attr-defined]
        app.connection_signal.subscribe(self, self.show)  # type: ignore[attr-defined]

    def show(self, state) -> None:  # type: ignore[no-untyped-def]
        """``state``: the app's ConnectionState."""
        self.set_class(not state.connected, "-offline")
        text = Text()
        if state.connected:
            text.append("● ", style="green")
            text.append(f"connected to {state.label}")
            if state.updated:
                text.append(f" · updated {state.updated}", style="dim")
        elif state.refused:
            text.append(f"✖ the worker at {state.label} refused the console: {state.detail} (check the token file) · retrying…")
        elif state.ever_connected:
            text.append(f"✖ worker unreachable ({state.detail}) · showing the last data · reconnecting…")
        else:
            text.append(f"✖ cannot reach the worker at {state.label} ({state.detail}) · retrying…")
        self.update(text)
