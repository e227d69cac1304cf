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

# The QuickBooks lists the connector keeps a copy of (the planner needs all of them).
LIST_TYPES = ("Account", "Class", "Customer", "Vendor", "Employee", "OtherName", "Terms", "Currency")


def ready(conn: sqlite3.Connection, company: str) -> bool:
    """Every list has had one complete pass (the planner waits for this)."""
    row = conn.execute("SELECT COUNT(*) FROM qb_list_sync WHERE company = ? AND synced_at IS NOT NULL", (company,)).fetchone()
    return row[0] >= len(LIST_TYPES)


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
        (
            company,
            list_type,
            list_id,
            full_name,
            name_key(full_name),
            int(record.get("IsActive", True) is not False),
            str(record.get("EditSequence") or ""),
            json.dumps(extra),
            now_iso(),
            number.strip() if isinstance(number, str) and number.strip() else None,
            currency if isinstance(currency, str) and currency else None,
        ),
    )


def remember_taken_name(conn: sqlite3.Connection, company: str, name: str) -> None:
    """A name QuickBooks says is in use outside the vendor list (customer, employee, other name)."""
    conn.execute(
        "INSERT INTO qb_lists (company, list_type, list_id, full_name, name_key, is_active, data) VALUES (?, 'Entity', ?, ?, ?, 1, '{}') ON CONFLICT DO NOTHING",
        (company, f"name:{name_key(name)}", name, name_key(name)),
    )


def record_pass(conn: sqlite3.Connection, company: str, list_type: str, from_modified: str | None, finished: bool) -> None:
    """A pass over one list advanced its checkpoint (and, ``finished``, completed: synced now)."""
    conn.execute(
        """INSERT INTO qb_list_sync (company, list_type, synced_at, from_modified) VALUES (?,?,?,?)
           ON CONFLICT (company, list_type) DO UPDATE SET
             synced_at = COALESCE(excluded.synced_at, qb_list_sync.synced_at), from_modified = excluded.from_modified""",
        (company, list_type, now_iso() if finished else None, from_modified),
    )
    # QuickBooks answered a page: whatever failed before is over.
    conn.execute("UPDATE qb_list_sync SET failures = 0, retry_after = NULL, last_error = '' WHERE company = ? AND list_type = ?", (company, list_type))


def record_failure(conn: sqlite3.Connection, company: str, list_type: str, retry_after: str, why: str) -> int:
    """QuickBooks could not answer a query of this list: not asked again before ``retry_after``.
    Returns how many times in a row it has failed."""
    conn.execute(
        """INSERT INTO qb_list_sync (company, list_type, failures, retry_after, last_error) VALUES (?,?,1,?,?)
           ON CONFLICT (company, list_type) DO UPDATE SET failures = qb_list_sync.failures + 1,
             retry_after = excluded.retry_after, last_error = excluded.last_error""",
        (company, list_type, retry_after, why),
    )
    row = conn.execute("SELECT failures FROM qb_list_sync WHERE company = ? AND list_type = ?", (company, list_type)).fetchone()
    return int(row[0])


def forget_unseen(conn: sqlite3.Connection, company: str, list_type: str, since: str) -> int:
    """Records a complete unfiltered pass begun at ``since`` did not return: deleted in QuickBooks."""
    gone = conn.execute("DELETE FROM qb_lists WHERE company = ? AND list_type = ? AND seen_at < ?", (company, list_type, since)).rowcount
    conn.execute("UPDATE qb_list_sync SET full_at = ? WHERE company = ? AND list_type = ?", (since, company, list_type))
    return int(gone)


_KEPT = frozenset({"AccountType", "TimeModified", "StdDueDays", "DayOfMonthDue", "ExchangeRate", "AsOfDate"})
