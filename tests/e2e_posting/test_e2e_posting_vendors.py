"""Employee vendors end to end: a name already taken by a customer gets a suffixed vendor, an
inactive vendor of the employee (its AccountNumber is the Concur employee id: a name alone is never
enough, issue 12) is reactivated (VendorMod) and used, never duplicated."""

from __future__ import annotations

import pytest

from mlc import harness

from e2e_posting_helpers import COMPANY, approved_reports, document, qb_transactions, qb_txns_for, running, sql


def _owner_name(h, report) -> str:
    employee = h.concur.companies[COMPANY].data.employees[report.owner]
    return employee.display_name


@pytest.mark.trio
async def test_name_taken_by_a_customer_and_an_inactive_vendor(tmp_path):
    names: dict[str, str] = {}

    def prepare(h) -> None:
        reports = [
            r for r in h.concur.companies[COMPANY].data.reports.values() if any(e.payment_code == "CASH" for e in r.expenses) and len(_owner_name(h, r)) <= 41
        ]
        owners = list(dict.fromkeys(_owner_name(h, r) for r in reports))
        assert len(owners) >= 2, "the seed should give two short-named employees with out-of-pocket expenses"
        names["customer"], names["inactive"] = owners[:2]
        employees = {e.display_name: e for e in h.concur.companies[COMPANY].data.employees.values()}
        h.company_file.add_list_record("Customer", names["customer"])
        h.company_file.add_list_record("Vendor", names["inactive"], IsActive=False, AccountNumber=employees[names["inactive"]].employee_number)
        h.company_file.save(h.company_path)

    async with running(tmp_path, reports=8, invoices=0, seed=5, before_worker=prepare) as h:
        expected = harness.approve_everything(h)
        await harness.deliver(h)
        assert await harness.drain(h, expected=expected, timeout_s=30) == {"posted": expected}

        vendors = {v["Name"]: v for v in h.company_file.state.lists["Vendor"]}
        inactive = vendors[names["inactive"]]
        assert inactive["IsActive"] in (True, "true")  # reactivated, not duplicated
        assert [n for n in vendors if n.startswith(names["inactive"])] == [names["inactive"]]
        taken = [n for n in vendors if n.startswith(names["customer"])]
        assert len(taken) == 1 and taken[0] != names["customer"], taken  # a suffixed vendor beside the customer

        for report in approved_reports(h):
            owner = _owner_name(h, report)
            doc = await document(h, report.id)
            if owner == names["inactive"]:
                assert doc["vendor"] == names["inactive"]
            if owner == names["customer"]:
                assert doc["vendor"] == taken[0]
            [(_kind, je)] = await qb_txns_for(h, report.id)
            ap = [line for line in je["Lines"] if line["_tag"] == "JournalCreditLine" and line.get("EntityRef")]
            for line in ap:
                assert h.company_file.ref_name(line["EntityRef"]) == doc["vendor"]
        assert len(qb_transactions(h)) == expected
        assert await sql(h, "SELECT op, status_code FROM postings WHERE op = 'VendorMod' AND state = 'done'")
