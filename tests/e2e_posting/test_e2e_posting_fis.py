"""Concur's Financial Integration Service end to end (issue 16): documents come from FIS over real
HTTP, are acknowledged before anything is posted, post once through the same outbox, and Concur is
told the outcome exactly once (``success`` with the QuickBooks number; ``error`` only when an
operator sends a document back)."""

from __future__ import annotations

import json

import pytest

from mlc import harness

from e2e_posting_helpers import COMPANY, qb_transactions, qb_txns_for, running, sql, wait_for


def use_fis(raw: dict) -> None:
    raw["companies"][0]["concur"]["source"] = "fis"


def fis_on(h: harness.Harness) -> None:
    h.concur.companies[COMPANY].params.fis = True
    harness.edit_run_config(h, use_fis)


def ref_numbers(h: harness.Harness, concur_id: str, plan: str) -> list[str]:
    return [t["ref_number"] for t in json.loads(plan).get("transactions", [])]


async def confirmed(h: harness.Harness, count: int, seconds: float = 20.0) -> list[dict]:
    return await wait_for(h, "SELECT * FROM fis_confirmations WHERE state = 'done' ORDER BY id", check=lambda rows: len(rows) >= count,
                          seconds=seconds, what=f"{count} FIS confirmations accepted")


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
        from e2e_posting_helpers import api_get

        detail = await api_get(h, f"/documents/{docs[0]['id']}")
        [told] = detail["fis"]
        assert told["confirmation"]["status"] == "success" and told["confirmation"]["state"] == "done" and told["confirmation"]["confirmed_at"]
