"""Turning stored records into ``*Ret`` elements in QuickBooks' element order (qbXML 13.0 XSD
sequences; the real responses in the reference folder follow the same order), and laying out
a response message set the way QuickBooks prints it."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from lxml import etree

_LIST_CORE = ["ListID", "TimeCreated", "TimeModified", "EditSequence"]
_TXN_CORE = ["TxnID", "TimeCreated", "TimeModified", "EditSequence", "TxnNumber"]
_PERSON = ["Salutation", "FirstName", "MiddleName", "LastName", "Suffix"]
_COMM = ["Phone", "Mobile", "Pager", "AltPhone", "Fax", "Email", "Cc", "Contact", "AltContact"]

RET_ORDER: dict[str, list[str]] = {
    "Account": _LIST_CORE
    + [
        "Name",
        "FullName",
        "IsActive",
        "ParentRef",
        "Sublevel",
        "AccountType",
        "DetailAccountType",
        "SpecialAccountType",
        "IsTaxAccount",
        "AccountNumber",
        "BankNumber",
        "LastCheckNumber",
        "Desc",
        "Balance",
        "TotalBalance",
        "SalesTaxCodeRef",
        "TaxLineInfoRet",
        "CashFlowClassification",
        "CurrencyRef",
    ],
    "Class": _LIST_CORE + ["Name", "FullName", "IsActive", "ParentRef", "Sublevel"],
    "Customer": _LIST_CORE
    + [
        "Name",
        "FullName",
        "IsActive",
        "ClassRef",
        "ParentRef",
        "Sublevel",
        "CompanyName",
        *_PERSON,
        "JobTitle",
        "BillAddress",
        "BillAddressBlock",
        "ShipAddress",
        "ShipAddressBlock",
        "PrintAs",
        *_COMM,
        "CustomerTypeRef",
        "TermsRef",
        "SalesRepRef",
        "Balance",
        "TotalBalance",
        "SalesTaxCodeRef",
        "ResaleNumber",
        "AccountNumber",
        "CreditLimit",
        "JobStatus",
        "JobStartDate",
        "JobProjectedEndDate",
        "JobEndDate",
        "JobDesc",
        "JobTypeRef",
        "Notes",
        "IsStatementWithParent",
        "DeliveryMethod",
        "PreferredDeliveryMethod",
        "PriceLevelRef",
        "ExternalGUID",
        "CurrencyRef",
    ],
    "Vendor": _LIST_CORE
    + [
        "Name",
        "IsActive",
        "ClassRef",
        "IsTaxAgency",
        "CompanyName",
        *_PERSON,
        "JobTitle",
        "VendorAddress",
        "VendorAddressBlock",
        "ShipAddress",
        *_COMM,
        "AdditionalContactRef",
        "NameOnCheck",
        "AccountNumber",
        "Notes",
        "VendorTypeRef",
        "TermsRef",
        "CreditLimit",
        "VendorTaxIdent",
        "IsVendorEligibleFor1099",
        "Balance",
        "BillingRateRef",
        "ExternalGUID",
        "PrefillAccountRef",
        "CurrencyRef",
    ],
    "Employee": _LIST_CORE
    + [
        "Name",
        "IsActive",
        *_PERSON,
        "JobTitle",
        "SupervisorRef",
        "Department",
        "Description",
        "EmployeeAddress",
        "PrintAs",
        "Phone",
        "Mobile",
        "Pager",
        "AltPhone",
        "Fax",
        "Email",
        "EmployeeType",
        "AccountNumber",
        "Notes",
        "BillingRateRef",
        "ExternalGUID",
    ],
    "OtherName": _LIST_CORE
    + [
        "Name",
        "IsActive",
        "CompanyName",
        "Salutation",
        "FirstName",
        "MiddleName",
        "LastName",
        "OtherNameAddress",
        "OtherNameAddressBlock",
        "Phone",
        "AltPhone",
        "Fax",
        "Email",
        "Contact",
        "AltContact",
        "AccountNumber",
        "Notes",
        "ExternalGUID",
    ],
    "Bill": _TXN_CORE
    + [
        "VendorRef",
        "VendorAddress",
        "APAccountRef",
        "TxnDate",
        "DueDate",
        "AmountDue",
        "CurrencyRef",
        "ExchangeRate",
        "AmountDueInHomeCurrency",
        "RefNumber",
        "TermsRef",
        "Memo",
        "IsPaid",
        "ExternalGUID",
        "LinkedTxn",
        "ExpenseLineRet",
        "OpenAmount",
    ],
    "StandardTerms": _LIST_CORE + ["Name", "IsActive", "StdDueDays", "StdDiscountDays", "DiscountPct"],
    "DateDrivenTerms": _LIST_CORE + ["Name", "IsActive", "DayOfMonthDue", "DueNextMonthDays", "DiscountDayOfMonth", "DiscountPct"],
    "Currency": _LIST_CORE + ["Name", "IsActive", "CurrencyCode", "CurrencyFormat", "IsUserDefinedCurrency", "ExchangeRate", "AsOfDate"],
    "BillPaymentCheck": _TXN_CORE
    + [
        "PayeeEntityRef",
        "APAccountRef",
        "TxnDate",
        "BankAccountRef",
        "Amount",
        "CurrencyRef",
        "ExchangeRate",
        "AmountInHomeCurrency",
        "RefNumber",
        "Memo",
        "Address",
        "AddressBlock",
        "IsToBePrinted",
        "ExternalGUID",
        "AppliedToTxnRet",
    ],
    "JournalEntry": _TXN_CORE
    + [
        "TxnDate",
        "RefNumber",
        "Memo",
        "IsAdjustment",
        "IsHomeCurrencyAdjustment",
        "IsAmountsEnteredInHomeCurrency",
        "CurrencyRef",
        "ExchangeRate",
        "ExternalGUID",
        "Lines",
    ],
}

LINE_ORDER: dict[str, list[str]] = {
    "ExpenseLineRet": ["TxnLineID", "AccountRef", "Amount", "Memo", "CustomerRef", "ClassRef", "BillableStatus"],
    "JournalDebitLine": ["TxnLineID", "AccountRef", "Amount", "Memo", "EntityRef", "ClassRef", "BillableStatus"],
    "JournalCreditLine": ["TxnLineID", "AccountRef", "Amount", "Memo", "EntityRef", "ClassRef", "BillableStatus"],
}

REF_KEYS = frozenset(
    {
        "ParentRef",
        "ClassRef",
        "VendorRef",
        "APAccountRef",
        "AccountRef",
        "CustomerRef",
        "EntityRef",
        "TermsRef",
        "CurrencyRef",
        "VendorTypeRef",
        "PayeeEntityRef",
        "BankAccountRef",
        "SalesRepRef",
        "PrefillAccountRef",
        "BillingRateRef",
        "SupervisorRef",
    }
)

Resolver = Callable[[dict[str, Any]], dict[str, str]]


def text_of(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def add_value(parent: etree._Element, key: str, value: Any, resolve: Resolver) -> None:
    """Append ``<key>`` for a scalar, an aggregate (dict, in its own key order) or a repeat (list)."""
    if value is None:
        return
    if isinstance(value, list):
        for item in value:
            add_value(parent, key, item, resolve)
        return
    el = etree.SubElement(parent, key)
    if isinstance(value, dict):
        if key in REF_KEYS:
            value = resolve(value)
        for k, v in value.items():
            if not k.startswith("_"):
                add_value(el, k, v, resolve)
    else:
        el.text = text_of(value)


def build_ret(ret_tag: str, kind: str, record: dict[str, Any], resolve: Resolver, include: Iterable[str] = (), with_lines: bool = True) -> etree._Element:
    """``include`` is IncludeRetElement: when given, only those top-level elements are returned."""
    wanted = set(include)
    ret = etree.Element(ret_tag)
    for key in RET_ORDER[kind]:
        if key == "Lines" or key == "ExpenseLineRet":
            if not with_lines or (wanted and key not in wanted and "Lines" not in wanted and not wanted & {"JournalDebitLine", "JournalCreditLine"}):
                continue
            for line in record.get(key, []) if key == "ExpenseLineRet" else record.get("Lines", []):
                tag = key if key == "ExpenseLineRet" else line["_tag"]
                line_el = etree.SubElement(ret, tag)
                for lk in LINE_ORDER[tag]:
                    add_value(line_el, lk, line.get(lk), resolve)
            continue
        if wanted and key not in wanted:
            continue
        add_value(ret, key, record.get(key), resolve)
    return ret


def layout(root: etree._Element) -> str:
    """QuickBooks prints one element per line, no indentation, after ``<?xml version="1.0" ?>``."""
    for el in root.iter():
        if len(el):
            el.text = "\n"
        el.tail = "\n"
    root.tail = None
    return '<?xml version="1.0" ?>\n' + etree.tostring(root, encoding="unicode") + "\n"
