"""A realistic small consulting company to post into: chart of accounts, classes, customer:jobs,
a few employees and other names (so vendor names can collide, 3100), and some existing vendors."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from sim.quickbooks.engine import CompanyFile
from sim.quickbooks.state import CompanyState

# (FullName, AccountType, AccountNumber)
CHART_OF_ACCOUNTS: tuple[tuple[str, str, str], ...] = (
    ("Checking", "Bank", "10100"),
    ("Savings", "Bank", "10200"),
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
VENDORS = (
    ("Acme Travel LLC", True), ("Office Depot", True), ("Delta Air Lines", True), ("Marriott Hotels", True),
    ("Old Caterer Inc", False),  # inactive vendor: name still taken (3100), bills to it refused (3140)
)


def seed_company(file_id: str, owner_id: str, *, company_name: str = "Demo Consulting LLC",
                 closing_date: str | None = None, multicurrency: bool = False, home_currency: str = "US Dollar",
                 class_tracking: bool = True, now: Callable[[], dt.datetime] | None = None,
                 **kwargs: Any) -> CompanyFile:
    """A new company file whose FileID data extension (under ``owner_id``) is ``file_id``."""
    state = CompanyState(company_name=company_name, closing_date=closing_date, multicurrency=multicurrency,
                         home_currency=home_currency, class_tracking=class_tracking,
                         file_path=rf"C:\Users\Public\Documents\Intuit\QuickBooks\Company Files\{company_name}.QBW")
    state.data_ext[owner_id.upper()] = {"FileID": file_id}
    cf = CompanyFile(state, now=now, **kwargs)
    for full_name, atype, number in CHART_OF_ACCOUNTS:
        parent, _, name = full_name.rpartition(":")
        cf.add_list_record("Account", name, parent or None, AccountType=atype, AccountNumber=number,
                           IsActive=full_name not in INACTIVE_ACCOUNTS,
                           CashFlowClassification="Operating" if atype in ("Expense", "AccountsPayable", "CreditCard") else "None")
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
        cf.add_list_record("Vendor", name, IsActive=active, IsTaxAgency=False, CompanyName=name,
                           NameOnCheck=name, IsVendorEligibleFor1099=False)
    return cf
