"""A one-line sparkline of small counts (postings per minute), in block characters any terminal shows."""

from __future__ import annotations

from textual.reactive import reactive
from textual.widget import Widget

from console.format import sparkline


class Sparkline(Widget):
    DEFAULT_CSS = "Sparkline { height: 1; width: auto; color: $success; }"

    values: reactive[tuple[int, ...]] = reactive(tuple, layout=True)

    def render(self) -> str:
        return sparkline(list(self.values))

    def get_content_width(self, container, viewport) -> int:  # type: ignore[no-untyped-def]
        return max(1, len(self.values))
