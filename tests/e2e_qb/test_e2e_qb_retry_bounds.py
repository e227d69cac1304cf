"""Every retry has an end (issue 14 §3), through the Web Connector simulator and the simulated
QuickBooks' refusal knob (``sim/quickbooks/refusals.py``):

- 3170 with a lock text waits and is retried; with a validation text the document is held with
  QuickBooks' words;
- a write refused on every try is held after ``MAX_WRITE_ATTEMPTS`` sends, with the code named, and
  is never sent again until a person releases it;
- a settlement query QuickBooks cannot answer stops after ``MAX_QUERY_ATTEMPTS`` and holds the
  document; a release asks again and never posts twice;
- a list query QuickBooks cannot answer does not cost the writes in its set anything and is not
  asked again in the next sessions.
"""

from __future__ import annotations

import re

import pytest

from mlc import harness
from worker.outbox import MAX_QUERY_ATTEMPTS, MAX_WRITE_ATTEMPTS
from worker.posting.actions import apply_action

from e2e_qb_helpers import approve_and_deliver, assert_no_duplicates, doc_states, execute, planned, query, running, wait_fetched


def status_codes(h) -> list[str]:
    return [code for r in h.recorder.results for code in re.findall(r'statusCode="(\d+)"', r.response or "")]


async def planned_after_lists(h) -> int:
    await harness.web_connector_run(h)  # the lists
    k = await approve_and_deliver(h)
    await wait_fetched(h, k)
    await planned(h, k)
    return k


async def not_asked_again_then_released(h, request: str, k: int, reason: str) -> None:
    """Given up: a further session does not carry ``request``. Then QuickBooks behaves again and a
    person releases the held documents: every document is posted, each exactly once."""
    sent = len(h.recorder.sets)
    await harness.web_connector_run(h)
    assert not any(request in text for text in h.recorder.sets[sent:]), "given up: not asked again on a schedule"
    h.company_file.refusals.clear()
    held = [r["id"] for r in await query(h, "SELECT id FROM documents WHERE state = 'held'")]
    for document_id in held:
        await h.worker.ctx.store.run(apply_action, document_id, "release", reason, "test")
    assert await harness.drain(h, expected=k, timeout_s=20) == {"posted": k}
    assert len(harness.quickbooks_transactions(h.company_file)) == k
    assert_no_duplicates(h)


@pytest.mark.trio
@pytest.mark.parametrize("meaning", ["lock", "validation"])
async def test_3170_lock_text_is_retried_and_validation_text_is_held(tmp_path, meaning):
    async with running(tmp_path) as h:
        k = await planned_after_lists(h)
        h.company_file.refuse("JournalEntryAdd", 3170, meaning)
        await harness.web_connector_run(h)
        rows = await query(
            h,
            "SELECT p.state AS posting, p.not_before, d.state, d.reason, d.hold_kind FROM postings p "
            "JOIN documents d ON d.id = p.document_id WHERE p.status_code = 3170",
        )
        assert len(rows) == 1, [tuple(r) for r in rows]
        row = rows[0]
        if meaning == "lock":
            assert row["posting"] == "queued" and row["not_before"], tuple(row)
            assert row["state"] == "queued" and "3170" in row["reason"]
            await execute(h, "UPDATE postings SET not_before = NULL WHERE status_code = 3170")  # the back-off has passed
            assert await harness.drain(h, expected=k, timeout_s=20) == {"posted": k}
            assert len(harness.quickbooks_transactions(h.company_file)) == k
        else:
            assert row["posting"] == "failed" and row["state"] == "held" and row["hold_kind"] == "quickbooks", tuple(row)
            assert "3170" in row["reason"] and "The account type does not allow this transaction." in row["reason"], row["reason"]
            assert await harness.drain(h, expected=k, timeout_s=20) == {"posted": k - 1, "held": 1}
            assert status_codes(h).count("3170") == 1, "a validation failure is never retried"
            assert len(harness.quickbooks_transactions(h.company_file)) == k - 1
        assert_no_duplicates(h)


@pytest.mark.trio
async def test_write_refused_on_every_try_is_held_after_the_bound_with_the_code_named(tmp_path):
    async with running(tmp_path, reports=2, invoices=1) as h:
        k = await planned_after_lists(h)
        reports = len(await query(h, "SELECT id FROM documents WHERE kind = 'expense_report'"))
        h.company_file.refuse("JournalEntryAdd", 3176, "lock", times=None)  # someone keeps it open
        for _ in range(MAX_WRITE_ATTEMPTS + 1):
            await harness.web_connector_run(h)
            await execute(h, "UPDATE postings SET not_before = NULL WHERE state = 'queued'")  # each back-off passes
        entries = await query(h, "SELECT state, attempts, status_code FROM postings WHERE op = 'JournalEntryAdd'")
        assert len(entries) == reports
        assert all(r["state"] == "failed" and r["attempts"] == MAX_WRITE_ATTEMPTS and r["status_code"] == 3176 for r in entries), [tuple(r) for r in entries]
        assert status_codes(h).count("3176") == MAX_WRITE_ATTEMPTS * reports
        held = await query(h, "SELECT reason, hold_kind FROM documents WHERE state = 'held'")
        assert len(held) == reports
        for row in held:
            assert row["hold_kind"] == "quickbooks"
            assert f"gave up after {MAX_WRITE_ATTEMPTS} tries" in row["reason"] and "3176" in row["reason"] and "already in use" in row["reason"], row["reason"]
        # Nothing is sent again on a schedule.
        await not_asked_again_then_released(h, "<JournalEntryAddRq", k, "the entry is closed in QuickBooks now")


@pytest.mark.trio
async def test_settlement_quickbooks_cannot_answer_is_held_after_the_bound_and_never_posts_twice(tmp_path):
    async with running(tmp_path, reports=2, invoices=0) as h:
        k = await planned_after_lists(h)
        assert await harness.drain(h, expected=k, timeout_s=20) == {"posted": k}
        target = (await query(h, "SELECT id FROM documents ORDER BY id LIMIT 1"))[0]["id"]
        # A forced replay asks QuickBooks first; QuickBooks cannot answer that query, ever.
        h.company_file.refuse("JournalEntryQuery", 3170, "lock", times=None)
        await h.worker.ctx.store.run(apply_action, target, "replay", "operator thinks it is missing", "test", True)
        for _ in range(MAX_QUERY_ATTEMPTS + 1):
            await harness.web_connector_run(h)
            await execute(h, "UPDATE postings SET not_before = NULL WHERE state = 'unknown'")
        row = (await query(h, "SELECT state, query_attempts FROM postings WHERE document_id = ? AND op = 'JournalEntryAdd'", target))[0]
        assert row["state"] == "unknown" and row["query_attempts"] == MAX_QUERY_ATTEMPTS, tuple(row)
        doc = (await query(h, "SELECT state, reason FROM documents WHERE id = ?", target))[0]
        assert doc["state"] == "held" and f"after {MAX_QUERY_ATTEMPTS} queries" in doc["reason"] and "3170" in doc["reason"], tuple(doc)
        assert status_codes(h).count("3170") == MAX_QUERY_ATTEMPTS
        # Once QuickBooks answers again, the release asks once more, finds the entry, sends nothing.
        await not_asked_again_then_released(h, 'requestID="u:', k, "QuickBooks answers queries again")


@pytest.mark.trio
async def test_list_query_quickbooks_cannot_answer_leaves_the_writes_alone_and_backs_off(tmp_path):
    async with running(tmp_path) as h:
        k = await planned_after_lists(h)
        await execute(h, "UPDATE qb_list_sync SET synced_at = '2000-01-01T00:00:00.000000Z' WHERE list_type = 'Class'")  # due again
        h.company_file.refuse("ClassQuery", 1000, times=None, message="An internal error occurred while processing the request.")  # (unverified text)
        assert await harness.drain(h, expected=k, timeout_s=20) == {"posted": k}
        with_class = [text for text in h.recorder.sets if "<ClassQueryRq" in text]
        assert len(with_class) == 2, "the first pass, then the failing one, and no more"
        assert "AddRq" in with_class[-1], "the failing query shared its set with writes"
        assert (await doc_states(h)) == {"posted": k}
        sync = (await query(h, "SELECT failures, retry_after, last_error FROM qb_list_sync WHERE list_type = 'Class'"))[0]
        assert sync["failures"] == 1 and sync["retry_after"] and "1000" in sync["last_error"], tuple(sync)
        for _ in range(2):
            await harness.web_connector_run(h)
        assert len([text for text in h.recorder.sets if "<ClassQueryRq" in text]) == 2, "backing off, not resent every session"
        assert_no_duplicates(h)
