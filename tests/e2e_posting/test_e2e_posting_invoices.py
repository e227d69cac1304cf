"""Invoices booked as QuickBooks books them (issue 13), end to end through both simulators with
Concur's realistic profile: header tax and shipping (spread, and on their own accounts), mapped
and unmapped terms, a vendor matched by its Concur vendor code, a bill keyed by hand held and then
skipped, and EUR invoices in a single-currency file (held), in a multicurrency file (posted in the
vendor's currency at QuickBooks' rate to the EUR A/P account) and to a USD vendor (held).
Reconcile equals Concur per account and currency."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from decimal import Decimal

import pytest

from mlc import harness
from sim.quickbooks.seed import key_bill_by_hand, turn_on_multicurrency
from worker.posting.actions import apply_action
from worker.posting.reconciling import reconcile_company

from e2e_posting_helpers import COMPANY, document, qb_signed_lines, qb_transactions, running, sql

INVOICES = 6  # the realistic profile cycles five vendors: the sixth is V-1001 again
TERMS = {"Net 30": "Net 30", "Net 15": "Net 15"}  # "Net 45" stays unmapped (and QuickBooks has no such terms)


def _invoices(h) -> list:
    return list(h.concur.companies[COMPANY].data.invoices.values())


def _bills_by_ref(h) -> dict[str, list[dict]]:
    found: dict[str, list[dict]] = {}
    for kind, txn in qb_transactions(h):
        if kind == "Bill":
            found.setdefault(txn.get("RefNumber", ""), []).append(txn)
    return found


def _name(h, ref) -> str | None:
    return h.company_file.ref_name(ref) if ref else None


def _posting(change_posting: dict | None = None):
    def change(raw: dict) -> None:
        company = raw["companies"][0]
        company.setdefault("mapping", {})["terms"] = dict(TERMS)
        company.setdefault("posting", {}).update(change_posting or {})

    return change


async def _reconciled(h):
    """What ``mlc reconcile`` computes."""
    company = h.worker.ctx.config.companies[0]
    return await h.worker.ctx.store.run(reconcile_company, company, dt.date(2000, 1, 1), dt.date(2100, 1, 1))


@pytest.mark.trio
async def test_single_currency_file_spread_terms_vendor_code_and_a_hand_keyed_bill(tmp_path):
    hand: dict[str, dict] = {}

    def prepare(h) -> None:
        invoices = _invoices(h)
        assert [i.vendor_code for i in invoices] == ["V-1001", "V-1002", "V-1003", "V-1004", "V-1005", "V-1001"]
        # A bookkeeper keyed the sixth invoice by hand: same vendor (matched by code), same number.
        hand["bill"] = key_bill_by_hand(h.company_file, "Acme Travel LLC", invoices[5].invoice_number, "2026-01-15", (("Office Supplies", "99.00"),))
        h.company_file.save(h.company_path)

    async with running(tmp_path, reports=0, invoices=INVOICES, seed=7, concur_profile="realistic", change=_posting(), before_worker=prepare) as h:
        expected = harness.approve_everything(h)
        assert expected == INVOICES
        await harness.deliver(h)
        counts = await harness.drain(h, expected=expected, timeout_s=60)
        assert counts == {"posted": 3, "held": 3}, counts
        inv = _invoices(h)
        bills = _bills_by_ref(h)

        # Vendor matched by its Concur vendor code (AccountNumber V-1001), not by name; terms mapped.
        [acme] = bills[inv[0].invoice_number]
        assert _name(h, acme["VendorRef"]) == "Acme Travel LLC" != inv[0].vendor_name
        assert _name(h, acme["TermsRef"]) == "Net 30"
        # Unmapped terms: no TermsRef, the due date stands, and the decision says so.
        [northwind] = bills[inv[2].invoice_number]
        assert "TermsRef" not in northwind and northwind["DueDate"] == inv[2].due_date.isoformat()
        plan = json.loads((await document(h, inv[2].id))["plan"])
        assert any('terms "Net 45" are not in [companies.mapping.terms]' in d for d in plan["decisions"])

        # Tax and shipping spread over the lines: every bill is Concur's approved total to the cent,
        # each allocation kept its class, and no extra account appears.
        for invoice in (inv[0], inv[3]):
            [bill] = bills[invoice.invoice_number]
            assert invoice.tax or invoice.shipping
            assert Decimal(bill["AmountDue"]) == invoice.total
            assert sum(Decimal(line["Amount"]) for line in bill["ExpenseLineRet"]) == invoice.total
            assert len(bill["ExpenseLineRet"]) == sum(len(line.allocations) for line in invoice.lines)
            accounts = {_name(h, line["AccountRef"]) for line in bill["ExpenseLineRet"]}
            assert accounts <= {"Office Supplies", "Professional Fees", "Software", "Telephone Expense"}
        [long_named] = bills[inv[3].invoice_number]
        assert _name(h, long_named["TermsRef"]) == "Net 15"

        # EUR invoices in a file without multicurrency: held, never posted as dollars.
        for invoice in (inv[1], inv[4]):
            doc = await document(h, invoice.id)
            assert doc["state"] == "held" and "multicurrency is off" in doc["reason"], doc["reason"]
            assert invoice.invoice_number not in bills

        # The hand-keyed bill: held with its TxnID and date; QuickBooks still has only that bill.
        doc = await document(h, inv[5].id)
        assert doc["state"] == "held" and doc["hold_kind"] == "hand_keyed"
        assert "entered by hand" in doc["reason"] and hand["bill"]["TxnID"] in doc["reason"] and "2026-01-15" in doc["reason"]
        assert [b["TxnID"] for b in bills[inv[5].invoice_number]] == [hand["bill"]["TxnID"]]
        [check] = await sql(h, "SELECT state, txn_id FROM postings WHERE document_id = ? AND op = 'BillCheck'", doc["id"])
        assert check == {"state": "failed", "txn_id": hand["bill"]["TxnID"]}
        # Only invoices to an existing vendor were checked (a vendor being created has no bills).
        checked = await sql(h, "SELECT DISTINCT d.concur_id FROM postings p JOIN documents d ON d.id = p.document_id WHERE p.op = 'BillCheck'")
        assert {r["concur_id"] for r in checked} == {inv[0].id, inv[5].id}

        # The operator decides: skip. Nothing more reaches QuickBooks.
        await h.worker.ctx.store.run(apply_action, doc["id"], "skip", "keyed by hand in January", "operator")
        await harness.web_connector_run(h)
        assert (await document(h, inv[5].id))["state"] == "skipped"
        assert [b["TxnID"] for b in _bills_by_ref(h)[inv[5].invoice_number]] == [hand["bill"]["TxnID"]]

        # Reconcile: every posted line matches its plan per account, class and currency; the two
        # held EUR invoices are what is not posted.
        result = await _reconciled(h)
        assert all(row.difference == 0 for row in result.rows), [r for r in result.rows if r.difference]
        assert {u.concur_id for u in result.unplanned} == {inv[1].id, inv[4].id}


@pytest.mark.trio
async def test_multicurrency_file_eur_bills_and_separate_tax_and_shipping(tmp_path):
    def prepare(h) -> None:
        turn_on_multicurrency(h.company_file)
        h.company_file.add_list_record("Account", "Sales Tax Paid", AccountType="Expense", AccountNumber="64950")
        h.company_file.save(h.company_path)

    posting = {"ap_accounts": {"EUR": "Accounts Payable - EUR"}, "invoice_tax_account": "Sales Tax Paid", "invoice_shipping_account": "Postage and Delivery"}
    async with running(tmp_path, reports=0, invoices=INVOICES, seed=7, concur_profile="realistic", change=_posting(posting), before_worker=prepare) as h:
        expected = harness.approve_everything(h)
        await harness.deliver(h)
        counts = await harness.drain(h, expected=expected, timeout_s=60)
        assert counts == {"posted": 5, "held": 1}, counts
        inv = _invoices(h)
        bills = _bills_by_ref(h)

        # V-1002 is "Office Depot" in QuickBooks (matched by code), a US Dollar vendor: a EUR
        # invoice cannot be its bill, and the hold names both currencies.
        doc = await document(h, inv[1].id)
        assert doc["state"] == "held" and "is in USD but the invoice is in EUR" in doc["reason"], doc["reason"]
        assert "Office Depot" in doc["reason"]

        # V-1005 is new: created in Euro with its code and remit-to address; the bill is in EUR, on
        # the EUR A/P account, at QuickBooks' Euro rate (Concur's Invoice v3 states none).
        [eur] = bills[inv[4].invoice_number]
        vendor = h.company_file.find_list("Vendor", _name(h, eur["VendorRef"]))
        assert _name(h, vendor["CurrencyRef"]) == "Euro" and vendor["AccountNumber"] == "V-1005"
        assert vendor["VendorAddress"]["City"] == "Paris" and vendor["VendorAddress"]["PostalCode"] == "75001"
        assert _name(h, eur["CurrencyRef"]) == "Euro" and _name(h, eur["APAccountRef"]) == "Accounts Payable - EUR"
        assert Decimal(eur["ExchangeRate"]) == Decimal("1.0842")
        assert Decimal(eur["AmountDue"]) == inv[4].total
        assert Decimal(eur["AmountDueInHomeCurrency"]) == (inv[4].total * Decimal("1.0842")).quantize(Decimal("0.01"))

        # Tax and shipping on their own lines (no customer, no class), the rest as Concur allocated.
        for invoice in (inv[0], inv[3], inv[4], inv[5]):
            [bill] = bills[invoice.invoice_number]
            lines = bill["ExpenseLineRet"]
            by_account = Counter()
            for line in lines:
                by_account[_name(h, line["AccountRef"])] += Decimal(line["Amount"])
            assert by_account.get("Sales Tax Paid", Decimal(0)) == invoice.tax
            assert by_account.get("Postage and Delivery", Decimal(0)) == invoice.shipping
            assert Decimal(bill["AmountDue"]) == invoice.total

        # The hand-keyed check ran for the existing vendor and found nothing of anyone else's.
        checks = await sql(h, "SELECT state FROM postings WHERE op = 'BillCheck'")
        assert checks and all(c["state"] == "done" for c in checks)

        # Per account and currency, QuickBooks holds what Concur approved: lines by expense type,
        # tax and shipping on their accounts, each invoice's total on the A/P of its currency.
        company = h.worker.ctx.config.companies[0]
        concur: Counter = Counter()
        for invoice in inv:
            if invoice.id == inv[1].id:
                continue  # held
            for line in invoice.lines:
                concur[(company.mapping.expense_types[line.type_code], invoice.currency)] += line.amount
            concur[("Sales Tax Paid", invoice.currency)] += invoice.tax
            concur[("Postage and Delivery", invoice.currency)] += invoice.shipping
            concur[(company.posting.ap_accounts.get(invoice.currency, company.posting.ap_account), invoice.currency)] -= invoice.total
        posted: Counter = Counter()
        codes = {"US Dollar": "USD", "Euro": "EUR"}
        for kind, txn in qb_transactions(h):
            currency = codes[_name(h, txn["CurrencyRef"])]
            for account, _klass, amount in qb_signed_lines(h, kind, txn):
                posted[(account, currency)] += amount
        assert +posted == +concur

        result = await _reconciled(h)
        assert all(row.difference == 0 for row in result.rows)
        assert {row.currency for row in result.rows} == {"USD", "EUR"}
        assert {u.concur_id for u in result.unplanned} == {inv[1].id}


@pytest.mark.trio
async def test_hand_keyed_bill_posted_anyway_with_replay_force(tmp_path):
    """The operator says the bill QuickBooks has is another one: replay --force posts the invoice
    without asking again; a plain replay asks again (and holds again)."""
    hand: dict[str, dict] = {}

    def prepare(h) -> None:
        first = _invoices(h)[0]
        hand["bill"] = key_bill_by_hand(h.company_file, "Acme Travel LLC", first.invoice_number, "2026-01-15", (("Office Supplies", "99.00"),))
        h.company_file.save(h.company_path)

    async with running(tmp_path, reports=0, invoices=1, seed=7, concur_profile="realistic", change=_posting(), before_worker=prepare) as h:
        harness.approve_everything(h)
        await harness.deliver(h)
        assert await harness.drain(h, expected=1, timeout_s=30) == {"held": 1}
        [invoice] = _invoices(h)
        doc = await document(h, invoice.id)
        assert doc["hold_kind"] == "hand_keyed"

        await h.worker.ctx.store.run(apply_action, doc["id"], "replay", "look again", "operator")
        assert await harness.drain(h, expected=1, timeout_s=30) == {"held": 1}
        assert (await document(h, invoice.id))["hold_kind"] == "hand_keyed"
        assert len(await sql(h, "SELECT id FROM postings WHERE document_id = ? AND op = 'BillCheck'", doc["id"])) == 2

        await h.worker.ctx.store.run(apply_action, doc["id"], "replay", "a different bill, same number", "operator", True)
        assert await harness.drain(h, expected=1, timeout_s=30) == {"posted": 1}
        bills = _bills_by_ref(h)[invoice.invoice_number]
        assert len(bills) == 2 and Decimal(next(b for b in bills if b["TxnID"] != hand["bill"]["TxnID"])["AmountDue"]) == invoice.total
