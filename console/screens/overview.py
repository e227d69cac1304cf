"""Overview: one card per company."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Header, Static

from console.format import state_style
from console.widgets.company_card import CompanyCard
from console.widgets.status_bar import StatusBar
from shared.api import PENDING_STATES, Summary

WIDE = 110  # at this width and more, cards sit two abreast


def totals_text(summary: Summary) -> Text:
    totals = summary.totals
    pending = sum(totals.get(str(s), 0) for s in PENDING_STATES)
    t = Text("All  ", style="bold")
    t.append(f"{totals.get('total', 0)} documents · ")
    t.append(f"{pending} pending", style="yellow" if pending else "")
    for state in ("posted", "held", "failed", "skipped"):
        t.append(" · ")
        t.append(f"{totals.get(state, 0)} {state}", style=state_style(state) if totals.get(state) else "dim")
    return t


class OverviewScreen(Screen):
    BINDINGS = [
        Binding("down,j", "app.focus_next", "Next card", show=False),
        Binding("up,k", "app.focus_previous", "Previous card", show=False),
    ]

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("Waiting for the worker…", id="totals")
        yield VerticalScroll(id="cards", can_focus=False)
        yield StatusBar()
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.app.summary_signal.subscribe(self, self.show)  # type: ignore[attr-defined]
        if self.app.summary is not None:  # type: ignore[attr-defined]
            self.show(self.app.summary)  # type: ignore[attr-defined]

    def on_resize(self) -> None:
        self.query_one("#cards").set_class(self.size.width >= WIDE, "-wide")

    def show(self, summary: Summary) -> None:
        now = self.app.clock()  # type: ignore[attr-defined]
        self.query_one("#totals", Static).update(totals_text(summary))
        box = self.query_one("#cards", VerticalScroll)
        cards = list(box.query(CompanyCard))
        if [c.company.id for c in cards] == [c.id for c in summary.companies]:
            for card, company in zip(cards, summary.companies, strict=True):
                card.set_data(company, now)
            return
        had_focus = isinstance(self.focused, CompanyCard)
        box.remove_children()
        new = [CompanyCard(c, now, id=f"card-{c.id}") for c in summary.companies]
        box.mount(*new)
        if new and not had_focus:
            self.call_after_refresh(new[0].focus)

    async def on_company_card_selected(self, message: CompanyCard.Selected) -> None:
        await self.app.open_queue(company=message.company)  # type: ignore[attr-defined]
