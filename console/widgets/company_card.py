"""One company at a glance: counts by state, QuickBooks and Concur health, webhooks, throughput."""

from __future__ import annotations

import datetime as dt

from rich.text import Text
from textual.binding import Binding
from textual.content import Content
from textual.message import Message
from textual.widgets import Static

from console.format import STATE_ORDER, short_time, since, state_style
from console.widgets.sparkline import sparkline
from shared.api import CONCUR_CONNECTED, CONCUR_NEEDS_RECONNECT, CompanySummary


def card_text(c: CompanySummary, now: dt.datetime) -> Text:
    """The card's body as styled text (pure: the tests and the widget share it). Fits 74 columns."""
    t = Text()
    shown = [(s, c.counts.get(s, 0)) for s in STATE_ORDER if c.counts.get(s, 0)]
    for i, (state, count) in enumerate(shown):
        if i:
            t.append(" ")
        t.append(f"{state} ")
        t.append(str(count), style=state_style(state) or "bold")
    if not shown:
        t.append("no documents yet", style="dim")
    t.append("\n")
    t.append(f"pending {c.pending}", style="bold" if c.pending else "")
    if c.oldest_pending_at:
        t.append(f" · oldest {since(c.oldest_pending_at, now)}")
    if c.pending_offline_since:
        t.append(" · ")
        t.append(f" {c.pending_offline} pending offline since {short_time(c.pending_offline_since)} ", style="bold black on yellow")
    t.append("\n")
    t.append("QuickBooks  ", style="bold")
    if c.quickbooks_unreachable_since:
        t.append(f"UNREACHABLE since {short_time(c.quickbooks_unreachable_since)}", style="bold yellow")
        if c.quickbooks_last_contact_at:
            t.append(f" · last seen {short_time(c.quickbooks_last_contact_at)} ({c.quickbooks_last_result or '?'})")
    elif c.quickbooks_last_contact_at:
        result = c.quickbooks_last_result or "?"
        t.append(result, style="green" if result == "ok" else "bold red")
        t.append(f" · last contact {short_time(c.quickbooks_last_contact_at)} ({since(c.quickbooks_last_contact_at, now)} ago)")
    else:
        t.append("never contacted", style="yellow")
    t.append("\n")
    t.append("Concur      ", style="bold")
    if c.concur == CONCUR_NEEDS_RECONNECT:
        t.append(" NEEDS RECONNECT ", style="bold white on red")
        if c.concur_reason:
            t.append(f" {c.concur_reason}", style="red")
    elif c.concur == CONCUR_CONNECTED:
        t.append("connected", style="green")
    else:
        t.append("not connected", style="yellow")
    t.append("\n")
    t.append(f"webhooks {c.webhooks_received} received, ")
    t.append(f"{c.webhooks_rejected} rejected", style="bold red" if c.webhooks_rejected else "")
    t.append(f" · duplicates skipped {c.duplicates_skipped}")
    t.append("\n")
    t.append("posted/min ", style="bold")
    t.append(sparkline(c.postings_per_minute), style="green")
    t.append(f" {sum(c.postings_per_minute)} in {len(c.postings_per_minute)}m", style="dim")
    return t


class CompanyCard(Static, can_focus=True):
    """Focusable: Enter opens the queue for this company."""

    BINDINGS = [Binding("enter", "open", "Open queue", show=True)]

    class Selected(Message):
        def __init__(self, company: str) -> None:
            super().__init__()
            self.company = company

    def __init__(self, company: CompanySummary, now: dt.datetime, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(**kwargs)
        self.company = company
        self._now = now

    def on_mount(self) -> None:
        self.set_data(self.company, self._now)

    def set_data(self, company: CompanySummary, now: dt.datetime) -> None:
        self.company, self._now = company, now
        self.border_title = Content(f"{company.name} ({company.id})")  # plain: a name is never markup
        self.border_subtitle = f"{company.total} documents"
        self.set_class(company.concur == CONCUR_NEEDS_RECONNECT, "-alert")
        self.update(card_text(company, now))

    def action_open(self) -> None:
        self.post_message(self.Selected(self.company.id))
