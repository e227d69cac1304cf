"""The figures table every benchmark prints."""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass


@dataclass
class Figure:
    name: str
    measured: float
    baseline: float | None
    unit: str
    target: str  # human-readable target, e.g. ">= 0.85"
    passed: bool | None  # None: informational, no target
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if self.baseline in (None, 0) or self.measured is None or math.isnan(self.baseline) or math.isnan(self.measured):
            return None
        return self.measured / self.baseline


def fmt(value: float | None, unit: str = "") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if value == 0:
        text = "0"
    elif abs(value) >= 1000:
        text = f"{value:,.0f}"
    elif abs(value) >= 10:
        text = f"{value:.1f}"
    elif abs(value) >= 0.01:
        text = f"{value:.3f}"
    else:
        text = f"{value:.2e}"
    return f"{text} {unit}".strip()


def table(title: str, figures: list[Figure]) -> str:
    rows = [("figure", "measured", "baseline", "ratio", "target", "result")]
    for f in figures:
        result = "-" if f.passed is None else ("PASS" if f.passed else "FAIL")
        ratio = f.ratio
        rows.append((f.name, fmt(f.measured, f.unit), fmt(f.baseline, f.unit), "-" if ratio is None else f"{ratio:.3g}x", f.target or "-", result))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = [f"## {title}", ""]
    for index, row in enumerate(rows):
        lines.append("| " + " | ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)) + " |")
        if index == 0:
            lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    notes = [f"- {f.name}: {f.note}" for f in figures if f.note]
    if notes:
        lines += [""] + notes
    return "\n".join(lines)


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile (pct in 0..100)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def rss_mb() -> float | None:
    """This process's resident set size in MB (Linux /proc); None elsewhere."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def rss_mb_of(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None
