"""Generated Concur content for the simulator, from a seed (same seed -> same data).

Deliberately awkward: unicode and over-long names, allocations that do not divide evenly
(33.33/33.33/33.34 of odd amounts), company-card (CBCP) and out-of-pocket (CASH) expenses,
foreign-currency transactions, invoices with one or many lines and allocations.
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


@dataclass
class Expense:
    id: str
    type_code: str
    type_name: str
    date: dt.date
    transaction_amount: Decimal
    transaction_currency: str
    exchange_rate: Decimal
    amount: Decimal  # approved, in the report currency
    payment_code: str  # CASH | CBCP
    merchant: str | None
    purpose: str
    allocations: list[Allocation] = field(default_factory=list)
    personal: bool = False


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

    @property
    def total(self) -> Decimal:
        return sum((e.amount for e in self.expenses if not e.personal), Decimal(0))


@dataclass
class InvoiceAllocation:
    percentage: Decimal
    account_code: str
    custom: dict[str, str]  # CustomN -> code


@dataclass
class InvoiceLine:
    id: str
    description: str
    type_code: str
    quantity: Decimal
    unit_price: Decimal
    allocations: list[InvoiceAllocation] = field(default_factory=list)

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

    @property
    def total(self) -> Decimal:
        return sum((line.amount for line in self.lines), Decimal(0))


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

    def __init__(self, seed: int | str, company_key: str, now: dt.datetime):
        self.rng = random.Random(f"{seed}:{company_key}")
        self.now = now
        self.data = CompanyData()
        self._report_no = 0
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
                uuid=uid, login=login, given=given, family=family, employee_number=f"E{1000 + index}",
                email=login, cost_centre=self.rng.choice(self.data.cost_centres),
            )

    def _money(self, low: int, high: int) -> Decimal:
        return Decimal(self.rng.randint(low * 100, high * 100)) / 100

    def _allocations(self, amount: Decimal, owner: Employee) -> list[Allocation]:
        split = self.rng.choice(SPLITS)
        if len(split) == 1:
            # Unallocated: Concur keeps one hidden system allocation with the default cost objects.
            return [Allocation(hex_id(self.rng, 32), Decimal("100.00000000"), amount, {"custom1": owner.cost_centre}, system=True)]
        shares = split_amount(amount, split)
        return [
            Allocation(hex_id(self.rng, 32), pct.quantize(Decimal("1E-8")), share,
                       {"custom1": self.rng.choice(self.data.cost_centres), "custom2": self.rng.choice(self.data.projects)})
            for pct, share in zip(split, shares, strict=True)
        ]

    def report(self, status: str = "A_PEND") -> Report:
        rng = self.rng
        self._report_no += 1
        owner = rng.choice(list(self.data.employees.values()))
        created = self.now - dt.timedelta(days=rng.randint(1, 20), minutes=rng.randint(0, 600))
        report = Report(
            id=hex_id(rng, 20), name=f"Trip {self._report_no} — {rng.choice(['Berlin', 'Montréal', 'São Paulo', 'Tokyo', 'Chicago'])}",
            owner=owner.uuid, currency="USD", status=status, payment_status="P_NOTP",
            report_date=created.date(), created=created, modified=created, submitted=created,
        )
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
            report.expenses.append(Expense(
                id=hex_id(rng, 32), type_code=code, type_name=name, date=date, transaction_amount=tx,
                transaction_currency=currency, exchange_rate=rate, amount=amount,
                payment_code="CBCP" if card else "CASH", merchant=merchant,
                purpose=rng.choice(["Client visit", "Conference", "Team offsite", "Sales meeting"]),
                allocations=self._allocations(amount, owner),
            ))
        self.data.reports[report.id] = report
        return report

    def invoice(self, status: str = "A_PEND") -> Invoice:
        rng = self.rng
        self._invoice_no += 1
        code, name = rng.choice(VENDORS)
        created = self.now - dt.timedelta(days=rng.randint(1, 20), minutes=rng.randint(0, 600))
        invoice = Invoice(
            # v3 ids are opaque and contain '$' (clients must URL-encode them).
            id=f"gW{hex_id(rng, 6)}${hex_id(rng, 14).lower()}",
            invoice_number=f"INV-{rng.randint(10000, 99999)}-{self._invoice_no}",
            vendor_code=code, vendor_name=name, currency="USD", status=status, payment_status="P_NOTP",
            invoice_date=created.date(), due_date=created.date() + dt.timedelta(days=30),
            description=rng.choice(["Monthly services", "Supplies", "Licences", "Équipement"]),
            created=created, modified=created, owner_login=rng.choice(list(self.data.employees.values())).login,
        )
        for index in range(rng.choice([1, 1, 2, 3, 4])):
            split = rng.choice(SPLITS)
            line = InvoiceLine(
                id=str(1000 + index), description=rng.choice(["Paper", "Consulting hours", "Licence seat", "Phone plan"]),
                type_code=rng.choice(INVOICE_EXPENSE_TYPES), quantity=Decimal(rng.randint(1, 7)),
                unit_price=self._money(1, 700) + Decimal("0.01"),
                allocations=[
                    InvoiceAllocation(pct, f"6{rng.randint(100, 999)}",
                                      {"Custom1": rng.choice(COST_CENTRES)[0], "Custom2": rng.choice(PROJECTS)[0]})
                    for pct in split
                ],
            )
            invoice.lines.append(line)
        self.data.invoices[invoice.id] = invoice
        return invoice


def generate(seed: int | str, company_key: str, *, now: dt.datetime, employees: int = 6, reports: int = 5,
             invoices: int = 2, status: str = "A_PEND") -> Generator:
    generator = Generator(seed, company_key, now)
    generator.employees(max(employees, 3))
    for _ in range(reports):
        generator.report(status)
    for _ in range(invoices):
        generator.invoice(status)
    return generator
