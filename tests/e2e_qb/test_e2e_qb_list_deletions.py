"""Records deleted in QuickBooks leave the worker's list cache: accounts and classes on every pass
(they are read whole), vendors and customers on the periodic unfiltered pass — not on the
incremental passes, which only see what changed."""

from __future__ import annotations

import pytest

from mlc import harness

from e2e_qb_helpers import running

OLD = "2000-01-01T00:00:00.000000Z"


def delete_record(h: harness.Harness, kind: str, full_name: str) -> None:
    records = h.company_file.state.lists[kind]
    records[:] = [r for r in records if h.company_file.ref_name({"ListID": r["ListID"]}) != full_name]
    h.company_file._reindex()


async def cached(h: harness.Harness, list_type: str) -> set[str]:
    rows = await h.worker.ctx.store.run(lambda conn: conn.execute("SELECT full_name FROM qb_lists WHERE list_type = ?", (list_type,)).fetchall())
    return {r[0] for r in rows}


async def age_lists(h: harness.Harness, full_pass_due: bool) -> None:
    def change(conn) -> None:
        conn.execute("UPDATE qb_list_sync SET synced_at = ?", (OLD,))
        if full_pass_due:
            conn.execute("UPDATE qb_list_sync SET full_at = ?", (OLD,))

    await h.worker.ctx.store.run(change)


@pytest.mark.trio
async def test_deleted_accounts_and_vendors_leave_the_cache(tmp_path):
    async with running(tmp_path, reports=0, invoices=0) as h:
        await harness.web_connector_run(h)
        assert "Travel:Mileage" in await cached(h, "Account")
        assert "Acme Travel LLC" in await cached(h, "Vendor")

        delete_record(h, "Account", "Travel:Mileage")
        delete_record(h, "Vendor", "Acme Travel LLC")
        # An incremental pass: accounts are read whole, so the account is gone; the vendor list
        # only reports changes, so the deleted vendor is still cached.
        await age_lists(h, full_pass_due=False)
        await harness.web_connector_run(h)
        assert "Travel:Mileage" not in await cached(h, "Account")
        assert "Acme Travel LLC" in await cached(h, "Vendor")

        # The periodic unfiltered pass finds it gone; every other vendor stays.
        before = await cached(h, "Vendor")
        await age_lists(h, full_pass_due=True)
        await harness.web_connector_run(h)
        after = await cached(h, "Vendor")
        assert after == before - {"Acme Travel LLC"}
