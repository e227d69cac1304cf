"""After a Web Connector run the worker's list cache holds what issues 12, 13, 19 and 20 decide on:
employees and other names (one name space with vendors), terms, currencies, account numbers,
vendor codes and currencies, and the company file's own settings — in a single-currency file
and in one with multicurrency and account numbers turned on."""

from __future__ import annotations

import pytest

from mlc import harness
from sim.quickbooks.seed import turn_on_multicurrency
from worker.qbwc import lists

from e2e_qb_helpers import query, running


async def cache(h: harness.Harness, list_type: str) -> dict[str, dict]:
    rows = await query(h, "SELECT full_name, is_active, account_number, currency, data FROM qb_lists WHERE company = 'demo' AND list_type = ?", list_type)
    return {r["full_name"]: dict(r) for r in rows}


@pytest.mark.trio
async def test_single_currency_file_lists_land_in_the_cache(tmp_path):
    async with running(tmp_path, reports=0, invoices=0) as h:
        report = await harness.web_connector_run(h)
        assert report.ended_by == "closeConnection" and not report.failures
        synced = await query(h, "SELECT list_type FROM qb_list_sync WHERE company = 'demo' AND synced_at IS NOT NULL")
        assert {r["list_type"] for r in synced} == set(lists.LIST_TYPES)

        employees, others = await cache(h, "Employee"), await cache(h, "OtherName")
        assert {"Jane Doe", "John Smith", "Maria Garcia"} <= employees.keys()
        assert {"Petty Cash", "Jordan Lee"} <= others.keys()
        terms = await cache(h, "Terms")
        assert {"Net 30", "2% 10 Net 30", "Due 10th of month"} <= terms.keys()
        assert terms["Net 90"]["is_active"] == 0
        assert '"TermsKind": "DateDrivenTerms"' in terms["Due 10th of month"]["data"]
        # QuickBooks answers CurrencyQuery with 3250 here: an empty list, synced, not a failure.
        assert await cache(h, "Currency") == {}
        accounts = await cache(h, "Account")
        assert accounts["Travel:Airfare"]["account_number"] == "62410"
        assert accounts["Accounts Payable"]["currency"] is None
        vendors = await cache(h, "Vendor")
        assert vendors["Acme Travel LLC"]["account_number"] == "V-1001"
        assert vendors["Delta Air Lines"]["account_number"] is None
        (company,) = await query(h, "SELECT multicurrency, home_currency, account_numbers, country FROM qb_company WHERE company = 'demo'")
        assert (company["multicurrency"], company["account_numbers"], company["country"]) == (0, 0, "US")


@pytest.mark.trio
async def test_multicurrency_file_with_account_numbers(tmp_path):
    def setup(h: harness.Harness) -> None:
        turn_on_multicurrency(h.company_file)
        h.company_file.state.account_numbers = True
        h.company_file.save(h.company_path)

    async with running(tmp_path, reports=0, invoices=0, before_worker=setup) as h:
        report = await harness.web_connector_run(h)
        assert report.ended_by == "closeConnection" and not report.failures
        currencies = await cache(h, "Currency")
        assert currencies["Euro"]["currency"] == "EUR" and currencies["US Dollar"]["currency"] == "USD"
        assert '"ExchangeRate": "1.084200"' in currencies["Euro"]["data"]
        vendors = await cache(h, "Vendor")
        assert vendors["Lufthansa"]["currency"] == "Euro"
        assert vendors["Acme Travel LLC"]["currency"] == "US Dollar"
        accounts = await cache(h, "Account")
        assert (accounts["Accounts Payable - EUR"]["currency"], accounts["Accounts Payable - EUR"]["account_number"]) == ("Euro", "20010")
        (company,) = await query(h, "SELECT multicurrency, home_currency, account_numbers, country FROM qb_company WHERE company = 'demo'")
        assert (company["multicurrency"], company["home_currency"], company["account_numbers"], company["country"]) == (1, "US Dollar", 1, "US")
