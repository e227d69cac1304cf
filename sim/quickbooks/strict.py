"""Input strictness the way QuickBooks has it: a message set is checked as a whole before any
request in it runs, and any structural fault fails the whole set with HRESULT 0x80040400.

Layers, in the order QuickBooks' parser meets them:
1. well-formed XML, ISO-8859-1 text only, with a ``<?qbxml version="..."?>`` processing instruction
   (missing PI = parse error);
2. a version this "QuickBooks" supports (else 0x80040423);
3. the qbXML 13.0 XSD (element order, types such as AMTTYPE's two decimals, the XSD's max lengths),
   loaded once from the shared reference folder; when the XSD is not there, a built-in subset of it
   (content models and leaf types for the request shapes ml-connector sends) does the same job.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path

from lxml import etree

PARSE_ERROR_HRESULT = "0x80040400"
PARSE_ERROR_MESSAGE = "QuickBooks found an error when parsing the provided XML text stream."
VERSION_HRESULT = "0x80040423"
VERSION_MESSAGE = "The version of QBXML that was requested is not supported or is unknown."

SUPPORTED_VERSIONS = (
    "1.0",
    "1.1",
    "2.0",
    "2.1",
    "3.0",
    "4.0",
    "4.1",
    "5.0",
    "6.0",
    "7.0",
    "8.0",
    "9.0",
    "10.0",
    "11.0",
    "12.0",
    "13.0",
)

XSD_ENV = "MLC_QBXML_XSD"  # lets a checkout with the reference elsewhere point at it


class QBXMLSetError(Exception):
    """The whole message set was refused before any request ran (what ProcessRequest throws)."""

    def __init__(self, hresult: str, message: str, detail: str = "") -> None:
        super().__init__(f"{hresult}: {message}")
        self.hresult = hresult
        self.message = message
        self.detail = detail  # the validator's own words, for test diagnostics only


def default_xsd_path() -> Path:
    env = os.environ.get(XSD_ENV)
    if env:
        return Path(env)
    # <repo>/sim/quickbooks/strict.py -> <repo>/../shared/reference/...
    return Path(__file__).resolve().parents[2] / ".." / "shared" / "reference" / "qbxml" / "schema-13.0" / "qbxmlops130.xsd"


@lru_cache(maxsize=4)
def load_xsd(path: str) -> etree.XMLSchema | None:
    p = Path(path)
    if not p.is_file():
        return None
    return etree.XMLSchema(etree.parse(str(p)))


@dataclass(frozen=True)
class Validator:
    """``use_xsd=False`` forces the built-in subset (used by tests to prove the fallback agrees)."""

    use_xsd: bool = True
    xsd_path: str = ""

    def schema(self) -> etree.XMLSchema | None:
        if not self.use_xsd:
            return None
        return load_xsd(self.xsd_path or str(default_xsd_path()))

    def check(self, text: str) -> etree._Element:
        """Return the parsed ``QBXML`` root or raise :class:`QBXMLSetError`."""
        root = parse_message_set(text)
        schema = self.schema()
        if schema is not None:
            if not schema.validate(root.getroottree()):
                raise QBXMLSetError(PARSE_ERROR_HRESULT, PARSE_ERROR_MESSAGE, str(schema.error_log.last_error))
        else:
            problem = fallback_problem(root)
            if problem:
                raise QBXMLSetError(PARSE_ERROR_HRESULT, PARSE_ERROR_MESSAGE, problem)
        return root


_PI_VERSION = re.compile(r'version\s*=\s*"([^"]*)"')


def parse_message_set(text: str) -> etree._Element:
    if isinstance(text, str):
        beyond = next((c for c in text if ord(c) > 0xFF), None)
        if beyond is not None:
            # QuickBooks Desktop stores ISO-8859-1 only; text outside it fails (reference §3.2; the exact
            # behaviour per QuickBooks year is unverified, refusing is the strict reading).
            raise QBXMLSetError(PARSE_ERROR_HRESULT, PARSE_ERROR_MESSAGE, f"character U+{ord(beyond):04X} is not ISO-8859-1")
    data = text.encode("utf-8") if isinstance(text, str) else text
    # Strip an encoding declaration so lxml accepts a str-sourced document consistently.
    parser = etree.XMLParser(resolve_entities=False, no_network=True, remove_blank_text=False)
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        raise QBXMLSetError(PARSE_ERROR_HRESULT, PARSE_ERROR_MESSAGE, f"not well-formed: {exc}") from None
    version = None
    node = root.getprevious()
    while node is not None:
        if isinstance(node, etree._ProcessingInstruction) and node.target == "qbxml":
            m = _PI_VERSION.search(node.text or "")
            version = m.group(1) if m else ""
        node = node.getprevious()
    if version is None:
        raise QBXMLSetError(PARSE_ERROR_HRESULT, PARSE_ERROR_MESSAGE, "missing <?qbxml version?>")
    if version not in SUPPORTED_VERSIONS:
        raise QBXMLSetError(VERSION_HRESULT, VERSION_MESSAGE, f"qbxml version {version!r}")
    return root


# --- built-in subset of the 13.0 XSD --------------------------------------------------------
# Content models copied from qbxmlops130.xsd / qbxml130.xsd for the shapes ml-connector emits.
# Anything not listed here is accepted as is by the fallback (the XSD, when present, is the
# authority; tests check the two agree over the worker's request shapes and mutations of them).

_REF = "(ListID? FullName?)"
_LIST_FILTER = "MaxReturned? ActiveStatus? FromModifiedDate? ToModifiedDate? (NameFilter|NameRangeFilter)?"
_TXN_FILTER = "MaxReturned? (ModifiedDateRangeFilter|TxnDateRangeFilter)? EntityFilter? AccountFilter? (RefNumberFilter|RefNumberRangeFilter)? CurrencyFilter?"
_PERSON = "(Salutation? FirstName? MiddleName? LastName? Suffix?)"
_COMM = "(Phone? Mobile? Pager? AltPhone? Fax? Email? Cc? Contact? AltContact?)"
_TAX_TAIL = (
    "SalesTaxCodeRef? SalesTaxCountry? IsSalesTaxAgency? SalesTaxReturnRef? TaxRegistrationNumber? "
    "ReportingPeriod? IsTaxTrackedOnPurchases? TaxOnPurchasesAccountRef? IsTaxTrackedOnSales? "
    "TaxOnSalesAccountRef? IsTaxOnTax? PrefillAccountRef* CurrencyRef?"
)
_ADDRESS = "(Addr1? Addr2? Addr3? Addr4? Addr5? City? State? PostalCode? Country? Note?)"
_ENTITY_FILTER = "(ListID+|FullName+|ListIDWithChildren|FullNameWithChildren)"

CONTENT_MODELS: dict[str, str] = {
    "QBXML": "(QBXMLMsgsRq)",
    "VendorQueryRq": f"((ListID+|FullName+|(({_LIST_FILTER}) TotalBalanceFilter? CurrencyFilter? ClassFilter?))? IncludeRetElement* OwnerID*)",
    "CustomerQueryRq": f"((ListID+|FullName+|(({_LIST_FILTER}) TotalBalanceFilter? CurrencyFilter? ClassFilter?))? IncludeRetElement* OwnerID*)",
    "EntityQueryRq": f"((ListID+|FullName+|({_LIST_FILTER}))? IncludeRetElement*)",
    "ClassQueryRq": f"((ListID+|FullName+|({_LIST_FILTER}))? IncludeRetElement*)",
    "EmployeeQueryRq": f"((ListID+|FullName+|({_LIST_FILTER}))? IncludeRetElement* OwnerID*)",
    "OtherNameQueryRq": f"((ListID+|FullName+|({_LIST_FILTER}))? IncludeRetElement* OwnerID*)",
    "AccountQueryRq": f"((ListID+|FullName+|(({_LIST_FILTER}) AccountType* CurrencyFilter?))? IncludeRetElement* OwnerID*)",
    "BillQueryRq": f"((TxnID+|RefNumber+|RefNumberCaseSensitive+|(({_TXN_FILTER}) PaidStatus?))? IncludeLineItems? IncludeLinkedTxns? IncludeRetElement* OwnerID*)",
    "JournalEntryQueryRq": f"((TxnID+|RefNumber+|RefNumberCaseSensitive+|({_TXN_FILTER}))? IncludeLineItems? IncludeRetElement* OwnerID*)",
    "BillPaymentCheckQueryRq": f"((TxnID+|RefNumber+|RefNumberCaseSensitive+|({_TXN_FILTER}))? IncludeLineItems? IncludeRetElement* OwnerID*)",
    "TermsQueryRq": f"((ListID+|FullName+|({_LIST_FILTER}))? IncludeRetElement*)",
    "StandardTermsQueryRq": f"((ListID+|FullName+|({_LIST_FILTER}))? IncludeRetElement*)",
    "DateDrivenTermsQueryRq": f"((ListID+|FullName+|({_LIST_FILTER}))? IncludeRetElement*)",
    "CurrencyQueryRq": f"((ListID+|FullName+|({_LIST_FILTER}))? IncludeRetElement*)",
    "BillPaymentCheckAddRq": "(BillPaymentCheckAdd IncludeRetElement*)",
    "BillToPayQueryRq": "(PayeeEntityRef APAccountRef? DueDate? CurrencyFilter? IncludeRetElement*)",
    "BillPaymentCheckAdd": (
        "(PayeeEntityRef APAccountRef? TxnDate? BankAccountRef (IsToBePrinted|RefNumber) Memo? ExchangeRate? ExternalGUID? AppliedToTxnAdd+)"
    ),
    "AppliedToTxnAdd": "(TxnID PaymentAmount? TxnLineDetail* SetCredit* DiscountAmount? DiscountAccountRef? DiscountClassRef?)",
    "HostQueryRq": "(IncludeListMetaData? IncludeRetElement*)",
    "CompanyQueryRq": "(IncludeRetElement* OwnerID*)",
    "PreferencesQueryRq": "(IncludeRetElement*)",
    "VendorAddRq": "(VendorAdd IncludeRetElement*)",
    "VendorModRq": "(VendorMod IncludeRetElement*)",
    "BillAddRq": "(BillAdd IncludeRetElement*)",
    "JournalEntryAddRq": "(JournalEntryAdd IncludeRetElement*)",
    "VendorAdd": (
        f"(Name IsActive? ClassRef? CompanyName? {_PERSON} JobTitle? VendorAddress? ShipAddress? {_COMM} "
        "AdditionalContactRef* Contacts* NameOnCheck? AccountNumber? Notes? AdditionalNotes* VendorTypeRef? "
        "TermsRef? CreditLimit? VendorTaxIdent? IsVendorEligibleFor1099? OpenBalance? OpenBalanceDate? "
        f"BillingRateRef? ExternalGUID? {_TAX_TAIL})"
    ),
    "VendorMod": (
        f"(ListID EditSequence Name? IsActive? ClassRef? CompanyName? {_PERSON} JobTitle? VendorAddress? ShipAddress? {_COMM} "
        "AdditionalContactRef* ContactsMod* NameOnCheck? AccountNumber? Notes? AdditionalNotesMod* VendorTypeRef? "
        f"TermsRef? CreditLimit? VendorTaxIdent? IsVendorEligibleFor1099? BillingRateRef? {_TAX_TAIL})"
    ),
    "BillAdd": (
        "(VendorRef VendorAddress? APAccountRef? TxnDate? DueDate? RefNumber? TermsRef? Memo? IsTaxIncluded? "
        "SalesTaxCodeRef? ExchangeRate? ExternalGUID? LinkToTxnID* ExpenseLineAdd* (ItemLineAdd|ItemGroupLineAdd)*)"
    ),
    "ExpenseLineAdd": "(AccountRef? Amount? TaxAmount? Memo? CustomerRef? ClassRef? SalesTaxCodeRef? BillableStatus? SalesRepRef? DataExt*)",
    "JournalEntryAdd": (
        "(TxnDate? RefNumber? Memo? IsAdjustment? (IsHomeCurrencyAdjustment|(IsAmountsEnteredInHomeCurrency? CurrencyRef? ExchangeRate?))? "
        "ExternalGUID? (JournalDebitLine|JournalCreditLine)+)"
    ),
    "JournalDebitLine": "(TxnLineID? AccountRef? Amount? TaxAmount? Memo? EntityRef? ClassRef? ItemSalesTaxRef? BillableStatus?)",
    "JournalCreditLine": "(TxnLineID? AccountRef? Amount? TaxAmount? Memo? EntityRef? ClassRef? ItemSalesTaxRef? BillableStatus?)",
    "VendorAddress": _ADDRESS,
    "ShipAddress": _ADDRESS,
    "NameFilter": "(MatchCriterion Name)",
    "RefNumberFilter": "(MatchCriterion RefNumber)",
    "RefNumberRangeFilter": "(FromRefNumber? ToRefNumber?)",
    "TxnDateRangeFilter": "((FromTxnDate? ToTxnDate?)|DateMacro)",
    "ModifiedDateRangeFilter": "(FromModifiedDate? ToModifiedDate?)",
    "EntityFilter": _ENTITY_FILTER,
    "AccountFilter": _ENTITY_FILTER,
}
for _ref in (
    "VendorRef",
    "APAccountRef",
    "AccountRef",
    "CustomerRef",
    "ClassRef",
    "EntityRef",
    "TermsRef",
    "VendorTypeRef",
    "SalesRepRef",
    "CurrencyRef",
    "BillingRateRef",
    "SalesTaxCodeRef",
    "ItemSalesTaxRef",
    "PayeeEntityRef",
    "BankAccountRef",
    "DiscountAccountRef",
    "DiscountClassRef",
):
    CONTENT_MODELS[_ref] = _REF

_AMT = re.compile(r"([+\-]?[0-9]{1,13}(\.[0-9]{2})?)?")
_DATE = re.compile(r"(\d{4}-\d{2}-\d{2})?")
_DATETIME = re.compile(r"([0-9]{4}\-[0-9]{1,2}\-[0-9]{1,2}(T[0-9]{1,2}(:[0-9]{1,2}(:[0-9]{1,2}([+\-]{1}[0-9]{1,2}:[0-9]{1,2})?)?)?)?)?")
_BOOL = re.compile(r"\s*(true|false|1|0)?\s*")
_INT = re.compile(r"\s*[+\-]?\d+\s*")
_FLOAT = re.compile(r"\s*[+\-]?(\d+(\.\d*)?|\.\d+)\s*")  # FLOATTYPE: xsd:decimal
_GUID = re.compile(r"0|(\{[0-9a-fA-F]{8}(\-([0-9a-fA-F]{4})){3}\-[0-9a-fA-F]{12}\})")


def _real_date(text: str) -> bool:
    try:
        dt.date.fromisoformat(text)
    except ValueError:
        return False
    return True


LEAF_TYPES: dict[str, re.Pattern[str]] = {
    "Amount": _AMT,
    "TaxAmount": _AMT,
    "CreditLimit": _AMT,
    "OpenBalance": _AMT,
    "PaymentAmount": _AMT,
    "DiscountAmount": _AMT,
    "ExchangeRate": _FLOAT,
    "IsToBePrinted": _BOOL,
    "TxnDate": _DATE,
    "DueDate": _DATE,
    "FromTxnDate": _DATE,
    "ToTxnDate": _DATE,
    "OpenBalanceDate": _DATE,
    "FromModifiedDate": _DATETIME,
    "ToModifiedDate": _DATETIME,
    "IsActive": _BOOL,
    "IsAdjustment": _BOOL,
    "IsHomeCurrencyAdjustment": _BOOL,
    "IncludeLineItems": _BOOL,
    "IncludeLinkedTxns": _BOOL,
    "IsVendorEligibleFor1099": _BOOL,
    "IsAmountsEnteredInHomeCurrency": _BOOL,
    "MaxReturned": _INT,
    "ExternalGUID": _GUID,
    "OwnerID": _GUID,
}

ENUMS: dict[str, frozenset[str]] = {
    "ActiveStatus": frozenset({"ActiveOnly", "InactiveOnly", "All"}),
    "MatchCriterion": frozenset({"StartsWith", "Contains", "EndsWith"}),
    "BillableStatus": frozenset({"Billable", "NotBillable", "HasBeenBilled"}),
    "PaidStatus": frozenset({"All", "PaidOnly", "NotPaidOnly"}),
    "AccountType": frozenset(
        {
            "AccountsPayable",
            "AccountsReceivable",
            "Bank",
            "CostOfGoodsSold",
            "CreditCard",
            "Equity",
            "Expense",
            "FixedAsset",
            "Income",
            "LongTermLiability",
            "NonPosting",
            "OtherAsset",
            "OtherCurrentAsset",
            "OtherCurrentLiability",
            "OtherExpense",
            "OtherIncome",
        }
    ),
}

# (parent or "*", element) -> max length, as the XSD states them (IDTYPE = 36, IncludeRetElement = 50).
MAX_LENGTHS: dict[tuple[str, str], int] = {
    ("*", "ListID"): 36,
    ("*", "TxnID"): 36,
    ("*", "TxnLineID"): 36,
    ("*", "IncludeRetElement"): 50,
    ("VendorAdd", "Name"): 41,
    ("VendorMod", "Name"): 41,
    ("*", "CompanyName"): 41,
    ("*", "Salutation"): 15,
    ("*", "FirstName"): 25,
    ("*", "MiddleName"): 5,
    ("*", "LastName"): 25,
    ("*", "JobTitle"): 41,
    ("*", "Addr1"): 41,
    ("*", "Addr2"): 41,
    ("*", "Addr3"): 41,
    ("*", "Addr4"): 41,
    ("*", "Addr5"): 41,
    ("*", "City"): 31,
    ("*", "State"): 21,
    ("*", "PostalCode"): 13,
    ("*", "Country"): 31,
    ("*", "Note"): 41,
    ("*", "Phone"): 21,
    ("*", "AltPhone"): 21,
    ("*", "Fax"): 21,
    ("*", "Email"): 1023,
    ("*", "Cc"): 1023,
    ("*", "Contact"): 41,
    ("*", "AltContact"): 41,
    ("*", "NameOnCheck"): 41,
    ("*", "AccountNumber"): 99,
    ("*", "Notes"): 4095,
    ("*", "VendorTaxIdent"): 15,
    ("*", "EditSequence"): 16,
    ("*", "Memo"): 4095,
    ("BillAdd", "RefNumber"): 20,
    ("JournalEntryAdd", "RefNumber"): 11,
    ("BillPaymentCheckAdd", "RefNumber"): 11,
    ("PayeeEntityRef", "FullName"): 209,
    ("BankAccountRef", "FullName"): 159,
    ("VendorRef", "FullName"): 41,
    ("APAccountRef", "FullName"): 159,
    ("AccountRef", "FullName"): 159,
    ("ClassRef", "FullName"): 159,
    ("CustomerRef", "FullName"): 209,
    ("EntityRef", "FullName"): 209,
    ("VendorTypeRef", "FullName"): 159,
    ("PrefillAccountRef", "FullName"): 159,
    ("TermsRef", "FullName"): 31,
    ("BillingRateRef", "FullName"): 31,
    ("ItemSalesTaxRef", "FullName"): 31,
    ("SalesRepRef", "FullName"): 5,
    ("CurrencyRef", "FullName"): 64,
    ("SalesTaxCodeRef", "FullName"): 3,
}


@cache
def _compiled(model: str) -> re.Pattern[str]:
    rx = re.sub(r"[A-Za-z][A-Za-z0-9]*", lambda m: f"<{m.group(0)}>", model)
    rx = rx.replace("(", "(?:").replace(" ", "")
    return re.compile(re.sub(r"<([A-Za-z0-9]+)>", r"(?:\1,)", rx))


def fallback_problem(root: etree._Element) -> str:
    """First structural problem the built-in subset finds, or ``""``."""
    if root.tag != "QBXML":
        return f"root element {root.tag!r}"
    msgs = [c for c in root if isinstance(c.tag, str)]
    if len(msgs) != 1 or msgs[0].tag != "QBXMLMsgsRq":
        return "QBXML must hold one QBXMLMsgsRq"
    msgs_rq = msgs[0]
    if msgs_rq.get("onError") not in ("stopOnError", "continueOnError", "rollbackOnError"):
        return "QBXMLMsgsRq/@onError missing or invalid"
    for el in root.iter():
        if not isinstance(el.tag, str):
            continue
        children = [c for c in el if isinstance(c.tag, str)]
        text = (el.text or "") if not children else ""
        model = CONTENT_MODELS.get(el.tag)
        if (children or model is not None) and (el.text or "").strip():
            return f"{el.tag}: text where only elements belong"
        if model is not None:
            sequence = "".join(f"{c.tag}," for c in children)
            if not _compiled(model).fullmatch(sequence):
                return f"{el.tag}: children {[c.tag for c in children]} do not match {model}"
        elif el is not msgs_rq and el.tag.endswith("Rq") and el.getparent() is msgs_rq:
            continue  # a request type the subset does not cover: left to QuickBooks' runtime checks
        if children:
            continue
        pattern = LEAF_TYPES.get(el.tag)
        if pattern is not None and not pattern.fullmatch(text):
            return f"{el.tag}: {text!r} is not a valid value"
        if pattern is _DATE and text and not _real_date(text):
            return f"{el.tag}: {text!r} is not a date"
        allowed = ENUMS.get(el.tag)
        if allowed is not None and text not in allowed:
            return f"{el.tag}: {text!r} is not one of the allowed values"
        parent = el.getparent()
        limit = MAX_LENGTHS.get((parent.tag if parent is not None else "", el.tag)) or MAX_LENGTHS.get(("*", el.tag))
        if limit is not None and len(text) > limit:
            return f"{el.tag}: longer than {limit}"
    return ""
