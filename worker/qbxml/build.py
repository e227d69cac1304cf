"""qbXML 13.0 requests from the plain values in ``model.py``.

Every aggregate in qbXML is an ``xsd:sequence``: a right element in the wrong place is a parse
error for the whole message set (hresult 0x80040400). So each builder below writes its
elements in the XSD's order (comments name the XSD aggregate), and the tests validate every
shape against ``qbxmlops130.xsd``. Text goes through ``limits.clean`` (Latin-1, one line,
length), amounts through ``limits.amount``; XML escaping is lxml's.

The outbox stores single request elements (``build_request``); a QBWC turn wraps several of
them in one message set (``build_message_set`` or ``wrap_requests``).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Sequence
from decimal import Decimal

from lxml import etree

from worker.qbxml import limits
from worker.qbxml.model import (
    Address,
    BillAdd,
    BillPaymentCheckAdd,
    BillToPayQuery,
    CompanyQuery,
    DataExtAdd,
    DataExtDefAdd,
    EntityQuery,
    ExpenseLine,
    HostQuery,
    Iterator,
    JournalEntryAdd,
    JournalLine,
    ListQuery,
    PreferencesQuery,
    Ref,
    Request,
    Tagged,
    TxnQuery,
    VendorAdd,
    VendorMod,
    VendorQuery,
)

ON_ERROR_VALUES = ("stopOnError", "continueOnError")  # rollbackOnError "is not valid" in QBD (OSR)
ACTIVE_STATUS_VALUES = ("ActiveOnly", "InactiveOnly", "All")
ACCOUNT_TYPES = (
    "AccountsPayable", "AccountsReceivable", "Bank", "CostOfGoodsSold", "CreditCard", "Equity",
    "Expense", "FixedAsset", "Income", "LongTermLiability", "NonPosting", "OtherAsset",
    "OtherCurrentAsset", "OtherCurrentLiability", "OtherExpense", "OtherIncome",
)  # fmt: skip
ITERATOR_QUERIES = frozenset({"Vendor", "Customer", "Entity", "Bill", "JournalEntry", "BillPaymentCheck"})
BILLABLE_STATUS_VALUES = ("Billable", "NotBillable", "HasBeenBilled")
PAID_STATUS_VALUES = ("All", "PaidOnly", "NotPaidOnly")
# ListQuery types: the name limit of their FullName, and whether it is a Parent:Child list name.
_LIST_QUERY_NAMES: dict[str, tuple[int, int | None]] = {
    "Account": (limits.LIST_FULL_NAME, limits.LIST_SEGMENT),
    "Class": (limits.LIST_FULL_NAME, limits.LIST_SEGMENT),
    "Customer": (limits.ENTITY_FULL_NAME, None),
    "Employee": (limits.VENDOR_NAME, None),
    "OtherName": (limits.VENDOR_NAME, None),
    "Terms": (limits.TERMS_NAME, None),
    "Currency": (limits.CURRENCY_NAME, None),
}


class BuildError(ValueError):
    """A request that cannot be expressed validly (the planner should hold the document)."""


# --- small helpers ------------------------------------------------------------------------


def _sub(parent: etree._Element, tag: str, text: str | None = None) -> etree._Element:
    child = etree.SubElement(parent, tag)
    if text is not None:
        child.text = text
    return child


def _bool(value: bool) -> str:
    return "true" if value else "false"


def _ref(parent: etree._Element, tag: str, ref: Ref, *, name_limit: int, list_name: bool = False) -> None:
    """A ``*Ref`` aggregate: ListID when we know it (stable across renames), else FullName."""
    if ref.list_id:
        element = _sub(parent, tag)
        _sub(element, "ListID", _id(ref.list_id, tag + " ListID"))
        return
    if not ref.full_name:
        raise BuildError(f"{tag} needs a ListID or a FullName")
    if tag == "VendorRef":
        # Vendor names are ours (VendorAdd): fitted the one reproducible way.
        name = limits.vendor_name(ref.full_name)
        if not name:
            raise BuildError(f"{tag} FullName {ref.full_name!r} has no characters QuickBooks can store")
    else:
        # References to records someone else named are never cut (see limits.reference_name).
        try:
            name = limits.reference_name(ref.full_name, segment=limits.LIST_SEGMENT if list_name else None, total=name_limit)
        except ValueError as exc:
            raise BuildError(f"{tag}: {exc}") from exc
    element = _sub(parent, tag)
    _sub(element, "FullName", name)


def _id(value: str, what: str) -> str:
    """IDs are QuickBooks' own: never truncated or transliterated, only checked."""
    value = value.strip()
    if not value or len(value) > limits.ID or not value.isascii():
        raise BuildError(f"{what} {value!r} is not a QuickBooks ID")
    return value


def _text(parent: etree._Element, tag: str, value: str | None, limit: int, *, one_line: bool = True) -> None:
    """An optional text element, omitted when empty after cleaning."""
    if value is None:
        return
    cleaned = limits.clean(value, limit, one_line=one_line)
    if cleaned:
        _sub(parent, tag, cleaned)


def _guid(parent: etree._Element, value: str) -> None:
    if value:
        try:
            _sub(parent, "ExternalGUID", limits.guid(value))
        except ValueError as exc:
            raise BuildError(str(exc)) from exc


def _amount(parent: etree._Element, value: Decimal) -> None:
    try:
        _sub(parent, "Amount", limits.amount(value))
    except ValueError as exc:
        raise BuildError(str(exc)) from exc


def _address(parent: etree._Element, tag: str, address: Address | None) -> None:
    """An address aggregate (AddressData order); omitted when every field is empty."""
    if address is None:
        return
    element = etree.Element(tag)
    for child, value, limit in (
        ("Addr1", address.addr1, limits.ADDR_LINE), ("Addr2", address.addr2, limits.ADDR_LINE),
        ("Addr3", address.addr3, limits.ADDR_LINE), ("Addr4", address.addr4, limits.ADDR_LINE),
        ("Addr5", address.addr5, limits.ADDR_LINE), ("City", address.city, limits.CITY),
        ("State", address.state, limits.STATE), ("PostalCode", address.postal_code, limits.POSTAL_CODE),
        ("Country", address.country, limits.COUNTRY), ("Note", address.note, limits.ADDRESS_NOTE),
    ):  # fmt: skip
        _text(element, child, value, limit)
    if len(element):
        parent.append(element)


def _exchange_rate(parent: etree._Element, rate: Decimal | None) -> None:
    """ExchangeRate (FLOATTYPE): home-currency units per foreign unit; positive and finite."""
    if rate is None:
        return
    if not isinstance(rate, Decimal) or not rate.is_finite() or rate <= 0:
        raise BuildError(f"ExchangeRate {rate!r} must be a positive number")
    _sub(parent, "ExchangeRate", format(rate.normalize(), "f"))


def _billable(parent: etree._Element, status: str | None, has_customer: bool) -> None:
    """BillableStatus goes with a customer:job. Without one there is nothing to bill: NotBillable is
    left out (it is what QuickBooks records), anything else is a planner bug."""
    if status is None:
        return
    if status not in BILLABLE_STATUS_VALUES:
        raise BuildError(f"BillableStatus {status!r}")
    if not has_customer:
        if status == "NotBillable":
            return
        raise BuildError(f"BillableStatus {status} needs a customer:job on the line")
    _sub(parent, "BillableStatus", status)


def _include(parent: etree._Element, names: Sequence[str]) -> None:
    for name in names:
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9]*", name) or len(name) > limits.INCLUDE_RET_ELEMENT:
            raise BuildError(f"IncludeRetElement {name!r} is not an element name")
        _sub(parent, "IncludeRetElement", name)


def _iterator_attrs(element: etree._Element, iterator: Iterator | None) -> None:
    if iterator is None:
        return
    if iterator.action not in ("Start", "Continue", "Stop"):
        raise BuildError(f"iterator action {iterator.action!r}")
    element.set("iterator", iterator.action)
    if iterator.action != "Start":
        if not iterator.iterator_id:
            raise BuildError(f"iterator {iterator.action} needs the iteratorID from the previous page")
        element.set("iteratorID", iterator.iterator_id)


def _list_filter(
    element: etree._Element,
    *,
    iterator: Iterator | None,
    active_status: str,
    from_modified: dt.datetime | None,
    name_contains: str = "",
    name_limit: int = limits.VENDOR_NAME,
) -> None:
    """The ``ListFilter`` group: MaxReturned, ActiveStatus, FromModifiedDate, NameFilter."""
    if iterator is not None:
        if not 1 <= iterator.max_returned <= 10_000:
            raise BuildError(f"MaxReturned {iterator.max_returned} out of range")
        _sub(element, "MaxReturned", str(iterator.max_returned))
    if active_status not in ACTIVE_STATUS_VALUES:
        raise BuildError(f"ActiveStatus {active_status!r}")
    _sub(element, "ActiveStatus", active_status)
    if from_modified is not None:
        _sub(element, "FromModifiedDate", limits.datetime_text(from_modified))
    if name_contains:
        needle = limits.clean(name_contains, name_limit)
        if needle:
            name_filter = _sub(element, "NameFilter")
            _sub(name_filter, "MatchCriterion", "Contains")
            _sub(name_filter, "Name", needle)


_REQUEST_ID = re.compile(r"[A-Za-z0-9._:{}-]{1,50}")


def _request_element(kind: str, request_id: str) -> etree._Element:
    element = etree.Element(kind + "Rq")
    if request_id:
        # The requestID is how an answer finds its outbox row: it must come back unchanged,
        # so it is checked, never cleaned.
        if not _REQUEST_ID.fullmatch(request_id):
            raise BuildError(f"requestID {request_id[:60]!r} must be 1-50 plain characters")
        element.set("requestID", request_id)
    return element


# --- queries --------------------------------------------------------------------------------


def _vendor_query(q: VendorQuery, request_id: str) -> etree._Element:
    rq = _request_element("VendorQuery", request_id)
    _iterator_attrs(rq, q.iterator)
    chosen = sum(bool(x) for x in (q.list_ids, q.full_names, q.name_contains))
    if chosen > 1:
        raise BuildError("VendorQuery takes ListIDs, FullNames or a NameFilter, not several")
    if (q.list_ids or q.full_names) and (q.from_modified is not None or q.iterator is not None):
        # The XSD makes ListID/FullName and the filters a choice: a filter would be dropped.
        raise BuildError("VendorQuery by ListID/FullName cannot also filter or iterate")
    # VendorListQuery: ListID* | FullName* | VendorListFilter, then IncludeRetElement*
    if q.list_ids:
        for list_id in q.list_ids:
            _sub(rq, "ListID", _id(list_id, "Vendor ListID"))
    elif q.full_names:
        names = [limits.vendor_name(n) for n in q.full_names]
        for name in dict.fromkeys(n for n in names if n):
            _sub(rq, "FullName", name)
        if not len(rq):
            raise BuildError("VendorQuery FullNames have no characters QuickBooks can store")
    else:
        _list_filter(
            rq,
            iterator=q.iterator,
            active_status=q.active_status,
            from_modified=q.from_modified,
            name_contains=q.name_contains,
        )
    _include(rq, q.include)
    return rq


def _entity_query(q: EntityQuery, request_id: str) -> etree._Element:
    rq = _request_element("EntityQuery", request_id)
    # Pass vendor names through limits.vendor_name first, as VendorAdd will send them.
    names = [limits.clean(n, limits.ENTITY_FULL_NAME) for n in q.full_names]
    for name in dict.fromkeys(n for n in names if n):
        _sub(rq, "FullName", name)
    if not len(rq):
        # An EntityQuery without names returns every customer, vendor and employee.
        raise BuildError("EntityQuery needs at least one FullName")
    _include(rq, q.include)
    return rq


def _list_query(q: ListQuery, request_id: str) -> etree._Element:
    if q.list_type not in _LIST_QUERY_NAMES:
        raise BuildError(f"ListQuery type {q.list_type!r}")
    name_limit, segment = _LIST_QUERY_NAMES[q.list_type]
    rq = _request_element(q.list_type + "Query", request_id)
    if q.iterator is not None and q.list_type not in ITERATOR_QUERIES:
        raise BuildError(f"{q.list_type}Query has no iterator in qbXML 13.0; it answers in one piece")
    _iterator_attrs(rq, q.iterator)
    if q.full_names:
        if q.from_modified is not None or q.iterator is not None:
            raise BuildError(f"{q.list_type}Query by FullName cannot also filter or iterate")
        for name in q.full_names:
            try:
                cleaned = limits.reference_name(name, segment=segment, total=name_limit)
            except ValueError as exc:
                raise BuildError(f"{q.list_type}Query: {exc}") from exc
            _sub(rq, "FullName", cleaned)
        if not len(rq):
            raise BuildError(f"{q.list_type}Query FullNames have no characters QuickBooks can store")
        if q.account_types:
            raise BuildError("AccountType filters cannot be combined with FullNames")
    else:
        _list_filter(rq, iterator=q.iterator, active_status=q.active_status, from_modified=q.from_modified)
        if q.account_types:
            if q.list_type != "Account":
                raise BuildError("AccountType filters apply to AccountQuery only")
            for account_type in q.account_types:
                if account_type not in ACCOUNT_TYPES:
                    raise BuildError(f"unknown AccountType {account_type!r}")
                _sub(rq, "AccountType", account_type)
    _include(rq, q.include)
    return rq


_TXN_REF_LIMITS = {"Bill": limits.BILL_REF_NUMBER, "JournalEntry": limits.JOURNAL_REF_NUMBER, "BillPaymentCheck": limits.CHECK_REF_NUMBER}


def _txn_query(q: TxnQuery, request_id: str) -> etree._Element:
    if q.txn_type not in _TXN_REF_LIMITS:
        raise BuildError(f"TxnQuery type {q.txn_type!r}")
    is_bill = q.txn_type == "Bill"
    if not is_bill and (q.paid_status is not None or q.include_linked_txns):
        raise BuildError(f"PaidStatus and IncludeLinkedTxns belong to BillQuery, not {q.txn_type}Query")
    chosen = sum(bool(x) for x in (q.ref_numbers, q.txn_ids, q.entity is not None or q.exact_ref_number))
    if chosen != 1:
        # Without a choice this would list every transaction of the type in the file.
        raise BuildError(f"{q.txn_type}Query takes RefNumbers, TxnIDs or a vendor with a RefNumber: exactly one")
    rq = _request_element(q.txn_type + "Query", request_id)
    limit = _TXN_REF_LIMITS[q.txn_type]
    # BillQuery: (TxnID* | RefNumber* | RefNumberCaseSensitive* | BillFilter), IncludeLineItems,
    # IncludeLinkedTxns, IncludeRetElement*; BillFilter: MaxReturned, date filter, EntityFilter,
    # AccountFilter, RefNumberFilter | RefNumberRangeFilter, CurrencyFilter, PaidStatus.
    # JournalEntry/BillPaymentCheck (TxnQuery group): the same without PaidStatus/IncludeLinkedTxns.
    if q.txn_ids:
        for txn_id in dict.fromkeys(q.txn_ids):
            _sub(rq, "TxnID", _id(txn_id, f"{q.txn_type} TxnID"))
    elif q.ref_numbers:
        numbers = [limits.clean(n, limit) for n in q.ref_numbers]
        for number in dict.fromkeys(n for n in numbers if n):
            _sub(rq, "RefNumber", number)
        if not len(rq):
            raise BuildError(f"{q.txn_type}Query RefNumbers have no characters QuickBooks can store")
    else:
        if q.entity is None or not q.exact_ref_number:
            raise BuildError(f"{q.txn_type}Query by vendor needs both the vendor and the RefNumber")
        entity = _sub(rq, "EntityFilter")
        if q.entity.list_id:
            _sub(entity, "ListID", _id(q.entity.list_id, "EntityFilter ListID"))
        else:
            try:
                _sub(entity, "FullName", limits.reference_name(q.entity.full_name or "", segment=None, total=limits.ENTITY_FULL_NAME))
            except ValueError as exc:
                raise BuildError(f"EntityFilter: {exc}") from exc
        # A RefNumber someone else typed is matched as it is: never cut or transliterated.
        number = limits.single_line(q.exact_ref_number)
        if not number or len(number) > limit:
            raise BuildError(f"RefNumber {q.exact_ref_number!r} cannot be a {q.txn_type} RefNumber")
        ranged = _sub(rq, "RefNumberRangeFilter")
        _sub(ranged, "FromRefNumber", number)
        _sub(ranged, "ToRefNumber", number)
    if q.paid_status is not None:
        if q.paid_status not in PAID_STATUS_VALUES:
            raise BuildError(f"PaidStatus {q.paid_status!r}")
        if q.txn_ids or q.ref_numbers:
            raise BuildError("PaidStatus filters apply only to the vendor query")
        _sub(rq, "PaidStatus", q.paid_status)
    if q.include_line_items:
        _sub(rq, "IncludeLineItems", "true")
    if q.include_linked_txns:
        _sub(rq, "IncludeLinkedTxns", "true")
    _include(rq, q.include)
    return rq


def _bill_to_pay_query(q: BillToPayQuery, request_id: str) -> etree._Element:
    rq = _request_element("BillToPayQuery", request_id)
    # BillToPayQuery: PayeeEntityRef, APAccountRef, DueDate, CurrencyFilter, IncludeRetElement*
    _ref(rq, "PayeeEntityRef", q.payee, name_limit=limits.ENTITY_FULL_NAME)
    if q.ap_account is not None:
        _ref(rq, "APAccountRef", q.ap_account, name_limit=limits.LIST_FULL_NAME, list_name=True)
    _include(rq, q.include)
    return rq


def _host_query(q: HostQuery, request_id: str) -> etree._Element:
    return _request_element("HostQuery", request_id)


def _company_query(q: CompanyQuery, request_id: str) -> etree._Element:
    rq = _request_element("CompanyQuery", request_id)
    if q.owner_id:
        owner = q.owner_id.strip()
        if owner != "0":
            try:
                owner = limits.guid(owner)
            except ValueError as exc:
                raise BuildError(str(exc)) from exc
        _sub(rq, "OwnerID", owner)
    return rq


def _preferences_query(q: PreferencesQuery, request_id: str) -> etree._Element:
    return _request_element("PreferencesQuery", request_id)


# --- writes ---------------------------------------------------------------------------------


def _vendor_name(name: str) -> str:
    cleaned = limits.vendor_name(name)
    if not cleaned:
        raise BuildError(f"vendor name {name!r} has no characters QuickBooks can store")
    return cleaned


def _vendor_add(v: VendorAdd, request_id: str) -> etree._Element:
    rq = _request_element("VendorAdd", request_id)
    add = _sub(rq, "VendorAdd")
    # VendorAdd: Name, IsActive, ClassRef, CompanyName, PersonName (Salutation, FirstName,
    # MiddleName, LastName, Suffix), JobTitle, VendorAddress, ShipAddress, CommInfo (..., Email,
    # ...), AdditionalContactRef, Contacts, NameOnCheck, AccountNumber, Notes, ..., ExternalGUID
    _sub(add, "Name", _vendor_name(v.name))
    _sub(add, "IsActive", _bool(v.is_active))
    _text(add, "CompanyName", v.company_name, limits.COMPANY_NAME)
    _text(add, "FirstName", v.first_name, limits.FIRST_NAME)
    _text(add, "LastName", v.last_name, limits.LAST_NAME)
    _address(add, "VendorAddress", v.vendor_address)
    _email(add, v.email)
    _text(add, "NameOnCheck", v.name_on_check, limits.NAME_ON_CHECK)
    _account_number(add, v.account_number)
    _text(add, "Notes", v.notes, limits.MEMO, one_line=False)
    if v.terms is not None:
        _ref(add, "TermsRef", v.terms, name_limit=limits.TERMS_NAME)
    _guid(add, v.external_guid)
    if v.currency is not None:
        _ref(add, "CurrencyRef", v.currency, name_limit=limits.CURRENCY_NAME)
    _include(rq, v.include)
    return rq


def _account_number(parent: etree._Element, value: str | None) -> None:
    """The vendor's AccountNumber holds a key we match on (Concur employee id, vendor code): cut
    short it would never match again, so an over-long one is refused instead of fitted."""
    if value is None:
        return
    if len(limits.single_line(limits.to_latin1(value))) > limits.ACCOUNT_NUMBER:
        raise BuildError(f"AccountNumber {value[:40]!r}... is longer than {limits.ACCOUNT_NUMBER} characters")
    _text(parent, "AccountNumber", value, limits.ACCOUNT_NUMBER)


def _email(parent: etree._Element, email: str | None) -> None:
    if not email:
        return
    cleaned = limits.clean(email, limits.EMAIL)
    # A cut e-mail address is a wrong address: leave it out rather than send half of it.
    if cleaned and len(limits.single_line(email)) <= limits.EMAIL and "@" in cleaned:
        _sub(parent, "Email", cleaned)


def _vendor_mod(v: VendorMod, request_id: str) -> etree._Element:
    rq = _request_element("VendorMod", request_id)
    mod = _sub(rq, "VendorMod")
    # VendorMod: ListID, EditSequence, then VendorAdd's order (no ExternalGUID, no OpenBalance)
    _sub(mod, "ListID", _id(v.list_id, "Vendor ListID"))
    edit_sequence = v.edit_sequence.strip()
    if not edit_sequence or len(edit_sequence) > limits.EDIT_SEQUENCE:
        raise BuildError(f"EditSequence {v.edit_sequence!r} is not one QuickBooks issued")
    _sub(mod, "EditSequence", edit_sequence)
    if v.name is not None:
        _sub(mod, "Name", _vendor_name(v.name))
    if v.is_active is not None:
        _sub(mod, "IsActive", _bool(v.is_active))
    _text(mod, "CompanyName", v.company_name, limits.COMPANY_NAME)
    _address(mod, "VendorAddress", v.vendor_address)
    _email(mod, v.email)
    _text(mod, "NameOnCheck", v.name_on_check, limits.NAME_ON_CHECK)
    _account_number(mod, v.account_number)
    if v.currency is not None:
        _ref(mod, "CurrencyRef", v.currency, name_limit=limits.CURRENCY_NAME)
    _include(rq, v.include)
    return rq


def _ref_number(value: str, limit: int, what: str) -> str:
    """RefNumbers are our idempotency keys: too long is a planner bug, never a silent cut."""
    cleaned = limits.single_line(limits.to_latin1(value))
    if not cleaned:
        raise BuildError(f"{what} RefNumber is empty")
    if len(cleaned) > limit:
        raise BuildError(f"{what} RefNumber {cleaned!r} is longer than {limit} characters")
    return cleaned


def _expense_line(parent: etree._Element, line: ExpenseLine) -> None:
    el = _sub(parent, "ExpenseLineAdd")
    # ExpenseLineAdd: AccountRef, Amount, TaxAmount, Memo, CustomerRef, ClassRef, ...
    _ref(el, "AccountRef", line.account, name_limit=limits.LIST_FULL_NAME, list_name=True)
    _amount(el, line.amount)
    _text(el, "Memo", line.memo, limits.MEMO)
    if line.customer is not None:
        _ref(el, "CustomerRef", line.customer, name_limit=limits.ENTITY_FULL_NAME)
    if line.klass is not None:
        _ref(el, "ClassRef", line.klass, name_limit=limits.LIST_FULL_NAME, list_name=True)
    _billable(el, line.billable_status, line.customer is not None)


def _bill_add(b: BillAdd, request_id: str) -> etree._Element:
    if not b.lines:
        raise BuildError("a bill needs at least one expense line")
    rq = _request_element("BillAdd", request_id)
    add = _sub(rq, "BillAdd")
    # BillAdd: VendorRef, VendorAddress, APAccountRef, TxnDate, DueDate, RefNumber, TermsRef,
    # Memo, IsTaxIncluded, SalesTaxCodeRef, ExchangeRate, ExternalGUID, LinkToTxnID*,
    # ExpenseLineAdd*, ItemLineAdd*
    _ref(add, "VendorRef", b.vendor, name_limit=limits.VENDOR_NAME)
    _address(add, "VendorAddress", b.vendor_address)
    if b.ap_account is not None:
        _ref(add, "APAccountRef", b.ap_account, name_limit=limits.LIST_FULL_NAME, list_name=True)
    _sub(add, "TxnDate", limits.date_text(b.txn_date))
    if b.due_date is not None:
        _sub(add, "DueDate", limits.date_text(b.due_date))
    _sub(add, "RefNumber", _ref_number(b.ref_number, limits.BILL_REF_NUMBER, "Bill"))
    if b.terms is not None:
        _ref(add, "TermsRef", b.terms, name_limit=limits.TERMS_NAME)
    _text(add, "Memo", b.memo, limits.MEMO)
    _exchange_rate(add, b.exchange_rate)
    _guid(add, b.external_guid)
    for line in b.lines:
        _expense_line(add, line)
    _include(rq, b.include)
    return rq


def _journal_line(parent: etree._Element, line: JournalLine) -> None:
    if line.side not in ("debit", "credit"):
        raise BuildError(f"journal line side {line.side!r}")
    el = _sub(parent, "JournalDebitLine" if line.side == "debit" else "JournalCreditLine")
    # JournalDebitLine/JournalCreditLine: TxnLineID, AccountRef, Amount, TaxAmount, Memo,
    # EntityRef, ClassRef, ItemSalesTaxRef, BillableStatus
    _ref(el, "AccountRef", line.account, name_limit=limits.LIST_FULL_NAME, list_name=True)
    _amount(el, line.amount)
    _text(el, "Memo", line.memo, limits.MEMO)
    if line.entity is not None:
        _ref(el, "EntityRef", line.entity, name_limit=limits.ENTITY_FULL_NAME)
    if line.klass is not None:
        _ref(el, "ClassRef", line.klass, name_limit=limits.LIST_FULL_NAME, list_name=True)
    # Whether the entity is a customer is QuickBooks' to know; the planner sets a status only then.
    _billable(el, line.billable_status, line.entity is not None)


def _check_balanced(lines: Sequence[JournalLine]) -> None:
    """QuickBooks refuses an unbalanced entry; catch it here, after the same rounding it sees."""
    try:
        debit = sum(Decimal(limits.amount(x.amount)) for x in lines if x.side == "debit")
        credit = sum(Decimal(limits.amount(x.amount)) for x in lines if x.side == "credit")
    except ValueError as exc:
        raise BuildError(str(exc)) from exc
    if debit != credit:
        raise BuildError(f"journal entry does not balance after rounding: debits {debit}, credits {credit}")


def _journal_entry_add(j: JournalEntryAdd, request_id: str) -> etree._Element:
    if not j.lines:
        raise BuildError("a journal entry needs lines")
    _check_balanced(j.lines)
    rq = _request_element("JournalEntryAdd", request_id)
    add = _sub(rq, "JournalEntryAdd")
    # JournalEntryAdd: TxnDate, RefNumber, Memo, IsAdjustment, (currency), ExternalGUID, lines.
    # Memo is deliberately not sent: the OSR marks the header Memo "not in QBD".
    _sub(add, "TxnDate", limits.date_text(j.txn_date))
    _sub(add, "RefNumber", _ref_number(j.ref_number, limits.JOURNAL_REF_NUMBER, "JournalEntry"))
    # CurrencyExchangeRate group: IsAmountsEnteredInHomeCurrency, CurrencyRef, ExchangeRate.
    if j.currency is not None:
        _ref(add, "CurrencyRef", j.currency, name_limit=limits.CURRENCY_NAME)
    elif j.exchange_rate is not None:
        raise BuildError("an ExchangeRate on a journal entry needs its CurrencyRef")
    _exchange_rate(add, j.exchange_rate)
    _guid(add, j.external_guid)
    for line in j.lines:
        _journal_line(add, line)
    _include(rq, j.include)
    return rq


def _bill_payment_check_add(p: BillPaymentCheckAdd, request_id: str) -> etree._Element:
    if not p.applied:
        raise BuildError("a bill payment needs at least one bill to pay")
    if len({a.txn_id for a in p.applied}) != len(p.applied):
        raise BuildError("a bill payment applies to each bill once")
    rq = _request_element("BillPaymentCheckAdd", request_id)
    add = _sub(rq, "BillPaymentCheckAdd")
    # BillPaymentCheckAdd: PayeeEntityRef, APAccountRef, TxnDate, BankAccountRef,
    # (IsToBePrinted | RefNumber), Memo, ExchangeRate, ExternalGUID, AppliedToTxnAdd+
    _ref(add, "PayeeEntityRef", p.payee, name_limit=limits.ENTITY_FULL_NAME)
    if p.ap_account is not None:
        _ref(add, "APAccountRef", p.ap_account, name_limit=limits.LIST_FULL_NAME, list_name=True)
    _sub(add, "TxnDate", limits.date_text(p.txn_date))
    _ref(add, "BankAccountRef", p.bank_account, name_limit=limits.LIST_FULL_NAME, list_name=True)
    if p.ref_number:
        _sub(add, "RefNumber", _ref_number(p.ref_number, limits.CHECK_REF_NUMBER, "BillPaymentCheck"))
    else:
        _sub(add, "IsToBePrinted", "false")
    _text(add, "Memo", p.memo, limits.MEMO)
    _exchange_rate(add, p.exchange_rate)
    _guid(add, p.external_guid)
    for applied in p.applied:
        el = _sub(add, "AppliedToTxnAdd")
        # AppliedToTxnAdd: TxnID, PaymentAmount, TxnLineDetail*, SetCredit*, Discount...
        _sub(el, "TxnID", _id(applied.txn_id, "AppliedToTxnAdd TxnID"))
        if not isinstance(applied.payment_amount, Decimal) or applied.payment_amount <= 0:
            raise BuildError(f"PaymentAmount {applied.payment_amount!r} must be positive")
        try:
            _sub(el, "PaymentAmount", limits.amount(applied.payment_amount))
        except ValueError as exc:
            raise BuildError(str(exc)) from exc
    _include(rq, p.include)
    return rq


def _owner(value: str) -> str:
    """A private OwnerID: a GUID, never "0" (public extensions show in the QuickBooks UI)."""
    try:
        return limits.guid(value)
    except ValueError as exc:
        raise BuildError(f"OwnerID: {exc}") from exc


def _data_ext_name(value: str) -> str:
    name = limits.single_line(value)
    if not name or len(name) > limits.DATA_EXT_NAME or not name.isascii():
        raise BuildError(f"DataExtName {value!r} must be 1-{limits.DATA_EXT_NAME} ASCII characters")
    return name


def _data_ext_def_add(d: DataExtDefAdd, request_id: str) -> etree._Element:
    if d.data_ext_type not in ("STR255TYPE", "STR1024TYPE"):
        raise BuildError(f"DataExtType {d.data_ext_type!r}")
    rq = _request_element("DataExtDefAdd", request_id)
    add = _sub(rq, "DataExtDefAdd")
    # DataExtDefAdd: OwnerID, DataExtName, DataExtType, AssignToObject*, ...
    _sub(add, "OwnerID", _owner(d.owner_id))
    _sub(add, "DataExtName", _data_ext_name(d.name))
    _sub(add, "DataExtType", d.data_ext_type)
    _sub(add, "AssignToObject", "Company")
    return rq


def _data_ext_add(d: DataExtAdd, request_id: str) -> etree._Element:
    value = limits.single_line(limits.to_latin1(d.value))
    if len(value) > limits.DATA_EXT_STR255:
        # A FileID or similar key cut short would never match again: refuse instead.
        raise BuildError(f"DataExtValue longer than {limits.DATA_EXT_STR255} characters")
    rq = _request_element("DataExtAdd", request_id)
    add = _sub(rq, "DataExtAdd")
    # DataExtAdd: OwnerID, DataExtName, (ListDataExt | TxnDataExt | OtherDataExtType), DataExtValue
    _sub(add, "OwnerID", _owner(d.owner_id))
    _sub(add, "DataExtName", _data_ext_name(d.name))
    _sub(add, "OtherDataExtType", "Company")
    _sub(add, "DataExtValue", value)
    return rq


# --- public API -----------------------------------------------------------------------------

_BUILDERS: dict[type, Callable[..., etree._Element]] = {
    VendorQuery: _vendor_query,
    EntityQuery: _entity_query,
    ListQuery: _list_query,
    TxnQuery: _txn_query,
    BillToPayQuery: _bill_to_pay_query,
    HostQuery: _host_query,
    CompanyQuery: _company_query,
    PreferencesQuery: _preferences_query,
    VendorAdd: _vendor_add,
    VendorMod: _vendor_mod,
    BillAdd: _bill_add,
    JournalEntryAdd: _journal_entry_add,
    BillPaymentCheckAdd: _bill_payment_check_add,
    DataExtDefAdd: _data_ext_def_add,
    DataExtAdd: _data_ext_add,
}


def request_element(tagged: Tagged) -> etree._Element:
    """The ``*Rq`` element for one tagged request (raises BuildError when it cannot be valid)."""
    builder = _BUILDERS.get(type(tagged.request))
    if builder is None:
        raise BuildError(f"no builder for {type(tagged.request).__name__}")
    return builder(tagged.request, tagged.request_id)


def build_request(tagged: Tagged) -> str:
    """One request element as text, e.g. ``<BillAddRq requestID="17">…</BillAddRq>``."""
    text: str = etree.tostring(request_element(tagged), encoding="unicode")
    return text


def request_kind(request: Request) -> str:
    """The ``*Rq`` element name a request becomes (``"BillAddRq"``); its answer is ``…Rs``."""
    if isinstance(request, ListQuery):
        return request.list_type + "QueryRq"
    if isinstance(request, TxnQuery):
        return request.txn_type + "QueryRq"
    return type(request).__name__ + "Rq"


def _check_envelope(version: str, on_error: str, new_message_set_id: str | None) -> None:
    try:
        limits.version_tuple(version)
    except ValueError as exc:
        raise BuildError(str(exc)) from exc
    if on_error not in ON_ERROR_VALUES:
        raise BuildError(f"onError must be one of {ON_ERROR_VALUES}")
    if new_message_set_id is not None and not re.fullmatch(r"[A-Za-z0-9._-]{1,23}", new_message_set_id):
        raise BuildError("newMessageSetID must be 1-23 plain characters")


def wrap_requests(
    request_xml: Sequence[str],
    version: str = "13.0",
    on_error: str = "continueOnError",
    new_message_set_id: str | None = None,
) -> str:
    """A message set around request elements already built (as the outbox stores them)."""
    _check_envelope(version, on_error, new_message_set_id)
    attrs = f'onError="{on_error}"'
    if new_message_set_id:
        attrs += f' newMessageSetID="{new_message_set_id}"'
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        f'<?qbxml version="{version.strip()}"?>'
        f"<QBXML><QBXMLMsgsRq {attrs}>" + "".join(request_xml) + "</QBXMLMsgsRq></QBXML>"
    )


def build_message_set(
    requests: Sequence[Tagged],
    version: str = "13.0",
    on_error: str = "continueOnError",
    new_message_set_id: str | None = None,
) -> str:
    """A complete qbXML document for sendRequestXML."""
    return wrap_requests([build_request(t) for t in requests], version, on_error, new_message_set_id)
