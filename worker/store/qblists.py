"""The cached QuickBooks list records in ``qb_lists``: accounts, classes, customers:jobs, vendors,
employees, other names, terms and currencies.

Besides the name, a record keeps what planners decide on as columns: ``account_number`` (an
account's number, a vendor's code: the Concur employee id or vendor code) and ``currency`` (the
CurrencyRef name of an account or vendor; the ISO code of a Currency list entry). Other fields
QuickBooks returned (AccountType, the kind of terms, an exchange rate) stay in ``data``."""

from __future__ import annotations

import json
import sqlite3

from shared.clock import now_iso
from worker.qbxml import limits


def name_key(name: str) -> str:
    """How names are matched: Latin-1 as QuickBooks stores them, case and spacing folded."""
    return " ".join(limits.to_latin1(name).casefold().split())


def store_record(conn: sqlite3.Connection, company: str, list_type: str, record: dict[str, object]) -> None:
    """Insert or update one record as QuickBooks returned it (seen now)."""
    list_id = str(record.get("ListID") or "")
    full_name = str(record.get("FullName") or record.get("Name") or "")
    if not list_id or not full_name:
        return
    extra = {k: v for k, v in record.items() if k in _KEPT}
    if list_type == "Terms":
        extra["TermsKind"] = str(record.get("_ret", "")).removesuffix("Ret")  # StandardTerms / DateDrivenTerms
    number = record.get("AccountNumber")
    currency = record.get("CurrencyCode") if list_type == "Currency" else record.get("CurrencyRef.FullName")
    conn.execute(
        """INSERT INTO qb_lists (company, list_type, list_id, full_name, name_key, is_active, edit_sequence, data, seen_at,
                                 account_number, currency)
           VALUES (?,?,?,?,?,?,?,?,?,?,?)
           ON CONFLICT (company, list_type, list_id) DO UPDATE SET full_name = excluded.full_name,
             name_key = excluded.name_key, is_active = excluded.is_active,
             edit_sequence = excluded.edit_sequence, data = excluded.data, seen_at = excluded.seen_at,
             account_number = excluded.account_number, currency = excluded.currency""",
        (company, list_type, list_id, full_name, name_key(full_name), int(record.get("IsActive", True) is not False),
         str(record.get("EditSequence") or ""), json.dumps(extra), now_iso(),
         number.strip() if isinstance(number, str) and number.strip() else None,
         currency if isinstance(currency, str) and currency else None),
    )


_KEPT = frozenset({"AccountType", "TimeModified", "StdDueDays", "DayOfMonthDue", "ExchangeRate", "AsOfDate"})
