"""QuickBooks behaviour behind issues 12, 13, 19 and 20, each test naming the rule it shows:
account numbers, billable status, the shared name space with employees and other names, terms,
multicurrency (vendor currency, A/P per currency, exchange rates, journal entries), vendor codes
and remit addresses, bill payments with open balances, and bills keyed or paid by hand."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner
from lxml import etree

from sim.quickbooks.cli import quickbooks
from sim.quickbooks.engine import CompanyFile
from sim.quickbooks.latency import ZERO_LATENCY
from sim.quickbooks.messages import message_set
from sim.quickbooks.seed import key_bill_by_hand, pay_bill_by_hand, seed_company

FILE_ID = "{5C1B7E3A-2F4D-4A8B-9C0D-1E2F3A4B5C6D}"  # as seeded by conftest's ``company`` fixture
OWNER_ID = "{0D4E6F80-91A2-4B3C-8D5E-6F708192A3B4}"
GUID = "{9B2E4C1A-0D3F-4A5B-8C7D-112233445566}"


@pytest.fixture
def multi(now: Callable[[], dt.datetime]) -> CompanyFile:
    return seed_company(FILE_ID, OWNER_ID, now=now, latency=ZERO_LATENCY, multicurrency=True, account_numbers=True)


def run(cf: CompanyFile, *bodies: str) -> list[etree._Element]:
    root = etree.fromstring(cf.execute(message_set("".join(bodies), on_error="continueOnError")).encode())
    return list(root.find("QBXMLMsgsRs"))


def one(cf: CompanyFile, body: str) -> etree._Element:
    (rs,) = run(cf, body)
    return rs


def code(rs: etree._Element) -> int:
    return int(rs.get("statusCode"))


def ref(tag: str, name: str) -> str:
    return f"<{tag}><FullName>{name}</FullName></{tag}>"


def bill(
    vendor: str,
    ref_number: str = "CNC-1",
    amount: str = "100.00",
    account: str = "Travel:Airfare",
    before_lines: str = "",
    head: str = "",
    line_extra: str = "",
    date: str = "2026-03-01",
) -> str:
    """``head``: elements between VendorRef and TxnDate (VendorAddress, APAccountRef);
    ``before_lines``: between Memo and the lines (ExchangeRate, ExternalGUID)."""
    return (
        f"<BillAddRq><BillAdd>{ref('VendorRef', vendor)}{head}<TxnDate>{date}</TxnDate><RefNumber>{ref_number}</RefNumber>"
        f"{before_lines}<ExpenseLineAdd>{ref('AccountRef', account)}<Amount>{amount}</Amount>{line_extra}</ExpenseLineAdd>"
        "</BillAdd></BillAddRq>"
    )


def payment(payee: str, applied: str, bank: str = "Checking", number: str = "1001", extra: str = "") -> str:
    return (
        f"<BillPaymentCheckAddRq><BillPaymentCheckAdd>{ref('PayeeEntityRef', payee)}<TxnDate>2026-03-05</TxnDate>"
        f"{ref('BankAccountRef', bank)}<RefNumber>{number}</RefNumber>{extra}{applied}</BillPaymentCheckAdd></BillPaymentCheckAddRq>"
    )


def applied(txn_id: str, amount: str | None = None) -> str:
    paid = f"<PaymentAmount>{amount}</PaymentAmount>" if amount is not None else ""
    return f"<AppliedToTxnAdd><TxnID>{txn_id}</TxnID>{paid}</AppliedToTxnAdd>"


# --- account numbers (issue 19) ------------------------------------------------------------------


@pytest.mark.parametrize("on", [True, False])
def test_account_numbers_preference_and_numbers_returned(now: Callable[[], dt.datetime], on: bool) -> None:
    """PreferencesQuery AccountingPreferences/IsUsingAccountNumbers says whether the file uses them;
    numbers stay on the accounts either way (assumption: QuickBooks keeps a number typed earlier)."""
    cf = seed_company(FILE_ID, OWNER_ID, now=now, account_numbers=on)
    prefs, accounts = run(cf, "<PreferencesQueryRq/>", "<AccountQueryRq><FullName>Travel:Hotel</FullName></AccountQueryRq>")
    assert prefs.findtext("PreferencesRet/AccountingPreferences/IsUsingAccountNumbers") == ("true" if on else "false")
    assert accounts.findtext("AccountRet/AccountNumber") == "62420"


# --- billable status (issue 12) ------------------------------------------------------------------


def test_billable_status_stored_and_defaulted(company: CompanyFile) -> None:
    """BillableStatus sent is kept; absent with a customer:job on an expense account QuickBooks marks
    the line Billable (its default); a line with no customer is NotBillable."""
    customer = ref("CustomerRef", "Client A:Project X")
    rs = run(
        company,
        bill("Acme Travel LLC", "B1", line_extra=customer + "<BillableStatus>NotBillable</BillableStatus>"),
        bill("Acme Travel LLC", "B2", line_extra=customer),
        bill("Acme Travel LLC", "B3", line_extra=customer + "<BillableStatus>HasBeenBilled</BillableStatus>"),
        bill("Acme Travel LLC", "B4"),
    )
    assert [r.findtext("BillRet/ExpenseLineRet/BillableStatus") for r in rs] == ["NotBillable", "Billable", "HasBeenBilled", "NotBillable"]
    je = one(
        company,
        "<JournalEntryAddRq><JournalEntryAdd><TxnDate>2026-03-01</TxnDate><RefNumber>J1</RefNumber>"
        f"<JournalDebitLine>{ref('AccountRef', 'Travel:Meals')}<Amount>5.00</Amount>{ref('EntityRef', 'Client B')}</JournalDebitLine>"
        f"<JournalCreditLine>{ref('AccountRef', 'Company Card')}<Amount>5.00</Amount></JournalCreditLine>"
        "</JournalEntryAdd></JournalEntryAddRq>",
    )
    assert code(je) == 0
    assert [line.findtext("BillableStatus") for line in je.find("JournalEntryRet") if line.tag.startswith("Journal")] == ["Billable", None]


# --- one name space, employees and other names (issue 12) --------------------------------------------


@pytest.mark.parametrize("taken_by", ["Jane Doe", "Petty Cash", "Client A"])
def test_vendor_name_taken_by_employee_other_name_or_customer_is_3100(company: CompanyFile, taken_by: str) -> None:
    """Digest 4.4: Customer, Vendor, Employee and Other Name share one name space -> 3100."""
    rs = one(company, f"<VendorAddRq><VendorAdd><Name>{taken_by.upper()}</Name></VendorAdd></VendorAddRq>")
    assert code(rs) == 3100
    assert rs.get("statusMessage") == f'The name "{taken_by.upper()}" of the list element is already in use.'


def test_employee_and_other_name_queries(company: CompanyFile) -> None:
    employees, others = run(company, "<EmployeeQueryRq/>", "<OtherNameQueryRq/>")
    assert {e.findtext("Name") for e in employees} == {"Jane Doe", "John Smith", "Maria Garcia"}
    assert {o.findtext("Name") for o in others} == {"Petty Cash", "Jordan Lee"}


# --- terms (issue 13) -----------------------------------------------------------------------------


def test_terms_list_and_terms_ref_on_bills(company: CompanyFile) -> None:
    """TermsQuery answers StandardTermsRet and DateDrivenTermsRet; a BillAdd TermsRef must name an
    active entry (3140 otherwise) and sets the due date when none is sent."""
    terms = one(company, "<TermsQueryRq><ActiveStatus>All</ActiveStatus></TermsQueryRq>")
    assert {t.tag for t in terms} == {"StandardTermsRet", "DateDrivenTermsRet"}
    ok, unknown, inactive = run(
        company,
        bill("Acme Travel LLC", "T1", head="", before_lines="", date="2026-03-01").replace(
            "<RefNumber>T1</RefNumber>", "<RefNumber>T1</RefNumber>" + ref("TermsRef", "Net 30")
        ),
        bill("Acme Travel LLC", "T2").replace("<RefNumber>T2</RefNumber>", "<RefNumber>T2</RefNumber>" + ref("TermsRef", "Net 45")),
        bill("Acme Travel LLC", "T3").replace("<RefNumber>T3</RefNumber>", "<RefNumber>T3</RefNumber>" + ref("TermsRef", "Net 90")),
    )
    assert code(ok) == 0 and ok.findtext("BillRet/DueDate") == "2026-03-31" and ok.findtext("BillRet/TermsRef/FullName") == "Net 30"
    assert code(unknown) == 3140 and 'QuickBooks Terms "Net 45"' in unknown.get("statusMessage")
    assert code(inactive) == 3140


# --- vendor code and remit address (issue 13) ------------------------------------------------------


def test_vendor_code_and_remit_address_stored_and_queryable(company: CompanyFile) -> None:
    add = one(
        company,
        "<VendorAddRq><VendorAdd><Name>Globex GmbH</Name><VendorAddress><Addr1>Globex GmbH</Addr1>"
        "<Addr2>Postfach 12</Addr2><City>Berlin</City><PostalCode>10115</PostalCode><Country>Germany</Country>"
        "</VendorAddress><AccountNumber>V-20931</AccountNumber></VendorAdd></VendorAddRq>",
    )
    assert code(add) == 0
    found = one(company, "<VendorQueryRq><FullName>Globex GmbH</FullName></VendorQueryRq>").find("VendorRet")
    assert found.findtext("AccountNumber") == "V-20931"
    assert found.findtext("VendorAddress/City") == "Berlin"
    assert found.findtext("VendorAddressBlock/Addr3") == "Berlin, 10115"


# --- multicurrency (issue 13) -----------------------------------------------------------------------


def test_single_currency_file_refuses_currency(company: CompanyFile) -> None:
    """Digest 4.1: 3250 "feature not enabled" for multicurrency in a single-currency file."""
    rs = run(
        company,
        "<CurrencyQueryRq/>",
        f"<VendorAddRq><VendorAdd><Name>Euro Vendor</Name>{ref('CurrencyRef', 'Euro')}</VendorAdd></VendorAddRq>",
        bill("Acme Travel LLC", before_lines="<ExchangeRate>1.1</ExchangeRate>"),
        "<JournalEntryAddRq><JournalEntryAdd><TxnDate>2026-03-01</TxnDate>"
        + ref("CurrencyRef", "Euro")
        + f"<JournalDebitLine>{ref('AccountRef', 'Travel')}<Amount>1.00</Amount></JournalDebitLine>"
        f"<JournalCreditLine>{ref('AccountRef', 'Checking')}<Amount>1.00</Amount></JournalCreditLine></JournalEntryAdd></JournalEntryAddRq>",
    )
    assert [code(r) for r in rs] == [3250, 3250, 3250, 3250]
    prefs = one(company, "<PreferencesQueryRq/>")
    assert prefs.findtext("PreferencesRet/MultiCurrencyPreferences/IsMultiCurrencyOn") == "false"


def test_preferences_company_and_currency_list(multi: CompanyFile) -> None:
    prefs, company, currencies = run(multi, "<PreferencesQueryRq/>", "<CompanyQueryRq/>", "<CurrencyQueryRq><FullName>Euro</FullName></CurrencyQueryRq>")
    mc = prefs.find("PreferencesRet/MultiCurrencyPreferences")
    assert mc.findtext("IsMultiCurrencyOn") == "true" and mc.findtext("HomeCurrencyRef/FullName") == "US Dollar"
    assert company.findtext("CompanyRet/Address/Country") == "US"
    assert currencies.findtext("CurrencyRet/CurrencyCode") == "EUR"


def test_vendor_currency_is_kept_and_defaults_to_home(multi: CompanyFile) -> None:
    euro, plain = run(
        multi,
        f"<VendorAddRq><VendorAdd><Name>Air France</Name>{ref('CurrencyRef', 'Euro')}</VendorAdd></VendorAddRq>",
        "<VendorAddRq><VendorAdd><Name>Local Cabs</Name></VendorAdd></VendorAddRq>",
    )
    assert euro.findtext("VendorRet/CurrencyRef/FullName") == "Euro"
    assert plain.findtext("VendorRet/CurrencyRef/FullName") == "US Dollar"
    assert code(one(multi, f"<VendorAddRq><VendorAdd><Name>X</Name>{ref('CurrencyRef', 'Klingon Darsek')}</VendorAdd></VendorAddRq>")) == 3140


def test_bill_is_in_its_vendors_currency_on_that_currencys_ap(multi: CompanyFile) -> None:
    """Digest 3.4: BillAdd has no CurrencyRef, the currency comes from the vendor; it posts to the
    A/P account of that currency, at the rate sent or the Currency list's rate."""
    listed, sent = run(multi, bill("Lufthansa", "E1", "500.00"), bill("Lufthansa", "E2", "100.00", before_lines="<ExchangeRate>1.1</ExchangeRate>"))
    assert listed.findtext("BillRet/CurrencyRef/FullName") == "Euro"
    assert listed.findtext("BillRet/APAccountRef/FullName") == "Accounts Payable - EUR"
    assert (listed.findtext("BillRet/ExchangeRate"), listed.findtext("BillRet/AmountDueInHomeCurrency")) == ("1.084200", "542.10")
    assert (sent.findtext("BillRet/ExchangeRate"), sent.findtext("BillRet/AmountDueInHomeCurrency")) == ("1.1", "110.00")
    home = one(multi, bill("Acme Travel LLC", "U1"))
    assert home.findtext("BillRet/APAccountRef/FullName") == "Accounts Payable" and home.findtext("BillRet/ExchangeRate") == "1"


def test_bill_whose_ap_account_currency_disagrees_is_refused(multi: CompanyFile) -> None:
    usd_ap_for_eur, eur_ap_for_usd = run(
        multi,
        bill("Lufthansa", "X1", head=ref("APAccountRef", "Accounts Payable")),
        bill("Acme Travel LLC", "X2", head=ref("APAccountRef", "Accounts Payable - EUR")),
    )
    assert code(usd_ap_for_eur) == code(eur_ap_for_usd) == 3140
    assert "currency" in usd_ap_for_eur.get("statusMessage")
    assert multi.state.txns["Bill"] == []


def je(lines: str, currency: str = "", rate: str = "") -> str:
    head = (ref("CurrencyRef", currency) if currency else "") + (f"<ExchangeRate>{rate}</ExchangeRate>" if rate else "")
    return f"<JournalEntryAddRq><JournalEntryAdd><TxnDate>2026-03-01</TxnDate><RefNumber>J</RefNumber>{head}{lines}</JournalEntryAdd></JournalEntryAddRq>"


def line(side: str, account: str, amount: str, entity: str = "") -> str:
    return f"<Journal{side}Line>{ref('AccountRef', account)}<Amount>{amount}</Amount>{ref('EntityRef', entity) if entity else ''}</Journal{side}Line>"


def test_journal_entry_currencies(multi: CompanyFile) -> None:
    """One currency per entry (XSD: one CurrencyRef per JournalEntryAdd): accounts in the home
    currency or the entry's; an A/P line's vendor in the A/P account's currency."""
    eur_ok = je(line("Debit", "Travel:Airfare", "80.00") + line("Credit", "Accounts Payable - EUR", "80.00", "Lufthansa"), "Euro", "1.09")
    home_with_eur_ap = je(line("Debit", "Travel:Airfare", "80.00") + line("Credit", "Accounts Payable - EUR", "80.00", "Lufthansa"))
    wrong_vendor = je(line("Debit", "Travel:Airfare", "80.00") + line("Credit", "Accounts Payable - EUR", "80.00", "Acme Travel LLC"), "Euro")
    gbp_with_eur = je(line("Debit", "Travel:Airfare", "80.00") + line("Credit", "Accounts Payable - EUR", "80.00", "Lufthansa"), "British Pound Sterling")
    ok, home, vendor, third = run(multi, eur_ok, home_with_eur_ap, wrong_vendor, gbp_with_eur)
    assert code(ok) == 0 and ok.findtext("JournalEntryRet/CurrencyRef/FullName") == "Euro" and ok.findtext("JournalEntryRet/ExchangeRate") == "1.09"
    assert [code(home), code(vendor), code(third)] == [3180, 3180, 3180]


def test_vendor_currency_cannot_change_once_it_has_transactions(multi: CompanyFile) -> None:
    assert code(one(multi, bill("Acme Travel LLC", "U9"))) == 0
    vendor = multi.find_list("Vendor", "Acme Travel LLC")
    rs = one(
        multi,
        f"<VendorModRq><VendorMod><ListID>{vendor['ListID']}</ListID><EditSequence>{vendor['EditSequence']}</EditSequence>"
        f"{ref('CurrencyRef', 'Euro')}</VendorMod></VendorModRq>",
    )
    assert code(rs) == 3180


# --- bill payments and open balances (issue 20) ---------------------------------------------------------


def test_bill_payment_partial_then_full(company: CompanyFile) -> None:
    """Each application lowers OpenAmount; a bill at zero IsPaid and shows the check in LinkedTxn."""
    txn_id = one(company, bill("Acme Travel LLC", "P1", "300.00")).findtext("BillRet/TxnID")
    first = one(company, payment("Acme Travel LLC", applied(txn_id, "100.00"), extra=f"<Memo>Concur Expense Pay</Memo><ExternalGUID>{GUID}</ExternalGUID>"))
    assert code(first) == 0
    ret = first.find("BillPaymentCheckRet")
    assert (ret.findtext("Amount"), ret.findtext("ExternalGUID"), ret.findtext("AppliedToTxnRet/BalanceRemaining")) == ("100.00", GUID, "200.00")
    open_bill = one(company, f"<BillQueryRq><TxnID>{txn_id}</TxnID></BillQueryRq>").find("BillRet")
    assert (open_bill.findtext("OpenAmount"), open_bill.findtext("IsPaid"), open_bill.find("LinkedTxn")) == ("200.00", "false", None)
    assert code(one(company, payment("Acme Travel LLC", applied(txn_id), number="1002"))) == 0  # no amount: the whole open balance
    paid = one(company, f"<BillQueryRq><TxnID>{txn_id}</TxnID><IncludeLinkedTxns>true</IncludeLinkedTxns></BillQueryRq>").find("BillRet")
    assert (paid.findtext("OpenAmount"), paid.findtext("IsPaid")) == ("0.00", "true")
    assert [link.findtext("RefNumber") for link in paid.findall("LinkedTxn")] == ["1001", "1002"]
    vendor = one(company, "<VendorQueryRq><FullName>Acme Travel LLC</FullName></VendorQueryRq>")
    assert vendor.findtext("VendorRet/Balance") == "0.00"
    paid_only, open_only = run(
        company, "<BillQueryRq><PaidStatus>PaidOnly</PaidStatus></BillQueryRq>", "<BillQueryRq><PaidStatus>NotPaidOnly</PaidStatus></BillQueryRq>"
    )
    assert [b.findtext("RefNumber") for b in paid_only] == ["P1"] and len(open_only) == 0
    checks = one(company, "<BillPaymentCheckQueryRq><RefNumber>1002</RefNumber></BillPaymentCheckQueryRq>")
    assert checks.findtext("BillPaymentCheckRet/Amount") == "200.00"


def test_bill_payment_refusals(company: CompanyFile) -> None:
    """Over-application (more than the open balance, or the same bill twice) is refused whole (3210,
    wording unverified); another vendor's bill or a non-bank account 3140; an unknown TxnID 3120."""
    txn_id = one(company, bill("Acme Travel LLC", "R1", "50.00")).findtext("BillRet/TxnID")
    over = one(company, payment("Acme Travel LLC", applied(txn_id, "50.01")))
    twice = one(company, payment("Acme Travel LLC", applied(txn_id, "30.00") + applied(txn_id, "30.00")))
    other_vendor = one(company, payment("Office Depot", applied(txn_id, "10.00")))
    card = one(company, payment("Acme Travel LLC", applied(txn_id, "10.00"), bank="Company Card"))
    unknown = one(company, payment("Acme Travel LLC", applied("FFF-1", "10.00")))
    assert [code(r) for r in (over, twice, other_vendor, card, unknown)] == [3210, 3210, 3140, 3140, 3120]
    assert "more than the open balance" in over.get("statusMessage")
    assert company.state.txns["BillPaymentCheck"] == []
    assert company.state.txns["Bill"][0]["OpenAmount"] == "50.00"
    pay_bill_by_hand(company, txn_id)
    assert code(one(company, payment("Acme Travel LLC", applied(txn_id, "0.01")))) == 3210  # a paid bill is not paid again


def test_hand_keyed_bill_found_by_vendor_and_invoice_number(company: CompanyFile) -> None:
    """A bill typed in Enter Bills has no ExternalGUID; EntityFilter + RefNumberRangeFilter finds it."""
    typed = key_bill_by_hand(company, "Office Depot", "INV-5531", "2026-02-20", (("Office Supplies", "84.20"),))
    one(company, bill("Acme Travel LLC", "INV-5531"))  # same number, another vendor
    rs = one(
        company,
        "<BillQueryRq><EntityFilter><FullName>Office Depot</FullName></EntityFilter><RefNumberRangeFilter>"
        "<FromRefNumber>INV-5531</FromRefNumber><ToRefNumber>INV-5531</ToRefNumber></RefNumberRangeFilter></BillQueryRq>",
    )
    (found,) = rs.findall("BillRet")
    assert found.findtext("TxnID") == typed["TxnID"] and found.find("ExternalGUID") is None


def test_show_lists_payments_currencies_and_numbers(tmp_path: Path, now: Callable[[], dt.datetime]) -> None:
    cf = seed_company(FILE_ID, OWNER_ID, now=now, multicurrency=True, account_numbers=True)
    typed = key_bill_by_hand(cf, "Lufthansa", "LH-1", "2026-03-01", (("Travel:Airfare", "500.00"),))
    pay_bill_by_hand(cf, typed["TxnID"], "200.00", bank="Checking EUR", check_number="7")
    path = tmp_path / "mc.qbsim"
    cf.save(path)
    out = CliRunner().invoke(quickbooks, ["show", str(path)]).output
    assert "multicurrency: on, account numbers: on" in out
    assert "20010    Accounts Payable - EUR" in out and "EUR  Euro" in out
    assert "open 300.00" in out and "(keyed by hand)" in out
    assert "Bill payments (1):" in out and "from Checking EUR  -> LH-1 200.00" in out
    assert "code V-1001" in out and "currency Euro" in out
    assert Decimal("200.00") == Decimal(cf.state.txns["BillPaymentCheck"][0]["Amount"])


def test_new_with_multicurrency_and_account_numbers(tmp_path: Path) -> None:
    path = tmp_path / "n.qbsim"
    result = CliRunner().invoke(quickbooks, ["new", str(path), "--multicurrency", "--account-numbers"])
    assert result.exit_code == 0, result.output
    st = CompanyFile.load(path).state
    assert st.multicurrency and st.account_numbers and st.lists["Currency"]


def test_journal_entry_ap_credit_is_paid_like_a_bill(company: CompanyFile) -> None:
    """A journal entry crediting A/P with a vendor is owed like a bill: BillToPayQuery lists it
    (TxnType JournalEntry, XSD BillToPay) and BillPaymentCheckAdd applies to it (assumption,
    unverified for the SDK); over-application is refused as for bills."""
    entry = one(company, je(line("Debit", "Travel:Hotel", "120.00") + line("Credit", "Accounts Payable", "120.00", "Acme Travel LLC")))
    txn_id = entry.findtext("JournalEntryRet/TxnID")
    owed = one(company, f"<BillToPayQueryRq>{ref('PayeeEntityRef', 'Acme Travel LLC')}</BillToPayQueryRq>")
    assert [(b.findtext("TxnID"), b.findtext("TxnType"), b.findtext("AmountDue")) for b in owed.iter("BillToPay")] == [(txn_id, "JournalEntry", "120.00")]
    assert code(one(company, payment("Acme Travel LLC", applied(txn_id, "120.01")))) == 3210
    paid = one(company, payment("Acme Travel LLC", applied(txn_id, "120.00")))
    assert paid.findtext("BillPaymentCheckRet/AppliedToTxnRet/TxnType") == "JournalEntry"
    assert code(one(company, f"<BillToPayQueryRq>{ref('PayeeEntityRef', 'Acme Travel LLC')}</BillToPayQueryRq>")) == 1
    assert one(company, "<VendorQueryRq><FullName>Acme Travel LLC</FullName></VendorQueryRq>").findtext("VendorRet/Balance") == "0.00"
