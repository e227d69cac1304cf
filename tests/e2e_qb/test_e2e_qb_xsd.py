"""Every qbXML request the worker hands QuickBooks validates against the qbXML 13.0 XSD.

Each test in this folder already checks, on the way out, every message set the simulated
QuickBooks received and every outbox row the worker stored (``e2e_qb_helpers.running``). This
test drives one session mix that makes the worker emit every request type it has, and proves that
the check covers them all and would catch a bad one."""

from __future__ import annotations

import pytest

from mlc import harness
from sim.webconnector.knobs import FaultKnobs

from e2e_qb_helpers import approve_and_deliver, assert_store_requests_valid, assert_valid_qbxml, doc_states, planned, running, wait_fetched

EVERY_REQUEST = {
    "AccountQueryRq",
    "ClassQueryRq",
    "CustomerQueryRq",
    "VendorQueryRq",
    "VendorAddRq",
    "VendorModRq",
    "BillAddRq",
    "JournalEntryAddRq",
    "BillQueryRq",
    "JournalEntryQueryRq",
}


@pytest.mark.trio
async def test_every_request_type_sent_validates(tmp_path):
    async with running(tmp_path, reports=6, invoices=3) as h:
        for i in range(120):  # more than one page of vendors: iterators
            h.company_file.add_list_record("Vendor", f"Paging Vendor {i:03d}")
        owner = next(iter(h.concur.companies[h.company].data.reports.values())).owner
        employee = h.concur.companies[h.company].data.employees[owner]
        name = employee.display_name
        h.company_file.add_list_record("Vendor", name, IsActive=False, AccountNumber=employee.employee_number)  # the employee's: reactivated (VendorMod)
        await harness.web_connector_run(h)
        k = await approve_and_deliver(h)
        await wait_fetched(h, k)
        await planned(h, k)
        h.company_file.simulate_user_edit(name)  # 3200, then the refresh query
        # Lose the answer to the set of transactions: settlement by BillQuery/JournalEntryQuery.
        await harness.web_connector_run(h, FaultKnobs(lose_responses=frozenset({2})))
        counts = await harness.drain(h, expected=k, timeout_s=20)
        assert counts == {"posted": k}
        tags = set(h.recorder.request_tags())
        assert tags >= EVERY_REQUEST, EVERY_REQUEST - tags
        assert h.recorder.validate_all() >= 5
        assert await assert_store_requests_valid(h) >= k  # at least one transaction per document
        assert all(not r.hresult for r in h.recorder.results), "QuickBooks' own parser refused nothing either"
        # The check is not blind: the first set with elements swapped fails it.
        text = next(t for t in h.recorder.sets if "<JournalEntryAddRq" in t)
        start, end = text.index("<TxnDate>"), text.index("</TxnDate>") + len("</TxnDate>")
        date = text[start:end]
        broken = text[:start] + text[end:]
        broken = broken.replace("</RefNumber>", "</RefNumber>" + date, 1)
        with pytest.raises(AssertionError, match="invalid qbXML"):
            assert_valid_qbxml(broken)
        assert (await doc_states(h)) == {"posted": k}
