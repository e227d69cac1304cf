"""A realistic small consulting company to post into: chart of accounts, classes, customer:jobs,
a few employees and other names (so vendor names can collide, 3100), some existing vendors, the
Terms list QuickBooks creates in a new file, and a Currency list (used when multicurrency is on).

Also the things a person does in QuickBooks by hand (``key_bill_by_hand``, ``pay_bill_by_hand``),
so tests can put a hand-keyed bill or a hand-paid bill into the file the same way QuickBooks would
(through the same rules as any request)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any
from xml.sax.saxutils import escape

from sim.quickbooks.engine import CURRENCY_ACCOUNT_TYPES, CompanyFile
from sim.quickbooks.messages import message_set
from sim.quickbooks.state import CompanyState

# (FullName, AccountType, AccountNumber)
CHART_OF_ACCOUNTS: tuple[tuple[str, str, str], ...] = (
    ("Checking", "Bank", "10100"),
    ("Savings", "Bank", "10200"),
    ("Concur Clearing", "Bank", "10300"),  # funded by Concur's Expense Pay / Invoice Pay debits
    ("Accounts Receivable", "AccountsReceivable", "11000"),
    ("Employee Advances", "OtherCurrentAsset", "12100"),
    ("Accounts Payable", "AccountsPayable", "20000"),
    ("Company Card", "CreditCard", "20500"),
    ("Corporate Card Clearing", "OtherCurrentLiability", "21000"),
    ("Employee Reimbursements Payable", "OtherCurrentLiability", "21100"),
    ("Opening Balance Equity", "Equity", "30000"),
    ("Consulting Income", "Income", "40100"),
    ("Reimbursed Expenses", "Income", "40500"),
    ("Travel", "Expense", "62400"),
    ("Travel:Airfare", "Expense", "62410"),
    ("Travel:Hotel", "Expense", "62420"),
    ("Travel:Meals", "Expense", "62430"),
    ("Travel:Ground Transportation", "Expense", "62440"),
    ("Travel:Mileage", "Expense", "62450"),
    ("Office Supplies", "Expense", "64900"),
    ("Meals and Entertainment", "Expense", "64300"),
    ("Professional Fees", "Expense", "66700"),
    ("Software", "Expense", "66900"),
    ("Telephone Expense", "Expense", "68100"),
    ("Training", "Expense", "68300"),
    ("Postage and Delivery", "Expense", "64800"),
    ("Dues and Subscriptions", "Expense", "62100"),
    ("Bank Service Charges", "Expense", "60400"),
    ("Ask My Accountant", "OtherExpense", "80000"),
    ("Old Marketing", "Expense", "69900"),  # inactive: references to it give 3140
)
INACTIVE_ACCOUNTS = frozenset({"Old Marketing"})

CLASSES = ("Consulting", "Sales", "Admin", "Engineering", "Marketing", "Retired Projects")
INACTIVE_CLASSES = frozenset({"Retired Projects"})

CUSTOMERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Client A", ("Project X", "Project Y")),
    ("Client B", ("Implementation", "Support Retainer")),
    ("Northwind Traders", ("Audit 2024",)),
    ("Contoso Ltd", ()),
)
EMPLOYEES = (("Jane Doe", "Jane", "Doe"), ("John Smith", "John", "Smith"), ("Maria Garcia", "Maria", "Garcia"))
OTHER_NAMES = ("Petty Cash", "Jordan Lee")
# The terms a new QuickBooks company file starts with (Lists > Customer & Vendor Profile Lists >
# Terms): (Name, StdDueDays, StdDiscountDays, DiscountPct). "Net 90" is inactive here on purpose.
STANDARD_TERMS: tuple[tuple[str, int, int | None, str | None], ...] = (
    ("Due on receipt", 0, None, None),
    ("Net 15", 15, None, None),
    ("Net 30", 30, None, None),
    ("Net 60", 60, None, None),
    ("1% 10 Net 30", 30, 10, "1.0"),
    ("2% 10 Net 30", 30, 10, "2.0"),
    ("Net 90", 90, None, None),
)
INACTIVE_TERMS = frozenset({"Net 90"})
# (Name, DayOfMonthDue, DueNextMonthDays)
DATE_DRIVEN_TERMS: tuple[tuple[str, int, int], ...] = (("Due 10th of month", 10, 5),)
# (Name, CurrencyCode, US dollars per unit): QuickBooks' currency names; rates are illustrative.
CURRENCIES: tuple[tuple[str, str, str], ...] = (
    ("US Dollar", "USD", "1"),
    ("Euro", "EUR", "1.0842"),
    ("British Pound Sterling", "GBP", "1.2710"),
    ("Canadian Dollar", "CAD", "0.7350"),
    ("Japanese Yen", "JPY", "0.0067"),
)
# In a multicurrency file: A/P and bank accounts per foreign currency, and vendors billing in them.
FOREIGN_ACCOUNTS: tuple[tuple[str, str, str, str], ...] = (
    ("Accounts Payable - EUR", "AccountsPayable", "20010", "Euro"),
    ("Accounts Payable - GBP", "AccountsPayable", "20020", "British Pound Sterling"),
    ("Checking EUR", "Bank", "10150", "Euro"),
)
FOREIGN_VENDORS: tuple[tuple[str, str], ...] = (("Lufthansa", "Euro"), ("Savoy Hotel London", "British Pound Sterling"))
# Vendor code (AccountNumber) and remit-to address on some vendors, as a bookkeeper would keep them.
VENDOR_DETAILS: dict[str, dict[str, Any]] = {
    "Acme Travel LLC": {
        "AccountNumber": "V-1001",
        "VendorAddress": {"Addr1": "Acme Travel LLC", "Addr2": "PO Box 4410", "City": "Portland", "State": "OR", "PostalCode": "97208"},
    },
    "Office Depot": {"AccountNumber": "V-1002"},
}
VENDORS = (
    ("Acme Travel LLC", True),
    ("Office Depot", True),
    ("Delta Air Lines", True),
    ("Marriott Hotels", True),
    ("Old Caterer Inc", False),  # inactive vendor: name still taken (3100), bills to it refused (3140)
)


def seed_company(
    file_id: str,
    owner_id: str,
    *,
    company_name: str = "Demo Consulting LLC",
    closing_date: str | None = None,
    multicurrency: bool = False,
    home_currency: str = "US Dollar",
    class_tracking: bool = True,
    account_numbers: bool = False,
    country: str = "US",
    now: Callable[[], dt.datetime] | None = None,
    **kwargs: Any,
) -> CompanyFile:
    """A new company file whose FileID data extension (under ``owner_id``) is ``file_id``.

    Accounts always carry their numbers (QuickBooks keeps a number typed while the preference was
    on); ``account_numbers`` is the preference IsUsingAccountNumbers. ``multicurrency`` gives every
    vendor and account the home currency, and adds FOREIGN_ACCOUNTS and FOREIGN_VENDORS."""
    state = CompanyState(
        company_name=company_name,
        closing_date=closing_date,
        multicurrency=multicurrency,
        home_currency=home_currency,
        class_tracking=class_tracking,
        account_numbers=account_numbers,
        country=country,
        file_path=rf"C:\Users\Public\Documents\Intuit\QuickBooks\Company Files\{company_name}.QBW",
    )
    state.data_ext[owner_id.upper()] = {"FileID": file_id}
    cf = CompanyFile(state, now=now, **kwargs)
    for full_name, atype, number in CHART_OF_ACCOUNTS:
        parent, _, name = full_name.rpartition(":")
        cf.add_list_record(
            "Account",
            name,
            parent or None,
            AccountType=atype,
            AccountNumber=number,
            IsActive=full_name not in INACTIVE_ACCOUNTS,
            CashFlowClassification="Operating" if atype in ("Expense", "AccountsPayable", "CreditCard") else "None",
        )
    for name in CLASSES:
        cf.add_list_record("Class", name, IsActive=name not in INACTIVE_CLASSES)
    for customer, jobs in CUSTOMERS:
        cf.add_list_record("Customer", customer, CompanyName=customer, JobStatus="None")
        for job in jobs:
            cf.add_list_record("Customer", job, customer, JobStatus="InProgress")
    for name, first, last in EMPLOYEES:
        cf.add_list_record("Employee", name, FirstName=first, LastName=last, EmployeeType="Regular")
    for name in OTHER_NAMES:
        cf.add_list_record("OtherName", name)
    for name, active in VENDORS:
        cf.add_list_record(
            "Vendor",
            name,
            IsActive=active,
            IsTaxAgency=False,
            CompanyName=name,
            NameOnCheck=name,
            IsVendorEligibleFor1099=False,
            **VENDOR_DETAILS.get(name, {}),
        )
    _seed_terms_and_currencies(cf)
    if multicurrency:
        turn_on_multicurrency(cf)
    return cf


def _seed_terms_and_currencies(cf: CompanyFile) -> None:
    for name, due, discount_days, pct in STANDARD_TERMS:
        extra: dict[str, Any] = {"StdDueDays": due}
        if discount_days is not None:
            extra.update(StdDiscountDays=discount_days, DiscountPct=pct)
        cf.add_list_record("StandardTerms", name, IsActive=name not in INACTIVE_TERMS, **extra)
    for name, day, next_month in DATE_DRIVEN_TERMS:
        cf.add_list_record("DateDrivenTerms", name, DayOfMonthDue=day, DueNextMonthDays=next_month)
    usd = {name: Decimal(rate) for name, _, rate in CURRENCIES}
    home = cf.state.home_currency
    as_of = cf.now().date().isoformat()
    for name, code, _ in CURRENCIES:
        extra = {"CurrencyCode": code, "IsUserDefinedCurrency": False}
        if name != home and home in usd:
            # ExchangeRate: home-currency units per unit of this currency.
            extra.update(ExchangeRate=str((usd[name] / usd[home]).quantize(Decimal("0.000001"))), AsOfDate=as_of)
        cf.add_list_record("Currency", name, **extra)


def turn_on_multicurrency(cf: CompanyFile) -> None:
    """Preferences > Multiple Currencies > "Yes, I use more than one currency" (one-way in
    QuickBooks): every existing name and account is in the home currency from then on. Adds the
    FOREIGN_ACCOUNTS and FOREIGN_VENDORS to bill in."""
    cf.state.multicurrency = True
    home = cf.find_list("Currency", cf.state.home_currency)
    if home is None:
        raise KeyError(cf.state.home_currency)
    for rec in cf.state.lists["Account"] + cf.state.lists["Vendor"]:
        rec["CurrencyRef"] = {"ListID": home["ListID"]}

    def _currency_ref(cf: Any, name: str) -> dict[str, Any]:
        found = cf.find_list("Currency", name)
        if found is None:
            raise KeyError(name)
        return {"ListID": found["ListID"]}

    for name, atype, number, currency in FOREIGN_ACCOUNTS:
        cf.add_list_record(
            "Account",
            name,
            AccountType=atype,
            AccountNumber=number,
            CashFlowClassification="Operating",
            CurrencyRef=_currency_ref(cf, currency),
        )
    for name, currency in FOREIGN_VENDORS:
        cf.add_list_record(
            "Vendor",
            name,
            IsTaxAgency=False,
            CompanyName=name,
            NameOnCheck=name,
            IsVendorEligibleFor1099=False,
            CurrencyRef=_currency_ref(cf, currency),
        )
    assert all(a.get("AccountType") not in CURRENCY_ACCOUNT_TYPES or a.get("CurrencyRef") for a in cf.state.lists["Account"])


# --- what a person does in QuickBooks by hand ------------------------------------------------


def _run_one(cf: CompanyFile, body: str) -> dict[str, Any]:
    """Run one request as the QuickBooks UI would save it; the stored record, or ValueError."""
    from lxml import etree

    rs = etree.fromstring(cf.execute(message_set(body)).encode()).find("QBXMLMsgsRs")[0]  # type: ignore[index]
    if rs.get("statusCode") != "0":
        raise ValueError(f"{rs.get('statusCode')}: {rs.get('statusMessage')}")
    txn_id = rs[0].findtext("TxnID")
    kind = rs.tag[: -len("AddRs")]
    return next(t for t in cf.state.txns[kind] if t["TxnID"] == txn_id)


def key_bill_by_hand(cf: CompanyFile, vendor: str, ref_number: str, txn_date: str, lines: tuple[tuple[str, str], ...], memo: str = "") -> dict[str, Any]:
    """A bill a bookkeeper typed in Enter Bills: no ExternalGUID, no connector memo.
    ``lines`` are (account FullName, amount)."""
    expense = "".join(f"<ExpenseLineAdd><AccountRef><FullName>{escape(a)}</FullName></AccountRef><Amount>{amt}</Amount></ExpenseLineAdd>" for a, amt in lines)
    body = (
        f"<BillAddRq><BillAdd><VendorRef><FullName>{escape(vendor)}</FullName></VendorRef><TxnDate>{txn_date}</TxnDate>"
        f"<RefNumber>{escape(ref_number)}</RefNumber>{f'<Memo>{escape(memo)}</Memo>' if memo else ''}{expense}</BillAdd></BillAddRq>"
    )
    return _run_one(cf, body)


def pay_bill_by_hand(
    cf: CompanyFile, bill_txn_id: str, amount: str | None = None, bank: str = "Checking", txn_date: str | None = None, check_number: str = "1001"
) -> dict[str, Any]:
    """Pay Bills by check in QuickBooks: ``amount`` None pays the whole open balance."""
    bill = next(b for b in cf.state.txns["Bill"] if b["TxnID"] == bill_txn_id)
    vendor = cf.ref_name(bill["VendorRef"])
    paid = f"<PaymentAmount>{amount}</PaymentAmount>" if amount is not None else ""
    body = (
        f"<BillPaymentCheckAddRq><BillPaymentCheckAdd><PayeeEntityRef><FullName>{escape(vendor)}</FullName></PayeeEntityRef>"
        f"<TxnDate>{txn_date or bill['TxnDate']}</TxnDate><BankAccountRef><FullName>{escape(bank)}</FullName></BankAccountRef>"
        f"<RefNumber>{check_number}</RefNumber><AppliedToTxnAdd><TxnID>{bill_txn_id}</TxnID>{paid}</AppliedToTxnAdd>"
        "</BillPaymentCheckAdd></BillPaymentCheckAddRq>"
    )
    return _run_one(cf, body)
