"""Generated Concur content for the simulator, from a seed (same seed -> same data).

Deliberately awkward: unicode and over-long names, allocations that do not divide evenly
(33.33/33.33/33.34 of odd amounts), company-card (CBCP) and out-of-pocket (CASH) expenses,
foreign-currency transactions, invoices with one or many lines and allocations.

Two profiles. ``simple`` (the default, what ``mlc demo`` posts today): CASH and CBCP only,
nothing personal, claimed = approved, no tax or shipping. ``realistic`` adds the shapes real
tenants produce (issues 12, 13, 19, 20): IBCP and IBIP cards, personal expenses, itemized hotel
bills with a personal part, partly approved expenses, cash advances, EUR reports and invoices,
invoices with tax, shipping, terms and remit-to addresses. Turn it on with
``CompanyParams(..., profile="realistic")`` or ``generate(..., profile="realistic")``. ``mixed``
(what ``mlc demo`` posts): every other report in the realistic expense shapes (IBCP, personal
charges, itemized hotels, partly approved), in US dollars and without cash advances (v4 states
no cash-advance figure, so such a report is held: issue 12); the rest and the invoices simple.
"""

from __future__ import annotations

import datetime as dt
import random
import uuid
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
HUNDRED = Decimal(100)

EXPENSE_TYPES = [
    ("AIRFR", "Airfare"),
    ("LODNG", "Hotel"),
    ("MEALS", "Business Meals"),
    ("TAXIX", "Taxi"),
    ("CARRT", "Car Rental"),
    ("OFFSP", "Office Supplies"),
]
INVOICE_EXPENSE_TYPES = ["OFFSP", "CONSL", "SOFTW", "TELEC"]
MERCHANTS = {
    "AIRFR": ["Delta Air Lines", "Lufthansa", "Air Canada"],
    "LODNG": ["Marriott Downtown", "Hôtel de la Paix", "Hilton Garden Inn"],
    "MEALS": ["Café du Monde", "Sushi Ōkura", "Joe's Diner"],
    "TAXIX": ["Yellow Cab", "Uber", "Taxi Zürich"],
    "CARRT": ["Hertz", "Avis", "Enterprise Rent-A-Car"],
    "OFFSP": ["Staples", "Office Depot", "Büromarkt Müller"],
}
GIVEN = ["Zoë", "José", "Łukasz", "Søren", "Ngọc Anh", "Aoife", "Ahmed", "Mary-Kate", "Björn", "Siobhán", "Chloé", "Kenji"]
FAMILY = ["Núñez", "O'Brien", "Kowalczyk", "Åkesson", "Nguyễn", "Müller", "Smith", "Dubois", "García Márquez", "Tanaka"]
LONG_GIVEN = "Maximilian-Alexander Bartholomew"
LONG_FAMILY = "Featherstonehaugh-Wolfeschlegelsteinhausenbergerdorff"
VENDORS = [
    ("V-1001", "Acme Office Supply"),
    ("V-1002", "Müller & Söhne GmbH"),
    ("V-1003", "Northwind Traders"),
    ("V-1004", "The Extraordinarily Long-Named Consulting Partnership of Greater Metropolitan Areas LLP"),
    ("V-1005", "Café Équipement SARL"),
]
FOREIGN = [("EUR", Decimal("1.08420000")), ("GBP", Decimal("1.26710000")), ("CAD", Decimal("0.73120000")), ("JPY", Decimal("0.00671000"))]
COST_CENTRES = [("CC-100", "Consulting"), ("CC-200", "Sales"), ("CC-300", "Research & Development")]
PROJECTS = [("PRJ-7", "Client A: Project X"), ("PRJ-12", "Client B: Rollout"), ("PRJ-31", "Internal: Tooling")]
PROFILES = ("simple", "realistic", "mixed")
# A tenant's ledger account codes, as Concur's accounting configuration assigns them: per expense
# type, with some cost centres overriding (issue 19). Concur computes ``accountCode`` for each
# allocation from this; the simulator does the same. Codes are 4-digit GL numbers.
ACCOUNT_CODES = {"AIRFR": "6110", "LODNG": "6120", "MEALS": "6130", "TAXIX": "6140", "CARRT": "6150", "OFFSP": "6210", "LODTX": "6121"}
COST_CENTRE_ACCOUNT_CODES = {("MEALS", "CC-200"): "6430", ("AIRFR", "CC-300"): "6510", ("LODNG", "CC-300"): "6520"}
# Travel allowance limit per expense type: above it Concur books the excess to overLimitAccountCode.
OVER_LIMIT_ACCOUNT_CODES = {"MEALS": "6139", "LODNG": "6129"}
INVOICE_ACCOUNT_CODES = {"OFFSP": "6210", "CONSL": "6300", "SOFTW": "6310", "TELEC": "6320"}
# Vendor master as Invoice would hold it: remit-to address, discount terms, currency.
VENDOR_DETAILS = {
    "V-1001": (("1 Main St", "", "", "Springfield", "IL", "62701", "US"), "Net 30", 30, "USD"),
    "V-1002": (("Königsallee 12", "Hinterhaus", "", "Düsseldorf", "", "40212", "DE"), "2% 10 Net 30", 30, "EUR"),
    "V-1003": (("200 Harbor Blvd", "Suite 4", "", "Seattle", "WA", "98101", "US"), "Net 45", 45, "USD"),
    "V-1004": (("1 Long Road", "", "", "Chicago", "IL", "60601", "US"), "Net 15", 15, "USD"),
    "V-1005": (("12 rue de Rivoli", "", "", "Paris", "", "75001", "FR"), "Net 30", 30, "EUR"),
}
# Payment types: who pays the charge. CASH and IBIP (individually billed, individually paid) are
# paid by the employee and reimbursed; CBCP (company billed, company paid) and IBCP
# (individually billed, company paid) are paid by the company to the card issuer.
EMPLOYEE_PAID = ("CASH", "IBIP")
PAYMENT_TYPES = {"CASH": ("CASH", "Cash"), "CBCP": ("1022", "Mastercard"), "IBCP": ("1023", "Amex Corporate"), "IBIP": ("1024", "Visa Individual")}

SPLITS = [
    (Decimal("100"),),
    (Decimal("50"), Decimal("50")),
    (Decimal("33.33"), Decimal("33.33"), Decimal("33.34")),
    (Decimal("70"), Decimal("20"), Decimal("10")),
]


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def split_amount(total: Decimal, percentages: tuple[Decimal, ...]) -> list[Decimal]:
    """Concur-style shares: each rounded, the last takes the remainder so they sum exactly."""
    shares = [cents(total * p / HUNDRED) for p in percentages[:-1]]
    return shares + [total - sum(shares, Decimal(0))]


def hex_id(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("0123456789ABCDEF") for _ in range(n))


@dataclass
class Employee:
    uuid: str
    login: str
    given: str
    family: str
    employee_number: str
    email: str
    cost_centre: str  # list item id

    @property
    def display_name(self) -> str:
        return f"{self.given} {self.family}"


@dataclass
class ListItem:
    id: str
    code: str
    value: str
    list_id: str


@dataclass
class Allocation:
    id: str
    percentage: Decimal
    amount: Decimal
    custom: dict[str, str]  # customN -> list item id
    system: bool = False
    account_code: str | None = None
    over_limit_account_code: str | None = None


@dataclass
class Itemization:
    """A part of an itemized expense: an expense of its own (own id, type and allocations)."""

    id: str
    type_code: str
    type_name: str
    amount: Decimal  # posted = claimed; approved unless personal
    personal: bool = False
    allocations: list[Allocation] = field(default_factory=list)

    @property
    def business(self) -> Decimal:
        return Decimal(0) if self.personal else self.amount


@dataclass
class Expense:
    id: str
    type_code: str
    type_name: str
    date: dt.date
    transaction_amount: Decimal
    transaction_currency: str
    exchange_rate: Decimal
    amount: Decimal  # approved, in the report currency (0 for a personal expense)
    payment_code: str  # CASH | IBIP | CBCP | IBCP
    merchant: str | None
    purpose: str
    allocations: list[Allocation] = field(default_factory=list)
    personal: bool = False
    claimed: Decimal | None = None  # None: as approved (simple profile)
    posted: Decimal | None = None  # the charge in the report currency; None: as claimed
    billable: bool = False
    itemizations: list[Itemization] = field(default_factory=list)

    @property
    def claimed_amount(self) -> Decimal:
        return self.amount if self.claimed is None else self.claimed

    @property
    def posted_amount(self) -> Decimal:
        return self.claimed_amount if self.posted is None else self.posted

    @property
    def business(self) -> Decimal:
        """What the company bears: the approved amount of what is not personal."""
        if self.personal:
            return Decimal(0)
        if self.itemizations:
            return sum((i.business for i in self.itemizations), Decimal(0))
        return self.amount

    @property
    def personal_part(self) -> Decimal:
        if self.personal:
            return self.posted_amount
        return sum((i.amount for i in self.itemizations if i.personal), Decimal(0))


@dataclass
class Report:
    id: str
    name: str
    owner: str  # employee uuid
    currency: str
    status: str
    payment_status: str
    report_date: dt.date
    created: dt.datetime
    modified: dt.datetime
    expenses: list[Expense] = field(default_factory=list)
    submitted: dt.datetime | None = None
    deleted: bool = False
    cash_advance: Decimal = Decimal(0)  # issued to the employee before the trip, applied here
    paid_date: dt.date | None = None
    paid_amount: Decimal | None = None

    @property
    def total(self) -> Decimal:
        """The approved business amount (what the company books as expense)."""
        return sum((e.business for e in self.expenses), Decimal(0))

    def header(self) -> dict[str, Decimal]:
        """The report header figures, computed the way this simulator assumes Concur does.

        Concur's public documents name these fields (Reports v4 swagger ``ReportForm``;
        CONCUR-API.md §3.1) but not their formulas, so this is ASSUMPTION, chosen so that
        debits (approved business amounts + amountDueCompany) equal credits (amountDueEmployee +
        amountDueCompanyCard + amountCompanyPaid + cash advance applied):
        - reportTotal: every expense's posted amount (personal included).
        - claimedAmount / approvedAmount: what was claimed / approved of the business part.
        - amountNotApproved: claimed - approved.
        - personalAmount: personal expenses and personal itemizations (posted amounts).
        - amountDueEmployee: approved business amounts paid by the employee (CASH, IBIP), less
          the cash advance applied (never below zero; the generator keeps advances below it).
        - amountDueCompanyCard: the whole charge of CBCP expenses (the issuer is owed all of it).
        - amountCompanyPaid: the whole charge of IBCP expenses. Whether Concur also counts CBCP
          here (overlapping amountDueCompanyCard) is not settled by the documents; this simulator
          keeps the two apart.
        - amountDueCompany: on company-paid charges, the part that is not a business expense
          (personal or not approved): the employee owes it back.
        The public example (expense_v4/report.get.json, A_NOTF) shows all due figures at 0E-8
        while reportTotal is 525: Concur computes them on submission, so an unsubmitted report
        here shows zeros too.
        """
        zero = Decimal(0)
        figures = dict.fromkeys(
            (
                "reportTotal",
                "claimedAmount",
                "approvedAmount",
                "amountNotApproved",
                "personalAmount",
                "amountDueEmployee",
                "amountDueCompanyCard",
                "amountCompanyPaid",
                "amountDueCompany",
                "cashAdvanceApplied",
            ),
            zero,
        )
        for e in self.expenses:
            figures["reportTotal"] += e.posted_amount
            figures["personalAmount"] += e.personal_part
            if not e.personal:
                claimed = sum((i.amount for i in e.itemizations if not i.personal), zero) if e.itemizations else e.claimed_amount
                figures["claimedAmount"] += claimed
                figures["approvedAmount"] += e.business
            if e.payment_code in EMPLOYEE_PAID:
                figures["amountDueEmployee"] += e.business
            else:
                key = "amountDueCompanyCard" if e.payment_code == "CBCP" else "amountCompanyPaid"
                figures[key] += e.posted_amount
                figures["amountDueCompany"] += e.posted_amount - e.business
        figures["amountNotApproved"] = figures["claimedAmount"] - figures["approvedAmount"]
        applied = min(self.cash_advance, figures["amountDueEmployee"])
        figures["cashAdvanceApplied"] = applied
        figures["amountDueEmployee"] -= applied
        if self.status in ("A_NOTF", "A_RESU"):
            for key in ("amountDueEmployee", "amountDueCompanyCard", "amountCompanyPaid", "amountDueCompany"):
                figures[key] = zero
        return figures


@dataclass
class InvoiceAllocation:
    percentage: Decimal
    account_code: str
    custom: dict[str, str]  # CustomN -> code


@dataclass
class RemitAddress:
    address1: str
    address2: str
    address3: str
    city: str
    state: str
    postal_code: str
    country_code: str


@dataclass
class InvoiceLine:
    id: str
    description: str
    type_code: str
    quantity: Decimal
    unit_price: Decimal
    allocations: list[InvoiceAllocation] = field(default_factory=list)
    billable: bool | None = None  # None: no IsBillable in the payload (simple profile)

    @property
    def amount(self) -> Decimal:
        return cents(self.quantity * self.unit_price)


@dataclass
class Invoice:
    id: str
    invoice_number: str
    vendor_code: str
    vendor_name: str
    currency: str
    status: str
    payment_status: str
    invoice_date: dt.date
    due_date: dt.date
    description: str
    created: dt.datetime
    modified: dt.datetime
    owner_login: str
    lines: list[InvoiceLine] = field(default_factory=list)
    deleted: bool = False
    tax: Decimal = Decimal(0)
    shipping: Decimal = Decimal(0)
    terms: str = "Net 30"
    terms_days: int = 30
    remit: RemitAddress | None = None
    paid_date: dt.date | None = None
    paid_amount: Decimal | None = None

    @property
    def line_total(self) -> Decimal:
        return sum((line.amount for line in self.lines), Decimal(0))

    @property
    def total(self) -> Decimal:
        """CalculatedAmount: lines + TaxAmount + ShippingAmount (CONCUR-API.md §4.1, issue 13).
        Assumption: the approved total is this same figure (no approver adjustment)."""
        return self.line_total + self.tax + self.shipping


@dataclass
class CompanyData:
    employees: dict[str, Employee] = field(default_factory=dict)
    list_items: dict[str, ListItem] = field(default_factory=dict)
    reports: dict[str, Report] = field(default_factory=dict)
    invoices: dict[str, Invoice] = field(default_factory=dict)
    cost_centres: list[str] = field(default_factory=list)  # list item ids
    projects: list[str] = field(default_factory=list)


class Generator:
    """Deterministic content for one company."""

    def __init__(self, seed: int | str, company_key: str, now: dt.datetime, profile: str = "simple"):
        if profile not in PROFILES:
            raise ValueError(f"unknown Concur sim profile {profile!r} (one of {', '.join(PROFILES)})")
        self.rng = random.Random(f"{seed}:{company_key}")
        self.profile = profile
        self.now = now
        self.data = CompanyData()
        self._report_no = 0
        self._realistic_no = 0
        self._invoice_no = 0
        list_cc, list_prj = str(uuid.UUID(int=self.rng.getrandbits(128))), str(uuid.UUID(int=self.rng.getrandbits(128)))
        for code, value in COST_CENTRES:
            item = ListItem(hex_id(self.rng, 32), code, value, list_cc)
            self.data.list_items[item.id] = item
            self.data.cost_centres.append(item.id)
        for code, value in PROJECTS:
            item = ListItem(hex_id(self.rng, 32), code, value, list_prj)
            self.data.list_items[item.id] = item
            self.data.projects.append(item.id)

    def employees(self, count: int) -> None:
        for index in range(count):
            if index == 2:
                given, family = LONG_GIVEN, LONG_FAMILY  # longer than QuickBooks' 41-character names
            else:
                given, family = self.rng.choice(GIVEN), self.rng.choice(FAMILY)
            uid = str(uuid.UUID(int=self.rng.getrandbits(128), version=4))
            login = f"user{index + 1}@example.com"
            self.data.employees[uid] = Employee(
                uuid=uid,
                login=login,
                given=given,
                family=family,
                employee_number=f"E{1000 + index}",
                email=login,
                cost_centre=self.rng.choice(self.data.cost_centres),
            )

    def _money(self, low: int, high: int) -> Decimal:
        return Decimal(self.rng.randint(low * 100, high * 100)) / 100

    def account_code(self, type_code: str, cost_centre_item: str) -> str | None:
        """The tenant's account code for an expense type charged to a cost centre (list item id)."""
        cost_centre = self.data.list_items[cost_centre_item].code if cost_centre_item in self.data.list_items else ""
        return COST_CENTRE_ACCOUNT_CODES.get((type_code, cost_centre)) or ACCOUNT_CODES.get(type_code)

    def _allocations(self, amount: Decimal, owner: Employee, type_code: str = "") -> list[Allocation]:
        split = self.rng.choice(SPLITS)
        if len(split) == 1:
            # Unallocated: Concur keeps one hidden system allocation with the default cost objects.
            allocations = [Allocation(hex_id(self.rng, 32), Decimal("100.00000000"), amount, {"custom1": owner.cost_centre}, system=True)]
        else:
            shares = split_amount(amount, split)
            allocations = [
                Allocation(
                    hex_id(self.rng, 32),
                    pct.quantize(Decimal("1E-8")),
                    share,
                    {"custom1": self.rng.choice(self.data.cost_centres), "custom2": self.rng.choice(self.data.projects)},
                )
                for pct, share in zip(split, shares, strict=True)
            ]
        for allocation in allocations:
            allocation.account_code = self.account_code(type_code, allocation.custom["custom1"])
            allocation.over_limit_account_code = OVER_LIMIT_ACCOUNT_CODES.get(type_code)
        return allocations

    def report(self, status: str = "A_PEND") -> Report:
        if self.profile == "realistic":
            return self._realistic_report(status)
        if self.profile == "mixed" and self._report_no % 2 == 1:
            return self._realistic_report(status, currency="USD", advances=False)
        rng = self.rng
        report, owner = self._new_report(status, "USD")
        for _ in range(rng.randint(1, 5)):
            code, name = rng.choice(EXPENSE_TYPES)
            date = report.report_date - dt.timedelta(days=rng.randint(0, 10))
            if rng.random() < 0.2:
                currency, rate = rng.choice(FOREIGN)
                tx = self._money(5, 900) if currency != "JPY" else Decimal(rng.randint(500, 90000))
                amount = cents(tx * rate)
            else:
                currency, rate = "USD", Decimal("1.00000000")
                tx = self._money(3, 1500) + Decimal("0.01") * rng.choice([0, 1])  # odd cents often
                amount = tx
            if amount <= 0:
                amount = Decimal("0.01")
            card = (code in ("AIRFR", "LODNG", "CARRT") and rng.random() < 0.7) or rng.random() < 0.2
            merchant = rng.choice(MERCHANTS[code]) if rng.random() < 0.9 else None
            report.expenses.append(
                Expense(
                    id=hex_id(rng, 32),
                    type_code=code,
                    type_name=name,
                    date=date,
                    transaction_amount=tx,
                    transaction_currency=currency,
                    exchange_rate=rate,
                    amount=amount,
                    payment_code="CBCP" if card else "CASH",
                    merchant=merchant,
                    purpose=rng.choice(["Client visit", "Conference", "Team offsite", "Sales meeting"]),
                    allocations=self._allocations(amount, owner, code),
                )
            )
        self.data.reports[report.id] = report
        return report

    def invoice(self, status: str = "A_PEND") -> Invoice:
        if self.profile == "realistic":
            return self._realistic_invoice(status)
        rng = self.rng
        self._invoice_no += 1
        code, name = rng.choice(VENDORS)
        created = self.now - dt.timedelta(days=rng.randint(1, 20), minutes=rng.randint(0, 600))
        invoice = Invoice(
            # v3 ids are opaque and contain '$' (clients must URL-encode them).
            id=f"gW{hex_id(rng, 6)}${hex_id(rng, 14).lower()}",
            invoice_number=f"INV-{rng.randint(10000, 99999)}-{self._invoice_no}",
            vendor_code=code,
            vendor_name=name,
            currency="USD",
            status=status,
            payment_status="P_NOTP",
            invoice_date=created.date(),
            due_date=created.date() + dt.timedelta(days=30),
            description=rng.choice(["Monthly services", "Supplies", "Licences", "Équipement"]),
            created=created,
            modified=created,
            owner_login=rng.choice(list(self.data.employees.values())).login,
        )
        for index in range(rng.choice([1, 1, 2, 3, 4])):
            split = rng.choice(SPLITS)
            # Drawn in the order the generator always drew them, so seeded data stays the same.
            description = rng.choice(["Paper", "Consulting hours", "Licence seat", "Phone plan"])
            type_code = rng.choice(INVOICE_EXPENSE_TYPES)
            quantity, unit_price = Decimal(rng.randint(1, 7)), self._money(1, 700) + Decimal("0.01")
            allocations = []
            for pct in split:
                rng.randint(100, 999)  # was a random account code: the tenant's code per expense type now
                allocations.append(
                    InvoiceAllocation(pct, INVOICE_ACCOUNT_CODES[type_code], {"Custom1": rng.choice(COST_CENTRES)[0], "Custom2": rng.choice(PROJECTS)[0]})
                )
            line = InvoiceLine(
                id=str(1000 + index),
                description=description,
                type_code=type_code,
                quantity=quantity,
                unit_price=unit_price,
                allocations=allocations,
            )
            invoice.lines.append(line)
        self.data.invoices[invoice.id] = invoice
        return invoice

    # ------------------------------------------------------------ realistic profile

    # Each report takes three of these in turn, so every shape appears within the first reports.
    KINDS = (
        "cash",
        "cbcp",
        "ibcp",
        "personal_card",
        "itemized_hotel",
        "partly_approved_card",
        "ibip",
        "partly_approved_cash",
        "personal_cash",
        "billable_cash",
        "cbcp",
        "cash",
    )

    def _new_report(self, status: str, currency: str) -> tuple[Report, Employee]:
        rng = self.rng
        self._report_no += 1
        owner = rng.choice(list(self.data.employees.values()))
        created = self.now - dt.timedelta(days=rng.randint(1, 20), minutes=rng.randint(0, 600))
        report = Report(
            id=hex_id(rng, 20),
            name=f"Trip {self._report_no} — {rng.choice(['Berlin', 'Montréal', 'São Paulo', 'Tokyo', 'Chicago'])}",
            owner=owner.uuid,
            currency=currency,
            status=status,
            payment_status="P_NOTP",
            report_date=created.date(),
            created=created,
            modified=created,
            submitted=created,
        )
        return report, owner

    def _expense(self, report: Report, owner: Employee, code: str, payment: str, amount: Decimal, **kwargs: object) -> Expense:
        name = dict(EXPENSE_TYPES).get(code, code)
        expense = Expense(
            id=hex_id(self.rng, 32),
            type_code=code,
            type_name=name,
            date=report.report_date - dt.timedelta(days=self.rng.randint(0, 10)),
            transaction_amount=amount,
            transaction_currency=report.currency,
            exchange_rate=Decimal("1.00000000"),
            amount=amount,
            payment_code=payment,
            merchant=self.rng.choice(MERCHANTS.get(code, ["Merchant"])),
            purpose=self.rng.choice(["Client visit", "Conference", "Team offsite", "Sales meeting"]),
        )
        for key, value in kwargs.items():
            setattr(expense, key, value)
        expense.transaction_amount = expense.posted_amount  # what was spent, in the report currency
        if not expense.personal and not expense.itemizations:
            expense.allocations = self._allocations(expense.amount, owner, code)
        report.expenses.append(expense)
        return expense

    def _itemized_hotel(self, report: Report, owner: Employee) -> Expense:
        """A hotel folio on the company card: room nights, room tax, and a personal charge."""
        nights = self.rng.randint(1, 4)
        rate = self._money(90, 260)
        parts = [
            ("LODNG", "Hotel", cents(rate * nights), False),
            ("LODTX", "Hotel Tax", cents(rate * nights * Decimal("0.1475")), False),
            ("PERSL", "Personal", self._money(8, 40), True),
        ]
        items = []
        for code, name, amount, personal in parts:
            item = Itemization(hex_id(self.rng, 32), code, name, amount, personal=personal)
            if not personal:
                item.allocations = self._allocations(amount, owner, code)
            items.append(item)
        charge = sum((i.amount for i in items), Decimal(0))
        expense = self._expense(report, owner, "LODNG", "CBCP", charge, itemizations=items)
        expense.amount = expense.business  # the parent's approved amount: its business itemizations
        return expense

    def _realistic_report(self, status: str, currency: str | None = None, advances: bool = True) -> Report:
        rng = self.rng
        currency = currency or ("EUR" if self._report_no % 4 == 3 else "USD")
        report, owner = self._new_report(status, currency)
        self._realistic_no += 1  # its own count, so a mixed profile still cycles through every shape
        start = (self._realistic_no - 1) * 3
        kinds = [self.KINDS[(start + i) % len(self.KINDS)] for i in range(3)]
        advance = advances and self._report_no % 3 == 0
        if advance and "cash" not in kinds:
            kinds.append("cash")
        for kind in kinds:
            code = rng.choice(["AIRFR", "MEALS", "TAXIX", "CARRT", "OFFSP"])
            amount = self._money(20, 900) + Decimal("0.01") * rng.choice([0, 1])
            if kind in ("cash", "cbcp", "ibcp", "ibip"):
                self._expense(report, owner, code, kind.upper(), amount)
            elif kind == "billable_cash":
                self._expense(report, owner, code, "CASH", amount, billable=True)
            elif kind in ("personal_card", "personal_cash"):
                # Assumption: a personal expense claims and approves nothing; its charge is posted.
                self._expense(
                    report, owner, "MEALS", "CBCP" if kind == "personal_card" else "CASH", Decimal(0), personal=True, claimed=Decimal(0), posted=amount
                )
            elif kind == "itemized_hotel":
                self._itemized_hotel(report, owner)
            else:  # partly approved: the approver cuts the claim (approverAdjustedAmount)
                approved = cents(amount * Decimal("0.75"))
                self._expense(report, owner, "MEALS", "CBCP" if kind == "partly_approved_card" else "CASH", approved, claimed=amount)
        if advance:
            cash = sum((e.business for e in report.expenses if e.payment_code in EMPLOYEE_PAID), Decimal(0))
            report.cash_advance = cents(cash * Decimal("0.6"))  # partly covered by the advance
        self.data.reports[report.id] = report
        return report

    def _realistic_invoice(self, status: str) -> Invoice:
        rng = self.rng
        self._invoice_no += 1
        code, name = VENDORS[(self._invoice_no - 1) % len(VENDORS)]
        address, terms, terms_days, currency = VENDOR_DETAILS[code]
        created = self.now - dt.timedelta(days=rng.randint(1, 20), minutes=rng.randint(0, 600))
        invoice = Invoice(
            id=f"gW{hex_id(rng, 6)}${hex_id(rng, 14).lower()}",
            invoice_number=f"INV-{rng.randint(10000, 99999)}-{self._invoice_no}",
            vendor_code=code,
            vendor_name=name,
            currency=currency,
            status=status,
            payment_status="P_NOTP",
            invoice_date=created.date(),
            due_date=created.date() + dt.timedelta(days=terms_days),
            description=rng.choice(["Monthly services", "Supplies", "Licences", "Équipement"]),
            created=created,
            modified=created,
            owner_login=rng.choice(list(self.data.employees.values())).login,
            terms=terms,
            terms_days=terms_days,
            remit=RemitAddress(*address),
        )
        for index in range(1 if self._invoice_no % 2 else rng.choice([2, 3, 4])):  # one line (object) and many (list)
            type_code = rng.choice(INVOICE_EXPENSE_TYPES)
            split = rng.choice(SPLITS)
            invoice.lines.append(
                InvoiceLine(
                    id=str(1000 + index),
                    description=rng.choice(["Paper", "Consulting hours", "Licence seat", "Phone plan"]),
                    type_code=type_code,
                    quantity=Decimal(rng.randint(1, 7)),
                    unit_price=self._money(1, 700) + Decimal("0.01"),
                    billable=rng.random() < 0.3,
                    allocations=[
                        InvoiceAllocation(pct, INVOICE_ACCOUNT_CODES[type_code], {"Custom1": rng.choice(COST_CENTRES)[0], "Custom2": rng.choice(PROJECTS)[0]})
                        for pct in split
                    ],
                )
            )
        rate = Decimal("0.19") if currency == "EUR" else Decimal("0.0825")  # VAT in Europe, US sales tax
        if self._invoice_no % 3 != 0:
            invoice.tax = cents(invoice.line_total * rate)
        if self._invoice_no % 2 == 0:
            invoice.shipping = self._money(5, 80)
        self.data.invoices[invoice.id] = invoice
        return invoice


def generate(
    seed: int | str,
    company_key: str,
    *,
    now: dt.datetime,
    employees: int = 6,
    reports: int = 5,
    invoices: int = 2,
    status: str = "A_PEND",
    profile: str = "simple",
) -> Generator:
    generator = Generator(seed, company_key, now, profile)
    generator.employees(max(employees, 3))
    for _ in range(reports):
        generator.report(status)
    for _ in range(invoices):
        generator.invoice(status)
    return generator
