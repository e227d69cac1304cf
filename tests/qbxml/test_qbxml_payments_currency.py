"""The requests and answers issues 12, 13, 19 and 20 need: bill payments, open balances, the
hand-keyed duplicate check, currencies, terms, account numbers, employees and other names.

Every request is validated against the 13.0 XSD; answers are read from Intuit/field samples in
the shared reference where one exists, else from the QuickBooks simulator (a peer written from
the same public documents)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
from lxml import etree

from sim.quickbooks.seed import key_bill_by_hand, pay_bill_by_hand, seed_company
from worker.qbxml.build import BuildError, build_message_set, build_request, request_kind
from worker.qbxml.model import (
    Address,
    AppliedToTxn,
    BillAdd,
    BillPaymentCheckAdd,
    BillToPayQuery,
    CompanyQuery,
    ExpenseLine,
    HostQuery,
    Iterator,
    JournalEntryAdd,
    JournalLine,
    ListQuery,
    PreferencesQuery,
    Ref,
    Tagged,
    TxnQuery,
    VendorAdd,
    VendorMod,
)
from worker.qbxml.parse import bill_balance, bill_payment, bills_to_pay, company_settings, parse_hcp, parse_message_set

FILE_ID = "{5C1B7E3A-2F4D-4A8B-9C0D-1E2F3A4B5C6D}"
OWNER_ID = "{0D4E6F80-91A2-4B3C-8D5E-6F708192A3B4}"
DAY = dt.date(2026, 3, 1)


def valid(xsd: etree.XMLSchema, *requests: object) -> etree._Element:
    text = build_message_set([Tagged(str(i + 1), r) for i, r in enumerate(requests)])  # type: ignore[arg-type]
    document = etree.fromstring(text.encode())
    assert xsd.validate(document), f"{xsd.error_log}\n{text}"
    return document[0]


def children(element: etree._Element) -> list[str]:
    return [c.tag for c in element]


# --- builders -----------------------------------------------------------------------------------


def test_bill_payment_check_add_in_xsd_order(xsd: etree.XMLSchema) -> None:
    payment = BillPaymentCheckAdd(
        payee=Ref("Jane Doe"),
        bank_account=Ref("Concur Clearing"),
        txn_date=DAY,
        ref_number="CP12345678",
        applied=(AppliedToTxn("1A3-1197758190", Decimal("120.5")), AppliedToTxn("1A4-1197758190", Decimal("3.00"))),
        ap_account=Ref("Accounts Payable"),
        memo="Concur Expense Pay",
        exchange_rate=Decimal("1.0842"),
        external_guid="9b2e4c1a-0d3f-4a5b-8c7d-112233445566",
    )
    (rq,) = valid(xsd, payment)
    assert rq.tag == request_kind(payment) == "BillPaymentCheckAddRq"
    add = rq[0]
    assert children(add) == [
        "PayeeEntityRef",
        "APAccountRef",
        "TxnDate",
        "BankAccountRef",
        "RefNumber",
        "Memo",
        "ExchangeRate",
        "ExternalGUID",
        "AppliedToTxnAdd",
        "AppliedToTxnAdd",
    ]
    assert [a.findtext("PaymentAmount") for a in add.iter("AppliedToTxnAdd")] == ["120.50", "3.00"]
    assert add.findtext("ExchangeRate") == "1.0842"


def test_bill_payment_without_check_number_is_to_be_printed(xsd: etree.XMLSchema) -> None:
    (rq,) = valid(xsd, BillPaymentCheckAdd(Ref("Jane Doe"), Ref("Checking"), DAY, (AppliedToTxn("1A3-1", Decimal("1")),)))
    assert rq[0].findtext("IsToBePrinted") == "false"


@pytest.mark.parametrize(
    "payment",
    [
        BillPaymentCheckAdd(Ref("V"), Ref("Checking"), DAY, ()),
        BillPaymentCheckAdd(Ref("V"), Ref("Checking"), DAY, (AppliedToTxn("1-1", Decimal("0")),)),
        BillPaymentCheckAdd(Ref("V"), Ref("Checking"), DAY, (AppliedToTxn("1-1", Decimal("1")), AppliedToTxn("1-1", Decimal("2")))),
        BillPaymentCheckAdd(Ref("V"), Ref("Checking"), DAY, (AppliedToTxn("1-1", Decimal("1")),), ref_number="123456789012"),
        BillPaymentCheckAdd(Ref("V"), Ref("Checking"), DAY, (AppliedToTxn("1-1", Decimal("1")),), exchange_rate=Decimal("0")),
    ],
)
def test_bill_payments_that_cannot_be_right_are_refused(payment: BillPaymentCheckAdd) -> None:
    with pytest.raises(BuildError):
        build_request(Tagged("1", payment))


def test_bill_query_by_vendor_and_invoice_number_for_hand_keyed_duplicates(xsd: etree.XMLSchema) -> None:
    query = TxnQuery(
        "Bill",
        entity=Ref("Acme Travel LLC"),
        exact_ref_number="INV-77",
        paid_status="All",
        include_linked_txns=True,
        include=("TxnID", "RefNumber", "TxnDate", "ExternalGUID", "OpenAmount", "LinkedTxn"),
    )
    (rq,) = valid(xsd, query)
    assert children(rq) == ["EntityFilter", "RefNumberRangeFilter", "PaidStatus", "IncludeLinkedTxns"] + ["IncludeRetElement"] * 6
    assert rq.findtext("RefNumberRangeFilter/FromRefNumber") == rq.findtext("RefNumberRangeFilter/ToRefNumber") == "INV-77"


def test_bill_query_open_amounts_by_txn_id(xsd: etree.XMLSchema) -> None:
    (rq,) = valid(xsd, TxnQuery("Bill", txn_ids=("1A3-1197758190",), include_linked_txns=True, include=("TxnID", "OpenAmount", "IsPaid", "LinkedTxn")))
    assert children(rq)[:2] == ["TxnID", "IncludeLinkedTxns"]


@pytest.mark.parametrize(
    "query",
    [
        TxnQuery("Bill"),
        TxnQuery("Bill", ref_numbers=("A",), txn_ids=("1-1",)),
        TxnQuery("Bill", entity=Ref("V")),
        TxnQuery("JournalEntry", txn_ids=("1-1",), include_linked_txns=True),
        TxnQuery("BillPaymentCheck", txn_ids=("1-1",), paid_status="PaidOnly"),
        TxnQuery("Bill", ref_numbers=("A",), paid_status="PaidOnly"),
        TxnQuery("Bill", entity=Ref("V"), exact_ref_number="X" * 21),
    ],
)
def test_txn_queries_that_would_list_everything_or_cannot_validate_are_refused(query: TxnQuery) -> None:
    with pytest.raises(BuildError):
        build_request(Tagged("1", query))


def test_bill_payment_check_query(xsd: etree.XMLSchema) -> None:
    (rq,) = valid(xsd, TxnQuery("BillPaymentCheck", ref_numbers=("CP12345678",), include=("TxnID", "RefNumber", "ExternalGUID")))
    assert rq.tag == "BillPaymentCheckQueryRq"


@pytest.mark.parametrize("list_type", ["Employee", "OtherName", "Terms", "Currency"])
def test_new_list_queries(xsd: etree.XMLSchema, list_type: str) -> None:
    (rq,) = valid(xsd, ListQuery(list_type, include=("ListID", "Name", "IsActive", "TimeModified")))  # type: ignore[arg-type]
    assert rq.tag == f"{list_type}QueryRq"
    with pytest.raises(BuildError):  # none of them iterates in 13.0 (digest 3.6)
        build_request(Tagged("1", ListQuery(list_type, iterator=Iterator())))  # type: ignore[arg-type]


def test_vendor_add_with_code_remit_address_terms_and_currency(xsd: etree.XMLSchema) -> None:
    vendor = VendorAdd(
        "Lufthansa",
        company_name="Deutsche Lufthansa AG",
        account_number="V-20931",
        vendor_address=Address(addr1="Deutsche Lufthansa AG", addr2="Venloer Str. 151", city="Köln", postal_code="50672", country="Germany"),
        terms=Ref("Net 30"),
        currency=Ref("Euro"),
        external_guid="9b2e4c1a-0d3f-4a5b-8c7d-112233445566",
    )
    (rq,) = valid(xsd, vendor)
    assert children(rq[0]) == ["Name", "IsActive", "CompanyName", "VendorAddress", "AccountNumber", "TermsRef", "ExternalGUID", "CurrencyRef"]
    assert rq.findtext("VendorAdd/VendorAddress/City") == "Köln"  # Latin-1 keeps it
    (rq,) = valid(xsd, VendorMod("80000031-1", "17", account_number="V-1", vendor_address=Address(addr1="PO Box 1"), currency=Ref("Euro")))
    assert children(rq[0]) == ["ListID", "EditSequence", "VendorAddress", "AccountNumber", "CurrencyRef"]


def test_vendor_code_is_never_cut() -> None:
    with pytest.raises(BuildError):
        build_request(Tagged("1", VendorAdd("V", account_number="9" * 100)))


def test_bill_with_remit_address_rate_and_billable_lines(xsd: etree.XMLSchema) -> None:
    bill = BillAdd(
        Ref("Lufthansa"),
        DAY,
        "CNC-ABC",
        vendor_address=Address(addr1="PO Box 9"),
        exchange_rate=Decimal("1.084200"),
        terms=Ref("Net 30"),
        lines=(
            ExpenseLine(Ref("Travel:Airfare"), Decimal("10"), customer=Ref("Client A:Project X"), billable_status="Billable"),
            ExpenseLine(Ref("Travel:Hotel"), Decimal("5"), billable_status="NotBillable"),
        ),
    )
    (rq,) = valid(xsd, bill)
    add = rq[0]
    assert children(add)[:7] == ["VendorRef", "VendorAddress", "TxnDate", "RefNumber", "TermsRef", "ExchangeRate", "ExpenseLineAdd"]
    first, second = add.findall("ExpenseLineAdd")
    assert first.findtext("BillableStatus") == "Billable"
    assert second.find("BillableStatus") is None  # nothing to bill without a customer:job


def test_billable_without_customer_is_a_planner_bug() -> None:
    with pytest.raises(BuildError):
        build_request(Tagged("1", BillAdd(Ref("V"), DAY, "R", (ExpenseLine(Ref("A"), Decimal(1), billable_status="Billable"),))))


def test_foreign_currency_journal_entry(xsd: etree.XMLSchema) -> None:
    je = JournalEntryAdd(
        DAY,
        "C123",
        currency=Ref("Euro"),
        exchange_rate=Decimal("1.08"),
        external_guid="9b2e4c1a-0d3f-4a5b-8c7d-112233445566",
        lines=(
            JournalLine("debit", Ref("Travel"), Decimal("10"), entity=Ref("Client A"), billable_status="NotBillable"),
            JournalLine("credit", Ref("Accounts Payable - EUR"), Decimal("10"), entity=Ref("Lufthansa")),
        ),
    )
    (rq,) = valid(xsd, je)
    assert children(rq[0])[:5] == ["TxnDate", "RefNumber", "CurrencyRef", "ExchangeRate", "ExternalGUID"]
    with pytest.raises(BuildError):  # a rate without its currency means nothing
        build_request(Tagged("1", JournalEntryAdd(DAY, "C1", je.lines, exchange_rate=Decimal("1.1"))))


# --- parsers, on real samples --------------------------------------------------------------------


def test_hcp_sample_says_account_numbers_off_and_country(samples: Path) -> None:
    facts = parse_hcp((samples / "real-responses" / "qbwc-gem-strHCPResponse.fixed.xml").read_text())
    assert facts.is_using_account_numbers is False
    assert facts.is_multi_currency_on is False
    assert facts.company_country == "US"


def test_account_numbers_and_vendor_codes_in_real_answers(samples: Path) -> None:
    (accounts,) = parse_message_set((samples / "real-responses" / "AccountQueryRs.creditcards.bill-ash-qbwc.xml").read_bytes())
    assert "20500" in [r.get("AccountNumber") for r in accounts.records]
    (vendors,) = parse_message_set((samples / "real-responses" / "VendorQueryRs.bill-ash-qbwc.xml").read_bytes())
    coded = [r for r in vendors.records if r.get("AccountNumber")]
    assert coded and all(isinstance(r["AccountNumber"], str) for r in coded)
    with_address = [r for r in vendors.records if r.get("VendorAddress")]
    assert with_address and isinstance(with_address[0]["VendorAddress"], list)


# --- parsers, on the simulator's answers --------------------------------------------------------


def _answers(cf: object, *requests: object) -> list:
    return parse_message_set(cf.execute(build_message_set([Tagged(str(i), r) for i, r in enumerate(requests)])))  # type: ignore[attr-defined,arg-type]


def test_open_balance_and_hand_payment_read_back() -> None:
    cf = seed_company(FILE_ID, OWNER_ID, multicurrency=True)
    bill = key_bill_by_hand(cf, "Lufthansa", "INV-77", "2026-03-01", (("Travel:Airfare", "500.00"),))
    check = pay_bill_by_hand(cf, bill["TxnID"], "200.00", bank="Checking EUR", check_number="1042")
    by_vendor, payments = _answers(
        cf,
        TxnQuery(
            "Bill",
            entity=Ref("Lufthansa"),
            exact_ref_number="INV-77",
            include_linked_txns=True,
            include=("TxnID", "RefNumber", "TxnDate", "VendorRef", "AmountDue", "CurrencyRef", "IsPaid", "ExternalGUID", "LinkedTxn", "OpenAmount"),
        ),
        TxnQuery("BillPaymentCheck", txn_ids=(check["TxnID"],), include=()),
    )
    (found,) = [bill_balance(r) for r in by_vendor.records]
    assert (found.txn_id, found.ref_number, found.vendor_name, found.external_guid) == (bill["TxnID"], "INV-77", "Lufthansa", "")
    assert (found.amount_due, found.open_amount, found.is_paid, found.currency) == (Decimal("500.00"), Decimal("300.00"), False, "Euro")
    assert [(link.txn_id, link.txn_type, link.ref_number) for link in found.linked] == [(check["TxnID"], "BillPaymentCheck", "1042")]
    (paid,) = [bill_payment(r) for r in payments.records]
    assert (paid.payee_name, paid.amount, paid.bank_account, paid.ref_number) == ("Lufthansa", Decimal("200.00"), "Checking EUR", "1042")
    assert [(a.txn_id, a.amount, a.balance_remaining) for a in paid.applied] == [(bill["TxnID"], Decimal("200.00"), Decimal("300.00"))]


@pytest.mark.parametrize("multicurrency", [True, False])
@pytest.mark.parametrize("account_numbers", [True, False])
def test_company_settings_from_preferences_and_company(multicurrency: bool, account_numbers: bool) -> None:
    cf = seed_company(FILE_ID, OWNER_ID, multicurrency=multicurrency, account_numbers=account_numbers, country="CA", home_currency="Canadian Dollar")
    settings = company_settings(_answers(cf, HostQuery(), CompanyQuery(), PreferencesQuery()))
    assert settings.is_using_account_numbers is account_numbers
    assert settings.is_multi_currency_on is multicurrency
    assert settings.home_currency == ("Canadian Dollar" if multicurrency else "")
    assert settings.country == "CA"


def test_terms_and_currency_lists_read() -> None:
    cf = seed_company(FILE_ID, OWNER_ID, multicurrency=True)
    terms, currencies = _answers(cf, ListQuery("Terms", active_status="All"), ListQuery("Currency", active_status="ActiveOnly"))
    assert {r["_ret"] for r in terms.records} == {"StandardTermsRet", "DateDrivenTermsRet"}
    assert {"Net 30", "Due 10th of month", "Net 90"} <= {r["Name"] for r in terms.records}
    assert {r.get("CurrencyCode") for r in currencies.records} >= {"USD", "EUR"}


def test_bill_to_pay_query_and_reader(xsd: etree.XMLSchema) -> None:
    (rq,) = valid(xsd, BillToPayQuery(Ref("Acme Travel LLC"), ap_account=Ref("Accounts Payable")))
    assert children(rq) == ["PayeeEntityRef", "APAccountRef"]
    cf = seed_company(FILE_ID, OWNER_ID)
    bill = key_bill_by_hand(cf, "Acme Travel LLC", "INV-1", "2026-03-01", (("Travel", "40.00"),))
    (answer,) = _answers(cf, BillToPayQuery(Ref("Acme Travel LLC")))
    (item,) = [b for r in answer.records for b in bills_to_pay(r)]
    assert (item.txn_id, item.txn_type, item.ap_account, item.amount_due) == (bill["TxnID"], "Bill", "Accounts Payable", Decimal("40.00"))
