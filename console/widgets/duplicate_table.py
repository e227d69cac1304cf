"""The "Duplicates skipped" table: one row per skipped duplicate as the worker records it
(``GET /api/v1/duplicates``), not documents: a duplicate is an event or a listing that was not
acted on, so several rows may name one document and some name none."""

from __future__ import annotations

from textual.widgets import DataTable

from console.format import short_time
from shared.api import Duplicate

COLUMNS = (("company", "Company", 8), ("concur_id", "Concur id", 12), ("source", "Source", 10), ("count", "Times", 5),
           ("why", "Why", 34), ("last_at", "Last seen", 11), ("document", "Doc", 5))


def row_cells(d: Duplicate) -> tuple[object, ...]:
    return (d.company, d.concur_id or "-", d.source, str(d.count), d.why, short_time(d.last_at or d.at),
            "-" if d.document_id is None else str(d.document_id))


class DuplicateTable(DataTable):
    """Rows keyed by the duplicate's id; ``near_end`` tells the screen when to fetch the next page."""

    NEAR_END = 10

    def __init__(self, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)
        self.duplicates: dict[int, Duplicate] = {}

    def on_mount(self) -> None:
        for key, label, width in COLUMNS:
            self.add_column(label, key=key, width=width)

    def replace(self, items: list[Duplicate]) -> None:
        self.clear()
        self.duplicates = {}
        self.extend(items)

    def extend(self, items: list[Duplicate]) -> None:
        for d in items:
            if d.id in self.duplicates:
                continue
            self.duplicates[d.id] = d
            self.add_row(*row_cells(d), key=str(d.id))

    def current(self) -> Duplicate | None:
        if not self.row_count or self.cursor_row < 0:
            return None
        try:
            key = self.coordinate_to_cell_key((self.cursor_row, 0)).row_key.value
        except Exception:  # noqa: BLE001 - an empty or shrinking table has no current row
            return None
        return self.duplicates.get(int(key)) if key else None

    def near_end(self) -> bool:
        return self.row_count > 0 and self.cursor_row >= self.row_count - self.NEAR_END
