"""QuickBooks' status codes as the real worker meets them through the Web Connector: stale
EditSequence (3200), name in use (3100), missing or inactive reference (3140), record in use
(3175), a set that does not parse (0x80040400), and list iterators (paging, 3391)."""

from __future__ import annotations

import pytest

from mlc import harness
from sim.quickbooks.engine import StatusError
from sim.quickbooks.strict import PARSE_ERROR_HRESULT
from worker.qbwc import lists

from e2e_qb_helpers import approve_and_deliver, assert_no_duplicates, audit_actions, doc_states, execute, planned, query, running, wait_fetched


def owner_of_first_report(h):
    data = h.concur.companies[h.company].data
    report = next(iter(data.reports.values()))
    return data.employees[report.owner]


def sets_with(h, tag: str) -> list[int]:
    return [i for i, text in enumerate(h.recorder.sets) if f"<{tag}" in text]


def status_codes(h) -> list[str]:
    import re

    return [code for r in h.recorder.results for code in re.findall(r'statusCode="(\d+)"', r.response or "")]


# --- 3200: EditSequence out of date ------------------------------------------------------------


async def inactive_vendor_for_employee(h) -> str:
    """An employee's vendor exists, inactive, before the lists are read; documents approved after."""
    owner = owner_of_first_report(h)
    name = owner.display_name
    # The employee's own vendor: its AccountNumber is the Concur employee id (a name alone is not enough).
    h.company_file.add_list_record("Vendor", name, IsActive=False, CompanyName=name, AccountNumber=owner.employee_number)
    await harness.web_connector_run(h)  # lists (the inactive vendor among them)
    k = await approve_and_deliver(h)
    await wait_fetched(h, k)
    await planned(h, k)
    mods = await query(h, "SELECT id, state FROM postings WHERE op = 'VendorMod'")
    assert mods and all(r["state"] == "queued" for r in mods), "the planner reactivates the vendor with a VendorMod"
    return name


@pytest.mark.trio
async def test_stale_edit_sequence_on_vendor_mod_is_requeried_and_reapplied(tmp_path):
    async with running(tmp_path) as h:
        name = await inactive_vendor_for_employee(h)
        k = sum((await doc_states(h)).values())
        # Someone edits the vendor in QuickBooks between planning and the next session.
        h.company_file.simulate_user_edit(name)
        counts = await harness.drain(h, expected=k, timeout_s=20)
        assert counts == {"posted": k}
        assert "3200" in status_codes(h)
        mod_sets = sets_with(h, "VendorModRq")
        assert len(mod_sets) >= 2, "sent, refused as stale, re-read, sent again"
        assert any('<VendorQueryRq requestID="r:' in h.recorder.sets[i] for i in range(mod_sets[0], mod_sets[-1]))
        vendor = h.company_file.find_list("Vendor", name)
        assert vendor["IsActive"] is True
        assert len([v for v in h.company_file.state.lists["Vendor"] if v["Name"] == name]) == 1
        # (Two reports of one employee plan a VendorMod each; the second is stale after the first.)
        rows = await query(h, "SELECT state, attempts FROM postings WHERE op = 'VendorMod'")
        assert all(r["state"] == "done" and 2 <= r["attempts"] <= 3 for r in rows), [tuple(r) for r in rows]
        assert_no_duplicates(h)


@pytest.mark.trio
async def test_vendor_that_keeps_changing_is_held_after_three_tries(tmp_path):
    async with running(tmp_path) as h:
        name = await inactive_vendor_for_employee(h)
        k = sum((await doc_states(h)).values())
        process = h.company_file.process

        def busy_user(text: str):
            if "<VendorModRq" in text:
                h.company_file.simulate_user_edit(name)  # edited again just before every attempt
            return process(text)

        h.company_file.process = busy_user
        counts = await harness.drain(h, expected=k, timeout_s=20)
        mods = await query(h, "SELECT state, attempts FROM postings WHERE op = 'VendorMod'")
        assert status_codes(h).count("3200") == 3 * len(mods)
        held = await query(h, "SELECT reason FROM documents WHERE state = 'held'")
        assert held and all("kept changing" in r["reason"] for r in held), [r["reason"] for r in held]
        assert counts.get("posted", 0) == k - len(held)
        assert h.company_file.find_list("Vendor", name)["IsActive"] is False
        assert all(r["state"] == "failed" and r["attempts"] == 3 for r in mods), [tuple(r) for r in mods]
        assert len(held) == len(mods)


# --- 3100: the name belongs to an employee ------------------------------------------------------


@pytest.mark.trio
async def test_employee_named_like_a_quickbooks_employee_gets_a_distinct_vendor(tmp_path):
    async with running(tmp_path) as h:
        employee = owner_of_first_report(h)
        employee.given, employee.family = "Jane", "Doe"  # "Jane Doe" is an Employee in the company file
        k = await approve_and_deliver(h)
        counts = await harness.drain(h, expected=k, timeout_s=20)
        assert counts == {"posted": k}
        # The Employee list is synced with the others: the name is known taken before any VendorAdd.
        assert "3100" not in status_codes(h)
        vendors = [v["Name"] for v in h.company_file.state.lists["Vendor"] if v["Name"].startswith("Jane Doe")]
        assert len(vendors) == 1 and vendors[0] != "Jane Doe", vendors
        docs = await query(h, "SELECT vendor FROM documents WHERE vendor LIKE 'Jane Doe%'")
        assert docs and {r["vendor"] for r in docs} == set(vendors)
        assert len([e for e in h.company_file.state.lists["Employee"] if e["Name"] == "Jane Doe"]) == 1
        assert_no_duplicates(h)


# --- 3140: missing or inactive reference --------------------------------------------------------


@pytest.mark.trio
async def test_mapping_to_an_inactive_account_holds_before_sending(tmp_path):
    def map_airfare_to_old_marketing(h):
        harness.edit_run_config(h, lambda raw: raw["companies"][0]["mapping"]["expense_types"].update(AIRFR="Old Marketing"))

    async with running(tmp_path, before_worker=map_airfare_to_old_marketing) as h:
        k = await approve_and_deliver(h)
        counts = await harness.drain(h, expected=k, timeout_s=20)
        held = await query(h, "SELECT reason FROM documents WHERE state = 'held'")
        assert held, counts
        assert all("Old Marketing" in r["reason"] for r in held), [r["reason"] for r in held]
        assert counts.get("posted", 0) == k - len(held)
        assert not any("Old Marketing" in text for text in h.recorder.sets), "the planner holds before sending"
        assert "3140" not in status_codes(h)


@pytest.mark.trio
@pytest.mark.parametrize("change", ["inactive", "deleted"])
async def test_account_changed_after_the_list_sync_is_held_on_3140(tmp_path, change):
    async with running(tmp_path) as h:
        await harness.web_connector_run(h)  # lists: every account active
        k = await approve_and_deliver(h)
        await wait_fetched(h, k)
        await planned(h, k)
        account = "Travel:Ground Transportation"
        record = h.company_file.find_list("Account", account)
        if change == "inactive":
            record["IsActive"] = False  # someone tidied up the chart of accounts
        else:
            h.company_file.state.lists["Account"].remove(record)
            h.company_file._reindex()
        counts = await harness.drain(h, expected=k, timeout_s=20)
        assert "3140" in status_codes(h)
        held = await query(h, "SELECT reason FROM documents WHERE state = 'held'")
        assert held and all(account in r["reason"] for r in held), [r["reason"] for r in held]
        assert counts.get("posted", 0) == k - len(held)
        assert_no_duplicates(h)
        for _, txn in harness.quickbooks_transactions(h.company_file):
            assert account not in str(txn)


# --- 3175: record in use ------------------------------------------------------------------------


@pytest.mark.trio
async def test_record_in_use_is_retried_later(tmp_path, monkeypatch):
    # The simulated QuickBooks has no lock knob: its JournalEntryAdd handler is wrapped to answer,
    # once, the status QuickBooks gives while another user has the record open.
    from sim.quickbooks import engine

    async with running(tmp_path) as h:
        await harness.web_connector_run(h)
        k = await approve_and_deliver(h)
        await wait_fetched(h, k)
        await planned(h, k)
        original = engine._HANDLERS["JournalEntryAddRq"]
        calls = []

        def locked_once(cf, req, rs, work):
            calls.append(1)
            if len(calls) == 1:
                raise StatusError(3175, "There was an error when saving a JournalEntry.  QuickBooks error message: This record is being used by another user.")
            return original(cf, req, rs, work)

        monkeypatch.setitem(engine._HANDLERS, "JournalEntryAddRq", locked_once)
        report = await harness.web_connector_run(h)
        assert report.ended_by == "closeConnection", report.summary()
        waiting = await query(
            h,
            "SELECT p.not_before, p.state AS posting, d.state, d.reason FROM postings p "
            "JOIN documents d ON d.id = p.document_id WHERE p.op = 'JournalEntryAdd' AND p.status_code = 3175",
        )
        assert len(waiting) == 1 and waiting[0]["not_before"], [tuple(r) for r in waiting]
        assert waiting[0]["posting"] == "queued" and waiting[0]["state"] == "queued" and "3175" in waiting[0]["reason"]
        assert (await doc_states(h)).get("posted", 0) == k - 1
        # The back-off keeps it out of the next session...
        report = await harness.web_connector_run(h)
        assert report.auth_status == "none" or report.writes == 0
        # ...and once it has passed, the same write goes again and is posted once.
        await execute(h, "UPDATE postings SET not_before = NULL WHERE status_code = 3175")
        assert (await harness.drain(h, expected=k, timeout_s=20)) == {"posted": k}
        assert_no_duplicates(h)
        assert len(harness.quickbooks_transactions(h.company_file)) == k


# --- 0x80040400: a set QuickBooks cannot parse --------------------------------------------------


@pytest.mark.trio
async def test_unparseable_request_is_isolated_and_quarantined(tmp_path):
    async with running(tmp_path, reports=4, invoices=3) as h:
        await harness.web_connector_run(h)
        k = await approve_and_deliver(h)
        await wait_fetched(h, k)
        await planned(h, k)
        # A bad outbox row (elements out of order) among good ones.
        row = (await query(h, "SELECT id, document_id, request_xml FROM postings WHERE op = 'JournalEntryAdd' AND state = 'queued' ORDER BY id LIMIT 1"))[0]
        xml = row["request_xml"]
        date = xml[xml.index("<TxnDate>") : xml.index("</TxnDate>") + len("</TxnDate>")]
        ref = xml[xml.index("<RefNumber>") : xml.index("</RefNumber>") + len("</RefNumber>")]
        bad = xml.replace(date, "\x00").replace(ref, date).replace("\x00", ref)
        assert bad != xml
        await execute(h, "UPDATE postings SET request_xml = ?, request_bytes = ? WHERE id = ?", bad, len(bad), row["id"])
        counts = await harness.drain(h, expected=k, timeout_s=20)
        parse_failures = [i for i, r in enumerate(h.recorder.results) if r.hresult == PARSE_ERROR_HRESULT]
        assert len(parse_failures) == 2, "the whole set, then the culprit alone"
        assert f'requestID="{row["id"]}"' in h.recorder.sets[parse_failures[-1]]
        first_set = h.recorder.sets[parse_failures[0]]
        assert first_set.count("AddRq requestID=") > 1, "the failed set carried other writes too"
        h.recorder.skip_validation.update(parse_failures)
        posting = (await query(h, "SELECT state FROM postings WHERE id = ?", row["id"]))[0]
        assert posting["state"] == "quarantined"
        doc = (await query(h, "SELECT state, reason FROM documents WHERE id = ?", row["document_id"]))[0]
        assert doc["state"] == "failed" and "parse" in doc["reason"]
        assert counts == {"posted": k - 1, "failed": 1}
        assert len(harness.quickbooks_transactions(h.company_file)) == k - 1
        assert "parse_error" in await audit_actions(h)


# --- iterators -----------------------------------------------------------------------------------


def add_many(h, vendors: int = 250, customers: int = 130) -> None:
    for i in range(vendors):
        h.company_file.add_list_record("Vendor", f"Bulk Vendor {i:03d}", IsActive=i % 7 != 0)
    for i in range(customers):
        h.company_file.add_list_record("Customer", f"Bulk Customer {i:03d}", JobStatus="None")


async def list_counts(h) -> dict[str, int]:
    rows = await query(h, "SELECT list_type, COUNT(*) AS n FROM qb_lists WHERE company = 'demo' GROUP BY list_type")
    return {r["list_type"]: r["n"] for r in rows}


def iterator_requests(h, tag: str) -> list[str]:
    import re

    return re.findall(rf'<{tag} requestID="[^"]*" iterator="(\w+)"', "".join(h.recorder.sets))


@pytest.mark.trio
async def test_large_lists_are_read_in_pages(tmp_path):
    async with running(tmp_path) as h:
        add_many(h)
        report = await harness.web_connector_run(h)
        assert report.ended_by == "closeConnection" and not report.failures
        expected_vendors = len(h.company_file.state.lists["Vendor"])
        expected_customers = len(h.company_file.state.lists["Customer"])
        counts = await list_counts(h)
        assert counts["Vendor"] == expected_vendors and counts["Customer"] == expected_customers
        assert iterator_requests(h, "VendorQueryRq") == ["Start", "Continue", "Continue"]
        assert iterator_requests(h, "CustomerQueryRq") == ["Start", "Continue"]
        assert all("<MaxReturned>100</MaxReturned>" in text for text in h.recorder.sets if 'iterator="' in text)
        rows = await query(h, "SELECT COUNT(*) AS n FROM qb_list_sync WHERE company = 'demo' AND synced_at IS NOT NULL")
        assert rows[0]["n"] == len(lists.LIST_TYPES)
        k = await approve_and_deliver(h)
        assert (await harness.drain(h, expected=k, timeout_s=20)) == {"posted": k}


@pytest.mark.trio
async def test_stale_iterator_restarts_the_pass(tmp_path):
    async with running(tmp_path) as h:
        add_many(h)
        process = h.company_file.process
        seen = []

        def forgetful(text: str):
            result = process(text)
            seen.append(text)
            if len(seen) == 1:
                h.company_file._iterators.clear()  # QuickBooks forgot the iterator (as after a restart)
            return result

        h.company_file.process = forgetful
        report = await harness.web_connector_run(h)
        assert report.ended_by == "closeConnection" and not report.failures
        assert "3391" in status_codes(h)
        vendor_pages = iterator_requests(h, "VendorQueryRq")
        assert vendor_pages[:3] == ["Start", "Continue", "Start"], vendor_pages
        counts = await list_counts(h)
        assert counts["Vendor"] == len(h.company_file.state.lists["Vendor"])
        assert counts["Customer"] == len(h.company_file.state.lists["Customer"])
        rows = await query(h, "SELECT COUNT(*) AS n FROM qb_list_sync WHERE company = 'demo' AND synced_at IS NOT NULL")
        assert rows[0]["n"] == len(lists.LIST_TYPES)


@pytest.mark.trio
async def test_list_pass_cut_short_does_not_skip_the_unread_pages(tmp_path):
    """The FromModifiedDate checkpoint may only move when a pass has read every page: a session that
    ends after the first page must not make the next pass skip older records on later pages."""
    import datetime as dt

    from sim.webconnector.knobs import FaultKnobs

    async with running(tmp_path) as h:
        add_many(h, vendors=250, customers=0)
        # The vendors QuickBooks returns first were modified most recently; later pages hold older ones.
        now = h.company_file.now()
        bulk = [v for v in h.company_file.state.lists["Vendor"] if v["Name"].startswith("Bulk Vendor")]
        for i, vendor in enumerate(bulk):
            vendor["TimeModified"] = (now - dt.timedelta(days=i // 50)).isoformat(timespec="seconds")
        for vendor in h.company_file.state.lists["Vendor"][:5]:
            vendor["TimeModified"] = (now - dt.timedelta(days=30)).isoformat(timespec="seconds")
        # serverVersion, clientVersion, authenticate, sendRequestXML (first pages), receiveResponseXML: killed.
        cut = await harness.web_connector_run(h, FaultKnobs(kill_after_calls=5))
        assert cut.killed
        assert (await list_counts(h))["Vendor"] == 100
        report = await harness.web_connector_run(h)
        assert not report.failures
        assert (await list_counts(h))["Vendor"] == len(h.company_file.state.lists["Vendor"])
        # The new session starts the pass over: an iterator never outlives its session.
        assert iterator_requests(h, "VendorQueryRq") == ["Start", "Start", "Continue", "Continue"]
        assert "3391" not in status_codes(h)
