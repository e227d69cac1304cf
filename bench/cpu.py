"""CPU per document: plan (``plan_document``) + qbXML build (``build_request`` of each write, the
message-set wrap) + response parse (``parse_message_set`` of QuickBooks' answer), against the floor of
lxml serialising the same request trees (``etree.tostring`` of the already-built elements).

Documents: expense reports with 3 expenses of 3-way allocations and invoices with 2 lines of 3-way
allocations, half each; QuickBooks' answers come from the QuickBooks simulator (outside the clock).
"""

from __future__ import annotations

import datetime as dt
import time
from decimal import Decimal
from pathlib import Path

from lxml import etree

from bench.common import Figure
from shared.config import load_config
from shared.domain import Allocation, Employee, Expense, ExpenseReport, Invoice, InvoiceLine
from sim.quickbooks.latency import LatencyModel
from sim.quickbooks.seed import seed_company
from worker.posting.engine import writes_of
from worker.posting.plan import ListsView, Plan, QuickBooksFacts, plan_document
from worker.posting.vendors import QbVendor, VendorDirectory
from worker.qbxml.build import build_request, request_element, wrap_requests
from worker.qbxml.model import Tagged
from worker.qbxml.parse import parse_message_set

REPO = Path(__file__).resolve().parents[1]
D = Decimal
SPLIT = (D("33.33"), D("33.33"), D("33.34"))
TYPES = ["AIRFR", "LODNG", "MEALS", "TAXIX", "OFFSP", "SOFTW"]
TARGET_S = 0.0005  # issue 17: plan + build + parse per document


def _allocs(amount: Decimal, i: int) -> tuple[Allocation, ...]:
    shares = [(amount * p / 100).quantize(D("0.01")) for p in SPLIT[:2]]
    shares.append(amount - sum(shares))
    classes, projects = ["CC-100", "CC-200", "CC-300"], ["PRJ-7", "PRJ-12", "PRJ-31"]
    return tuple(
        Allocation(percentage=p, amount=s, fields={"custom1": classes[(i + k) % 3], "custom2": projects[(i + 2 * k) % 3]})
        for k, (p, s) in enumerate(zip(SPLIT, shares, strict=True))
    )


def documents(count: int) -> list:
    employees = [
        Employee(employee_id=f"0B5C1F2E-1111-2222-3333-{n:012d}", name=f"Employee {n}", email=f"e{n}@example.com", employee_code=f"E{n}") for n in range(6)
    ]
    docs: list[ExpenseReport | Invoice] = []
    for i in range(count):
        if i % 2 == 0:
            expenses = tuple(
                Expense(
                    expense_id=f"EXP{i}-{k}",
                    expense_type=TYPES[(i + k) % len(TYPES)],
                    expense_type_name="x",
                    transaction_date=dt.date(2026, 3, 1 + k),
                    amount=D(f"{100 + i % 97}.{k}7"),
                    payment_type="CBCP" if k == 0 and i % 4 == 0 else "CASH",
                    merchant="Merchant",
                    allocations=(),
                )
                for k in range(3)
            )
            expenses = tuple(Expense(**{**e.__dict__, "allocations": _allocs(e.amount, i)}) for e in expenses)
            docs.append(
                ExpenseReport(
                    report_id=f"{i:020X}",
                    name=f"Trip {i}",
                    owner=employees[i % 6],
                    currency="USD",
                    approval_status="A_APPR",
                    total=sum((e.amount for e in expenses), D(0)),
                    report_date=dt.date(2026, 3, 10),
                    expenses=expenses,
                )
            )
        else:
            lines = tuple(
                InvoiceLine(
                    line_id=str(k + 1), description=f"line {k}", expense_type=TYPES[(i + k) % len(TYPES)], amount=D(f"{200 + i % 53}.{k}1"), allocations=()
                )
                for k in range(2)
            )
            lines = tuple(InvoiceLine(**{**li.__dict__, "allocations": _allocs(li.amount, i)}) for li in lines)
            docs.append(
                Invoice(
                    request_id=f"PR${i}$ABCD",
                    invoice_number=f"INV-{i}",
                    vendor_name=f"Vendor {i % 9}",
                    vendor_code=f"V{i % 9}",
                    currency="USD",
                    approval_status="A_APPR",
                    total=sum((li.amount for li in lines), D(0)),
                    invoice_date=dt.date(2026, 3, 5),
                    due_date=dt.date(2026, 4, 4),
                    terms="Net 30",
                    lines=lines,
                )
            )
    return docs


def bench(quick: bool, *, count: int | None = None, repeats: int = 5) -> tuple[list[Figure], list[str]]:
    n = count or (200 if quick else 2000)
    config = load_config(REPO / "mlc.toml")
    company = config.companies[0]
    mapping = company.mapping
    accounts = set(mapping.expense_types.values()) | {company.posting.ap_account, company.posting.company_card_account}
    lists = ListsView.of(accounts=accounts, classes=mapping.classes.values(), customers=mapping.customers.values())
    facts = QuickBooksFacts(home_currency="USD", multicurrency=False, class_tracking=True, closing_date=None)
    # QuickBooks' answers come from the simulator (not timed); its vendors are the ones planned against.
    qb = seed_company(company.qbwc.file_id, company.qbwc.owner_id, company_name=company.name, latency=LatencyModel(0, 0, 0, 0, 0))
    records = [qb.add_list_record("Vendor", name) for name in [f"Employee {k}" for k in range(6)] + [f"Vendor {k}" for k in range(9)]]
    vendors = VendorDirectory.of([QbVendor(list_id=r["ListID"], name=r["Name"], is_active=True, edit_sequence=r["EditSequence"]) for r in records], ())
    docs = documents(n)

    def plan_all():
        out = []
        for doc in docs:
            result = plan_document(doc, company, facts, lists, vendors, {})
            assert isinstance(result, Plan), result
            out.append(result)
        return out

    plans = plan_all()
    tagged = [[Tagged(str(i * 10 + k), w.request) for k, w in enumerate(writes_of(p))] for i, p in enumerate(plans)]
    elements = [[request_element(t) for t in ts] for ts in tagged]
    responses = [qb.process(wrap_requests([build_request(t) for t in ts])).response for ts in tagged]
    assert all('statusCode="0"' in r for r in responses[:10]), responses[0][:500]

    def best(fn) -> float:
        times = []
        for _ in range(repeats):
            began = time.perf_counter()
            fn()
            times.append(time.perf_counter() - began)
        return min(times) / n

    plan_s = best(plan_all)
    build_s = best(lambda: [wrap_requests([build_request(t) for t in ts]) for ts in tagged])
    parse_s = best(lambda: [parse_message_set(r) for r in responses])
    floor_s = best(lambda: [[etree.tostring(e, encoding="unicode") for e in es] for es in elements])
    total = plan_s + build_s + parse_s
    writes = sum(len(ts) for ts in tagged)
    figures = [
        Figure("cpu: plan + build + parse / document", total * 1000, floor_s * 1000, "ms", "<= 0.5 ms", total <= TARGET_S),
        Figure("cpu: plan / document", plan_s * 1000, floor_s * 1000, "ms", "", None),
        Figure("cpu: qbXML build / document", build_s * 1000, floor_s * 1000, "ms", "", None),
        Figure("cpu: response parse / document", parse_s * 1000, floor_s * 1000, "ms", "", None),
    ]
    notes = [
        f"{n} documents (half reports with 3 expenses, half invoices with 2 lines; every line 3-way allocated), "
        f"{writes} writes; best of {repeats}; baseline = lxml etree.tostring of the same request elements"
    ]
    return figures, notes
