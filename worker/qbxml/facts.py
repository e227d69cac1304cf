"""Facts about QuickBooks itself that more than one part of the worker needs: how it names
currencies, and which currency a company file keeps its books in."""

from __future__ import annotations

# QuickBooks names currencies by their full name ("US Dollar"); Concur by ISO 4217 code.
QUICKBOOKS_CURRENCY_CODES = {
    "US DOLLAR": "USD",
    "CANADIAN DOLLAR": "CAD",
    "BRITISH POUND STERLING": "GBP",
    "EURO": "EUR",
    "AUSTRALIAN DOLLAR": "AUD",
    "JAPANESE YEN": "JPY",
    "SWISS FRANC": "CHF",
    "MEXICAN PESO": "MXN",
    "NEW ZEALAND DOLLAR": "NZD",
    "INDIAN RUPEE": "INR",
}
_NAMES = {code: name.title().replace("Us ", "US ") for name, code in QUICKBOOKS_CURRENCY_CODES.items()}
# Without multicurrency QuickBooks names no home currency (HomeCurrencyRef comes with the
# multicurrency preference): the books are in the currency of the company file's country, which
# the file itself states (CompanyRet Address/Country, else HostRet Country: the edition's).
COUNTRY_CURRENCY = {"US": "USD", "CA": "CAD", "UK": "GBP", "GB": "GBP", "AU": "AUD", "NZ": "NZD"}


def currency_code(name: str | None) -> str | None:
    if not name:
        return None
    return QUICKBOOKS_CURRENCY_CODES.get(name.strip().upper(), name.strip().upper())


def currency_name(code: str) -> str:
    """QuickBooks' name for an ISO code ("EUR" -> "Euro"); the code itself when not known."""
    return _NAMES.get(code.strip().upper(), code.strip().upper())


def country_currency(country: str | None) -> str | None:
    """The home currency of a single-currency file from the country it states; None when unknown."""
    return COUNTRY_CURRENCY.get((country or "").strip().upper())
