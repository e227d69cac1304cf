"""What the queue's tables share: a row cursor, rows keyed by an integer id, and ``near_end`` so
the screen knows when to fetch the next page."""

from __future__ import annotations

from textual.coordinate import Coordinate
from textual.widgets import DataTable


class PagedTable(DataTable):
    COLUMNS: tuple[tuple[str, str, int], ...] = ()  # (key, label, width)
    NEAR_END = 10

    def __init__(self, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)

    def on_mount(self) -> None:
        for key, label, width in self.COLUMNS:
            self.add_column(label, key=key, width=width)

    def current_key(self) -> int | None:
        """The id of the row under the cursor, if any."""
        if not self.row_count or self.cursor_row < 0:
            return None
        try:
            key = self.coordinate_to_cell_key(Coordinate(self.cursor_row, 0)).row_key.value
        except Exception:
            return None
        return int(key) if key else None

    def near_end(self) -> bool:
        return self.row_count > 0 and self.cursor_row >= self.row_count - self.NEAR_END
