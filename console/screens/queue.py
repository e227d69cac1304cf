"""Queue: the live document table with its views (tabs), company filter and search; pages as you scroll.

The "Duplicates skipped" tab lists the worker's duplicate records instead of documents."""

from __future__ import annotations

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Footer, Header, Input, Static, Tab, Tabs

from console.client import ApiError, WorkerUnreachable
from console.screens.actions import DocumentActions
from console.state import ConnectionState
from console.widgets.document_table import DocumentTable
from console.widgets.duplicate_table import DuplicateTable
from console.widgets.status_bar import StatusBar
from shared.api import VIEW_DUPLICATES, Document, view_matches

PAGE = 100
VIEWS: tuple[tuple[str, str], ...] = (
    ("pending", "Pending"),
    ("pending_offline", "Pending offline"),
    ("posted", "Posted"),
    ("duplicates", "Duplicates skipped"),
    ("held", "Held"),
    ("failed", "Failed"),
    ("unknown", "Unknown"),
    ("all", "All"),
)
REFRESH_DELAY_S = 0.3  # new matching documents arrive in bursts: reload once per burst


class QueueScreen(DocumentActions):
    BINDINGS = [
        Binding("enter", "open", "Detail"),
        Binding("h", "act('hold')", "Hold"),
        Binding("u", "act('release')", "Release"),
        Binding("r", "act('replay')", "Replay"),
        Binding("s", "act('skip')", "Skip"),
        Binding("slash", "search", "Search"),
        Binding("right_square_bracket", "next_view", "Next tab", show=False),
        Binding("left_square_bracket", "prev_view", "Prev tab", show=False),
        Binding("c", "cycle_company", "Company", show=False),
        Binding("g", "reload", "Refresh", show=False),
        Binding("escape", "clear_search", "Clear search", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.view = VIEWS[0][0]
        self.company = ""
        self.q = ""
        self.next_cursor: str | None = None
        self._loading_more = False
        self._refresh_timer = None
        self._was_connected = True

    def compose(self) -> ComposeResult:
        yield Header()
        yield Tabs(*[Tab(label, id=f"view-{key}") for key, label in VIEWS], id="views")
        yield Input(placeholder="search: Concur id, employee, vendor or amount · Enter to apply, Esc to clear", id="search")
        yield Static(id="filters")
        yield DocumentTable(id="documents")
        yield DuplicateTable(id="duplicates")
        yield Static(id="result")
        yield StatusBar()
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.query_one("#search").display = False
        self.duplicate_table.display = False
        self.app.change_signal.subscribe(self, self.on_change)  # type: ignore[attr-defined]
        self.app.connection_signal.subscribe(self, self.on_connection)  # type: ignore[attr-defined]
        self.query_one(DocumentTable).focus()
        self.reload()

    # --- state ------------------------------------------------------------------------------

    @property
    def table(self) -> DocumentTable:
        return self.query_one(DocumentTable)

    @property
    def duplicate_table(self) -> DuplicateTable:
        return self.query_one(DuplicateTable)

    @property
    def showing_duplicates(self) -> bool:
        return self.view == VIEW_DUPLICATES

    def _shown(self) -> DocumentTable | DuplicateTable:
        return self.duplicate_table if self.showing_duplicates else self.table

    def current_document(self) -> Document | None:
        return None if self.showing_duplicates else self.table.current_document()

    def _api_state(self) -> str:
        return "" if self.view == "all" else self.view

    def _describe_filters(self) -> None:
        parts = [dict(VIEWS)[self.view]]
        parts.append(f"company {self.company}" if self.company else "all companies (c: one company)")
        if self.q:
            parts.append(f"search “{self.q}”")
        more = " · more below" if self.next_cursor else ""
        self.query_one("#filters", Static).update(Text(" · ".join(parts) + f" · {self._shown().row_count} shown{more}", style="dim"))

    def set_filter(self, company: str | None = None, view: str | None = None) -> None:
        if company is not None:
            self.company = company
        if view is not None and view != self.view:
            self.query_one(Tabs).active = f"view-{view}"  # reloads through TabActivated
            return
        self.reload()

    # --- loading ----------------------------------------------------------------------------

    @work(exclusive=True, group="load")
    async def reload(self, keep_rows: int = 0) -> None:
        """First page again (or as many rows as were loaded, up to 500), keeping the cursor's row."""
        limit = min(500, max(PAGE, keep_rows))
        duplicates = self.showing_duplicates
        try:
            if duplicates:
                page = await self.app.client.duplicates(self.company, None, limit)  # type: ignore[attr-defined]
            else:
                page = await self.app.client.documents(self._api_state(), self.company, self.q, None, limit)  # type: ignore[attr-defined]
        except (WorkerUnreachable, ApiError) as exc:
            self.query_one("#filters", Static).update(Text(f"could not load: {exc} · showing the last data", style="bold red"))
            return
        self.next_cursor = page.next_cursor
        shown, hidden = (self.duplicate_table, self.table) if duplicates else (self.table, self.duplicate_table)
        shown.replace(page.items)  # type: ignore[arg-type]
        if not shown.display:
            hidden.display, shown.display = False, True
            if hidden.has_focus:
                shown.focus()
        self._describe_filters()

    @work(exclusive=True, group="more")
    async def load_more(self) -> None:
        if not self.next_cursor or self._loading_more:
            return
        self._loading_more = True
        duplicates = self.showing_duplicates
        try:
            if duplicates:
                page = await self.app.client.duplicates(self.company, self.next_cursor, PAGE)  # type: ignore[attr-defined]
            else:
                page = await self.app.client.documents(self._api_state(), self.company, self.q, self.next_cursor, PAGE)  # type: ignore[attr-defined]
        except (WorkerUnreachable, ApiError):
            return
        finally:
            self._loading_more = False
        if duplicates != self.showing_duplicates:
            return  # the view changed meanwhile; its reload shows the right rows
        self.next_cursor = page.next_cursor
        (self.duplicate_table if duplicates else self.table).extend(page.items)  # type: ignore[arg-type]
        self._describe_filters()

    @on(DataTable.RowHighlighted)
    def _maybe_more(self) -> None:
        if self._shown().near_end() and self.next_cursor:
            self.load_more()

    # --- live updates -----------------------------------------------------------------------

    def on_change(self, doc: Document) -> None:
        if self.showing_duplicates:
            # A duplicate is recorded with its document's news (its audit entry): reload once per burst.
            if not self.company or doc.company == self.company:
                self._reload_soon()
            return
        if self.table.update_document(doc):
            return
        offline = self.app.summary.offline_companies() if self.app.summary else frozenset()  # type: ignore[attr-defined]
        if (not self.company or doc.company == self.company) and not self.q and view_matches(self._api_state(), doc, offline):
            self._reload_soon()

    def _reload_soon(self) -> None:
        if self._refresh_timer is not None:
            self._refresh_timer.stop()
        self._refresh_timer = self.set_timer(REFRESH_DELAY_S, lambda: self.reload(self._shown().row_count + 1))

    def on_connection(self, state: ConnectionState) -> None:
        if state.connected and not self._was_connected:
            self.reload(self._shown().row_count)  # catch up after an outage, keeping the cursor
        self._was_connected = state.connected

    # --- keys -------------------------------------------------------------------------------

    @on(Tabs.TabActivated)
    def _view_chosen(self, event: Tabs.TabActivated) -> None:
        if event.tab.id:
            self.view = event.tab.id.removeprefix("view-")
            self.next_cursor = None
            self.reload()

    def _step_view(self, step: int) -> None:
        keys = [k for k, _ in VIEWS]
        self.query_one(Tabs).active = f"view-{keys[(keys.index(self.view) + step) % len(keys)]}"

    def action_next_view(self) -> None:
        self._step_view(1)

    def action_prev_view(self) -> None:
        self._step_view(-1)

    def action_cycle_company(self) -> None:
        summary = self.app.summary  # type: ignore[attr-defined]
        ids = [""] + ([c.id for c in summary.companies] if summary else [])
        self.company = ids[(ids.index(self.company) + 1) % len(ids)] if self.company in ids else ""
        self.reload()

    def action_search(self) -> None:
        box = self.query_one("#search", Input)
        box.display = True
        box.focus()

    @on(Input.Submitted, "#search")
    def _search(self, event: Input.Submitted) -> None:
        self.q = event.value.strip()
        if not self.q:
            event.input.display = False
        self._shown().focus()
        self.reload()

    def action_clear_search(self) -> None:
        box = self.query_one("#search", Input)
        box.value = ""
        box.display = False
        self._shown().focus()
        if self.q:
            self.q = ""
            self.reload()

    def action_reload(self) -> None:
        self.reload(self._shown().row_count)

    def action_open(self) -> None:
        from console.screens.detail import DetailScreen

        if self.showing_duplicates:
            duplicate = self.duplicate_table.current()
            if duplicate is not None and duplicate.document_id is not None:
                self.app.push_screen(DetailScreen(duplicate.document_id))
            return
        doc = self.current_document()
        if doc is not None:
            self.app.push_screen(DetailScreen(doc.id))

    @on(DataTable.RowSelected)
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_open()
