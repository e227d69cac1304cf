"""The company file's contents as plain JSON-able data, and saving/loading it (``*.qbsim``).

Records are dicts keyed by their qbXML element names (``ListID``, ``Name``, ``AccountType``...),
so building a ``*Ret`` is a matter of ordering keys (see ``rets.py``). Refs inside records are
stored as ``{"ListID": ...}`` and resolved to the current FullName when answering, as QuickBooks
does after a rename.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

LIST_TYPES = ("Account", "Class", "Customer", "Vendor", "Employee", "OtherName", "StandardTerms", "DateDrivenTerms", "Currency")
NAME_SPACE = ("Customer", "Vendor", "Employee", "OtherName")  # one shared name space (3100)
TERMS_TYPES = ("StandardTerms", "DateDrivenTerms")  # one Terms list, two kinds (TermsQuery returns both)
TXN_TYPES = ("Bill", "JournalEntry", "BillPaymentCheck")
FORMAT_VERSION = 1


@dataclass
class CompanyState:
    company_name: str = "Demo Consulting LLC"
    file_path: str = r"C:\Users\Public\Documents\Intuit\QuickBooks\Company Files\Demo Consulting LLC.QBW"
    product_name: str = "QuickBooks Enterprise Solutions 23.0"
    major_version: int = 33
    country: str = "US"
    home_currency: str = "US Dollar"
    multicurrency: bool = False
    class_tracking: bool = True
    account_numbers: bool = False  # AccountingPreferences/IsUsingAccountNumbers (QuickBooks' default: off)
    assigning_je_numbers: bool = True
    closing_date: str | None = None  # "YYYY-MM-DD": transactions dated on or before it are refused
    list_counter: int = 0  # ListIDs are "<hex counter>-<epoch>"
    txn_counter: int = 0
    txn_number: int = 0
    last_edit_sequence: int = 0  # EditSequence must move forward even within one second
    lists: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: {t: [] for t in LIST_TYPES})
    txns: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: {t: [] for t in TXN_TYPES})
    data_ext: dict[str, dict[str, str]] = field(default_factory=dict)  # OwnerID -> {DataExtName: value}
    message_sets: dict[str, str] = field(default_factory=dict)  # error recovery: newMessageSetID -> response

    def to_json(self) -> dict[str, Any]:
        return {"format": FORMAT_VERSION, **asdict(self)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CompanyState:
        data = dict(data)
        fmt = data.pop("format", None)
        if fmt != FORMAT_VERSION:
            raise ValueError(f"unsupported company file format {fmt!r}")
        state = cls(**data)
        for t in LIST_TYPES:
            state.lists.setdefault(t, [])
        for t in TXN_TYPES:
            state.txns.setdefault(t, [])
        return state


def save_state(state: CompanyState, path: Path) -> None:
    """Write atomically (temp file + replace) so a crash never leaves half a company file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name, suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(state.to_json(), fh, indent=1, sort_keys=False)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_state(path: Path) -> CompanyState:
    with Path(path).open(encoding="utf-8") as fh:
        return CompanyState.from_json(json.load(fh))
