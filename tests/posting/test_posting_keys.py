from __future__ import annotations

import re
import uuid

from hypothesis import given
from hypothesis import strategies as st

from worker.posting.keys import (
    NAMESPACE,
    bill_ref_number,
    external_guid,
    invoice_memo,
    invoice_ref_number,
    journal_ref_number,
    report_memo,
)

GUID = re.compile(r"^\{[0-9A-F]{8}-[0-9A-F]{4}-5[0-9A-F]{3}-[89AB][0-9A-F]{3}-[0-9A-F]{12}\}$")


def test_namespace_is_fixed_forever():
    # Changing the namespace would re-key every transaction already in QuickBooks.
    assert uuid.UUID("5f0c8a7e-3d1b-5b52-9d41-6a1c0e2f7b90") == NAMESPACE
    assert external_guid("demo", "expense_report:journal_entry", "ABC") == external_guid("demo", "expense_report:journal_entry", "ABC")


def test_guid_shape_is_uppercase_uuid5_in_braces():
    assert GUID.match(external_guid("demo", "invoice:bill", "PR$1"))


def test_guid_differs_per_company_kind_and_id():
    base = external_guid("demo", "k", "1")
    assert len({base, external_guid("other", "k", "1"), external_guid("demo", "k2", "1"), external_guid("demo", "k", "2")}) == 4


def test_guid_parts_cannot_be_shifted():
    assert external_guid("a", "b:c", "d") != external_guid("a:b", "c", "d")
    assert external_guid("a", "bc", "d") != external_guid("a", "b", "cd")


@given(st.text(min_size=1, max_size=200), st.text(max_size=40))
def test_ref_numbers_fit_and_are_plain(concur_id, kind):
    bill = bill_ref_number("demo", kind, concur_id)
    journal = journal_ref_number("demo", kind, concur_id)
    assert len(bill) == 20 and bill.startswith("CNC-") and re.fullmatch(r"[A-Z2-7-]+", bill)
    assert len(journal) == 11 and journal.startswith("C") and re.fullmatch(r"[A-Z2-7]+", journal)
    assert bill == bill_ref_number("demo", kind, concur_id)


def test_ref_numbers_differ_between_documents():
    ids = [f"REPORT{i:06d}" for i in range(2000)]
    assert len({journal_ref_number("demo", "k", i) for i in ids}) == len(ids)
    assert len({bill_ref_number("demo", "k", i) for i in ids}) == len(ids)


def test_short_invoice_number_is_kept():
    assert invoice_ref_number("INV-2026-0042") == "INV-2026-0042"
    assert invoice_ref_number("  INV 42  ") == "INV 42"
    assert invoice_ref_number("A" * 20) == "A" * 20


def test_long_invoice_number_keeps_its_start_and_ends_in_a_hash():
    number = "INVOICE-2026-000000000042-ACME"
    cut = invoice_ref_number(number)
    assert len(cut) == 20
    assert cut.startswith("INVOICE-2026-00")
    assert re.fullmatch(r"INVOICE-2026-00~[A-Z2-7]{4}", cut)
    assert cut == invoice_ref_number(number)


def test_two_long_numbers_with_the_same_start_do_not_collide():
    a = invoice_ref_number("INVOICE-2026-000000000042")
    b = invoice_ref_number("INVOICE-2026-000000000043")
    assert a != b and a[:15] == b[:15]


def test_invoice_number_is_latin1():
    ref = invoice_ref_number("Rechnung–Nr “7”")
    ref.encode("latin-1")
    assert ref == 'Rechnung-Nr "7"'


@given(st.text(max_size=80))
def test_invoice_ref_number_always_fits(number):
    ref = invoice_ref_number(number)
    assert len(ref) <= 20
    ref.encode("latin-1")


def test_memos_carry_the_full_concur_id():
    long_id = "gWqZ$pZ$sG4hrUOkA0bD1X8j1$pXkZfOw7mA0"
    assert report_memo(long_id) == f"Concur report {long_id}"
    assert invoice_memo(long_id) == f"Concur invoice {long_id}"
