"""The operator console: a Textual app that shows a worker's state and acts on documents over HTTP.

Background I/O runs in Textual workers. One worker follows the SSE stream (reconnecting with
backoff and resuming with Last-Event-ID) and posts typed messages; the app keeps the latest
summary and connection state and fans them out to screens through signals, so each screen
updates itself without polling.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import Callable

from textual import work
from textual.app import App
from textual.binding import Binding
from textual.signal import Signal

from console.client import ApiClient, ApiError, Backoff, WorkerUnreachable
from console.commands import ConsoleCommands
from console.messages import ConnectionChanged, DocumentChanged, SummaryUpdated
from console.screens.help import HelpScreen
from console.screens.overview import OverviewScreen
from console.screens.queue import QueueScreen
from console.state import ConnectionState
from shared.api import ChangeEvent, Document, Summary
from shared.clock import utc_now


class ConsoleApp(App[int]):
    TITLE = "ml-connector"
    SUB_TITLE = "operator console"
    CSS_PATH = ["styles/app.tcss", "styles/overview.tcss", "styles/queue.tcss", "styles/detail.tcss", "styles/dialogs.tcss"]
    COMMANDS = App.COMMANDS | {ConsoleCommands}
    MODES = {"overview": OverviewScreen, "queue": QueueScreen}
    DEFAULT_MODE = "overview"
    BINDINGS = [
        Binding("1,o", "overview", "Overview"),
        Binding("2,l", "queue", "Queue"),
        Binding("question_mark", "help", "Keys"),
        Binding("q", "quit_console", "Quit"),
    ]

    def __init__(
        self,
        client: ApiClient,
        *,
        label: str | None = None,
        clock: Callable[[], dt.datetime] = utc_now,
        stream_params: dict[str, str] | None = None,
        reconnect_max_s: float = 10.0,
    ) -> None:
        super().__init__()
        self.client = client
        self.clock = clock
        self.stream_params = stream_params
        self.reconnect_max_s = reconnect_max_s
        self.summary: Summary | None = None
        self.connection = ConnectionState(label or client.base_url)
        self.summary_signal: Signal[Summary] = Signal(self, "summary")
        self.change_signal: Signal[Document] = Signal(self, "change")
        self.connection_signal: Signal[ConnectionState] = Signal(self, "connection")

    # --- lifecycle ------------------------------------------------------------------------

    def on_mount(self) -> None:
        self.follow_stream()

    async def on_unmount(self) -> None:
        await self.client.aclose()

    @work(exclusive=True, group="stream")
    async def follow_stream(self) -> None:
        backoff = Backoff(maximum=self.reconnect_max_s)
        last_id: str | None = None
        while True:
            try:
                async for event in self.client.events(last_id, self.stream_params):
                    backoff.reset()
                    if event.id:
                        last_id = event.id
                    self._dispatch(event.event, event.data)
            except WorkerUnreachable as exc:
                self.post_message(ConnectionChanged(False, str(exc)))
            except ApiError as exc:
                self.post_message(ConnectionChanged(False, exc.message, refused=True))
            await asyncio.sleep(backoff.next())

    def _dispatch(self, name: str, data: str) -> None:
        try:
            payload = json.loads(data)
            if name == "summary":
                self.post_message(SummaryUpdated(Summary.from_dict(payload)))
            elif name == "change":
                change = ChangeEvent.from_dict(payload)
                if change.document is not None:
                    self.post_message(DocumentChanged(change.document, change.audit))
        except (ValueError, KeyError, TypeError):
            pass  # a malformed event is skipped; the next summary corrects the picture

    # --- messages -> signals -----------------------------------------------------------------

    def on_summary_updated(self, message: SummaryUpdated) -> None:
        self.summary = message.summary
        was_connected = self.connection.connected
        self.connection = self.connection.online(self.clock().strftime("%H:%M:%S"))
        self.connection_signal.publish(self.connection)
        self.summary_signal.publish(message.summary)
        if not was_connected:
            self.log.info("connected to the worker")

    def on_document_changed(self, message: DocumentChanged) -> None:
        self.change_signal.publish(message.document)

    def on_connection_changed(self, message: ConnectionChanged) -> None:
        self.connection = self.connection.online() if message.connected else self.connection.offline(message.detail, message.refused)
        self.connection_signal.publish(self.connection)

    def document_updated(self, document: Document) -> None:
        """An action's answer: show it everywhere at once (the stream's change follows)."""
        self.change_signal.publish(document)

    # --- actions ---------------------------------------------------------------------------

    async def action_overview(self) -> None:
        await self.switch_mode("overview")

    async def action_queue(self) -> None:
        await self.switch_mode("queue")

    async def open_queue(self, company: str = "", view: str | None = None) -> None:
        await self.switch_mode("queue")
        screen = self.screen
        if isinstance(screen, QueueScreen):
            screen.set_filter(company=company, view=view)

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def action_quit_console(self) -> None:
        self.exit(0)
