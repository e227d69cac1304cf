"""QuickBooks semantics of the company file engine, driven with qbXML text as the worker sends it."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from lxml import etree

from sim.quickbooks.engine import CompanyFile
from sim.quickbooks.latency import LatencyModel
from sim.quickbooks.messages import message_set as qbxml
from sim.quickbooks.strict import QBXMLSetError

FILE_ID = "{5C1B7E3A-2F4D-4A8B-9C0D-1E2F3A4B5C6D}"  # as seeded by conftest's ``company`` fixture
OWNER_ID = "{0D4E6F80-91A2-4B3C-8D5E-6F708192A3B4}"


def rs_list(text: str) -> list[etree._Element]:
    root = etree.fromstring(text.encode())
    return list(root.find("QBXMLMsgsRs"))


def one(company: CompanyFile, body: str, **kw: str) -> etree._Element:
    (rs,) = rs_list(company.execute(qbxml(body, **kw)))
    return rs


def status(rs: etree._Element) -> int:
    return int(rs.get("statusCode"))


def vendor_add(name: str, rid: str = "1") -> str:
    return f'<VendorAddRq requestID="{rid}"><VendorAdd><Name>{name}</Name></VendorAdd></VendorAddRq>'


def bill_add(
    vendor: str = "Acme Travel LLC",
    ref: str = "CNC-1",
    amount: str = "100.00",
    account: str = "Travel:Airfare",
    klass: str | None = "Consulting",
    date: str = "2026-03-01",
    customer: str | None = None,
) -> str:
    line = f"<AccountRef><FullName>{account}</FullName></AccountRef><Amount>{amount}</Amount><Memo>m</Memo>"
    if customer:
        line += f"<CustomerRef><FullName>{customer}</FullName></CustomerRef>"
    if klass:
        line += f"<ClassRef><FullName>{klass}</FullName></ClassRef>"
    return (
        f'<BillAddRq requestID="b"><BillAdd><VendorRef><FullName>{vendor}</FullName></VendorRef>'
        f"<TxnDate>{date}</TxnDate><RefNumber>{ref}</RefNumber><Memo>Concur report {ref}</Memo>"
        "<ExternalGUID>{9b2e4c1a-0d3f-4a5b-8c7d-112233445566}</ExternalGUID>"
        f"<ExpenseLineAdd>{line}</ExpenseLineAdd></BillAdd></BillAddRq>"
    )


def je_add(lines: str, ref: str = "JE1", date: str = "2026-03-01") -> str:
    return (
        f'<JournalEntryAddRq requestID="j"><JournalEntryAdd><TxnDate>{date}</TxnDate><RefNumber>{ref}</RefNumber>'
        "<ExternalGUID>{0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9}</ExternalGUID>"
        f"{lines}</JournalEntryAdd></JournalEntryAddRq>"
    )


def je_line(side: str, account: str, amount: str, entity: str | None = None) -> str:
    ent = f"<EntityRef><FullName>{entity}</FullName></EntityRef>" if entity else ""
    return f"<Journal{side}Line><AccountRef><FullName>{account}</FullName></AccountRef><Amount>{amount}</Amount>{ent}</Journal{side}Line>"


def test_ids_and_edit_sequence_have_quickbooks_formats(company: CompanyFile) -> None:
    rs = one(company, vendor_add("New Vendor Co"))
    assert status(rs) == 0 and rs.get("statusMessage") == "Status OK"
    ret = rs.find("VendorRet")
    assert re.fullmatch(r"[0-9A-F]{8}-\d{10}", ret.findtext("ListID"))
    assert re.fullmatch(r"\d{10}", ret.findtext("EditSequence"))
    bill = one(company, bill_add("New Vendor Co")).find("BillRet")
    assert re.fullmatch(r"[0-9A-F]+-\d{10}", bill.findtext("TxnID"))


@pytest.mark.parametrize("name", ["Jane Doe", "jane doe", "Petty Cash", "Client A", "Old Caterer Inc", "Acme Travel LLC"])
def test_vendor_name_unique_across_name_lists_including_inactive(company: CompanyFile, name: str) -> None:
    rs = one(company, vendor_add(name))
    assert status(rs) == 3100
    assert rs.get("statusMessage") == f'The name "{name}" of the list element is already in use.'
    assert rs.get("statusSeverity") == "Error" and len(rs) == 0


def test_job_name_does_not_collide_at_top_level(company: CompanyFile) -> None:
    assert status(one(company, vendor_add("Project X"))) == 0


def test_vendor_mod_stale_edit_sequence_gives_3200(company: CompanyFile, now) -> None:
    ret = one(company, vendor_add("Mod Me")).find("VendorRet")
    list_id, seq = ret.findtext("ListID"), ret.findtext("EditSequence")
    company.simulate_user_edit("Mod Me")  # someone edits it in QuickBooks
    mod = (
        f'<VendorModRq requestID="m"><VendorMod><ListID>{list_id}</ListID><EditSequence>{seq}</EditSequence>'
        "<IsActive>false</IsActive></VendorMod></VendorModRq>"
    )
    rs = one(company, mod)
    assert status(rs) == 3200 and rs.get("statusMessage") == f'The provided edit sequence "{seq}" is out-of-date.'
    fresh = one(company, f"<VendorQueryRq><ListID>{list_id}</ListID></VendorQueryRq>").find("VendorRet").findtext("EditSequence")
    rs = one(company, mod.replace(seq, fresh))
    assert status(rs) == 0
    assert rs.find("VendorRet").findtext("IsActive") == "false"
    assert int(rs.find("VendorRet").findtext("EditSequence")) > int(fresh)


def test_bill_add_stores_and_returns_keys_and_lines(company: CompanyFile) -> None:
    rs = one(company, bill_add(customer="Client A:Project X"))
    assert status(rs) == 0
    ret = rs.find("BillRet")
    assert ret.findtext("RefNumber") == "CNC-1" and ret.findtext("AmountDue") == "100.00"
    assert ret.findtext("ExternalGUID") == "{9b2e4c1a-0d3f-4a5b-8c7d-112233445566}"
    assert ret.findtext("APAccountRef/FullName") == "Accounts Payable"
    line = ret.find("ExpenseLineRet")
    assert line.findtext("CustomerRef/FullName") == "Client A:Project X"
    assert line.findtext("AccountRef/FullName") == "Travel:Airfare"
    q = one(
        company,
        '<BillQueryRq requestID="q"><RefNumber>cnc-1</RefNumber><IncludeRetElement>TxnID</IncludeRetElement>'
        "<IncludeRetElement>ExternalGUID</IncludeRetElement><IncludeRetElement>Memo</IncludeRetElement></BillQueryRq>",
    )
    got = q.find("BillRet")
    assert [c.tag for c in got] == ["TxnID", "Memo", "ExternalGUID"]
    assert got.findtext("TxnID") == ret.findtext("TxnID") and got.findtext("Memo") == "Concur report CNC-1"


@pytest.mark.parametrize(
    "kwargs, obj",
    [
        ({"vendor": "Nobody Inc"}, 'Vendor "Nobody Inc"'),
        ({"vendor": "Old Caterer Inc"}, 'Vendor "Old Caterer Inc"'),
        ({"account": "Travel:Rocket"}, 'Account "Travel:Rocket"'),
        ({"account": "Old Marketing"}, 'Account "Old Marketing"'),
        ({"klass": "Retired Projects"}, 'Class "Retired Projects"'),
        ({"klass": "Nope"}, 'Class "Nope"'),
        ({"customer": "Client A:Project Z"}, 'Customer "Client A:Project Z"'),
    ],
)
def test_missing_or_inactive_reference_gives_3140(company: CompanyFile, kwargs: dict, obj: str) -> None:
    rs = one(company, bill_add(**kwargs))
    assert status(rs) == 3140
    assert rs.get("statusMessage").startswith(f"There is an invalid reference to QuickBooks {obj} in the Bill.")
    assert company.state.txns["Bill"] == []


def test_closing_date_refuses_earlier_transactions(company: CompanyFile) -> None:
    company.state.closing_date = "2026-02-28"
    assert status(one(company, bill_add(date="2026-02-28"))) == 3180
    assert status(one(company, bill_add(date="2026-03-01"))) == 0


def test_journal_entry_must_balance_and_ap_line_needs_vendor(company: CompanyFile) -> None:
    unbalanced = je_add(je_line("Debit", "Travel:Hotel", "10.00") + je_line("Credit", "Company Card", "9.99"))
    assert status(one(company, unbalanced)) == 3180
    no_entity = je_add(je_line("Debit", "Travel:Hotel", "10.00") + je_line("Credit", "Accounts Payable", "10.00"))
    assert status(one(company, no_entity)) == 3180
    employee_on_ap = je_add(je_line("Debit", "Travel:Hotel", "10.00") + je_line("Credit", "Accounts Payable", "10.00", "Jane Doe"))
    assert status(one(company, employee_on_ap)) == 3180
    ok = je_add(je_line("Debit", "Travel:Hotel", "10.00", "Jane Doe") + je_line("Credit", "Accounts Payable", "10.00", "Acme Travel LLC"))
    rs = one(company, ok)
    assert status(rs) == 0
    ret = rs.find("JournalEntryRet")
    assert [c.tag for c in ret if c.tag.startswith("Journal")] == ["JournalDebitLine", "JournalCreditLine"]
    assert len(company.state.txns["JournalEntry"]) == 1
    q = one(company, "<JournalEntryQueryRq><RefNumber>JE1</RefNumber><IncludeLineItems>true</IncludeLineItems></JournalEntryQueryRq>")
    assert q.find("JournalEntryRet/ExternalGUID").text == "{0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9}"
    assert len(q.findall("JournalEntryRet/JournalCreditLine")) == 1


def test_stop_on_error_stops_and_continue_on_error_goes_on(company: CompanyFile) -> None:
    body = vendor_add("Jane Doe", "1") + vendor_add("Fresh One", "2")
    stop = rs_list(company.execute(qbxml(body)))
    assert [(r.get("requestID"), status(r)) for r in stop] == [("1", 3100)]
    go = rs_list(company.execute(qbxml(body, on_error="continueOnError")))
    assert [(r.get("requestID"), status(r)) for r in go] == [("1", 3100), ("2", 0)]


def test_query_filters(company: CompanyFile, now) -> None:
    now.advance(3600)
    one(company, vendor_add("Zeta Supplies"))
    rs = one(company, "<VendorQueryRq><FromModifiedDate>2026-03-02T10:00:00</FromModifiedDate></VendorQueryRq>")
    assert [r.findtext("Name") for r in rs] == ["Zeta Supplies"]
    active = one(company, "<VendorQueryRq><IncludeRetElement>Name</IncludeRetElement></VendorQueryRq>")
    assert "Old Caterer Inc" not in [r.findtext("Name") for r in active]  # ActiveOnly by default
    every = one(company, "<VendorQueryRq><ActiveStatus>All</ActiveStatus><IncludeRetElement>Name</IncludeRetElement></VendorQueryRq>")
    assert "Old Caterer Inc" in [r.findtext("Name") for r in every]
    contains = one(company, "<VendorQueryRq><NameFilter><MatchCriterion>Contains</MatchCriterion><Name>air</Name></NameFilter></VendorQueryRq>")
    assert [r.findtext("Name") for r in contains] == ["Delta Air Lines"]
    entity = one(company, "<EntityQueryRq><FullName>Jane Doe</FullName></EntityQueryRq>")
    assert [c.tag for c in entity] == ["EmployeeRet"]
    missing = one(company, "<VendorQueryRq><FullName>bleech</FullName></VendorQueryRq>")
    assert status(missing) == 500 and missing.get("statusSeverity") == "Warn"
    nothing = one(company, "<VendorQueryRq><NameFilter><MatchCriterion>StartsWith</MatchCriterion><Name>qqq</Name></NameFilter></VendorQueryRq>")
    assert status(nothing) == 1 and nothing.get("statusMessage") == "A query request did not find a matching object in QuickBooks"
    accounts = one(company, "<AccountQueryRq><AccountType>CreditCard</AccountType></AccountQueryRq>")
    assert [r.findtext("FullName") for r in accounts] == ["Company Card"]
    jobs = one(company, "<CustomerQueryRq><FullName>Client A:Project X</FullName></CustomerQueryRq>")
    assert jobs.find("CustomerRet/ParentRef/FullName").text == "Client A"
    assert jobs.find("CustomerRet/Sublevel").text == "1"


def test_bill_query_filters(company: CompanyFile) -> None:
    one(company, bill_add(ref="CNC-A", date="2026-03-01"))
    one(company, bill_add(ref="XYZ-B", date="2026-03-05", vendor="Office Depot"))
    by_filter = one(
        company,
        "<BillQueryRq><TxnDateRangeFilter><FromTxnDate>2026-03-01</FromTxnDate><ToTxnDate>2026-03-31</ToTxnDate>"
        "</TxnDateRangeFilter><EntityFilter><FullName>Acme Travel LLC</FullName></EntityFilter>"
        "<RefNumberFilter><MatchCriterion>StartsWith</MatchCriterion><RefNumber>CNC-</RefNumber></RefNumberFilter></BillQueryRq>",
    )
    assert [r.findtext("RefNumber") for r in by_filter] == ["CNC-A"]
    assert by_filter.find("BillRet/ExpenseLineRet") is None  # IncludeLineItems defaults to false
    txn_id = by_filter.find("BillRet/TxnID").text
    by_id = one(company, f"<BillQueryRq><TxnID>{txn_id}</TxnID><IncludeLineItems>true</IncludeLineItems></BillQueryRq>")
    assert by_id.find("BillRet/ExpenseLineRet/Amount").text == "100.00"


def test_iterator_pages_and_3391_across_sessions(company: CompanyFile) -> None:
    for i in range(7):
        one(company, vendor_add(f"Iter Vendor {i}"))
    company.begin_session()
    start = one(company, '<VendorQueryRq requestID="s" iterator="Start"><MaxReturned>5</MaxReturned><ActiveStatus>All</ActiveStatus></VendorQueryRq>')
    assert start.get("retCount") == "5" and start.get("iteratorRemainingCount") == "7"
    it = start.get("iteratorID")
    names = [r.findtext("Name") for r in start]
    cont = f'<VendorQueryRq requestID="c" iterator="Continue" iteratorID="{it}"><MaxReturned>5</MaxReturned><ActiveStatus>All</ActiveStatus></VendorQueryRq>'
    page2 = one(company, cont)
    assert page2.get("iteratorRemainingCount") == "2"
    names += [r.findtext("Name") for r in page2]
    company.end_session()
    company.begin_session()
    stale = one(company, cont)
    assert status(stale) == 3391 and it in stale.get("statusMessage")
    assert len(set(names)) == 10


def test_message_set_parse_errors_fail_whole_set(company: CompanyFile) -> None:
    before = len(company.state.lists["Vendor"])
    wrong_order = "<VendorAddRq><VendorAdd><IsActive>true</IsActive><Name>X1</Name></VendorAdd></VendorAddRq>"
    for text in (
        qbxml(vendor_add("Good One") + wrong_order),
        qbxml(bill_add(amount="412.3")),
        qbxml(vendor_add("N" * 42)),
        qbxml(vendor_add("Good One")).replace('<?qbxml version="13.0"?>', ""),
        "<QBXML><not-closed>",
    ):
        result = company.process(text)
        assert result.hresult == "0x80040400" and result.response == ""
        assert result.message == "QuickBooks found an error when parsing the provided XML text stream."
    assert len(company.state.lists["Vendor"]) == before
    with pytest.raises(QBXMLSetError) as exc:
        company.execute(qbxml(vendor_add("A"), version="16.0"))
    assert exc.value.hresult == "0x80040423"


def test_error_recovery_message_set_ids(company: CompanyFile) -> None:
    first = company.execute(qbxml(vendor_add("Recover Co"), attrs=' newMessageSetID="MLC-1"'))
    check = company.execute(qbxml("", attrs=' oldMessageSetID="MLC-1" newMessageSetID="MLC-1"'))
    assert check == first
    cleared = company.execute(qbxml("", attrs=' oldMessageSetID="MLC-1"'))
    assert 'messageSetStatusCode="0"' in cleared
    gone = company.execute(qbxml("", attrs=' oldMessageSetID="MLC-1" newMessageSetID="MLC-1"'))
    assert 'messageSetStatusCode="9002"' in gone


def test_hcp_response_carries_file_id_under_owner(company: CompanyFile) -> None:
    hcp = etree.fromstring(company.hcp_response(OWNER_ID).encode())
    kinds = [(rs.tag, rs.get("requestID")) for rs in hcp.find("QBXMLMsgsRs")]
    assert kinds == [("HostQueryRs", "0"), ("CompanyQueryRs", "1"), ("PreferencesQueryRs", "2")]
    ext = [e for e in hcp.iter("DataExtRet") if e.findtext("DataExtName") == "FileID"]
    assert [(e.findtext("OwnerID"), e.findtext("DataExtValue")) for e in ext] == [(OWNER_ID, FILE_ID)]
    assert "13.0" in [v.text for v in hcp.iter("SupportedQBXMLVersion")]
    other = etree.fromstring(company.hcp_response("{00000000-0000-0000-0000-000000000001}").encode())
    assert not [e for e in other.iter("DataExtRet") if e.findtext("DataExtName") == "FileID"]


def test_busy_seconds_follow_latency_model(company: CompanyFile) -> None:
    company.latency = LatencyModel(per_message_set=1, per_query=10, per_record_returned=0, per_write=100, per_line=1000)
    result = company.process(qbxml(bill_add() + "<VendorQueryRq><FullName>Acme Travel LLC</FullName></VendorQueryRq>", on_error="continueOnError"))
    assert result.busy_seconds == 1 + 10 + 100 + 1000
    assert result.writes == 1 and result.requests == 2


def test_persistence_round_trip(company: CompanyFile, tmp_path, now) -> None:
    one(company, bill_add())
    path = tmp_path / "demo.qbsim"
    company.save(path)
    again = CompanyFile.load(path, now=now)
    assert again.state == company.state
    rs = one(again, "<BillQueryRq><RefNumber>CNC-1</RefNumber></BillQueryRq>")
    assert rs.find("BillRet/VendorRef/FullName").text == "Acme Travel LLC"
    assert Decimal(rs.find("BillRet/AmountDue").text) == Decimal("100.00")


def test_class_tracking_off_and_currency_without_multicurrency_give_3250(company: CompanyFile) -> None:
    company.state.class_tracking = False
    rs = one(company, bill_add())
    assert status(rs) == 3250 and rs.get("statusMessage") == "This feature is not enabled or not available in this version of QuickBooks."
    assert status(one(company, bill_add(klass=None))) == 0
    cur = "<VendorAddRq><VendorAdd><Name>Euro GmbH</Name><CurrencyRef><FullName>Euro</FullName></CurrencyRef></VendorAdd></VendorAddRq>"
    assert status(one(company, cur)) == 3250


def test_multicurrency_company_returns_currency_refs(company: CompanyFile) -> None:
    company.state.multicurrency = True
    ret = one(company, bill_add()).find("BillRet")
    assert ret.findtext("CurrencyRef/FullName") == "US Dollar" and ret.findtext("AmountDueInHomeCurrency") == "100.00"
    hcp = etree.fromstring(company.hcp_response(OWNER_ID).encode())
    assert hcp.findtext(".//MultiCurrencyPreferences/IsMultiCurrencyOn") == "true"


def test_journal_entry_numbers_assigned_when_none_given(company: CompanyFile) -> None:
    body = je_add(je_line("Debit", "Software", "5.00") + je_line("Credit", "Company Card", "5.00")).replace("<RefNumber>JE1</RefNumber>", "")
    ret = one(company, body).find("JournalEntryRet")
    assert ret.findtext("RefNumber") == ret.findtext("TxnNumber")


def test_iterator_stop_and_user_edit_of_unknown_vendor(company: CompanyFile) -> None:
    start = one(company, '<VendorQueryRq iterator="Start"><MaxReturned>1</MaxReturned></VendorQueryRq>')
    it = start.get("iteratorID")
    stop = one(company, f'<VendorQueryRq iterator="Stop" iteratorID="{it}"></VendorQueryRq>')
    assert status(stop) == 0 and stop.get("iteratorRemainingCount") == "0"
    again = one(company, f'<VendorQueryRq iterator="Continue" iteratorID="{it}"><MaxReturned>1</MaxReturned></VendorQueryRq>')
    assert status(again) == 3391
    with pytest.raises(KeyError):
        company.simulate_user_edit("Nobody At All")


def test_modified_date_filter_accepts_every_xsd_datetime_form(company: CompanyFile, now) -> None:
    now.advance(86400)  # next day
    one(company, vendor_add("Tomorrow Co"))
    for stamp in ("2026-3-3", "2026-03-03T00", "2026-03-03T00:00", "2026-03-03T00:00:00-05:00"):
        rs = one(company, f"<VendorQueryRq><FromModifiedDate>{stamp}</FromModifiedDate></VendorQueryRq>")
        assert [r.findtext("Name") for r in rs] == ["Tomorrow Co"], stamp


def test_entity_filter_with_children_and_account_filter(company: CompanyFile) -> None:
    one(company, bill_add(ref="R1", customer="Client A:Project X"))
    je = je_add(je_line("Debit", "Travel:Hotel", "7.00", "Client A:Project Y") + je_line("Credit", "Company Card", "7.00"))
    one(company, je)
    rs = one(company, "<JournalEntryQueryRq><EntityFilter><FullNameWithChildren>Client A</FullNameWithChildren></EntityFilter></JournalEntryQueryRq>")
    assert len(rs) == 1
    rs = one(company, "<BillQueryRq><AccountFilter><FullName>Travel:Airfare</FullName></AccountFilter></BillQueryRq>")
    assert [r.findtext("RefNumber") for r in rs] == ["R1"]
    rs = one(company, "<BillQueryRq><AccountFilter><FullName>Travel:Hotel</FullName></AccountFilter></BillQueryRq>")
    assert status(rs) == 1


def test_bill_iterator_pages_through_transactions(company: CompanyFile) -> None:
    for i in range(5):
        one(company, bill_add(ref=f"IT-{i}"))
    start = one(company, '<BillQueryRq iterator="Start"><MaxReturned>2</MaxReturned><IncludeLineItems>true</IncludeLineItems></BillQueryRq>')
    refs = [r.findtext("RefNumber") for r in start]
    it = start.get("iteratorID")
    while True:
        page = one(
            company, f'<BillQueryRq iterator="Continue" iteratorID="{it}"><MaxReturned>2</MaxReturned><IncludeLineItems>true</IncludeLineItems></BillQueryRq>'
        )
        refs += [r.findtext("RefNumber") for r in page]
        assert all(r.find("ExpenseLineRet") is not None for r in page)
        if page.get("iteratorRemainingCount") == "0":
            break
    assert refs == [f"IT-{i}" for i in range(5)]


def test_engine_without_the_xsd_answers_the_same(now) -> None:
    from sim.quickbooks.latency import ZERO_LATENCY
    from sim.quickbooks.seed import seed_company
    from sim.quickbooks.strict import Validator

    with_xsd = seed_company(FILE_ID, OWNER_ID, now=now, latency=ZERO_LATENCY)
    without = seed_company(FILE_ID, OWNER_ID, now=now, latency=ZERO_LATENCY, validator=Validator(use_xsd=False))
    sets = [
        qbxml(vendor_add("Same Co")),
        qbxml(bill_add("Same Co")),
        qbxml(bill_add(amount="1.5")),
        qbxml(vendor_add("Jane Doe") + vendor_add("Other"), on_error="continueOnError"),
        qbxml("<VendorAddRq><VendorAdd><IsActive>true</IsActive><Name>X</Name></VendorAdd></VendorAddRq>"),
        qbxml("<BillQueryRq><RefNumber>CNC-1</RefNumber><IncludeLineItems>true</IncludeLineItems></BillQueryRq>"),
    ]
    for text in sets:
        assert with_xsd.process(text) == without.process(text)
    assert with_xsd.state == without.state


def test_text_outside_latin_1_fails_the_set_but_latin_1_is_fine(company: CompanyFile) -> None:
    assert status(one(company, vendor_add("Müller &amp; Söhne GmbH"))) == 0
    result = company.process(qbxml(vendor_add("Łukasz Nowak")))
    assert result.hresult == "0x80040400" and company.find_list("Vendor", "Łukasz Nowak") is None


def test_txn_ids_never_collide_with_list_ids(company: CompanyFile) -> None:
    list_ids = {r["ListID"] for recs in company.state.lists.values() for r in recs}
    for i in range(60):
        one(company, vendor_add(f"Collide {i}"))
        one(company, bill_add(f"Collide {i}", ref=f"C{i}"))
    list_ids |= {r["ListID"] for recs in company.state.lists.values() for r in recs}
    txn_ids = {b["TxnID"] for b in company.state.txns["Bill"]} | {line["TxnLineID"] for b in company.state.txns["Bill"] for line in b["ExpenseLineRet"]}
    assert not list_ids & txn_ids and len(txn_ids) == 120


@pytest.mark.parametrize("code", [3170, 3175, 3176, 3180])
def test_refusal_knob_answers_lock_and_validation_texts_then_lets_requests_through(company: CompanyFile, code: int) -> None:
    from sim.quickbooks.refusals import LOCK_TEXTS, VALIDATION_TEXTS

    company.refuse("BillAdd", code, "lock")
    company.refuse("BillAdd", code, "validation")
    locked = one(company, bill_add(ref="CNC-L1"))
    refused = one(company, bill_add(ref="CNC-L2"))
    assert (status(locked), status(refused)) == (code, code)
    assert locked.get("statusMessage") == LOCK_TEXTS[code].format(txn="Bill")
    assert refused.get("statusMessage") == VALIDATION_TEXTS[code].format(txn="Bill")
    assert "another user" not in refused.get("statusMessage") and "in use" not in refused.get("statusMessage")
    assert not company.state.txns.get("Bill"), "a refused request changes nothing"
    assert status(one(company, bill_add(ref="CNC-L3"))) == 0, "each refusal is used once"
