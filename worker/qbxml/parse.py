"""QuickBooks' answers, read leniently.

QuickBooks answers a 13.0 request in its own (newer) element order and adds elements the 13.0
XSD does not know, so nothing here validates: each ``*Rs`` becomes a ``Response`` and each
``*Ret`` a flat dict. Only the XML itself is treated strictly (``safexml``: no DTD, no
entities, no network).

Record flattening (``flatten``):
- a leaf child becomes ``{"Tag": "text"}``; a leaf repeated becomes a list of texts;
- a leaf named ``Is*`` holding true/false becomes a bool (``IsActive``) — nothing else is typed;
  use ``decimal_of`` for amounts;
- a ``*Ref`` child (ListID/FullName) gives ``"Tag.ListID"`` / ``"Tag.FullName"`` keys from its
  first occurrence (e.g. ``ParentRef.FullName``) and, like other aggregates, a list under ``Tag``;
- any other aggregate (addresses, lines, DataExtRet) becomes a list of flattened dicts under
  its tag, always a list, e.g. ``rec["JournalDebitLine"][0]["AccountRef.FullName"]``;
- ``"_ret"`` names the Ret element (``"VendorRet"``), which tells EntityQuery answers apart.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from lxml import etree

from worker.qbxml import limits
from worker.qbxml.model import Response as Response  # re-exported: what parsing returns
from worker.qbxml.safexml import UnsafeXmlError, elements, local_name, parse_untrusted

MAX_RESPONSE_CHARS = 10 * 1024 * 1024  # like the SOAP body limit: the response travels inside it


class QbxmlParseError(ValueError):
    """Not a qbXML answer we can read; the message is safe to log and show."""


# --- records --------------------------------------------------------------------------------


def flatten(element: etree._Element) -> dict[str, object]:
    """One ``*Ret`` (or any aggregate) as a flat dict; see the module docstring."""
    return _flatten(element.iterchildren(etree.Element))


def _flatten(children: Iterable[etree._Element]) -> dict[str, object]:
    # The hot loop of every answer (a 3-way allocated journal entry is ~150 elements): written
    # for speed, element children only (no comments, PIs, entities), each visited once.
    record: dict[str, object] = {}
    for child in children:
        tag = child.tag
        if tag[0] == "{":
            tag = tag.rpartition("}")[2]
        grandchildren = list(child.iterchildren(etree.Element)) if len(child) else None
        if not grandchildren:
            text = child.text
            value: object = text.strip() if text else ""
            if tag[:2] == "Is" and (value == "true" or value == "false"):
                value = value == "true"
            existing = record.get(tag, record)
            if existing is record:
                record[tag] = value
            elif isinstance(existing, list):
                existing.append(value)
            else:
                record[tag] = [existing, value]
            continue
        flat = _flatten(grandchildren)
        if tag[-3:] == "Ref" and flat.keys() <= _REF_KEYS:
            # The first reference also gets dotted keys (most Refs occur once); every one is in
            # the list under the tag, so repeated Refs (PrefillAccountRef) are not lost.
            for key, value in flat.items():
                record.setdefault(f"{tag}.{key}", value)
        bucket = record.setdefault(tag, [])
        if isinstance(bucket, list):
            bucket.append(flat)
    return record


_REF_KEYS = frozenset({"ListID", "FullName"})


def decimal_of(record: dict[str, object], key: str) -> Decimal | None:
    """An amount from a record (``"123.45"`` -> Decimal), None when absent or not a number."""
    value = record.get(key)
    if not isinstance(value, str) or not value:
        return None
    try:
        number = Decimal(value)
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


# --- message sets -----------------------------------------------------------------------------


@dataclass(frozen=True)
class MessageSet:
    """The whole ``QBXMLMsgsRs``: responses plus the error-recovery attributes."""

    responses: tuple[Response, ...]
    new_message_set_id: str = ""
    message_set_status_code: int | None = None


def _int_attr(element: etree._Element, name: str) -> int | None:
    raw = element.get(name)
    if raw is None:
        return None
    try:
        return int(raw.strip())
    except ValueError:
        return None


def _response(rs: etree._Element) -> Response:
    kind = local_name(rs)
    status_code = _int_attr(rs, "statusCode")
    extra: dict[str, object] = {}
    ret_count = _int_attr(rs, "retCount")
    if ret_count is not None:
        extra["retCount"] = ret_count
    records = []
    others: dict[str, list[dict[str, object] | str]] = {}
    for child in elements(rs):
        tag = local_name(child)
        if tag.endswith("Ret"):
            record = flatten(child)
            record["_ret"] = tag
            records.append(record)
        else:  # e.g. the response of a ...DelRq, or elements a newer QuickBooks adds
            others.setdefault(tag, []).append(flatten(child) if elements(child) else (child.text or "").strip())
    extra.update(others)
    return Response(
        request_id=rs.get("requestID", ""),
        kind=kind,
        status_code=status_code if status_code is not None else -1,
        status_severity=rs.get("statusSeverity", ""),
        status_message=rs.get("statusMessage", ""),
        records=tuple(records),
        iterator_id=rs.get("iteratorID", ""),
        iterator_remaining=_int_attr(rs, "iteratorRemainingCount"),
        extra=extra,
    )


def _root(text: str | bytes) -> etree._Element:
    if isinstance(text, str) and not text.strip():
        raise QbxmlParseError("empty qbXML response")
    try:
        root = parse_untrusted(text, max_bytes=MAX_RESPONSE_CHARS)
    except UnsafeXmlError as exc:
        raise QbxmlParseError(f"qbXML response: {exc}") from None
    if local_name(root) != "QBXML":
        raise QbxmlParseError(f"qbXML response: root element is {local_name(root)!r}, not QBXML")
    return root


def parse_response_set(text: str | bytes) -> MessageSet:
    """The ``QBXMLMsgsRs`` of a QuickBooks answer (raises QbxmlParseError)."""
    root = _root(text)
    msgs = next((c for c in elements(root) if local_name(c) == "QBXMLMsgsRs"), None)
    if msgs is None:
        raise QbxmlParseError("qbXML response: no QBXMLMsgsRs element")
    responses = tuple(_response(rs) for rs in elements(msgs) if local_name(rs).endswith("Rs"))
    return MessageSet(
        responses=responses,
        new_message_set_id=msgs.get("newMessageSetID", ""),
        message_set_status_code=_int_attr(msgs, "messageSetStatusCode"),
    )


def parse_message_set(text: str | bytes) -> list[Response]:
    """Every ``*Rs`` of a QuickBooks answer, in document order."""
    return list(parse_response_set(text).responses)


@dataclass(frozen=True)
class Matched:
    """Responses paired with the requestIDs we sent.

    ``missing``: sent, not answered (after a stopOnError stop, or a truncated answer) — for a
    write, its outcome is unknown. ``unexpected``: answered with an ID we did not send (or
    twice); never act on those.
    """

    by_request_id: dict[str, Response]
    missing: tuple[str, ...]
    unexpected: tuple[Response, ...]


def match_responses(request_ids: Sequence[str], responses: Iterable[Response]) -> Matched:
    wanted = set(request_ids)
    found: dict[str, Response] = {}
    unexpected: list[Response] = []
    for response in responses:
        if response.request_id in wanted and response.request_id not in found:
            found[response.request_id] = response
        else:
            unexpected.append(response)
    missing = tuple(rid for rid in dict.fromkeys(request_ids) if rid not in found)
    return Matched(by_request_id=found, missing=missing, unexpected=tuple(unexpected))


# --- strHCPResponse -----------------------------------------------------------------------------


@dataclass(frozen=True)
class HostCompanyPrefs:
    """What the first sendRequestXML of a QBWC session tells about QuickBooks and the file."""

    supported_versions: tuple[str, ...] = ()
    product_name: str = ""
    major_version: str = ""
    minor_version: str = ""
    country: str = ""
    file_mode: str = ""  # SingleUser / MultiUser
    company_name: str = ""
    file_id: str | None = None  # DataExt "FileID" under our OwnerID; None when not recorded
    is_using_class_tracking: bool | None = None
    is_using_account_numbers: bool | None = None
    company_country: str = ""  # CompanyRet Address/Country (HostRet Country is the edition's)
    is_multi_currency_on: bool | None = None
    home_currency: str = ""
    closing_date: dt.date | None = None
    is_assigning_journal_entry_numbers: bool | None = None
    is_automatic_login_allowed: bool | None = None
    is_personal_data_access_allowed: bool | None = None
    statuses: dict[str, tuple[int, str]] = field(default_factory=dict)  # kind -> (code, message)


def _text_at(element: etree._Element | None, *path: str) -> str | None:
    node = element
    for name in path:
        if node is None:
            return None
        node = next((c for c in elements(node) if local_name(c) == name), None)
    if node is None:
        return None
    return (node.text or "").strip()


def _bool_at(element: etree._Element | None, *path: str) -> bool | None:
    text = _text_at(element, *path)
    if text in ("true", "false"):
        return text == "true"
    return None


def _norm_owner(value: str) -> str:
    return value.strip().strip("{}").casefold()


def parse_hcp(text: str | bytes, owner_id: str = "") -> HostCompanyPrefs:
    """The Host, Company and Preferences answers QBWC passes as ``strHCPResponse``.

    ``owner_id`` selects our FileID data extension; OwnerIDs are compared trimmed, without
    braces and case-folded (QuickBooks' echo of a GUID is not guaranteed to keep our case).
    """
    root = _root(text)
    msgs = next((c for c in elements(root) if local_name(c) == "QBXMLMsgsRs"), None)
    if msgs is None:
        raise QbxmlParseError("strHCPResponse: no QBXMLMsgsRs element")
    found: dict[str, etree._Element] = {}
    statuses: dict[str, tuple[int, str]] = {}
    for rs in elements(msgs):
        kind = local_name(rs)
        code = _int_attr(rs, "statusCode")
        statuses[kind] = (code if code is not None else -1, rs.get("statusMessage", ""))
        ret = next((c for c in elements(rs) if local_name(c).endswith("Ret")), None)
        if ret is not None:
            found.setdefault(local_name(ret), ret)
    host, company, prefs = found.get("HostRet"), found.get("CompanyRet"), found.get("PreferencesRet")

    versions: tuple[str, ...] = ()
    if host is not None:
        versions = tuple((c.text or "").strip() for c in elements(host) if local_name(c) == "SupportedQBXMLVersion")

    file_id = None
    if company is not None and owner_id:
        wanted = _norm_owner(owner_id)
        for ext in elements(company):
            if local_name(ext) != "DataExtRet":
                continue
            if _norm_owner(_text_at(ext, "OwnerID") or "") != wanted:
                continue
            if (_text_at(ext, "DataExtName") or "").strip().casefold() == "fileid":
                file_id = _text_at(ext, "DataExtValue") or ""
                break

    closing = _text_at(prefs, "AccountingPreferences", "ClosingDate")
    closing_date = None
    if closing:
        try:
            closing_date = dt.date.fromisoformat(closing[:10])
        except ValueError:
            closing_date = None

    return HostCompanyPrefs(
        supported_versions=versions,
        product_name=_text_at(host, "ProductName") or "",
        major_version=_text_at(host, "MajorVersion") or "",
        minor_version=_text_at(host, "MinorVersion") or "",
        country=_text_at(host, "Country") or "",
        file_mode=_text_at(host, "QBFileMode") or "",
        company_name=_text_at(company, "CompanyName") or "",
        file_id=file_id,
        is_using_class_tracking=_bool_at(prefs, "AccountingPreferences", "IsUsingClassTracking"),
        is_using_account_numbers=_bool_at(prefs, "AccountingPreferences", "IsUsingAccountNumbers"),
        company_country=_text_at(company, "Address", "Country") or "",
        is_multi_currency_on=_bool_at(prefs, "MultiCurrencyPreferences", "IsMultiCurrencyOn"),
        home_currency=_text_at(prefs, "MultiCurrencyPreferences", "HomeCurrencyRef", "FullName") or "",
        closing_date=closing_date,
        is_assigning_journal_entry_numbers=_bool_at(prefs, "AccountingPreferences", "IsAssigningJournalEntryNumbers"),
        is_automatic_login_allowed=_bool_at(prefs, "CurrentAppAccessRights", "IsAutomaticLoginAllowed"),
        is_personal_data_access_allowed=_bool_at(prefs, "CurrentAppAccessRights", "IsPersonalDataAccessAllowed"),
        statuses=statuses,
    )


def same_file_id(found: str | None, expected: str) -> bool:
    """The wrong-company guard: FileIDs compared trimmed, brace- and case-insensitively."""
    if found is None:
        return False
    return _norm_owner(found) == _norm_owner(expected) and bool(_norm_owner(expected))


def choose_version(
    configured: str,
    supported: Sequence[str],
    minimum: tuple[int, int] = limits.MIN_QBXML_VERSION,
) -> str | None:
    """The qbXML version to speak: the configured one, or the highest QuickBooks supports below
    it (never below ``minimum``, whose fields our requests need). None: no common version.

    An empty ``supported`` list (HCP missing) yields the configured version.
    """
    wanted = limits.version_tuple(configured)
    if not supported:
        return f"{wanted[0]}.{wanted[1]}"
    best: tuple[int, int] | None = None
    for raw in supported:
        try:
            candidate = limits.version_tuple(raw)
        except ValueError:
            continue
        if minimum <= candidate <= wanted and (best is None or candidate > best):
            best = candidate
    return None if best is None else f"{best[0]}.{best[1]}"


# --- typed views of records -----------------------------------------------------------------------


def _nested(record: dict[str, object], key: str) -> list[dict[str, object]]:
    """The nested aggregates under ``key`` (flatten keeps aggregates as lists of dicts)."""
    value = record.get(key)
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _first(record: dict[str, object], key: str) -> dict[str, object]:
    return next(iter(_nested(record, key)), {})


def _str(record: dict[str, object], key: str) -> str:
    value = record.get(key)
    return value if isinstance(value, str) else ""


def _flag(record: dict[str, object], key: str) -> bool | None:
    value = record.get(key)
    return value if isinstance(value, bool) else None


@dataclass(frozen=True)
class CompanySettings:
    """What a PreferencesQuery / CompanyQuery / HostQuery answer says about the company file."""

    is_using_account_numbers: bool | None = None
    is_using_class_tracking: bool | None = None
    is_multi_currency_on: bool | None = None
    home_currency: str = ""  # HomeCurrencyRef FullName, only when multicurrency is on
    country: str = ""  # CompanyRet Address/Country, else HostRet Country (the edition: US, CA, UK)
    company_name: str = ""


def company_settings(responses: Iterable[Response]) -> CompanySettings:
    """Settings from whichever of PreferencesRet / CompanyRet / HostRet the answers hold."""
    found: dict[str, dict[str, object]] = {}
    for response in responses:
        for record in response.records:
            found.setdefault(str(record.get("_ret", "")), record)
    prefs, company, host = found.get("PreferencesRet", {}), found.get("CompanyRet", {}), found.get("HostRet", {})
    accounting, multi = _first(prefs, "AccountingPreferences"), _first(prefs, "MultiCurrencyPreferences")
    return CompanySettings(
        is_using_account_numbers=_flag(accounting, "IsUsingAccountNumbers"),
        is_using_class_tracking=_flag(accounting, "IsUsingClassTracking"),
        is_multi_currency_on=_flag(multi, "IsMultiCurrencyOn"),
        home_currency=_str(multi, "HomeCurrencyRef.FullName"),
        country=_str(_first(company, "Address"), "Country") or _str(host, "Country"),
        company_name=_str(company, "CompanyName"),
    )


@dataclass(frozen=True)
class LinkedPayment:
    """A transaction linked to a bill (IncludeLinkedTxns), e.g. the check that paid it."""

    txn_id: str
    txn_type: str  # BillPaymentCheck, BillPaymentCreditCard, VendorCredit, ...
    txn_date: str
    ref_number: str
    amount: Decimal | None  # as QuickBooks signs it


@dataclass(frozen=True)
class BillBalance:
    """A BillRet read for its open balance: what is still owed and what paid it."""

    txn_id: str
    ref_number: str
    vendor_list_id: str
    vendor_name: str
    txn_date: str
    amount_due: Decimal | None
    open_amount: Decimal | None
    is_paid: bool | None
    external_guid: str
    currency: str  # CurrencyRef FullName; "" in a single-currency file
    linked: tuple[LinkedPayment, ...] = ()


def bill_balance(record: dict[str, object]) -> BillBalance:
    linked = tuple(
        LinkedPayment(_str(link, "TxnID"), _str(link, "TxnType"), _str(link, "TxnDate"), _str(link, "RefNumber"), decimal_of(link, "Amount"))
        for link in _nested(record, "LinkedTxn")
    )
    return BillBalance(
        txn_id=_str(record, "TxnID"),
        ref_number=_str(record, "RefNumber"),
        vendor_list_id=_str(record, "VendorRef.ListID"),
        vendor_name=_str(record, "VendorRef.FullName"),
        txn_date=_str(record, "TxnDate"),
        amount_due=decimal_of(record, "AmountDue"),
        open_amount=decimal_of(record, "OpenAmount"),
        is_paid=_flag(record, "IsPaid"),
        external_guid=_str(record, "ExternalGUID"),
        currency=_str(record, "CurrencyRef.FullName"),
        linked=linked,
    )


@dataclass(frozen=True)
class BillToPay:
    """One open item of a BillToPayQuery answer (a bill or, e.g., a journal entry's A/P credit)."""

    txn_id: str
    txn_type: str
    ap_account: str
    txn_date: str
    ref_number: str
    amount_due: Decimal | None


def bills_to_pay(record: dict[str, object]) -> list[BillToPay]:
    """A BillToPayRet holds a BillToPay (what is owed) or a CreditToApply (skipped here)."""
    return [
        BillToPay(
            _str(item, "TxnID"),
            _str(item, "TxnType"),
            _str(item, "APAccountRef.FullName"),
            _str(item, "TxnDate"),
            _str(item, "RefNumber"),
            decimal_of(item, "AmountDue"),
        )
        for item in _nested(record, "BillToPay")
    ]


@dataclass(frozen=True)
class AppliedPayment:
    txn_id: str  # the bill
    amount: Decimal | None
    balance_remaining: Decimal | None


@dataclass(frozen=True)
class BillPayment:
    """A BillPaymentCheckRet: one check and the bills it paid."""

    txn_id: str
    ref_number: str
    payee_list_id: str
    payee_name: str
    txn_date: str
    amount: Decimal | None
    bank_account: str
    external_guid: str
    applied: tuple[AppliedPayment, ...] = ()


def bill_payment(record: dict[str, object]) -> BillPayment:
    applied = tuple(
        AppliedPayment(_str(row, "TxnID"), decimal_of(row, "Amount"), decimal_of(row, "BalanceRemaining")) for row in _nested(record, "AppliedToTxnRet")
    )
    return BillPayment(
        txn_id=_str(record, "TxnID"),
        ref_number=_str(record, "RefNumber"),
        payee_list_id=_str(record, "PayeeEntityRef.ListID"),
        payee_name=_str(record, "PayeeEntityRef.FullName"),
        txn_date=_str(record, "TxnDate"),
        amount=decimal_of(record, "Amount"),
        bank_account=_str(record, "BankAccountRef.FullName"),
        external_guid=_str(record, "ExternalGUID"),
        applied=applied,
    )
