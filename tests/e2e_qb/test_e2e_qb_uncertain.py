"""Never twice: answers lost after QuickBooks applied the writes, a Web Connector killed mid-session
and a worker restarted while writes are ``sent`` all end with every document in QuickBooks once,
settled by a query by RefNumber before anything is resent."""

from __future__ import annotations

from decimal import Decimal

import pytest

from mlc import harness
from sim.webconnector.knobs import FaultKnobs

from e2e_qb_helpers import (
    approve_and_deliver,
    assert_no_duplicates,
    audit_actions,
    doc_states,
    execute,
    planned,
    query,
    restart_worker,
    running,
    settled_found_ops,
    soap_int,
    soap_string,
    soap_strings,
    wait_fetched,
)


def assert_totals_match(h) -> None:
    s = harness.summary(h, 0.0)
    assert s["quickbooks_duplicates"] == 0
    assert Decimal(s["quickbooks_total"]) == Decimal(s["concur_total"]), s
    assert s["quickbooks_transactions"] == s["posted"] == s["documents"], s


async def audit_of_documents(h) -> list[tuple[int, str]]:
    return [(r["document_id"], r["action"]) for r in await query(h, "SELECT document_id, action FROM audit WHERE document_id IS NOT NULL ORDER BY id")]


@pytest.mark.trio
async def test_lost_answer_after_bill_and_journal_entry_adds_is_settled_once(tmp_path):
    async with running(tmp_path, reports=4, invoices=3) as h:
        await harness.web_connector_run(h)  # lists
        k = await approve_and_deliver(h)
        await wait_fetched(h, k)
        await planned(h, k)
        # The set carrying the writes is applied by QuickBooks; its answer never reaches the worker.
        lost = await harness.web_connector_run(h, FaultKnobs(lose_responses=frozenset({2})))
        assert lost.lost_responses == 1 and lost.ended_by == "lost_response"
        in_quickbooks = harness.quickbooks_transactions(h.company_file)
        assert in_quickbooks, "QuickBooks applied the writes before the answer was lost"
        kinds = {kind for kind, _ in in_quickbooks}
        # The next session starts: the outcome is uncertain, so the documents go unknown...
        counts = await harness.drain(h, expected=k, timeout_s=20)
        assert counts == {"posted": k}
        trail = await audit_of_documents(h)
        unknown_docs = {d for d, a in trail if a == "unknown"}
        settled = {d for d, a in trail if a == "settled_found"}
        assert unknown_docs, "documents went unknown when the answer was lost"
        assert settled and settled <= unknown_docs
        # ...were settled by BillQuery/JournalEntryQuery by RefNumber...
        tags = h.recorder.request_tags()
        for kind in kinds:
            assert f"{kind}QueryRq" in tags
        settle_rows = await settled_found_ops(h)
        assert {r["op"] for r in settle_rows} & {"BillAdd", "JournalEntryAdd"}
        # ...and never written a second time.
        assert_no_duplicates(h)
        assert len(harness.quickbooks_transactions(h.company_file)) == k
        assert_totals_match(h)
        txn_ids = {t["TxnID"] for _, t in harness.quickbooks_transactions(h.company_file)}
        stored = {r["txn_id"] for r in await query(h, "SELECT txn_id FROM postings WHERE op IN ('BillAdd', 'JournalEntryAdd') AND state = 'done'")}
        assert stored == txn_ids


@pytest.mark.trio
async def test_random_lost_answers_never_duplicate(tmp_path, store_url):
    async with running(tmp_path, store_url=store_url, reports=8, invoices=4, seed=11) as h:
        k = await approve_and_deliver(h)
        await wait_fetched(h, k)
        for session in range(40):  # QBWC's scheduled runs, each losing about half of the answers
            # How many answers a run has depends on how the worker sizes its sets (its measured
            # pace), so the first two runs lose their first answer for certain.
            certain = frozenset({1}) if session < 2 else frozenset()
            knobs = FaultKnobs(lose_response_probability=0.5, lose_responses=certain, seed=session)
            await harness.web_connector_run(h, knobs)
            counts = await doc_states(h)
            pending = await query(h, "SELECT 1 FROM postings WHERE state IN ('queued', 'sent', 'unknown')")
            if counts.get("posted", 0) == k and not pending:
                break
        assert counts == {"posted": k}
        assert sum(r.lost_responses for r in h.sessions) >= 2
        assert "settled_found" in await audit_actions(h)
        assert_no_duplicates(h)
        assert_totals_match(h)


async def settled_ops(h) -> set[str]:
    rows = await settled_found_ops(h)
    return {r["op"] for r in rows}


@pytest.mark.trio
async def test_web_connector_killed_then_worker_restarted_with_writes_sent(tmp_path):
    async with running(tmp_path, reports=4, invoices=3) as h:
        await harness.web_connector_run(h)  # lists
        k = await approve_and_deliver(h)
        await wait_fetched(h, k)
        await planned(h, k)
        # serverVersion, clientVersion, authenticate, sendRequestXML (vendors), receiveResponseXML,
        # sendRequestXML (bills and journal entries): QuickBooks runs that set, then the Web
        # Connector process dies before receiveResponseXML.
        report = await harness.web_connector_run(h, FaultKnobs(kill_after_calls=6))
        assert report.killed and report.soap_calls[-1] == "sendRequestXML" and report.qbxml_requests == 2
        sent = await query(h, "SELECT op FROM postings WHERE state = 'sent'")
        assert {r["op"] for r in sent} & {"BillAdd", "JournalEntryAdd"}, "the killed session left transactions in sent"
        applied = len(harness.quickbooks_transactions(h.company_file))
        assert applied
        # The worker restarts before the Web Connector's next run: sent -> unknown.
        await restart_worker(h)
        assert not await query(h, "SELECT 1 FROM postings WHERE state = 'sent'")
        assert (await doc_states(h)).get("unknown", 0) >= 1
        assert "uncertain" in await audit_actions(h)
        counts = await harness.drain(h, expected=k, timeout_s=20)
        assert counts == {"posted": k}
        assert await settled_ops(h) & {"BillAdd", "JournalEntryAdd"}
        assert_no_duplicates(h)
        assert_totals_match(h)


@pytest.mark.trio
async def test_web_connector_killed_before_quickbooks_ran_the_set(tmp_path):
    async with running(tmp_path, reports=3, invoices=2) as h:
        await harness.web_connector_run(h)  # lists
        k = await approve_and_deliver(h)
        await wait_fetched(h, k)
        await planned(h, k)
        before = len(h.recorder.sets)
        # Killed before even asking for work: nothing handed out, nothing uncertain.
        report = await harness.web_connector_run(h, FaultKnobs(kill_after_calls=3))
        assert report.killed and len(h.recorder.sets) == before
        assert not await query(h, "SELECT 1 FROM postings WHERE state != 'queued'")
        counts = await harness.drain(h, expected=k, timeout_s=20)
        assert counts == {"posted": k}
        assert "settled_found" not in await audit_actions(h)
        assert_no_duplicates(h)
        assert_totals_match(h)


@pytest.mark.trio
async def test_restart_after_quickbooks_applied_a_set_whose_answer_was_lost(tmp_path):
    async with running(tmp_path, reports=4, invoices=3, seed=5) as h:
        await harness.web_connector_run(h)  # lists
        k = await approve_and_deliver(h)
        await wait_fetched(h, k)
        await planned(h, k)
        report = await harness.web_connector_run(h, FaultKnobs(lose_responses=frozenset({1})))
        assert report.lost_responses == 1
        assert await query(h, "SELECT 1 FROM postings WHERE state = 'sent'")
        before = len(harness.quickbooks_transactions(h.company_file))
        assert before
        # The worker dies and comes back before the Web Connector runs again.
        await restart_worker(h)
        assert not await query(h, "SELECT 1 FROM postings WHERE state = 'sent'")
        assert (await doc_states(h)).get("unknown", 0) >= 1
        counts = await harness.drain(h, expected=k, timeout_s=20)
        assert counts == {"posted": k}
        assert "settled_found" in await audit_actions(h)
        assert_no_duplicates(h)
        assert_totals_match(h)


@pytest.mark.trio
async def test_send_request_while_an_answer_is_outstanding_settles_first(tmp_path):
    """QBWC asks for more without answering the last set (its receiveResponseXML got lost on the
    way): what that set carried is uncertain, and the next set settles it by query first."""
    async with running(tmp_path, reports=3, invoices=2) as h:
        await harness.web_connector_run(h)  # lists
        k = await approve_and_deliver(h)
        await wait_fetched(h, k)
        await planned(h, k)
        url, cf = h.qbwc_url, h.company_file
        company = h.config.companies[0]
        ticket, status = (await soap_strings(url, "authenticate", strUserName=company.qbwc.username, strPassword=h.password))[:2]
        assert status == ""
        cf.begin_session()
        request = await soap_string(
            url,
            "sendRequestXML",
            ticket=ticket,
            strHCPResponse=cf.hcp_response(company.qbwc.owner_id),
            strCompanyFileName=cf.state.file_path,
            qbXMLCountry="US",
            qbXMLMajorVers="13",
            qbXMLMinorVers="0",
        )
        assert "AddRq" in request
        cf.process(request)  # QuickBooks applied it; its answer never reached the worker
        applied = {v["Name"] for v in cf.state.lists["Vendor"]}
        again = await soap_string(
            url,
            "sendRequestXML",
            ticket=ticket,
            strHCPResponse="",
            strCompanyFileName=cf.state.file_path,
            qbXMLCountry="US",
            qbXMLMajorVers="13",
            qbXMLMinorVers="0",
        )
        assert 'requestID="u:' in again, again[:500]
        assert "AddRq" not in again, "nothing is resent before the uncertain writes are settled"
        assert (await doc_states(h)).get("unknown", 0) >= 1
        result = cf.process(again)
        percent = await soap_int(url, "receiveResponseXML", ticket=ticket, response=result.response, hresult="", message="")
        assert 0 < percent <= 100
        await soap_string(url, "closeConnection", ticket=ticket)
        cf.end_session()
        assert "settled_found" in await audit_actions(h)
        assert {v["Name"] for v in cf.state.lists["Vendor"]} == applied
        counts = await harness.drain(h, expected=k, timeout_s=20)
        assert counts == {"posted": k}
        assert_no_duplicates(h)
        assert_totals_match(h)
        names = [v["Name"] for v in cf.state.lists["Vendor"]]
        assert len(names) == len(set(names))


@pytest.mark.trio
async def test_a_settlement_query_quickbooks_cannot_answer_does_not_loop(tmp_path, monkeypatch):
    """If QuickBooks cannot answer the query that settles an uncertain write, the write stays
    uncertain (never resent) and the session still ends; a later session settles it."""
    import trio

    from sim.quickbooks import engine

    async with running(tmp_path, reports=3, invoices=2) as h:
        await harness.web_connector_run(h)  # lists
        k = await approve_and_deliver(h)
        await wait_fetched(h, k)
        await planned(h, k)
        await harness.web_connector_run(h, FaultKnobs(lose_responses=frozenset({2})))
        applied = len(harness.quickbooks_transactions(h.company_file))
        assert applied

        def broken(cf, req, rs, work):
            raise engine.StatusError(1000, "There was an unexpected error when processing the request.")

        monkeypatch.setitem(engine._HANDLERS, "BillQueryRq", broken)
        monkeypatch.setitem(engine._HANDLERS, "JournalEntryQueryRq", broken)
        sets_before = len(h.recorder.sets)
        with trio.fail_after(10):
            report = await harness.web_connector_run(h)
        assert report.ended_by == "closeConnection", report.summary()
        assert len(h.recorder.sets) - sets_before <= 5, "the session ends instead of asking the same query forever"
        assert (await doc_states(h)).get("unknown", 0) >= 1
        assert len(harness.quickbooks_transactions(h.company_file)) == applied
        monkeypatch.undo()
        await execute(h, "UPDATE postings SET not_before = NULL WHERE state = 'unknown'")  # the back-off has passed
        counts = await harness.drain(h, expected=k, timeout_s=20)
        assert counts == {"posted": k}
        assert_no_duplicates(h)
        assert_totals_match(h)


@pytest.mark.trio
async def test_settlement_set_quickbooks_cannot_parse_does_not_loop(tmp_path):
    """QuickBooks refuses the set of settling queries as a whole (0x80040400): the session ends
    instead of sending the same set again and again; the writes stay uncertain, never resent."""
    import trio

    from sim.quickbooks.engine import ProcessResult
    from sim.quickbooks.strict import PARSE_ERROR_HRESULT, PARSE_ERROR_MESSAGE

    async with running(tmp_path, reports=3, invoices=2) as h:
        await harness.web_connector_run(h)  # lists
        k = await approve_and_deliver(h)
        await wait_fetched(h, k)
        await planned(h, k)
        await harness.web_connector_run(h, FaultKnobs(lose_responses=frozenset({2})))
        applied = len(harness.quickbooks_transactions(h.company_file))
        assert applied
        process = h.company_file.process
        refused = []

        def picky(text: str):
            if 'requestID="u:' in text:
                refused.append(text)
                return ProcessResult("", PARSE_ERROR_HRESULT, PARSE_ERROR_MESSAGE, 0.0)
            return process(text)

        h.company_file.process = picky
        with trio.fail_after(10):
            report = await harness.web_connector_run(h)
        assert 1 <= len(refused) <= 2, len(refused)
        assert report.ended_by == "closeConnection", report.summary()
        assert (await doc_states(h)).get("unknown", 0) >= 1
        assert len(harness.quickbooks_transactions(h.company_file)) == applied
        h.company_file.process = process
        await execute(h, "UPDATE postings SET not_before = NULL WHERE state = 'unknown'")  # the wait is over
        assert (await harness.drain(h, expected=k, timeout_s=20)) == {"posted": k}
        assert_no_duplicates(h)
        assert_totals_match(h)


@pytest.mark.trio
async def test_worker_restarted_in_the_middle_of_a_session(tmp_path, store_url):
    """The Web Connector keeps going with its ticket while the worker restarts under it: the answer
    arrives at a worker process that never issued that ticket. The session lives in the store, so
    the answer is accepted and the session goes on; the writes it carried were taken as uncertain
    at the restart, so they are settled by query, not sent again (issue 18: any worker answers)."""
    async with running(tmp_path, store_url=store_url, reports=3, invoices=2) as h:
        await harness.web_connector_run(h)  # lists
        k = await approve_and_deliver(h)
        await wait_fetched(h, k)
        await planned(h, k)
        cf, company = h.company_file, h.config.companies[0]
        ticket = (await soap_strings(h.qbwc_url, "authenticate", strUserName=company.qbwc.username, strPassword=h.password))[0]
        cf.begin_session()
        request = await soap_string(
            h.qbwc_url,
            "sendRequestXML",
            ticket=ticket,
            strHCPResponse=cf.hcp_response(company.qbwc.owner_id),
            strCompanyFileName=cf.state.file_path,
            qbXMLCountry="US",
            qbXMLMajorVers="13",
            qbXMLMinorVers="0",
        )
        result = cf.process(request)  # applied in QuickBooks...
        await restart_worker(h)  # ...while the worker restarts
        assert 0 <= await soap_int(h.qbwc_url, "receiveResponseXML", ticket=ticket, response=result.response, hresult="", message="") < 100
        assert await query(h, "SELECT 1 FROM postings WHERE state = 'unknown'")
        await soap_string(h.qbwc_url, "closeConnection", ticket=ticket)
        cf.end_session()
        assert not await query(h, "SELECT 1 FROM postings WHERE state = 'sent'")
        counts = await harness.drain(h, expected=k, timeout_s=20)
        assert counts == {"posted": k}
        assert "settled_found" in await audit_actions(h)
        names = [v["Name"] for v in cf.state.lists["Vendor"]]
        assert len(names) == len(set(names)), "no vendor created twice"
        assert_no_duplicates(h)
        assert_totals_match(h)


@pytest.mark.trio
async def test_a_document_whose_state_lags_its_answered_rows_follows_them_at_the_next_session(tmp_path):
    """receiveResponseXML answers once the rows hold QuickBooks' answers; the documents follow
    right after. A worker killed in between leaves documents behind their rows: the next session
    start brings them up to date, and sends nothing again."""
    async with running(tmp_path, reports=2, invoices=1) as h:
        await harness.web_connector_run(h)  # lists
        k = await approve_and_deliver(h)
        await wait_fetched(h, k)
        await planned(h, k)
        assert await harness.drain(h, expected=k, timeout_s=20) == {"posted": k}
        in_quickbooks = len(harness.quickbooks_transactions(h.company_file))
        await execute(h, "UPDATE documents SET state = 'sent'")  # as if the refresh never ran
        report = await harness.web_connector_run(h)
        assert report.writes == 0
        assert await doc_states(h) == {"posted": k}
        assert len(harness.quickbooks_transactions(h.company_file)) == in_quickbooks
        assert_totals_match(h)
