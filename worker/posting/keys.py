"""Deterministic identifiers for what we write to QuickBooks.

The same Concur document always yields the same ExternalGUID and RefNumber, whichever worker
process plans it and however often: that is what lets an uncertain outcome be settled by asking
QuickBooks for the RefNumber before anything is sent again. The full Concur id, which does not
fit QuickBooks' short RefNumber fields, goes in the memo.
"""

from __future__ import annotations

import base64
import hashlib
import uuid

from worker.qbxml.limits import clean, to_latin1

__all__ = [
    "NAMESPACE",
    "bill_ref_number",
    "external_guid",
    "invoice_memo",
    "invoice_ref_number",
    "journal_ref_number",
    "payment_ref_number",
    "report_memo",
    "to_latin1",
]  # fmt: skip

# Fixed forever: changing it would change every ExternalGUID and RefNumber already posted.
NAMESPACE = uuid.UUID("5f0c8a7e-3d1b-5b52-9d41-6a1c0e2f7b90")

BILL_REF_MAX = 20
JOURNAL_REF_MAX = 11
BILL_PREFIX = "CNC-"  # 4 + 16 base32 characters = 20
JOURNAL_PREFIX = "C"  # 1 + 10 base32 characters = 11
PAYMENT_REF_MAX = 11  # BillPaymentCheck RefNumber (the check number)
PAYMENT_PREFIX = "P"  # 1 + 10 base32 characters = 11


def _identity(company: str, kind: str, concur_id: str) -> str:
    # Unit separator: no part can contain it, so ("a", "b:c") and ("a:b", "c") differ.
    return "\x1f".join((company, kind, concur_id))


def _digest32(text: str) -> str:
    """Base32 (A-Z, 2-7: safe in any QuickBooks field, no padding) of a SHA-256."""
    return base64.b32encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii").rstrip("=")


def external_guid(company: str, kind: str, concur_id: str) -> str:
    """``{XXXXXXXX-...}``: a UUIDv5 in our namespace, upper case in braces as QuickBooks shows GUIDs.

    ``kind`` names the transaction within the document (e.g. ``expense_report:journal_entry``),
    so a document posted as a bill plus a journal entry gets two different GUIDs.
    """
    return "{" + str(uuid.uuid5(NAMESPACE, _identity(company, kind, concur_id))).upper() + "}"


def bill_ref_number(company: str, kind: str, concur_id: str) -> str:
    """A 20-character Bill RefNumber, ``CNC-`` and 16 base32 characters (80 bits) of a hash."""
    return BILL_PREFIX + _digest32(_identity(company, kind, concur_id))[: BILL_REF_MAX - len(BILL_PREFIX)]


def journal_ref_number(company: str, kind: str, concur_id: str) -> str:
    """An 11-character JournalEntry RefNumber, ``C`` and 10 base32 characters (50 bits)."""
    return JOURNAL_PREFIX + _digest32(_identity(company, kind, concur_id))[: JOURNAL_REF_MAX - len(JOURNAL_PREFIX)]


def payment_ref_number(company: str, kind: str, concur_id: str) -> str:
    """An 11-character BillPaymentCheck RefNumber, ``P`` and 10 base32 characters (50 bits): how a
    payment whose answer was lost is found again (BillPaymentCheckQuery by RefNumber)."""
    return PAYMENT_PREFIX + _digest32(_identity(company, kind, concur_id))[: PAYMENT_REF_MAX - len(PAYMENT_PREFIX)]


def invoice_ref_number(invoice_number: str, limit: int = BILL_REF_MAX) -> str:
    """The vendor's invoice number as a Bill RefNumber of at most ``limit`` characters.

    Kept as is when it fits (after Latin-1 transliteration and trimming). A longer one keeps its
    start, which is what people search for, and ends with ``~`` and four base32 characters of a
    hash of the whole number, so two long numbers sharing a prefix still differ.
    """
    # The same rule the qbXML builders use for names (``limits.fit``), so both agree.
    return clean(invoice_number, limit, disambiguate=True)


def report_memo(concur_id: str) -> str:
    return f"Concur report {concur_id}"


def invoice_memo(concur_id: str) -> str:
    return f"Concur invoice {concur_id}"
