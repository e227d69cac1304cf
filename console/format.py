"""Pure text helpers for the console: ages, times, states, money, and data as plain text (never markup)."""

from __future__ import annotations

import datetime as dt

from rich.text import Text

from shared.clock import parse_iso

STATE_STYLES = {
    "received": "cyan",
    "fetched": "cyan",
    "queued": "yellow",
    "sent": "yellow",
    "posted": "green",
    "unknown": "bold magenta",
    "held": "bold yellow",
    "failed": "bold red",
    "skipped": "dim",
}

STATE_ORDER = ("received", "fetched", "queued", "sent", "unknown", "posted", "held", "failed", "skipped")


def plain(value: object, style: str = "", justify=None) -> Text:
    """Text exactly as given. Everything from Concur, QuickBooks or an operator goes through this (or
    ``Text.append``): a bare ``str`` handed to a Rich table or a Textual widget is read as markup, so
    ``[/x]`` in a description would end the console and ``[link=...]`` would become a link."""
    return Text("" if value is None else str(value), style=style, justify=justify)


def state_style(state: str) -> str:
    return STATE_STYLES.get(state, "")


# shared.types.PaymentState values ("" = nothing paid in Concur: "open" once posted).
PAYMENT_STYLES = {"paid_in_concur": "yellow", "payment_posted": "green", "partial": "cyan", "held": "bold yellow"}


def payment_style(payment: str) -> str:
    return PAYMENT_STYLES.get(payment, "dim")


def age(seconds: float | None) -> str:
    """``3d 4h``, ``2h 05m``, ``7m``, ``12s``: two units at most."""
    if seconds is None:
        return "-"
    s = max(0, int(seconds))
    days, rest = divmod(s, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m"
    return f"{secs}s"


def since(iso_text: str | None, now: dt.datetime) -> str:
    if not iso_text:
        return "-"
    try:
        return age((now - parse_iso(iso_text)).total_seconds())
    except ValueError:
        return iso_text


def short_time(iso_text: str | None) -> str:
    """``2026-01-05T09:30:00.000000Z`` -> ``01-05 09:30`` (UTC, compact for tables)."""
    if not iso_text:
        return "-"
    try:
        return parse_iso(iso_text).strftime("%m-%d %H:%M")
    except ValueError:
        return iso_text


def long_time(iso_text: str | None) -> str:
    if not iso_text:
        return "-"
    try:
        return parse_iso(iso_text).strftime("%Y-%m-%d %H:%M:%S")
    except ValueError:
        return iso_text


def money(amount: str | None, currency: str | None) -> str:
    if amount is None:
        return "-"
    return f"{amount} {currency}" if currency else amount
