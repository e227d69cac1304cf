"""The command palette (ctrl+p): every console action by name (async callbacks are awaited by Textual)."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from textual.command import DiscoveryHit, Hit, Hits, Provider


class ConsoleCommands(Provider):
    def _commands(self) -> list[tuple[str, str, Callable[[], Any]]]:
        from console.screens.queue import VIEWS

        app: Any = self.app
        screen: Any = self.screen  # the screen the palette was opened over
        commands: list[tuple[str, str, Callable[[], Any]]] = [
            ("Overview", "one card per company", partial(app.run_action, "overview")),
            ("Queue", "the live document table", partial(app.run_action, "queue")),
            ("Keys", "every key of every screen", partial(app.run_action, "help")),
            ("Quit", "leave the console", partial(app.run_action, "quit_console")),
        ]
        for key, label in VIEWS:
            commands.append((f"Queue: {label}", f"documents: {label.lower()}", partial(app.open_queue, view=key)))
        for company in app.summary.companies if app.summary else []:
            commands.append((f"Queue: company {company.id}", company.name, partial(app.open_queue, company=company.id)))
        if hasattr(screen, "current_document"):
            for action, text in (("hold", "Hold"), ("release", "Release"), ("replay", "Replay"), ("skip", "Skip")):
                commands.append((f"{text} the current document", f"{action} with a reason (asks first)", partial(screen.action_act, action)))
        if hasattr(screen, "action_search"):
            commands.append(("Search", "by Concur id, employee, vendor or amount", screen.action_search))
        if hasattr(screen, "action_reload"):
            commands.append(("Refresh", "load again from the worker", screen.action_reload))
        return commands

    async def discover(self) -> Hits:
        for title, help_text, callback in self._commands():
            yield DiscoveryHit(title, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, help_text, callback in self._commands():
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), callback, help=help_text)
