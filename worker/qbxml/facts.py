"""Facts about QuickBooks itself that more than one part of the worker needs: how it names
currencies, and which currency an edition keeps its books in."""

from __future__ import annotations

# QuickBooks names currencies by their full name ("US Dollar"); Concur by ISO 4217 code.
QUICKBOOKS_CURRENCY_CODES = {
    "US DOLLAR": "USD", "CANADIAN DOLLAR": "CAD", "BRITISH POUND STERLING": "GBP", "EURO": "EUR",
    "AUSTRALIAN DOLLAR": "AUD", "JAPANESE YEN": "JPY", "SWISS FRANC": "CHF", "MEXICAN PESO": "MXN",
    "NEW ZEALAND DOLLAR": "NZD", "INDIAN RUPEE": "INR",
}
# Without multicurrency QuickBooks does not name a home currency: it is the edition's.
EDITION_CURRENCY = (("(CA)", "CAD"), ("CANADA", "CAD"), ("(UK)", "GBP"), ("AUSTRALIA", "AUD"), ("(AU)", "AUD"))


def currency_code(name: str | None) -> str | None:
    if not name:
        return None
    return QUICKBOOKS_CURRENCY_CODES.get(name.strip().upper(), name.strip().upper())


def edition_currency(product: str | None) -> str:
    upper = (product or "").upper()
    return next((code for hint, code in EDITION_CURRENCY if hint in upper), "USD")
