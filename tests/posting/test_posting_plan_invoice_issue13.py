"""Invoices as QuickBooks books them (issue 13): header tax and shipping, terms, vendor codes,
vendor currencies and A/P per currency."""

from __future__ import annotations

from decimal import Decimal

from shared.domain import InvoiceLine, RemitAddress
from worker.concur.normalise import invoice_approval_status, normalise_invoice
from worker.posting.plan import Hold, Plan, plan_document
from worker.posting.vendors import CreateVendor, QbVendor, UseVendor, VendorDirectory
from worker.qbxml.model import Address, Ref

from posting_factories import ACCOUNTS, ACME, MAPPING, alloc, company, facts, invoice, invoice_line, lists, replace

D = Decimal
EUR_AP = "Accounts Payable - EUR"


def plan(doc, comp=None, qb=None, lv=None, vendors=None, links=None):
    return plan_document(doc, comp or company(), qb or facts(), lv or lists(), vendors if vendors is not None else VendorDirectory.of([ACME]), links or {})


def taxed(tax: str | None = "8.25", shipping: str | None = "10.00", **kw) -> object:
    lines = (invoice_line("60.00", line_id="1"), invoice_line("40.00", "MEALS", line_id="2"))
    extra = sum((D(x) for x in (tax, shipping) if x), D("0"))
    return invoice(*lines, total=str(D("100.00") + extra), tax_amount=D(tax) if tax else None, shipping_amount=D(shipping) if shipping else None, **kw)


# --- §1 header tax and shipping ---------------------------------------------------------------


def test_tax_and_shipping_are_spread_over_the_lines_by_default():
    result = plan(taxed())
    assert isinstance(result, Plan), result
    (bill,) = result.transactions
    # 18.25 in proportion 60:40 = 10.95 / 7.30, largest remainder to the cent.
    assert [(line.account.full_name, line.amount) for line in bill.lines] == [("Office Supplies", D("70.95")), ("Meals", D("47.30"))]
    assert sum(line.amount for line in bill.lines) == D("118.25") == result.total
    assert any("tax 8.25 spread" in d for d in result.decisions) and any("shipping 10.00 spread" in d for d in result.decisions)


def test_spread_keeps_each_lines_class_customer_and_billable_status():
    line = InvoiceLine(
        "1", "consulting", "OFFICE", D("100.00"), (alloc("50", custom1="CC-100", custom2="PRJ-7"), alloc("50", custom1="CC-200")), is_billable=True
    )
    doc = invoice(line, total="101.01", tax_amount=D("1.01"))
    (bill,) = plan(doc).transactions
    assert [line.amount for line in bill.lines] == [D("50.51"), D("50.50")]
    assert [(line.klass, line.customer, line.billable_status) for line in bill.lines] == [
        (Ref(full_name="Consulting"), Ref(full_name="Client A:Project X"), "Billable"),
        (Ref(full_name="Sales"), None, None),  # no customer:job: nothing to bill
    ]


def test_credit_lines_take_no_share_of_the_tax():
    doc = invoice(invoice_line("100.00"), invoice_line("-20.00", line_id="2"), total="88.00", tax_amount=D("8.00"))
    (bill,) = plan(doc).transactions
    assert [line.amount for line in bill.lines] == [D("108.00"), D("-20.00")]


def test_tax_and_shipping_on_their_own_accounts():
    comp = company(invoice_tax_account="Sales Tax Paid", invoice_shipping_account="Freight")
    result = plan(taxed(), comp=comp, lv=lists(accounts=[*ACCOUNTS, "Sales Tax Paid", "Freight"]))
    (bill,) = result.transactions
    assert [(line.account.full_name, line.amount, line.customer, line.klass) for line in bill.lines] == [
        ("Office Supplies", D("60.00"), None, None),
        ("Meals", D("40.00"), None, None),
        ("Sales Tax Paid", D("8.25"), None, None),
        ("Freight", D("10.00"), None, None),
    ]
    assert sum(line.amount for line in bill.lines) == D("118.25")


def test_tax_account_missing_in_quickbooks_holds():
    result = plan(taxed(), comp=company(invoice_tax_account="Sales Tax Paid"))
    assert isinstance(result, Hold) and 'account "Sales Tax Paid" does not exist' in result.reason


def test_total_not_lines_plus_tax_plus_shipping_holds_naming_every_figure():
    doc = replace(taxed(), total=D("120.00"))
    result = plan(doc)
    assert isinstance(result, Hold)
    assert "100.00 + tax 8.25 + shipping 10.00 = 118.25" in result.reason and "120.00" in result.reason


def test_tax_with_no_line_to_carry_it_holds():
    result = plan(invoice(total="5.00", tax_amount=D("5.00")))
    assert isinstance(result, Hold) and "invoice_tax_account" in result.reason


# --- §3 terms -----------------------------------------------------------------------------------


def test_mapped_terms_in_the_terms_list_are_sent():
    comp = company(mapping=replace(MAPPING, terms={"2% 10 net 30": "2% 10 Net 30"}))
    result = plan(invoice(invoice_line("10.00"), terms="2% 10 Net 30"), comp=comp, lv=lists(terms=["2% 10 Net 30", "Net 30"]))
    assert result.transactions[0].terms == Ref(full_name="2% 10 Net 30")


def test_unmapped_terms_send_no_terms_ref_and_say_so():
    result = plan(invoice(invoice_line("10.00"), terms="Net 45"), lv=lists(terms=["Net 30"]))
    assert isinstance(result, Plan) and result.transactions[0].terms is None
    assert any('terms "Net 45" are not in [companies.mapping.terms]' in d for d in result.decisions)


def test_terms_by_their_days_when_the_text_is_not_mapped():
    comp = company(mapping=replace(MAPPING, terms={"45": "Net 45"}))
    result = plan(invoice(invoice_line("10.00"), terms="Net 45 days", terms_days=45), comp=comp, lv=lists(terms=["Net 45"]))
    assert result.transactions[0].terms == Ref(full_name="Net 45")
    assert any('Concur "45"' in d for d in result.decisions)


def test_terms_mapped_to_a_name_quickbooks_lacks_hold():
    result = plan(invoice(invoice_line("10.00"), terms="Net 30"), lv=lists(terms=["Net 15"]))
    assert isinstance(result, Hold) and 'terms "Net 30" does not exist in QuickBooks' in result.reason


def test_terms_name_too_long_is_never_cut():
    comp = company(mapping=replace(MAPPING, terms={"Net 30": "N" * 32}))
    result = plan(invoice(invoice_line("10.00")), comp=comp)
    assert isinstance(result, Hold) and "31 characters" in result.reason


# --- §4 invoice vendors ---------------------------------------------------------------------------


def test_vendor_matched_by_code_before_name():
    by_code = QbVendor("80000009-1", "ACME Supplies Incorporated", account_number="acme01")
    result = plan(invoice(invoice_line("10.00")), vendors=VendorDirectory.of([ACME, by_code]))
    assert result.vendor_action == UseVendor(by_code.list_id, by_code.name)
    assert any("vendor code ACME01" in d for d in result.decisions)


def test_two_vendors_with_the_code_hold():
    twins = [QbVendor("1", "Acme A", account_number="ACME01"), QbVendor("2", "Acme B", account_number="ACME01")]
    result = plan(invoice(invoice_line("10.00")), vendors=VendorDirectory.of(twins))
    assert isinstance(result, Hold) and "vendor code ACME01" in result.reason


def test_created_vendor_gets_code_and_remit_address():
    remit = RemitAddress(name="Acme Supplies", address1="Königsallee 12", address2="Hinterhaus", city="Düsseldorf", postal_code="40212", country_code="DE")
    result = plan(invoice(invoice_line("10.00"), remit_address=remit), vendors=VendorDirectory.of([]))
    action = result.vendor_action
    assert isinstance(action, CreateVendor)
    assert action.add.account_number == "ACME01"
    assert action.add.vendor_address == Address("Acme Supplies", "Königsallee 12", "Hinterhaus", city="Düsseldorf", postal_code="40212", country="DE")


# --- §6 currencies --------------------------------------------------------------------------------

MULTI = facts(multicurrency=True)
EUR_COMPANY = company(ap_accounts={"EUR": EUR_AP})
EUR_LISTS = lists(accounts=[*ACCOUNTS, EUR_AP], currencies={"USD": "US Dollar", "EUR": "Euro"})


def test_eur_invoice_to_a_eur_vendor_posts_to_the_eur_ap_with_concurs_rate():
    vendor = replace(ACME, currency="EUR")
    doc = invoice(invoice_line("10.00"), currency="EUR", exchange_rate=D("1.0842"))
    result = plan(doc, comp=EUR_COMPANY, qb=MULTI, lv=EUR_LISTS, vendors=VendorDirectory.of([vendor]))
    assert isinstance(result, Plan), result
    (bill,) = result.transactions
    assert bill.ap_account == Ref(full_name=EUR_AP) and bill.exchange_rate == D("1.0842")


def test_eur_invoice_without_a_rate_leaves_it_to_quickbooks():
    vendor = replace(ACME, currency="EUR")
    result = plan(invoice(invoice_line("10.00"), currency="EUR"), comp=EUR_COMPANY, qb=MULTI, lv=EUR_LISTS, vendors=VendorDirectory.of([vendor]))
    assert result.transactions[0].exchange_rate is None
    assert any("Currency list's EUR rate" in d for d in result.decisions)


def test_eur_invoice_to_a_usd_vendor_holds_naming_both():
    vendor = replace(ACME, currency="USD")
    result = plan(invoice(invoice_line("10.00"), currency="EUR"), comp=EUR_COMPANY, qb=MULTI, lv=EUR_LISTS, vendors=VendorDirectory.of([vendor]))
    assert isinstance(result, Hold) and "is in USD but the invoice is in EUR" in result.reason


def test_usd_invoice_to_a_eur_vendor_holds():
    vendor = replace(ACME, currency="EUR")
    result = plan(invoice(invoice_line("10.00")), qb=MULTI, lv=EUR_LISTS, vendors=VendorDirectory.of([vendor]))
    assert isinstance(result, Hold) and "is in EUR but the invoice is in USD" in result.reason


def test_new_vendor_for_a_eur_invoice_is_created_in_euro():
    result = plan(invoice(invoice_line("10.00"), currency="EUR"), comp=EUR_COMPANY, qb=MULTI, lv=EUR_LISTS, vendors=VendorDirectory.of([]))
    assert isinstance(result.vendor_action, CreateVendor) and result.vendor_action.add.currency == Ref(full_name="Euro")


def test_foreign_invoice_without_an_ap_account_for_its_currency_holds():
    vendor = replace(ACME, currency="EUR")
    result = plan(invoice(invoice_line("10.00"), currency="EUR"), qb=MULTI, lv=EUR_LISTS, vendors=VendorDirectory.of([vendor]))
    assert isinstance(result, Hold) and "ap_accounts" in result.reason


def test_currency_missing_from_quickbooks_currency_list_holds():
    result = plan(invoice(invoice_line("10.00"), currency="CHF"), comp=company(ap_accounts={"CHF": EUR_AP}), qb=MULTI, lv=EUR_LISTS)
    assert isinstance(result, Hold) and "Currency list" in result.reason


def test_eur_invoice_in_a_single_currency_file_holds():
    result = plan(invoice(invoice_line("10.00"), currency="EUR"), comp=EUR_COMPANY)
    assert isinstance(result, Hold) and "multicurrency is off" in result.reason


# --- §2 approval status ----------------------------------------------------------------------------


def test_digest_approval_status_decides_and_a_disagreement_is_reported():
    assert invoice_approval_status({"ApprovalStatus": "A_PEND"}, {"ApprovalStatusCode": "A_APPR"})[0] == "A_APPR"
    assert (
        "digest says approval status A_APPR, the detail A_PEND"
        in invoice_approval_status({"ID": "x", "ApprovalStatus": "A_PEND"}, {"ApprovalStatusCode": "A_APPR"})[1]
    )
    assert invoice_approval_status({"ApprovalStatus": "A_APPR"}, {}) == ("A_APPR", "")
    request = {
        "ID": "PR1",
        "ApprovalStatus": "Approved",
        "InvoiceDate": "2026-03-05T00:00:00",
        "TotalApprovedAmount": "10.00",
        "VendorRemitAddress": {"Name": "Acme"},
        "LineItems": {"LineItem": {"LineItemId": "1", "ApprovedLineItemAmount": "10.00"}},
    }
    assert normalise_invoice(request, {"ApprovalStatusCode": "A_APPR"}).approval_status == "A_APPR"
