"""Plain values describing qbXML requests; ``build.py`` turns them into XML, ``parse.py`` reads answers.

These are what the posting planner produces and the outbox stores (as qbXML text). Limits are
applied by the builders (``limits.py``) so every emitted request validates against the 13.0 XSD.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal


@dataclass(frozen=True)
class Ref:
    """A reference to a list element: by ListID when known, else by FullName."""

    full_name: str | None = None
    list_id: str | None = None


# --- list writes -------------------------------------------------------------------------


@dataclass(frozen=True)
class VendorAdd:
    name: str  # <= 41 chars, unique across Vendor/Customer/Employee/OtherName
    company_name: str = ""
    first_name: str = ""
    last_name: str = ""
    name_on_check: str = ""
    email: str = ""
    account_number: str = ""  # we keep the Concur employee id / vendor code here
    notes: str = ""
    is_active: bool = True
    external_guid: str = ""  # VendorAdd carries ExternalGUID since qbXML 8.0 (VendorMod never does)
    include: tuple[str, ...] = ()  # IncludeRetElement; empty = the whole VendorRet


@dataclass(frozen=True)
class VendorMod:
    """Only the fields set here change; omitted fields stay as they are in QuickBooks."""

    list_id: str
    edit_sequence: str
    is_active: bool | None = None
    name: str | None = None
    company_name: str | None = None
    name_on_check: str | None = None
    email: str | None = None
    account_number: str | None = None
    include: tuple[str, ...] = ()


# --- transactions ------------------------------------------------------------------------


@dataclass(frozen=True)
class ExpenseLine:
    account: Ref
    amount: Decimal
    memo: str = ""
    customer: Ref | None = None
    klass: Ref | None = None


@dataclass(frozen=True)
class BillAdd:
    vendor: Ref
    txn_date: dt.date
    ref_number: str  # <= 20
    lines: tuple[ExpenseLine, ...]
    due_date: dt.date | None = None
    terms: Ref | None = None
    memo: str = ""
    external_guid: str = ""  # "{uuid}"
    ap_account: Ref | None = None
    include: tuple[str, ...] = ()  # IncludeRetElement; empty = the whole BillRet


@dataclass(frozen=True)
class JournalLine:
    side: Literal["debit", "credit"]
    account: Ref
    amount: Decimal
    memo: str = ""
    entity: Ref | None = None  # required by QuickBooks on A/P and A/R lines
    klass: Ref | None = None


@dataclass(frozen=True)
class JournalEntryAdd:
    txn_date: dt.date
    ref_number: str  # <= 11
    lines: tuple[JournalLine, ...]
    memo: str = ""  # NOT sent: the header Memo is "not in QBD" (OSR); put text on the lines
    external_guid: str = ""
    include: tuple[str, ...] = ()


# --- queries -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Iterator:
    """Iterator control for a paged query; ``iterator_id`` is only valid within one QBWC session."""

    action: Literal["Start", "Continue", "Stop"] = "Start"
    iterator_id: str = ""
    max_returned: int = 100


@dataclass(frozen=True)
class VendorQuery:
    full_names: tuple[str, ...] = ()
    list_ids: tuple[str, ...] = ()
    name_contains: str = ""  # NameFilter MatchCriterion=Contains
    active_status: Literal["ActiveOnly", "InactiveOnly", "All"] = "All"
    from_modified: dt.datetime | None = None
    iterator: Iterator | None = None
    include: tuple[str, ...] = ()  # IncludeRetElement


@dataclass(frozen=True)
class EntityQuery:
    """Customer/Vendor/Employee/OtherName share one name space: the collision check."""

    full_names: tuple[str, ...]
    include: tuple[str, ...] = ()


@dataclass(frozen=True)
class ListQuery:
    """AccountQuery / ClassQuery / CustomerQuery (customers include jobs).

    Only CustomerQuery takes an iterator in 13.0; Account and Class answer in one piece
    (the builder refuses an iterator for them).
    """

    list_type: Literal["Account", "Class", "Customer"]
    active_status: Literal["ActiveOnly", "InactiveOnly", "All"] = "All"
    from_modified: dt.datetime | None = None
    iterator: Iterator | None = None
    include: tuple[str, ...] = ()
    full_names: tuple[str, ...] = ()  # by FullName instead of the filters above
    account_types: tuple[str, ...] = ()  # AccountQuery only, e.g. ("Expense", "AccountsPayable")


@dataclass(frozen=True)
class TxnQuery:
    """BillQuery / JournalEntryQuery by RefNumber(s): how uncertain outcomes are settled."""

    txn_type: Literal["Bill", "JournalEntry"]
    ref_numbers: tuple[str, ...] = ()
    include: tuple[str, ...] = ("TxnID", "RefNumber", "ExternalGUID", "TxnDate", "Memo")


@dataclass(frozen=True)
class HostQuery:
    pass


@dataclass(frozen=True)
class CompanyQuery:
    owner_id: str = "0"  # "0" = public data extensions; ours = the FileID guard


@dataclass(frozen=True)
class PreferencesQuery:
    pass


# --- company data extensions (the FileID guard) --------------------------------------------


@dataclass(frozen=True)
class DataExtDefAdd:
    """Defines a private company-level data extension under our OwnerID.

    QBWC itself stores the .qwc FileID this way; these exist so the worker can record it when
    QBWC has not (first use), or keep other per-file facts.
    """

    owner_id: str  # "{GUID}" (not "0": public extensions are visible in the QuickBooks UI)
    name: str  # <= 31, e.g. "FileID"
    data_ext_type: Literal["STR255TYPE", "STR1024TYPE"] = "STR255TYPE"


@dataclass(frozen=True)
class DataExtAdd:
    """Sets a company-level data extension value (``OtherDataExtType`` = Company)."""

    owner_id: str
    name: str
    value: str  # <= 255 for STR255TYPE


Request = (
    VendorAdd
    | VendorMod
    | BillAdd
    | JournalEntryAdd
    | VendorQuery
    | EntityQuery
    | ListQuery
    | TxnQuery
    | HostQuery
    | CompanyQuery
    | PreferencesQuery
    | DataExtDefAdd
    | DataExtAdd
)


@dataclass(frozen=True)
class Tagged:
    """A request with the requestID that carries its outbox row id through QuickBooks."""

    request_id: str
    request: Request


# --- responses ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Response:
    """One ``*Rs`` element, parsed leniently."""

    request_id: str
    kind: str  # e.g. "BillAddRs"
    status_code: int  # -1 when QuickBooks sent none
    status_severity: str  # Info / Warn / Error
    status_message: str
    records: tuple[dict[str, object], ...] = ()  # each *Ret flattened (see parse.py)
    iterator_id: str = ""
    iterator_remaining: int | None = None
    extra: dict[str, object] = field(default_factory=dict)  # retCount, non-Ret children
