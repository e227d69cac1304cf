"""The company file's own answers decide its home currency (issue 13 §6), never the product name."""

from __future__ import annotations

from pathlib import Path

from worker.posting.engine import quickbooks_facts
from worker.qbxml.facts import country_currency, currency_name
from worker.store.db import Store


def _facts(tmp_path: Path, **row: object):
    store = Store(tmp_path / "mlc.sqlite3")
    try:

        def run(conn):
            columns = {"company": "demo", "file_id": "{F}", "product": "QuickBooks Pro 2024", **row}
            conn.execute(f"INSERT INTO qb_company ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})", tuple(columns.values()))
            return quickbooks_facts(conn, "demo")

        return store.run_sync(run)
    finally:
        store.close()


def test_single_currency_file_takes_its_countrys_currency(tmp_path: Path) -> None:
    # A Canadian file whose product name says nothing about Canada: the country decides.
    facts = _facts(tmp_path, multicurrency=0, country="CA")
    assert facts.home_currency == "CAD" and not facts.multicurrency


def test_multicurrency_file_names_its_home_currency(tmp_path: Path) -> None:
    facts = _facts(tmp_path, multicurrency=1, home_currency="Euro", country="US")
    assert facts.home_currency == "EUR" and facts.multicurrency


def test_unknown_country_leaves_the_currency_unchecked(tmp_path: Path) -> None:
    assert _facts(tmp_path, multicurrency=0, product="QuickBooks Premier (CA) 2024").home_currency is None


def test_currency_names_both_ways() -> None:
    assert country_currency("uk") == "GBP" and country_currency("") is None
    assert currency_name("eur") == "Euro" and currency_name("USD") == "US Dollar" and currency_name("XTS") == "XTS"
