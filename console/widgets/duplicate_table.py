"""The "Duplicates skipped" table: one row per skipped duplicate as the worker records it
(``GET /api/v1/duplicates``), not documents: a duplicate is an event or a listing that was not
acted on, so several rows may name one document and some name none."""

from __future__ import annotations

from console.format import plain, short_time
from console.widgets.paged_table import PagedTable
from shared.api import Duplicate

COLUMNS = (
    ("company", "Company", 8),
    ("concur_id", "Concur id", 12),
    ("source", "Source", 10),
    ("count", "Times", 5),
    ("why", "Why", 34),
    ("last_at", "Last seen", 11),
    ("document", "Doc", 5),
)


def row_cells(d: Duplicate) -> tuple[object, ...]:
    # Concur ids and reasons are data, never Rich markup.
    return (
        plain(d.company),
        plain(d.concur_id or "-"),
        plain(d.source),
        str(d.count),
        plain(d.why),
        short_time(d.last_at or d.at),
        "-" if d.document_id is None else str(d.document_id),
    )


class DuplicateTable(PagedTable):
    """Rows keyed by the duplicate's id."""

    COLUMNS = COLUMNS

    def __init__(self, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(**kwargs)
        self.duplicates: dict[int, Duplicate] = {}

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
        key = self.current_key()
        return None if key is None else self.duplicates.get(key)
