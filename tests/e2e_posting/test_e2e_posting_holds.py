"""Why a document is not posted, end to end, and how it gets posted after all: unmapped codes
(held, then released by the worker itself when the edited config arrives; bad edits rejected),
QuickBooks' closing date, a foreign currency on a single-currency file, a report not yet approved.
"""

from __future__ import annotations

import datetime as dt

import pytest

from mlc import harness

from e2e_posting_helpers import (
    COMPANY,
    approved_reports,
    audit_count,
    by_account,
    concur_account_totals,
    document,
    documents,
    dumps,
    pending_reports,
    qb_totals,
    qb_transactions,
    qb_txns_for,
    raw_config,
    running,
    wait_for,
    wait_state,
    write_raw_config,
)


@pytest.mark.trio
async def test_unmapped_code_held_then_released_by_the_config_watcher_and_bad_edits_rejected(tmp_path):
    removed: dict[str, str] = {}

    def drop_first_type(raw: dict) -> None:
        code = h_codes[0]
        removed[code] = raw["companies"][0]["mapping"]["expense_types"].pop(code)

    h_codes: list[str] = []

    def pick(h) -> None:
        reports = list(h.concur.companies[COMPANY].data.reports.values())
        h_codes.append(reports[0].expenses[0].type_code)
        harness.edit_run_config(h, drop_first_type)

    async with running(tmp_path, reports=4, invoices=1, before_worker=pick) as h:
        [code] = removed
        expected = harness.approve_everything(h)
        await harness.deliver(h)
        await harness.drain(h, expected=expected, timeout_s=30)
        uses = {r.id for r in approved_reports(h) if any(e.type_code == code for e in r.expenses)}
        docs = {d["concur_id"]: d for d in await documents(h)}
        for concur_id, doc in docs.items():
            if concur_id in uses:
                assert doc["state"] == "held", doc
                assert f'"{code}"' in doc["reason"] and f"company {COMPANY}" in doc["reason"], doc["reason"]
            else:
                assert doc["state"] == "posted", doc
        for concur_id in uses:
            assert await qb_txns_for(h, concur_id) == []

        # A bad edit (not TOML) and a bad value are rejected; the running config stays.
        good = raw_config(h)
        write_raw_config(h, "this is [not toml\n")
        await wait_for(h, "SELECT COUNT(*) AS n FROM audit WHERE action = 'config_rejected'", check=lambda r: r[0]["n"] == 1, what="bad TOML rejected")
        posting = {**good["companies"][0]["posting"], "expense_report_as": "cheque", "post_on_statuses": ["A_APPR"]}
        bad = {**good, "companies": [{**good["companies"][0], "posting": posting}]}
        write_raw_config(h, dumps(bad))
        rows = await wait_for(
            h,
            "SELECT detail FROM audit WHERE action = 'config_rejected' ORDER BY id",
            check=lambda r: len(r) == 2,
            what="bad value and misspelled key rejected",
        )
        assert "post_on_statuses: unknown key" in rows[1]["detail"] and "expense_report_as" in rows[1]["detail"], rows[1]
        assert h.worker.ctx.config.companies[0].posting.expense_report_as == "journal_entry"
        assert all(d["state"] == "held" for d in await documents(h) if d["concur_id"] in uses)

        # The mapping comes back: the watcher re-plans the held documents by itself.
        good["companies"][0]["mapping"]["expense_types"].update(removed)
        write_raw_config(h, dumps(good))
        await wait_for(
            h,
            "SELECT COUNT(*) AS n FROM documents WHERE state = 'held'",
            check=lambda r: r[0]["n"] == 0,
            what="held documents re-planned after the config edit",
        )
        assert await harness.drain(h, expected=expected, timeout_s=30) == {"posted": expected}
        assert await audit_count(h, "config_reloaded") == 1
        assert by_account(qb_totals(h)) == concur_account_totals(h)
        assert len(qb_transactions(h)) == expected


@pytest.mark.trio
async def test_closing_date_holds_then_first_open_day_posts_the_day_after(tmp_path):
    async with running(tmp_path, reports=3, invoices=0) as h:
        await harness.web_connector_run(h)  # lists and preferences known, no closing date yet
        closing = max(r.report_date for r in pending_reports(h))
        h.company_file.state.closing_date = closing.isoformat()
        expected = harness.approve_everything(h)
        await harness.deliver(h)
        # Planned before the worker knew the closing date; the next session's preferences tell it,
        # QuickBooks refuses the dates (3180), and the planner holds the documents with the reason.
        await harness.drain(h, expected=expected, timeout_s=20)
        rows = await wait_for(
            h,
            "SELECT * FROM documents",
            check=lambda rows: len(rows) == expected and all(r["state"] == "held" for r in rows),
            what="every document held for the closing date",
        )
        for doc in rows:
            assert "closing date" in doc["reason"] and closing.isoformat() in doc["reason"], doc["reason"]
        await harness.web_connector_run(h)
        assert qb_transactions(h) == []

        harness.edit_run_config(h, lambda raw: raw["companies"][0]["posting"].update(closed_period="first_open_day"))
        await wait_for(
            h, "SELECT COUNT(*) AS n FROM documents WHERE state = 'held'", check=lambda r: r[0]["n"] == 0, what="re-planned after closed_period changed"
        )
        assert await harness.drain(h, expected=expected, timeout_s=30) == {"posted": expected}
        day_after = (closing + dt.timedelta(days=1)).isoformat()
        assert {t["TxnDate"] for _, t in qb_transactions(h)} == {day_after}
        assert len(qb_transactions(h)) == expected


@pytest.mark.trio
async def test_foreign_currency_on_a_single_currency_file_is_held(tmp_path):
    foreign: list[str] = []

    def to_euro(h) -> None:
        report = next(iter(h.concur.companies[COMPANY].data.reports.values()))
        report.currency = "EUR"
        foreign.append(report.id)

    async with running(tmp_path, reports=3, invoices=0, before_worker=to_euro) as h:
        expected = harness.approve_everything(h)
        await harness.deliver(h)
        counts = await harness.drain(h, expected=expected, timeout_s=30)
        assert counts == {"posted": expected - 1, "held": 1}
        doc = await document(h, foreign[0])
        assert doc["state"] == "held" and "EUR" in doc["reason"] and "USD" in doc["reason"], doc["reason"]
        assert await qb_txns_for(h, foreign[0]) == []
        assert len(qb_transactions(h)) == expected - 1


@pytest.mark.trio
async def test_not_approved_is_skipped_then_posted_once_approved(tmp_path):
    async with running(tmp_path, reports=0, invoices=0) as h:
        await harness.web_connector_run(h)
        report = h.concur.create_report(COMPANY)  # queues reportCreated, status A_PEND
        await harness.deliver(h)
        doc = await wait_state(h, report.id, ("skipped",))
        assert doc["reason"].startswith("not_postable"), doc["reason"]
        await harness.web_connector_run(h)
        assert qb_transactions(h) == []

        h.concur.approve(report.id)
        await harness.deliver(h)
        await wait_state(h, report.id, ("queued", "posted"))
        assert await harness.drain(h, expected=1, timeout_s=20) == {"posted": 1}
        [(kind, _je)] = await qb_txns_for(h, report.id)
        assert kind == "JournalEntry"
        assert len(qb_transactions(h)) == 1


@pytest.mark.trio
async def test_multicurrency_file_names_its_home_currency_in_words_and_still_posts_home_currency(tmp_path):
    foreign: list[str] = []

    def multicurrency(h) -> None:
        h.company_file.state.multicurrency = True  # HomeCurrencyRef FullName "US Dollar", not "USD"
        report = next(iter(h.concur.companies[COMPANY].data.reports.values()))
        report.currency = "EUR"
        foreign.append(report.id)

    async with running(tmp_path, reports=3, invoices=1, before_worker=multicurrency) as h:
        expected = harness.approve_everything(h)
        await harness.deliver(h)
        counts = await harness.drain(h, expected=expected, timeout_s=30)
        assert counts == {"posted": expected - 1, "held": 1}
        doc = await document(h, foreign[0])
        assert "EUR" in doc["reason"] and "journal entries in a foreign currency" in doc["reason"], doc["reason"]
        assert len(qb_transactions(h)) == expected - 1
