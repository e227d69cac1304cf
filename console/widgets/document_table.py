"""The live document table: rows keyed by document id, so updates keep the cursor where it is."""

from __future__ import annotations

from console.format import payment_style, plain, short_time, state_style
from console.widgets.paged_table import PagedTable
from shared.api import Document

# Most telling first, so an 80-column terminal shows the reason; the table scrolls sideways for the rest.
COLUMNS = (
    ("company", "Company", 8),
    ("concur_id", "Concur id", 12),
    ("state", "State", 8),
    ("amount", "Amount", 11),
    ("who", "Employee / vendor", 17),
    ("reason", "Reason", 30),
    ("payment", "Payment", 15),
    ("updated", "Updated", 11),
    ("id", "ID", 5),
)


def row_cells(d: Document) -> tuple[object, ...]:
    return (
        plain(d.company),
        plain(d.concur_id),
        plain(d.state, style=state_style(d.state)),
        plain(f"{d.amount} {d.currency or ''}".strip() if d.amount else "-", justify="right"),
        plain(d.who),
        plain(d.reason + (f" [{d.flag}]" if d.flag else "")),
        plain(d.payment_label, style=payment_style(d.payment)),
        plain(short_time(d.updated_at)),
        plain(d.id),
    )


class DocumentTable(PagedTable):
    """The queue's rows; ``near_end`` tells the screen when to fetch the next page."""

    COLUMNS = COLUMNS

    def __init__(self, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(**kwargs)
        self.documents: dict[int, Document] = {}

    def replace(self, docs: list[Document]) -> None:
        """Show ``docs`` instead, keeping the cursor on the same document when it is still there."""
        keep = self.current_document()
        self.clear()
        self.documents = {}
        self.extend(docs)
        if keep is not None and keep.id in self.documents:
            self.move_cursor(row=self.get_row_index(str(keep.id)), animate=False)

    def extend(self, docs: list[Document]) -> None:
        for d in docs:
            if d.id in self.documents:
                continue
            self.documents[d.id] = d
            self.add_row(*row_cells(d), key=str(d.id))

    def update_document(self, d: Document) -> bool:
        """Update a shown row in place; False when the document is not in the table."""
        if d.id not in self.documents:
            return False
        self.documents[d.id] = d
        for (key, _, _), value in zip(COLUMNS, row_cells(d), strict=True):
            self.update_cell(str(d.id), key, value)
        return True

    def current_document(self) -> Document | None:
        key = self.current_key()
        return None if key is None else self.documents.get(key)
