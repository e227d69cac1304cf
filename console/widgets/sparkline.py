"""Sparklines in block characters that every terminal (and a 256-colour SSH session) shows."""

from __future__ import annotations

BARS = "▁▂▃▄▅▆▇█"


def sparkline(values: list[int]) -> str:
    """One character per value, scaled to the largest; zero is always the lowest bar."""
    if not values:
        return ""
    top = max(values)
    if top <= 0:
        return BARS[0] * len(values)
    return "".join(BARS[min(len(BARS) - 1, (v * (len(BARS) - 1) + top - 1) // top)] if v else BARS[0] for v in values)
