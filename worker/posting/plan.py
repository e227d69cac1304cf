"""From one approved Concur document to the QuickBooks transactions that post it: a pure function.

``plan_document`` takes the document, the company's config, what QuickBooks told us about itself
(preferences, lists, vendors) and the stored vendor links, and returns one of:

* ``Plan``: the vendor to use, create or reactivate, the BillAdd/JournalEntryAdd values (qbXML is
  built from them elsewhere) and the human-readable decisions behind them;
* ``Hold``: a person or a config change is needed; the reason says what, naming every problem
  found (all unmapped codes, all missing accounts) so one fix releases it;
* ``NotPostable``: the document is not for posting (not approved, nothing to post); the caller
  marks it ``skipped``.

Money: lines come from allocation amounts (``split.py``) and sum exactly to the document total;
a journal entry is balanced by construction and checked before it is returned.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
from collections.abc import Iterable, Mapping, Sized
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from shared.config import CompanyConfig, PostingConfig
from shared.domain import Allocation, Document, Expense, ExpenseReport, Invoice, InvoiceLine, Itemization
from shared.types import cents
from worker.posting.keys import bill_ref_number, external_guid, invoice_memo, invoice_ref_number, journal_ref_number, report_memo
from worker.posting.mapping import Dimensions, Resolver
from worker.posting.split import SplitError, allocation_split, split_amount
from worker.posting.vendors import (
    CreateVendor,
    ReactivateVendor,
    UseVendor,
    VendorAction,
    VendorCandidate,
    VendorDirectory,
    VendorHold,
    decide_vendor,
    employee_candidate,
    invoice_vendor_candidate,
)
from worker.qbxml import limits
from worker.qbxml.facts import currency_name
from worker.qbxml.model import BillableStatus, BillAdd, ExpenseLine, JournalEntryAdd, JournalLine, Ref

ZERO = Decimal("0.00")

# The ``kind`` part of each transaction's identity (keys.py): one document can yield two
# transactions (a bill and a company-card journal entry) and each needs its own keys.
KIND_REPORT_JE = "expense_report:journal_entry"
KIND_REPORT_BILL = "expense_report:bill"
KIND_REPORT_CARD_JE = "expense_report:company_card"
KIND_INVOICE_BILL = "invoice:bill"


# --- inputs ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class QuickBooksFacts:
    """From the Web Connector's host/company/preferences answers; None = not known yet."""

    home_currency: str | None = None
    multicurrency: bool = False
    class_tracking: bool = True
    closing_date: dt.date | None = None


@dataclass(frozen=True)
class AccountMatch:
    """What a configured account (a full name, or an account number) is in QuickBooks: the
    FullName to send, the number it was found by (None when named by full name), or why it
    cannot be used."""

    full_name: str
    number: str | None = None
    problem: str | None = None


@dataclass(frozen=True)
class ListsView:
    """Accounts, classes and customer:jobs as cached from QuickBooks: case-folded FullName ->
    is_active. ``None`` for a list means it has not been synced yet: then nothing is held for
    it and QuickBooks' own answer (3140) reports a missing reference.

    ``account_numbers``: AccountNumber -> the FullNames of the accounts that carry it (None: not
    known); ``numbers_in_use``: the company file's preference IsUsingAccountNumbers (None: not
    known yet)."""

    accounts: Mapping[str, bool] | None = None
    classes: Mapping[str, bool] | None = None
    customers: Mapping[str, bool] | None = None
    account_numbers: Mapping[str, tuple[str, ...]] | None = None
    numbers_in_use: bool | None = None
    terms: Mapping[str, bool] | None = None
    # The Currency list: ISO code -> QuickBooks' currency name ("EUR" -> "Euro"). None = not synced
    # (or no multicurrency: the list is then empty).
    currencies: Mapping[str, str] | None = None

    @classmethod
    def of(
        cls,
        accounts: Mapping[str, bool] | Iterable[str] | None = None,
        classes: Mapping[str, bool] | Iterable[str] | None = None,
        customers: Mapping[str, bool] | Iterable[str] | None = None,
        numbers: Mapping[str, str] | None = None,
        numbers_in_use: bool | None = None,
        terms: Mapping[str, bool] | Iterable[str] | None = None,
        currencies: Mapping[str, str] | None = None,
    ) -> ListsView:
        """Build from FullName -> is_active mappings (or plain iterables of active names), and
        ``numbers``: account FullName -> its AccountNumber."""

        def fold(items: Mapping[str, bool] | Iterable[str] | None) -> dict[str, bool] | None:
            if items is None:
                return None
            pairs = items.items() if isinstance(items, Mapping) else ((name, True) for name in items)
            return {name.casefold(): bool(active) for name, active in pairs}

        by_number: dict[str, tuple[str, ...]] | None = None
        if numbers is not None:
            by_number = {}
            for name, number in numbers.items():
                if number.strip():
                    by_number[number.strip()] = (*by_number.get(number.strip(), ()), name)
        codes = {code.strip().upper(): name for code, name in currencies.items()} if currencies is not None else None
        return cls(fold(accounts), fold(classes), fold(customers), by_number, numbers_in_use, fold(terms), codes)

    def account(self, value: str) -> AccountMatch:
        """A configured account: its full name first (an account may be named "6110"), then its
        number. A number must belong to exactly one active account, in a company file that uses
        account numbers (with the preference off QuickBooks hides numbers, and one kept from
        before is not something the bookkeeper sees)."""
        if self.accounts is None:
            return AccountMatch(value)
        active = self.accounts.get(value.casefold())
        if active is not None:
            return AccountMatch(value, None, None if active else f'account "{value}" is inactive in QuickBooks')
        number = value.strip()
        owners = (self.account_numbers or {}).get(number, ())
        if not owners:
            unknown = f'account "{value}" does not exist in QuickBooks'
            return AccountMatch(value, None, unknown + (" (no account has that full name or number)" if self.account_numbers is not None else ""))
        if self.numbers_in_use is False:
            return AccountMatch(
                value,
                None,
                f'account "{value}" is the number of "{owners[0]}", but the company file does not use account numbers (QuickBooks preference "Use account numbers" is off): name the account by its full name, or turn the preference on',
            )
        live = [name for name in owners if self.accounts.get(name.casefold())]
        if len(live) == 1:
            return AccountMatch(live[0], number)
        if not live:
            return AccountMatch(value, None, f'account number {number} is on inactive account "{owners[0]}" in QuickBooks')
        return AccountMatch(value, None, f"account number {number} is on {len(live)} active accounts in QuickBooks ({', '.join(live)})")

    def number_of(self, full_name: str) -> str | None:
        """The AccountNumber of an account, when the company file uses account numbers."""
        if not self.numbers_in_use or not self.account_numbers:
            return None
        folded = full_name.casefold()
        return next((number for number, names in self.account_numbers.items() if any(n.casefold() == folded for n in names)), None)

    def problem(self, list_name: str, full_name: str) -> str | None:
        """Why ``full_name`` cannot be referenced, or None when it can (or we cannot tell)."""
        if list_name == "account":
            return self.account(full_name).problem
        table = {"class": self.classes, "customer:job": self.customers, "terms": self.terms}[list_name]
        if table is None:
            return None
        active = table.get(full_name.casefold())
        if active is None:
            return f'{list_name} "{full_name}" does not exist in QuickBooks'
        if not active:
            return f'{list_name} "{full_name}" is inactive in QuickBooks'
        return None


# --- outputs --------------------------------------------------------------------------------

Transaction = BillAdd | JournalEntryAdd


@dataclass(frozen=True)
class Plan:
    vendor_action: VendorAction | None
    transactions: tuple[Transaction, ...]
    total: Decimal
    decisions: list[str] = field(default_factory=list)

    @property
    def vendor_name(self) -> str:
        return self.vendor_action.name if self.vendor_action is not None else ""


@dataclass(frozen=True)
class Hold:
    reason: str
    decisions: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class NotPostable:
    reason: str
    decisions: list[str] = field(default_factory=list)


PlanResult = Plan | Hold | NotPostable


# --- working values -------------------------------------------------------------------------


@dataclass(frozen=True)
class _Line:
    """One allocation's share, resolved to QuickBooks names."""

    account: str
    amount: Decimal
    memo: str
    dims: Dimensions
    company_paid: bool = False
    billable: bool | None = None  # Concur's isExpenseBillable / IsBillable; None: not stated


class _Planner:
    """Collects problems and decisions for one document while the pieces are worked out."""

    def __init__(self, doc: Document, company: CompanyConfig, qb: QuickBooksFacts, lists: ListsView) -> None:
        self.doc = doc
        self.qb = qb
        self.lists = lists
        self.problems: list[str] = []
        self.decisions: list[str] = []
        # Posting accounts given by number become the full names QuickBooks takes in an AccountRef.
        posting = self._posting_by_name(company.posting)
        self.company = company if posting is company.posting else dataclasses.replace(company, posting=posting)
        # One list, so decisions read in the order they were made (mapping rules included).
        self.resolver = Resolver(company, decisions=self.decisions)

    def _posting_by_name(self, posting: PostingConfig) -> PostingConfig:
        """Every ``*_account`` key (and ``*_accounts`` table) of [companies.posting] with an account
        number replaced by that account's full name. A value that does not resolve stays as it
        is: ``check_lists`` names the problem if the document needs that account."""

        def named(key: str, value: str) -> str:
            match = self.lists.account(value)
            if match.number is None:
                return value
            self.note(f'{key} "{value}" is account number {match.number}: "{match.full_name}"')
            return match.full_name

        changes: dict[str, Any] = {}
        for f in dataclasses.fields(posting):
            value = getattr(posting, f.name)
            if f.name.endswith("_account") and isinstance(value, str) and value:
                changed: object = named(f.name, value)
            elif f.name.endswith("_accounts") and isinstance(value, Mapping):
                changed = {k: named(f"{f.name}.{k}", v) if isinstance(v, str) else v for k, v in value.items()}
            else:
                continue
            if changed != value:
                changes[f.name] = changed
        return dataclasses.replace(posting, **changes) if changes else posting  # the same object when every name is a name

    def account_name(self, value: str, origin: str = "") -> str:
        """The FullName to send for an account chosen for a line (a full name or a number); an
        account QuickBooks does not have is a problem, prefixed by ``origin`` (the Concur account
        code and the expense it came from, when it did)."""
        match = self.lists.account(value)
        if match.problem is not None:
            problem = origin + match.problem
            if problem not in self.problems:
                self.problems.append(problem)
            return value
        if match.number is not None:
            self.note(f'account number {match.number} is "{match.full_name}" in QuickBooks')
        return match.full_name

    def note(self, text: str) -> None:
        if text not in self.decisions:
            self.decisions.append(text)

    def hold(self) -> Hold:
        return Hold("; ".join(self.problems), self._all_decisions())

    def _all_decisions(self) -> list[str]:
        return list(dict.fromkeys(self.decisions))

    # -- checks shared by every document kind ------------------------------------------

    def check_currency(self, parts_are_journal: bool) -> str:
        """Check the document's currency against the company file; return the A/P account a bill in
        that currency posts to: ``ap_account`` for the home currency, ``ap_accounts[currency]`` for a
        foreign one (QuickBooks keeps one A/P account per currency in a multicurrency file)."""
        posting = self.company.posting
        currency = self.doc.currency.strip().upper()
        home = (self.qb.home_currency or "").strip().upper()
        if not home:
            self.note(f"currency {currency}: the company file's home currency is not known yet, so it was not checked")
            return posting.ap_account
        if currency == home:
            return posting.ap_account
        if not self.qb.multicurrency:
            self.problems.append(f"currency {currency} is not the company file's home currency {home} and multicurrency is off in QuickBooks")
            return posting.ap_account
        if parts_are_journal:
            # QuickBooks gives a journal entry one currency and one exchange rate, and its A/P line's
            # name must be in the A/P account's currency: an employee's vendor is in the home
            # currency, and Concur converts each expense at its own rate. Posting the foreign amounts
            # as home-currency amounts would be wrong to the cent.
            self.problems.append(
                f"currency {currency} is not the home currency {home}: journal entries in a foreign currency are held (QuickBooks posts a journal entry in one currency at one exchange rate, "
                f"with the A/P line's name in the A/P account's currency, which a {currency} expense report does not fit); post it as a bill, or by hand"
            )
            return posting.ap_account
        if self.lists.currencies is not None and currency not in self.lists.currencies:
            self.problems.append(f"currency {currency} is not in QuickBooks' Currency list (add it in QuickBooks: Lists > Currency List)")
        ap = posting.ap_accounts.get(currency)
        if ap is None:
            self.problems.append(
                f'no A/P account for {currency}: QuickBooks posts a {currency} bill to an A/P account in {currency}; name it in ap_accounts (ap_accounts = {{ {currency} = "Accounts Payable - {currency}" }})'
            )
            return posting.ap_account
        self.note(
            f"currency {currency} (home {home}, multicurrency on): A/P {ap} (ap_accounts.{currency}); QuickBooks takes the bill's currency from the vendor, which must be in {currency}"
        )
        return ap

    def vendor_in_currency(self, action: VendorAction | None, vendors: VendorDirectory) -> VendorAction | None:
        """A bill is in its vendor's currency (there is no CurrencyRef on BillAdd): hold when the
        vendor's differs from the document's; a vendor created for a foreign document gets its
        currency. Single-currency files have no vendor currencies and need nothing here."""
        home = (self.qb.home_currency or "").strip().upper()
        if action is None or not self.qb.multicurrency or not home:
            return action
        currency = self.doc.currency.strip().upper()
        if isinstance(action, CreateVendor):
            if currency == home:
                return action  # a new name is in the home currency unless told otherwise
            name = (self.lists.currencies or {}).get(currency) or currency_name(currency)
            self.note(f'vendor "{action.name}" will be created in {currency} ({name}): a bill is in its vendor\'s currency')
            return dataclasses.replace(action, add=dataclasses.replace(action.add, currency=Ref(full_name=name)))
        list_id = action.list_id if isinstance(action, UseVendor) else action.mod.list_id
        known = vendors.by_list_id(list_id)
        if known is None or not known.currency:
            self.note(
                f'vendor "{action.name}": its currency is not in the cached vendor list; QuickBooks refuses a bill whose A/P account is in another currency'
            )
            return action
        if known.currency.upper() != currency:
            self.problems.append(
                f'vendor "{known.name}" is in {known.currency.upper()} but the invoice is in {currency}: QuickBooks keeps a bill in its vendor\'s currency '
                f"(use a {currency} vendor for it in QuickBooks, or correct the invoice's currency in Concur)"
            )
        return action

    def txn_date(self, date: dt.date, why: str) -> dt.date:
        closing = self.qb.closing_date
        if closing is None or date > closing:
            self.note(f"dated {date.isoformat()} (the {why})")
            return date
        # QuickBooks closes the closing date itself too ("on or before").
        if self.company.posting.closed_period == "first_open_day":
            moved = closing + dt.timedelta(days=1)
            self.note(
                f"dated {moved.isoformat()}, the first open day: the {why} {date.isoformat()} is on or before the QuickBooks closing date {closing.isoformat()} (closed_period = first_open_day)"
            )
            return moved
        self.problems.append(
            f'date {date.isoformat()} (the {why}) is on or before the QuickBooks closing date {closing.isoformat()} (set closed_period = "first_open_day" to post on {(closing + dt.timedelta(days=1)).isoformat()} instead)'
        )
        return date

    def lines_for(self, item: Expense | Itemization | InvoiceLine, expense_type: str, memo: str, label: str, company_paid: bool = False) -> list[_Line]:
        """One line per allocation of an expense or invoice line (zero amounts dropped)."""
        try:
            split = allocation_split(item)
        except SplitError as exc:
            self.problems.append(f"{label}: {exc}")
            return []
        if split.method == "percentages_fallback":
            self.note(f"{label}: {split.note}, so the amount was split by percentage")
        elif split.method == "percentages":
            self.note(f"{label}: split by allocation percentage (largest remainder to the cent)")
        allocations = item.allocations or (None,)
        lines = []
        for allocation, amount in zip(allocations, split.amounts, strict=True):
            # Per allocation: a cost-center rule or Concur's account code can differ per share.
            account = self._line_account(expense_type, allocation, label, posted=amount != 0)
            dims = self.resolver.dimensions(allocation.fields) if allocation is not None else Dimensions()
            if amount == 0:
                continue
            # An unmapped account ("") still counts towards the totals, so that every other
            # check (vendor, currency, ...) runs and the hold names all problems at once.
            lines.append(_Line(account or "", amount, memo, dims, company_paid))
        return lines

    def _line_account(self, expense_type: str, allocation: Allocation | None, label: str, posted: bool) -> str | None:
        """The account FullName for one allocation's line, per ``mapping.account_source``; None
        when unmapped (the resolver records it). Only a line that is posted (``posted``) is
        checked against the QuickBooks Account list."""
        if self.company.mapping.account_source != "concur_account_code":
            chosen = self.resolver.account(expense_type, allocation.fields if allocation is not None else {})
            return self.account_name(chosen) if chosen and posted else chosen
        if not posted:
            return None  # a zero share posts nothing: its code (or its lack of one) does not matter
        chosen = self.resolver.account_by_code(allocation, label)
        if not chosen:
            return chosen
        code = allocation.account_code.strip() if allocation is not None else ""
        if chosen == code:
            return self.account_name(chosen, f'Concur account code "{code}" of {label}: not in [companies.mapping.account_codes] and ')
        return self.account_name(chosen, f'Concur account code "{code}" of {label} (-> "{chosen}" in mapping.account_codes): ')

    def check_lists(self, lines: list[_Line], extra_accounts: Iterable[str]) -> None:
        seen: set[tuple[str, str]] = set()
        wanted = [("account", a) for a in extra_accounts]  # the lines' accounts were checked by account_name
        for line in lines:
            if line.dims.klass:
                wanted.append(("class", line.dims.klass))
            if line.dims.customer:
                wanted.append(("customer:job", line.dims.customer))
        for list_name, name in wanted:
            if (list_name, name.casefold()) in seen:
                continue
            seen.add((list_name, name.casefold()))
            if problem := self.lists.problem(list_name, name):
                self.problems.append(problem)

    def without_classes(self, lines: list[_Line]) -> list[_Line]:
        """Class tracking off in QuickBooks: a ClassRef would be refused (3250), so drop it."""
        if self.qb.class_tracking or not any(line.dims.klass for line in lines):
            return lines
        self.note("class tracking is off in QuickBooks: mapped classes are not sent")
        return [dataclasses.replace(line, dims=Dimensions(None, line.dims.customer)) for line in lines]

    def vendor(self, candidate: VendorCandidate, vendors: VendorDirectory, links: Mapping[str, str]) -> VendorAction | None:
        decided = decide_vendor(candidate, vendors, links, self.company.posting.vendor_policy, self.company.id, self.decisions)
        if isinstance(decided, VendorHold):
            self.problems.append(decided.reason)
            return None
        return decided


# --- building transactions ------------------------------------------------------------------


@functools.lru_cache(maxsize=1024)  # Refs are immutable; a plan names the same few accounts, classes, customers on every line
def _named(name: str | None) -> Ref:
    return Ref(full_name=name)


def _ref(name: str | None) -> Ref | None:
    return _named(name) if name else None


def _billable_status(line: _Line) -> BillableStatus | None:
    """Concur's billable flag on a line with a customer:job, so QuickBooks' own default (which
    follows the account's and the customer's settings) never decides; None without either."""
    if not line.dims.customer or line.billable is None:
        return None
    return "Billable" if line.billable else "NotBillable"


def _expense_lines(lines: list[_Line]) -> tuple[ExpenseLine, ...]:
    return tuple(
        ExpenseLine(
            account=_named(line.account),
            amount=line.amount,
            memo=line.memo,
            customer=_ref(line.dims.customer),
            klass=_ref(line.dims.klass),
            billable_status=_billable_status(line),
        )
        for line in lines
    )


def _journal_lines(lines: list[_Line]) -> list[JournalLine]:
    """Expense lines as debits; a negative one (a credit in Concur) moves to the credit side."""
    return [
        JournalLine(
            side="debit" if line.amount > 0 else "credit",
            account=_named(line.account),
            amount=abs(line.amount),
            memo=line.memo,
            entity=_ref(line.dims.customer),
            klass=_ref(line.dims.klass),
            billable_status=_billable_status(line),
        )
        for line in lines
    ]


def _balancing_line(account: str, owed: Decimal, memo: str, entity: Ref | None = None) -> JournalLine:
    """The other side of ``owed``: a credit when positive, a debit when the total is negative."""
    return JournalLine(side="credit" if owed > 0 else "debit", account=Ref(full_name=account), amount=abs(owed), memo=memo, entity=entity)


def journal_balance(entry: JournalEntryAdd) -> Decimal:
    """Debits minus credits: zero for every journal entry the planner returns."""
    return sum((line.amount if line.side == "debit" else -line.amount for line in entry.lines), ZERO)


def _checked(entry: JournalEntryAdd) -> JournalEntryAdd:
    """Balanced by construction; this guards the construction (and survives ``python -O``)."""
    balance = journal_balance(entry)
    if balance != 0:
        raise AssertionError(f"journal entry {entry.ref_number} is off by {balance}")
    if not all(line.amount == cents(line.amount) and line.amount > 0 for line in entry.lines):
        raise AssertionError(f"journal entry {entry.ref_number} has an amount that is not positive cents")
    return entry


def _payee(vendor: VendorAction | None) -> Ref:
    """The decided vendor's reference, where the plan owes someone (a vendor was then decided,
    or the document was held before this point)."""
    if vendor is None:
        raise AssertionError("an amount is owed but no vendor was decided")
    return vendor.ref


def _count(items: Sized, noun: str) -> str:
    return f"{len(items)} {noun}{'' if len(items) == 1 else 's'}"


def _total(lines: Iterable[_Line]) -> Decimal:
    return sum((line.amount for line in lines), ZERO)


def _expense_memo(expense: Expense) -> str:
    parts = [expense.transaction_date.isoformat(), expense.expense_type_name or expense.expense_type, expense.merchant, expense.description]
    return " - ".join(p.strip() for p in parts if p and p.strip())


# --- expense reports ------------------------------------------------------------------------


@dataclass(frozen=True)
class _Settlement:
    """The other side of a report's expense lines: who is owed what. Concur computes it from the
    tenant's payment-type setup and states it in the report header (Reports v4 ``ReportForm``);
    only where those figures are absent (v3 and other shapes) is it derived from the payment
    types (``company_paid_payment_types``)."""

    due_employee: Decimal  # amountDueEmployee: credit A/P (or the bill) to the employee
    due_company_card: Decimal  # amountDueCompanyCard: credit company_card_account
    company_paid: Decimal  # amountCompanyPaid: credit company_paid_account
    due_company: Decimal  # amountDueCompany: debit employee_receivable_account, the employee as name
    cash_advance: Decimal  # the advance applied: credit cash_advance_account, the employee as name
    stated: bool  # True: Concur's header figures; False: derived from the payment types


def _itemization_memo(expense: Expense, item: Itemization) -> str:
    date = item.transaction_date or expense.transaction_date
    parts = [date.isoformat(), item.expense_type_name or item.expense_type, expense.merchant, item.description or expense.description]
    return " - ".join(part.strip() for part in parts if part and part.strip())


def _with_billable(lines: list[_Line], billable: bool | None) -> list[_Line]:
    return lines if billable is None else [dataclasses.replace(line, billable=billable) for line in lines]


def _personal_amount(item: Itemization) -> Decimal:
    """What a personal itemization charged (Concur approves nothing of it: its posted amount)."""
    return cents(item.posted_amount if item.posted_amount is not None else item.amount)


def _itemized_lines(p: _Planner, expense: Expense, label: str, company_paid: bool) -> list[_Line]:
    """One itemized expense, posted per business itemization (own type, account, allocations);
    the personal itemizations are not an expense of the company. The business itemizations sum
    to the parent's approved amount, or, where Concur's parent amount counts the whole charge,
    together with the personal ones to it: anything else is held, naming the figures."""
    business = [item for item in expense.itemizations if not item.is_personal]
    personal = [item for item in expense.itemizations if item.is_personal]
    business_total = sum((cents(item.amount) for item in business), ZERO)
    personal_total = sum((_personal_amount(item) for item in personal), ZERO)
    parent = cents(expense.amount)
    if parent not in (business_total, business_total + personal_total):
        p.problems.append(
            f"{label}: its itemizations add up to {business_total + personal_total:.2f} (business {business_total:.2f}, personal {personal_total:.2f}) "
            f"but the expense is {parent:.2f}"
        )
        return []
    p.note(
        f"{label}: posted per itemization ({_count(business, 'business itemization')}"
        + (f"; {_count(personal, 'personal itemization')} of {personal_total:.2f} left out" if personal else "")
        + ")"
    )
    lines: list[_Line] = []
    for item in business:
        item_label = f"{label} itemization {item.itemization_id}"
        # An itemization's own flag where Concur states one (v4 has it on the detail only), else its parent's.
        billable = item.is_billable if item.is_billable is not None else expense.is_billable
        lines += _with_billable(p.lines_for(item, item.expense_type, _itemization_memo(expense, item), item_label, company_paid), billable)
    return lines


def _report_lines(p: _Planner, doc: ExpenseReport) -> list[_Line]:
    """The company's expense: approved business amounts split by allocation; personal expenses,
    personal itemizations and what was not approved are left out (on a company-paid card they
    reach QuickBooks through Concur's figures only: ``amountDueCompany``)."""
    paid_types = p.company.posting.company_paid_payment_types
    lines: list[_Line] = []
    for expense in doc.expenses:
        label = f"expense {expense.expense_id}"
        company_paid = expense.payment_type in paid_types
        if expense.is_personal:
            p.note(f"{label}: personal ({expense.payment_type or 'no payment type'}), not an expense of the company")
            continue
        if expense.itemizations:
            lines += _itemized_lines(p, expense, label, company_paid)
        else:
            lines += _with_billable(p.lines_for(expense, expense.expense_type, _expense_memo(expense), label, company_paid), expense.is_billable)
        claimed = expense.claimed_amount
        if claimed is not None and not expense.itemizations and cents(claimed) > cents(expense.amount):
            p.note(f"{label}: {cents(expense.amount):.2f} approved of {cents(claimed):.2f} claimed; the rest is not an expense of the company")
    return lines


def _business_amount(expense: Expense) -> Decimal:
    """What the company bears of one expense: its approved amount, or its business itemizations'."""
    if expense.is_personal:
        return ZERO
    if expense.itemizations:
        return sum((cents(item.amount) for item in expense.itemizations if not item.is_personal), ZERO)
    return cents(expense.amount)


def _settlement(p: _Planner, doc: ExpenseReport, lines: list[_Line]) -> _Settlement | None:
    """Who is owed what, from Concur's header figures where the payload has them; None (and a
    problem naming every figure) when they do not balance against the lines. Never a guess."""
    posting = p.company.posting
    advance = cents(doc.cash_advance_applied) if doc.cash_advance_applied is not None else ZERO
    due_employee, card, company_paid, due_company = doc.amount_due_employee, doc.amount_due_company_card, doc.amount_company_paid, doc.amount_due_company
    if due_employee is None or card is None or company_paid is None or due_company is None:
        own = _total(line for line in lines if not line.company_paid)
        p.note(
            "Concur's header figures (amountDueEmployee, amountDueCompanyCard, amountCompanyPaid, amountDueCompany) are not all in the payload: "
            f"who paid follows the payment types (company_paid_payment_types = {', '.join(posting.company_paid_payment_types) or 'none'})"
        )
        return _Settlement(own - advance, _total(line for line in lines if line.company_paid), ZERO, ZERO, advance, stated=False)
    s = _Settlement(cents(due_employee), cents(card), cents(company_paid), cents(due_company), advance, stated=True)
    expenses = _total(lines)
    debits = expenses + s.due_company
    credits = s.due_employee + s.due_company_card + s.company_paid + s.cash_advance
    if debits == credits:
        p.note("who is owed what: Concur's report figures (amountDueEmployee, amountDueCompanyCard, amountCompanyPaid, amountDueCompany)")
        return s
    stated_advance = f"{advance:.2f}" if doc.cash_advance_applied is not None else "not stated"
    others = ", ".join(
        f"{name} {cents(value):.2f}"
        for name, value in (("personalAmount", doc.personal_amount), ("amountNotApproved", doc.amount_not_approved), ("reportTotal", doc.report_total))
        if value is not None
    )
    reason = (
        f"Concur's figures do not balance against the lines: approved business expenses {expenses:.2f} + amountDueCompany {s.due_company:.2f} = {debits:.2f}, "
        f"but amountDueEmployee {s.due_employee:.2f} + amountDueCompanyCard {s.due_company_card:.2f} + amountCompanyPaid {s.company_paid:.2f} "
        f"+ cash advance applied {stated_advance} = {credits:.2f} (a gap of {debits - credits:.2f}" + (f"; {others}" if others else "") + ")"
    )
    if debits > credits and doc.cash_advance_applied is None:
        reason += "; a cash advance applied to the report would leave such a gap, but Concur states no cash-advance figure for it"
    if credits > debits and s.due_company_card and s.company_paid:
        reason += "; amountCompanyPaid may overlap amountDueCompanyCard on this tenant (Concur's documents do not say)"
    p.problems.append(reason + ": no payer is guessed, post it by hand")
    return None


def _report_accounts(p: _Planner, s: _Settlement, as_bill: bool) -> list[str]:
    """The balance-sheet accounts the settlement posts to; a needed key that is not set is a problem."""
    posting = p.company.posting
    accounts = [posting.ap_account] if s.due_employee != 0 or as_bill else []
    if s.due_company_card != 0:
        accounts.append(posting.company_card_account)
    if s.company_paid != 0:
        accounts.append(posting.company_paid_account or posting.company_card_account)
    if s.due_company != 0:
        if posting.employee_receivable_account:
            accounts.append(posting.employee_receivable_account)
        else:
            p.problems.append(
                f"Concur states amountDueCompany {s.due_company:.2f} (what the employee owes back: personal or unapproved charges on a company-paid card) "
                "but employee_receivable_account is not set in [companies.posting]"
            )
    if s.cash_advance != 0:
        if posting.cash_advance_account:
            accounts.append(posting.cash_advance_account)
        else:
            p.problems.append(f"a cash advance of {s.cash_advance:.2f} is applied to the report but cash_advance_account is not set in [companies.posting]")
    return accounts


def _plan_report(p: _Planner, doc: ExpenseReport, vendors: VendorDirectory, links: Mapping[str, str]) -> PlanResult:
    company = p.company
    posting = company.posting
    as_bill = posting.expense_report_as == "bill"
    lines = _report_lines(p, doc)
    if reason := p.resolver.unmapped_reason():
        p.problems.insert(0, reason)
    s = _settlement(p, doc, lines)

    own_total = _total(line for line in lines if not line.company_paid)
    has_bill = False
    if s is not None and as_bill:
        # The bill is what the employee is owed: the employee-paid expenses less the advance.
        # Which expenses those are is the payment types' word; it must agree with Concur's figure.
        if own_total - s.cash_advance != s.due_employee:
            paid_types = ", ".join(posting.company_paid_payment_types) or "none"
            p.problems.append(
                f"bill mode: the bill to the employee must come to amountDueEmployee {s.due_employee:.2f}, but the expenses of payment types not in "
                f"company_paid_payment_types ({paid_types}) come to {own_total:.2f}"
                + (f" less the cash advance {s.cash_advance:.2f}" if s.cash_advance else "")
                + ": set company_paid_payment_types to the tenant's company-paid types, or post reports as journal entries"
            )
        elif s.due_employee < 0:
            p.problems.append(
                f"amountDueEmployee is negative ({s.due_employee:.2f}): a QuickBooks bill cannot have a negative total (post it as a journal entry or a vendor credit by hand)"
            )
        has_bill = s.due_employee > 0
    journal_lines = [line for line in lines if line.company_paid or not has_bill]  # document order
    needs_vendor = s is not None and (s.due_employee != 0 or s.due_company != 0 or s.cash_advance != 0)

    journal_needed = not has_bill or bool(journal_lines) or (s is not None and bool(s.due_company or s.due_company_card or s.company_paid))
    p.check_currency(parts_are_journal=journal_needed)
    # The report date rather than the last expense date: it is Concur's date for the report as
    # a whole, the same for the bill and the card journal entry, and exists even when expense
    # dates are scattered over months (the expense dates stay in the line memos).
    txn_date = p.txn_date(doc.report_date, "report date")
    p.check_lists(lines, _report_accounts(p, s, as_bill and has_bill) if s is not None else [])
    vendor = p.vendor(employee_candidate(doc.owner), vendors, links) if needs_vendor else None
    if p.problems or s is None:
        return p.hold()
    lines = p.without_classes(lines)
    bill_lines = [line for line in lines if not line.company_paid] if has_bill else []
    journal_lines = [line for line in lines if line.company_paid or not has_bill]

    memo = report_memo(doc.report_id)
    who = f"{doc.owner.name}" + (f" ({vendor.name})" if vendor is not None and vendor.name and vendor.name != doc.owner.name else "")
    transactions: list[Transaction] = []
    if has_bill:
        advance_lines: tuple[ExpenseLine, ...] = ()
        if s.cash_advance:
            advance_lines = (ExpenseLine(account=Ref(full_name=posting.cash_advance_account), amount=-s.cash_advance, memo=f"{memo} - cash advance applied"),)
            p.note(f"the bill is less the cash advance applied, {s.cash_advance:.2f}, a credit line to {posting.cash_advance_account}")
        if any(line.amount < 0 for line in bill_lines):
            p.note("the bill has credit (negative) lines; its total is positive")
        transactions.append(
            BillAdd(
                vendor=_payee(vendor),
                txn_date=txn_date,
                ref_number=bill_ref_number(company.id, KIND_REPORT_BILL, doc.report_id),
                lines=_expense_lines(bill_lines) + advance_lines,
                memo=f"{memo} {doc.name}".strip(),
                external_guid=external_guid(company.id, KIND_REPORT_BILL, doc.report_id),
                ap_account=Ref(full_name=posting.ap_account),
            )
        )
        p.note(f"bill to {who} for amountDueEmployee {s.due_employee:.2f} ({_count(bill_lines, 'expense line')})")

    je_lines = _journal_lines(journal_lines)
    if any(line.side == "credit" for line in je_lines):
        p.note("negative expense lines (credits) are on the credit side of the journal entry")

    def add(account: str, owed: Decimal, text: str, why: str, entity: Ref | None = None) -> None:
        """A settlement line: a credit when ``owed`` is positive (a debit when negative)."""
        if owed == 0:
            return
        je_lines.append(_balancing_line(account, owed, f"{memo} - {text}", entity))
        p.note(f"{account} {'credit' if owed > 0 else 'debit'} {abs(owed):.2f} {why}")

    name = doc.owner.name
    if s.due_company:
        add(
            posting.employee_receivable_account,
            -s.due_company,
            f"owed by {name}",
            f"from {who}: amountDueCompany, what the employee owes back (personal or unapproved charges on a company-paid card)",
            _payee(vendor),
        )
    if not has_bill:
        if s.due_employee:
            add(
                posting.ap_account,
                s.due_employee,
                f"owed to {name}",
                f"to {who}: " + ("amountDueEmployee" if s.stated else "the out-of-pocket expenses"),
                _payee(vendor),
            )
        if s.cash_advance:
            add(
                posting.cash_advance_account,
                s.cash_advance,
                f"cash advance applied ({name})",
                f"from {who}: the cash advance applied to the report",
                _payee(vendor),
            )
    card_why = "amountDueCompanyCard" if s.stated else f"expenses paid by company card ({', '.join(posting.company_paid_payment_types)})"
    add(posting.company_card_account, s.due_company_card, "company card", f"for {card_why}")
    add(posting.company_paid_account or posting.company_card_account, s.company_paid, "company paid", "for amountCompanyPaid")
    if je_lines:
        kind = KIND_REPORT_CARD_JE if as_bill else KIND_REPORT_JE
        transactions.append(
            _checked(
                JournalEntryAdd(
                    txn_date=txn_date,
                    ref_number=journal_ref_number(company.id, kind, doc.report_id),
                    lines=tuple(je_lines),
                    memo=memo,
                    external_guid=external_guid(company.id, kind, doc.report_id),
                )
            )
        )
        p.note(f"journal entry with {_count(journal_lines, 'expense line')}" + (" for the company-paid part" if as_bill else ""))
    if not transactions:
        return NotPostable("nothing to post: no business expense and nothing owed", p._all_decisions())
    p.note(f"posted as {'a bill to the employee (expense_report_as = bill)' if as_bill else 'a journal entry (expense_report_as = journal_entry)'}")
    return Plan(vendor, tuple(transactions), _total(lines), p._all_decisions())


# --- invoices -------------------------------------------------------------------------------


def _header_amount(value: Decimal | None) -> Decimal:
    return cents(value) if value is not None else ZERO


def _spread(p: _Planner, lines: list[_Line], amount: Decimal, what: str) -> list[_Line]:
    """Add ``amount`` (header tax or shipping) to the lines in proportion to their amounts, by
    largest remainder to the cent (``split_amount``): each line keeps its account, class,
    customer:job and billable status, so the cost lands where the purchase does. Credit lines
    take no share (a share of tax on a discount line would raise it)."""
    weights = [max(line.amount, ZERO) for line in lines]
    try:
        shares = split_amount(amount, weights)
    except SplitError:
        p.problems.append(f"the invoice's {what} {amount:.2f} cannot be spread: no line has a positive amount (name an account for it: invoice_{what}_account)")
        return lines
    p.note(
        f"{what} {amount:.2f} spread over {_count(lines, 'line')} in proportion to their amounts (largest remainder to the cent; invoice_{what}_account not set)"
    )
    return [dataclasses.replace(line, amount=line.amount + share) for line, share in zip(lines, shares, strict=True)]


def _header_lines(p: _Planner, doc: Invoice, lines: list[_Line]) -> list[_Line]:
    """The invoice's header tax and shipping: spread over its lines, or each its own line on the
    account that ``invoice_tax_account`` / ``invoice_shipping_account`` names."""
    posting = p.company.posting
    for what, amount, account in (
        ("tax", _header_amount(doc.tax_amount), posting.invoice_tax_account),
        ("shipping", _header_amount(doc.shipping_amount), posting.invoice_shipping_account),
    ):
        if amount == 0:
            continue
        if account:
            lines = [*lines, _Line(p.account_name(account), amount, f"{what.capitalize()} - invoice {doc.invoice_number}".strip(), Dimensions())]
            p.note(f"{what} {amount:.2f} on its own line: {account} (invoice_{what}_account)")
        else:
            lines = _spread(p, lines, amount, what)
    return lines


def _terms(p: _Planner, doc: Invoice) -> Ref | None:
    """Concur's payment terms as a QuickBooks Terms reference, through [companies.mapping.terms]
    only: free text is never a list reference, and a name is never cut to fit."""
    table = p.company.mapping.terms
    folded = {key.strip().casefold(): value for key, value in table.items()}
    # Concur's terms text (DiscountTerms), else its code: the days (PaymentTermsDays).
    keys = [key for key in (doc.terms.strip(), str(doc.terms_days) if doc.terms_days is not None else "") if key]
    if not keys:
        return None
    concur, mapped = next(((key, folded[key.casefold()]) for key in keys if key.casefold() in folded), (keys[0], None))
    if mapped is None:
        p.note(f'terms "{concur}" are not in [companies.mapping.terms]: no TermsRef is sent (the due date says when the bill is due)')
        return None
    if len(mapped) > limits.TERMS_NAME:
        p.problems.append(
            f'terms "{concur}" map to "{mapped}", longer than the {limits.TERMS_NAME} characters of a QuickBooks Terms name (correct [companies.mapping.terms])'
        )
        return None
    if problem := p.lists.problem("terms", mapped):
        p.problems.append(f'{problem} (terms "{concur}" in [companies.mapping.terms])')
        return None
    p.note(f'terms "{mapped}" (Concur "{concur}", [companies.mapping.terms])')
    return Ref(full_name=mapped)


def _plan_invoice(p: _Planner, doc: Invoice, vendors: VendorDirectory, links: Mapping[str, str]) -> PlanResult:
    company = p.company
    total = cents(doc.total)
    lines: list[_Line] = []
    for item in doc.lines:
        found = p.lines_for(item, item.expense_type, item.description, f"invoice line {item.line_id}")
        lines += [dataclasses.replace(line, billable=item.is_billable) for line in found]
    if reason := p.resolver.unmapped_reason():
        p.problems.insert(0, reason)
    stated = sum((cents(item.amount) for item in doc.lines), ZERO)
    tax, shipping = _header_amount(doc.tax_amount), _header_amount(doc.shipping_amount)
    if stated + tax + shipping != total:
        extras = "".join(f" + {what} {amount:.2f}" for what, amount in (("tax", tax), ("shipping", shipping)) if amount)
        p.problems.append(
            f"the invoice lines add up to {stated:.2f}{extras} = {stated + tax + shipping:.2f} but the invoice total is {total:.2f}"
            if extras
            else f"the invoice lines add up to {stated:.2f} but the invoice total is {total:.2f}"
        )
    elif not p.problems:
        lines = _header_lines(p, doc, lines)
    if total < 0:
        p.problems.append(f"the invoice total is negative ({total:.2f}): a QuickBooks bill cannot have a negative total (enter a vendor credit by hand)")
    elif any(line.amount < 0 for line in lines):
        p.note("the bill has credit (negative) lines; its total is positive")
    ap_account = p.check_currency(parts_are_journal=False)
    txn_date = p.txn_date(doc.invoice_date, "invoice date")
    p.check_lists(lines, [ap_account])
    terms = _terms(p, doc)
    vendor = p.vendor_in_currency(p.vendor(invoice_vendor_candidate(doc), vendors, links), vendors)
    if p.problems or vendor is None:
        return p.hold()
    lines = p.without_classes(lines)

    if doc.invoice_number.strip():
        ref_number = invoice_ref_number(doc.invoice_number)
        if ref_number != doc.invoice_number.strip():
            p.note(f'RefNumber "{ref_number}": the vendor\'s invoice number "{doc.invoice_number}" cut to {limits.BILL_REF_NUMBER} QuickBooks characters')
        else:
            p.note(f'RefNumber "{ref_number}": the vendor\'s invoice number')
    else:
        ref_number = bill_ref_number(company.id, KIND_INVOICE_BILL, doc.request_id)
        p.note(f'RefNumber "{ref_number}": the invoice has no vendor invoice number, so one was derived from the Concur id')
    rate = _exchange_rate(p, doc)
    memo = invoice_memo(doc.request_id)
    bill = BillAdd(
        vendor=vendor.ref,
        txn_date=txn_date,
        ref_number=ref_number,
        lines=_expense_lines(lines),
        due_date=doc.due_date,
        terms=terms,
        memo=f"{memo} {doc.description}".strip() if doc.description.strip() else memo,
        external_guid=external_guid(company.id, KIND_INVOICE_BILL, doc.request_id),
        ap_account=Ref(full_name=ap_account),
        exchange_rate=rate,
    )
    if _total(lines) != total:  # guards the construction (and survives ``python -O``)
        raise AssertionError(f"bill for invoice {doc.request_id} adds up to {_total(lines)}, not {total}")
    p.note(f"bill to {vendor.name or doc.vendor_name} for {total:.2f} ({_count(lines, 'line')})")
    return Plan(vendor, (bill,), total, p._all_decisions())


def _exchange_rate(p: _Planner, doc: Invoice) -> Decimal | None:
    """Concur's exchange rate on a foreign-currency bill (home units per document unit: an
    assumption, as no public Invoice v3 field states one); without it QuickBooks applies the rate
    its Currency list holds for the date."""
    home = (p.qb.home_currency or "").strip().upper()
    currency = doc.currency.strip().upper()
    if not p.qb.multicurrency or not home or currency == home:
        return None
    if doc.exchange_rate is not None and doc.exchange_rate > 0:
        p.note(f"exchange rate {doc.exchange_rate} {home} per {currency}, as Concur states it")
        return doc.exchange_rate
    p.note(f"no exchange rate from Concur: QuickBooks applies its Currency list's {currency} rate")
    return None


# --- entry point ----------------------------------------------------------------------------


def document_total(doc: Document) -> Decimal:
    """What the lines must add up to: the approved business amounts of a report (personal
    expenses and personal itemizations left out), or the invoice total."""
    if isinstance(doc, ExpenseReport):
        return sum((_business_amount(e) for e in doc.expenses), ZERO)
    return cents(doc.total)


def plan_document(
    doc: Document,
    company: CompanyConfig,
    qb: QuickBooksFacts,
    lists: ListsView,
    vendors: VendorDirectory,
    links: Mapping[str, str],
) -> PlanResult:
    """Decide how ``doc`` is posted to ``company``'s QuickBooks file (see the module docstring)."""
    posting = company.posting
    label = "report" if isinstance(doc, ExpenseReport) else "invoice"
    if doc.approval_status not in posting.post_on_status:
        return NotPostable(f"approval status {doc.approval_status or '(none)'} is not one of post_on_status ({', '.join(posting.post_on_status)})")
    total = document_total(doc)
    if isinstance(doc, ExpenseReport):
        # A personal charge on a company card is nothing to expense but still owed: the figures count.
        owed = (doc.amount_due_employee, doc.amount_due_company_card, doc.amount_company_paid, doc.amount_due_company, doc.cash_advance_applied)
        amounts = [e.amount for e in doc.expenses] + [figure for figure in owed if figure is not None]
    else:
        amounts = [li.amount for li in doc.lines]
    if cents(doc.total) == 0 and all(cents(a) == 0 for a in amounts):
        return NotPostable(f"the {label} has nothing to post (total 0.00)")
    p = _Planner(doc, company, qb, lists)
    p.note(f"approval status {doc.approval_status} is in post_on_status")
    if isinstance(doc, ExpenseReport):
        if cents(doc.total) != total:
            p.problems.append(f"the report's expenses add up to {total:.2f} but the report total is {cents(doc.total):.2f}")
        return _plan_report(p, doc, vendors, links)
    return _plan_invoice(p, doc, vendors, links)


# --- display --------------------------------------------------------------------------------


def _encode(value: object) -> Any:  # JSON-ready; Any because its readers walk the picture freely
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    if isinstance(value, dt.date):
        return value.isoformat()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (list, tuple)):
        return [_encode(v) for v in value]
    return value


def plan_to_json(result: PlanResult) -> dict[str, Any]:
    """A JSON-ready picture of a planning result, for ``documents.plan``, the API and ``mlc plan``."""
    if isinstance(result, Hold):
        return {"outcome": "hold", "reason": result.reason, "decisions": list(result.decisions)}
    if isinstance(result, NotPostable):
        return {"outcome": "not_postable", "reason": result.reason, "decisions": list(result.decisions)}
    vendor: dict[str, Any] | None = None
    action = result.vendor_action
    if isinstance(action, UseVendor):
        vendor = {"action": "use", "list_id": action.list_id, "name": action.name}
    elif isinstance(action, CreateVendor):
        vendor = {"action": "create", "name": action.name, "concur_key": action.concur_key, "request": _encode(action.add)}
    elif isinstance(action, ReactivateVendor):
        vendor = {"action": "reactivate", "list_id": action.mod.list_id, "name": action.name, "request": _encode(action.mod)}
    return {
        "outcome": "plan",
        "total": f"{result.total:.2f}",
        "vendor": vendor,
        "transactions": [{"type": type(t).__name__, **_encode(t)} for t in result.transactions],
        "decisions": list(result.decisions),
    }
