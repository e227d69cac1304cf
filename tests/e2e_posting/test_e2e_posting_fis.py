"""Concur's Financial Integration Service end to end (issue 16): documents come from FIS over real
HTTP, are acknowledged before anything is posted, post once through the same outbox, and Concur is
told the outcome exactly once (``success`` with the QuickBooks number; ``error`` only when an
operator sends a document back)."""

from __future__ import annotations

import json

import pytest

from mlc import harness

from e2e_posting_helpers import COMPANY, api_get, qb_transactions, qb_txns_for, running, sql, wait_for, wait_state


def use_fis(raw: dict) -> None:
    raw["companies"][0]["concur"]["source"] = "fis"


def fis_on(h: harness.Harness) -> None:
    h.concur.companies[COMPANY].params.fis = True
    harness.edit_run_config(h, use_fis)


def ref_numbers(h: harness.Harness, concur_id: str, plan: str) -> list[str]:
    return [t["ref_number"] for t in json.loads(plan).get("transactions", [])]


async def confirmed(h: harness.Harness, count: int, seconds: float = 20.0) -> list[dict]:
    return await wait_for(
        h,
        "SELECT * FROM fis_confirmations WHERE state = 'done' ORDER BY id",
        check=lambda rows: len(rows) >= count,
        seconds=seconds,
        what=f"{count} FIS confirmations accepted",
    )


@pytest.mark.trio
async def test_expense_and_invoice_from_fis_posted_once_acknowledged_first_and_confirmed_once_with_the_quickbooks_number(tmp_path):
    async with running(tmp_path, reports=3, invoices=2, before_worker=fis_on) as h:
        expected = harness.approve_everything(h)
        await harness.deliver(h)  # readyForIntegration events wake the FIS poll
        await harness.drain(h, expected=expected, timeout_s=60)
        docs = await sql(h, "SELECT * FROM documents ORDER BY id")
        assert len(docs) == expected and all(d["state"] == "posted" for d in docs), docs
        assert {d["kind"] for d in docs} == {"expense_report", "invoice"}
        await confirmed(h, expected)
        fis = h.concur.fis
        for doc in docs:
            [version] = fis.of(doc["concur_id"])
            # Acknowledged before posting: the acknowledgement came right after the GET, and
            # the document was only handed to the planner by it.
            calls = [call for call, fis_id in fis.requests if fis_id == version.fis_id]
            assert calls[:2] == ["get", "ack"] and calls.count("confirm") == 1, calls
            [confirmation] = h.concur.fis_confirmations(doc["concur_id"])
            assert confirmation["overallPostingStatusCode"] == "success"
            numbers = [p["documentNumber"] for p in confirmation["postingDocs"]]
            assert numbers == ref_numbers(h, doc["concur_id"], doc["plan"]) and all(numbers), numbers
            assert all(p["postingDate"][:4] == p["fiscalYear"] for p in confirmation["postingDocs"])
            assert len(await qb_txns_for(h, doc["concur_id"])) == len(numbers)
            ack_rows = await sql(h, "SELECT at FROM audit WHERE document_id = ? AND action = 'fis_acknowledged'", doc["id"])
            plan_rows = await sql(h, "SELECT at FROM audit WHERE document_id = ? AND action IN ('planned', 'queued') ORDER BY id", doc["id"])
            assert ack_rows and (not plan_rows or ack_rows[0]["at"] <= plan_rows[0]["at"])
        assert len(qb_transactions(h)) == sum(len(json.loads(d["plan"])["transactions"]) for d in docs)
        # The API shows what Concur was told.
        detail = await api_get(h, f"/documents/{docs[0]['id']}")
        [told] = detail["fis"]
        assert told["confirmation"]["status"] == "success" and told["confirmation"]["state"] == "done" and told["confirmation"]["confirmed_at"]


async def post_action(h: harness.Harness, document_id: int, action: str, reason: str) -> tuple[int, dict]:
    import httpx

    from shared.tokens import read_tokens

    token = read_tokens(h.config.operator.token_file)[0].token
    async with httpx.AsyncClient(timeout=10) as client:
        reply = await client.post(
            f"{h.worker.url}/api/v1/documents/{document_id}/{action}", json={"reason": reason}, headers={"Authorization": f"Bearer {token}"}
        )
    return reply.status_code, reply.json()


@pytest.mark.trio
async def test_a_held_document_stays_acknowledged_and_unconfirmed_until_it_posts(tmp_path):
    removed: dict[str, str] = {}

    def setup(h: harness.Harness) -> None:
        fis_on(h)
        code = next(iter(h.concur.companies[COMPANY].data.reports.values())).expenses[0].type_code
        harness.edit_run_config(h, lambda raw: removed.update({code: raw["companies"][0]["mapping"]["expense_types"].pop(code)}))

    async with running(tmp_path, reports=3, invoices=1, before_worker=setup) as h:
        assert len(removed) == 1
        expected = harness.approve_everything(h)
        await harness.deliver(h)
        await harness.drain(h, expected=expected, timeout_s=60)
        held = await sql(h, "SELECT * FROM documents WHERE state = 'held'")
        assert held, "a report with the unmapped expense type is held"
        await confirmed(h, expected - len(held))
        for doc in held:
            [version] = h.concur.fis.of(doc["concur_id"])
            assert version.status == "ACKNOWLEDGED" and h.concur.fis_confirmations(doc["concur_id"]) == []
            assert await sql(h, "SELECT * FROM fis_confirmations WHERE document_id = ?", doc["id"]) == []

        # The mapping comes back: the held documents post, and only then is Concur told.
        harness.edit_run_config(h, lambda raw: raw["companies"][0]["mapping"]["expense_types"].update(removed))
        await wait_for(h, "SELECT COUNT(*) AS n FROM documents WHERE state = 'held'", check=lambda r: r[0]["n"] == 0, what="re-planned")
        await harness.drain(h, expected=expected, timeout_s=60)
        await confirmed(h, expected)
        for doc in held:
            [confirmation] = h.concur.fis_confirmations(doc["concur_id"])
            assert confirmation["overallPostingStatusCode"] == "success"


@pytest.mark.trio
async def test_sent_back_by_an_operator_confirmed_as_error_with_their_words_and_the_returning_version_posted_once(tmp_path):
    async with running(tmp_path, reports=2, invoices=0, before_worker=fis_on) as h:
        expected = harness.approve_everything(h)
        await harness.deliver(h)
        rows = await wait_for(h, "SELECT * FROM documents WHERE state IN ('fetched', 'queued') ORDER BY id", check=lambda r: len(r) == expected, what="fetched")
        target = rows[0]
        reason = "Hotel receipt missing for 12 May: attach it and resubmit"
        status, body = await post_action(h, target["id"], "reject", "")
        assert status == 409 and "reason" in body["error"]
        status, body = await post_action(h, target["id"], "reject", reason)
        assert status == 200 and body["state"] == "skipped", body
        await harness.drain(h, expected=expected, timeout_s=60)
        await wait_for(h, "SELECT * FROM fis_confirmations WHERE status = 'error' AND state = 'done'", check=lambda r: len(r) == 1, what="error told")
        [error] = h.concur.fis_confirmations(target["concur_id"])
        assert error["overallPostingStatusCode"] == "error" and error["postingDocs"] == []
        assert error["systemMessages"][0]["messageShortText"] == reason
        assert await qb_txns_for(h, target["concur_id"]) == []
        assert h.concur.companies[COMPANY].data.reports[target["concur_id"]].status == "A_RESU"

        # The processor fixes it and Concur queues it again: a new FIS version, posted normally.
        h.concur.modify(target["concur_id"])
        h.concur.fis_queue(target["concur_id"])
        await harness.deliver(h)
        await wait_state(h, target["concur_id"], ("queued", "posted"))
        await harness.drain(h, expected=expected, timeout_s=60)
        doc = (await sql(h, "SELECT * FROM documents WHERE id = ?", target["id"]))[0]
        assert doc["state"] == "posted"
        assert len(await qb_txns_for(h, target["concur_id"])) == len(json.loads(doc["plan"])["transactions"])
        await wait_for(
            h,
            "SELECT * FROM fis_confirmations WHERE document_id = ? AND state = 'done'",
            target["id"],
            check=lambda r: len(r) == 2,
            what="the new version confirmed",
        )
        first, second = h.concur.fis_confirmations(target["concur_id"])
        assert (first["overallPostingStatusCode"], second["overallPostingStatusCode"]) == ("error", "success")
        assert await sql(h, "SELECT * FROM duplicates WHERE source != 'webhook'") == []  # the returning version is no duplicate
        # A posted document cannot be sent back.
        status, body = await post_action(h, target["id"], "reject", "too late")
        assert status == 409


@pytest.mark.trio
async def test_a_document_recalled_between_the_get_and_the_acknowledgement_is_not_posted(tmp_path):
    async with running(tmp_path, reports=2, invoices=1, before_worker=fis_on) as h:
        data = h.concur.companies[COMPANY].data
        recalled_id = next(iter(data.reports))
        for concur_id in [*data.reports, *data.invoices]:
            (h.concur.approve if concur_id in data.reports else h.concur.approve_invoice)(concur_id)
            if concur_id == recalled_id:
                h.concur.fis_recall(concur_id)
        await harness.deliver(h)
        await harness.drain(h, expected=2, timeout_s=60)
        await confirmed(h, 2)
        assert await sql(h, "SELECT * FROM documents WHERE concur_id = ?", recalled_id) == []
        [version] = await sql(h, "SELECT * FROM fis_documents WHERE concur_id = ?", recalled_id)
        assert (version["state"], version["code"]) == ("recalled", 102)
        assert h.concur.fis_confirmations(recalled_id) == []


@pytest.mark.trio
async def test_confirmations_wait_out_a_concur_outage_and_a_worker_restart(tmp_path, monkeypatch):
    from sim.concur.server import Fault
    from worker.concur import sync as concur_sync
    from worker.concur.client import RetryPolicy
    from worker.store import fis as fis_store

    from e2e_posting_helpers import restart_worker

    monkeypatch.setitem(
        concur_sync.CLIENT_OPTIONS,
        "policy",
        RetryPolicy(max_attempts=2, backoff_base=0.01, backoff_max=0.05, retry_after_max=0.5, unavailable_wait=0.05, timeout=5.0),
    )
    monkeypatch.setattr(fis_store, "CONFIRM_BACKOFF_S", (0.2,))
    async with running(tmp_path, reports=2, invoices=1, before_worker=fis_on) as h:
        expected = harness.approve_everything(h)
        await harness.deliver(h)
        await wait_for(h, "SELECT * FROM fis_documents WHERE state = 'acknowledged'", check=lambda r: len(r) == expected, what="acknowledged")
        outage = h.concur.add_fault(Fault(status=503, count=10_000, path_prefix="/financialintegration/fi/v4/companies/transactiontypes/"))
        await harness.drain(h, expected=expected, timeout_s=60)
        rows = await wait_for(
            h,
            "SELECT * FROM fis_confirmations",
            check=lambda r: len(r) == expected and all(x["attempts"] >= 2 for x in r),
            what="confirmations retried during the outage",
        )
        assert all(r["state"] == "pending" and "gave up" in r["last_error"] for r in rows), rows
        await harness.stop_worker(h)
        outage.count = 0
        await restart_worker(h)
        await confirmed(h, expected)
        for doc in await sql(h, "SELECT concur_id FROM documents"):
            assert len(h.concur.fis_confirmations(doc["concur_id"])) == 1


@pytest.mark.trio
async def test_switching_a_company_to_fis_posts_nothing_twice_and_confirms_what_is_already_in_quickbooks(tmp_path):
    from e2e_posting_helpers import restart_worker

    async with running(tmp_path, reports=3, invoices=1) as h:
        expected = harness.approve_everything(h)  # the expense API path (source = "expense_api")
        await harness.deliver(h)
        await harness.drain(h, expected=expected, timeout_s=60)
        before = qb_transactions(h)
        await harness.stop_worker(h)
        fis_on(h)  # the customer enabled FIS; the company switches and the worker restarts
        for doc in await_docs(h):
            h.concur.fis_queue(doc)
        await restart_worker(h)
        await harness.deliver(h)
        await confirmed(h, expected)
        assert qb_transactions(h) == before  # nothing posted twice
        for doc in await sql(h, "SELECT * FROM documents"):
            assert doc["state"] == "posted" and doc["flag"] == "", doc
            [confirmation] = h.concur.fis_confirmations(doc["concur_id"])
            assert [p["documentNumber"] for p in confirmation["postingDocs"]] == ref_numbers(h, doc["concur_id"], doc["plan"])


def await_docs(h: harness.Harness) -> list[str]:
    data = h.concur.companies[COMPANY].data
    return [*data.reports, *data.invoices]


@pytest.mark.trio
async def test_without_events_the_poll_finds_fis_documents_on_its_interval(tmp_path):
    def setup(h: harness.Harness) -> None:
        fis_on(h)
        harness.edit_run_config(h, lambda raw: raw["companies"][0]["concur"].update(sweep_interval_s=0.5))

    async with running(tmp_path, reports=2, invoices=1, before_worker=setup) as h:
        expected = harness.approve_everything(h)
        assert h.concur.drop_pending_events()  # Concur's events are lost (retention ran out, subscription gone)
        await harness.drain(h, expected=expected, timeout_s=60)
        await confirmed(h, expected)
        assert await sql(h, "SELECT * FROM events") == []
