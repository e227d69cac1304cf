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


BillableStatus = Literal["Billable", "NotBillable", "HasBeenBilled"]  # 13.0 XSD enumeration


@dataclass(frozen=True)
class Address:
    """``VendorAddress`` and friends (13.0 XSD AddressData): five lines, city, state, postal code,
    country, note. Empty fields are left out."""

    addr1: str = ""
    addr2: str = ""
    addr3: str = ""
    addr4: str = ""
    addr5: str = ""
    city: str = ""
    state: str = ""
    postal_code: str = ""
    country: str = ""
    note: str = ""


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
    vendor_address: Address | None = None  # the remit-to address (Concur VendorRemitAddress)
    terms: Ref | None = None  # the vendor's default terms (Terms list)
    currency: Ref | None = None  # multicurrency files only; fixed once the vendor has transactions


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
    vendor_address: Address | None = None  # replaces the address fields given
    currency: Ref | None = None


# --- transactions ------------------------------------------------------------------------


@dataclass(frozen=True)
class ExpenseLine:
    account: Ref
    amount: Decimal
    memo: str = ""
    customer: Ref | None = None
    klass: Ref | None = None
    billable_status: BillableStatus | None = None  # only with a customer; None = QuickBooks' default


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
    vendor_address: Address | None = None
    # Foreign-currency bills only: home-currency units per unit of the vendor's currency. There is
    # no CurrencyRef on BillAdd: the bill is in its vendor's currency (digest 3.4).
    exchange_rate: Decimal | None = None


@dataclass(frozen=True)
class JournalLine:
    side: Literal["debit", "credit"]
    account: Ref
    amount: Decimal
    memo: str = ""
    entity: Ref | None = None  # required by QuickBooks on A/P and A/R lines
    klass: Ref | None = None
    billable_status: BillableStatus | None = None  # only with a customer as the entity


@dataclass(frozen=True)
class JournalEntryAdd:
    txn_date: dt.date
    ref_number: str  # <= 11
    lines: tuple[JournalLine, ...]
    memo: str = ""  # NOT sent: the header Memo is "not in QBD" (OSR); put text on the lines
    external_guid: str = ""
    include: tuple[str, ...] = ()
    currency: Ref | None = None  # multicurrency files: the entry's one currency (home when None)
    exchange_rate: Decimal | None = None


@dataclass(frozen=True)
class AppliedToTxn:
    """One bill a payment pays, and how much of it."""

    txn_id: str
    payment_amount: Decimal


@dataclass(frozen=True)
class BillPaymentCheckAdd:
    """Pay Bills by check from a bank account (13.0 XSD BillPaymentCheckAdd)."""

    payee: Ref  # the bills' vendor
    bank_account: Ref
    txn_date: dt.date
    applied: tuple[AppliedToTxn, ...]
    ref_number: str = ""  # check number, <= 11; empty = IsToBePrinted
    ap_account: Ref | None = None
    memo: str = ""
    exchange_rate: Decimal | None = None
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
    """AccountQuery / ClassQuery / CustomerQuery (customers include jobs) / EmployeeQuery /
    OtherNameQuery / TermsQuery (standard and date-driven) / CurrencyQuery.

    Only CustomerQuery takes an iterator in 13.0; the others answer in one piece (the builder
    refuses an iterator for them).
    """

    list_type: Literal["Account", "Class", "Customer", "Employee", "OtherName", "Terms", "Currency"]
    active_status: Literal["ActiveOnly", "InactiveOnly", "All"] = "All"
    from_modified: dt.datetime | None = None
    iterator: Iterator | None = None
    include: tuple[str, ...] = ()
    full_names: tuple[str, ...] = ()  # by FullName instead of the filters above
    account_types: tuple[str, ...] = ()  # AccountQuery only, e.g. ("Expense", "AccountsPayable")


@dataclass(frozen=True)
class TxnQuery:
    """BillQuery / JournalEntryQuery / BillPaymentCheckQuery.

    One way to choose, as the XSD's choice allows: ``ref_numbers`` (how uncertain outcomes are
    settled), ``txn_ids`` (open balance of bills we posted), or ``entity`` with
    ``exact_ref_number`` (a bill of that vendor with that invoice number, however it got there:
    the hand-keyed duplicate check; sent as RefNumberRangeFilter From = To, since RefNumberFilter
    has no "equals").
    """

    txn_type: Literal["Bill", "JournalEntry", "BillPaymentCheck"]
    ref_numbers: tuple[str, ...] = ()
    include: tuple[str, ...] = ("TxnID", "RefNumber", "ExternalGUID", "TxnDate", "Memo")
    txn_ids: tuple[str, ...] = ()
    entity: Ref | None = None
    exact_ref_number: str = ""
    paid_status: Literal["All", "PaidOnly", "NotPaidOnly"] | None = None  # BillQuery only
    include_line_items: bool = False
    include_linked_txns: bool = False  # BillQuery only: the payments applied to each bill


@dataclass(frozen=True)
class BillToPayQuery:
    """Pay Bills' list for one payee: open bills and open A/P credits (journal entries included),
    each with what is still due. No iterator; one answer."""

    payee: Ref
    ap_account: Ref | None = None
    include: tuple[str, ...] = ()


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
    | BillPaymentCheckAdd
    | VendorQuery
    | EntityQuery
    | ListQuery
    | TxnQuery
    | BillToPayQuery
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
