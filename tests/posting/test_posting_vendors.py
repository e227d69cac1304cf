from __future__ import annotations

import pytest

from shared.domain import Employee
from worker.posting.vendors import (
    CreateVendor,
    QbVendor,
    ReactivateVendor,
    UseVendor,
    VendorDirectory,
    VendorHold,
    cut_name,
    decide_vendor,
    employee_candidate,
    invoice_vendor_candidate,
    normalise_name,
    suffixed_name,
)

from posting_factories import ACME, JANE, JANE_VENDOR, invoice

JANE_KEY = "employee:0b5c1f2e-1111-2222-3333-444455556666"


def payee(name: str = "Jane Doe"):
    """A payee matched by name: an invoice vendor without a code (employees never are, issue 12)."""
    return invoice_vendor_candidate(invoice(vendor_code="", vendor_name=name))


def decide(candidate, directory, links=None, policy="create"):
    decisions: list[str] = []
    result = decide_vendor(candidate, directory, links or {}, policy, "demo", decisions)
    return result, decisions


def test_link_key_is_lower_case_employee_uuid():
    assert employee_candidate(JANE).concur_key == JANE_KEY


def test_link_comes_first_even_over_an_exact_name():
    linked = QbVendor("80000009-1", "J. Doe (travel)")
    result, decisions = decide(employee_candidate(JANE), VendorDirectory.of([JANE_VENDOR, linked]), {JANE_KEY: "80000009-1"})
    assert result == UseVendor("80000009-1", "J. Doe (travel)")
    assert "linked" in decisions[0]


def test_link_to_a_vendor_not_yet_cached_is_trusted():
    result, decisions = decide(employee_candidate(JANE), VendorDirectory.of([]), {JANE_KEY: "8000000A-2"})
    assert result == UseVendor("8000000A-2", "Jane Doe")
    assert "not in the cached vendor list" in decisions[0]


def test_exact_name_ignores_case():
    vendor = QbVendor("80000003-1", "JANE DOE")
    result, decisions = decide(payee(), VendorDirectory.of([vendor]))
    assert result == UseVendor("80000003-1", "JANE DOE")
    assert "exact name" in decisions[0]


def test_exact_name_beats_normalised_name():
    exact = QbVendor("80000003-1", "Jane Doe")
    loose = QbVendor("80000004-1", "Jane  Doe.")
    result, _ = decide(payee(), VendorDirectory.of([loose, exact]))
    assert isinstance(result, UseVendor) and result.list_id == "80000003-1"


@pytest.mark.parametrize("qb_name", ["Doe-Jane", "jane   doe", "Jane Doe.", "Jane Doé", "JANE_DOE"])
def test_normalised_name_match(qb_name):
    emp = Employee("E1", "Jane Doe")
    # a different order ("Doe, Jane") is not the same name; "Doe-Jane" is not either
    result, decisions = decide(payee(emp.name), VendorDirectory.of([QbVendor("80000005-1", qb_name)]))
    if qb_name == "Doe-Jane":
        assert isinstance(result, CreateVendor)
    else:
        assert result == UseVendor("80000005-1", qb_name)
        assert "normalised" in decisions[0]


def test_normalise_name_folds_accents_punctuation_and_space():
    assert normalise_name("  O'Brien,  Zoë ") == normalise_name("obrien zoe") == "obrien zoe"
    assert normalise_name("Łukasz Żółć") == "lukasz zolc"


def test_ambiguous_normalised_match_holds():
    a = QbVendor("80000006-1", "Jane-Doe")
    b = QbVendor("80000007-1", "Jane. Doe")
    result, _ = decide(payee(), VendorDirectory.of([a, b]))
    assert isinstance(result, VendorHold)
    assert "Jane-Doe" in result.reason and "Jane. Doe" in result.reason


def test_ambiguous_match_prefers_the_only_active_vendor():
    a = QbVendor("80000006-1", "Jane-Doe", is_active=False, edit_sequence="1")
    b = QbVendor("80000007-1", "Jane. Doe")
    result, _ = decide(payee(), VendorDirectory.of([a, b]))
    assert result == UseVendor("80000007-1", "Jane. Doe")


def test_absent_vendor_is_created_with_details():
    result, decisions = decide(employee_candidate(JANE), VendorDirectory.of([ACME]))
    assert isinstance(result, CreateVendor)
    assert result.add.name == "Jane Doe"
    assert result.add.email == "jane@example.com"
    assert result.add.account_number == "E042"
    assert result.add.external_guid.startswith("{") and result.concur_key == JANE_KEY
    assert result.ref.full_name == "Jane Doe" and result.ref.list_id is None
    assert "created" in decisions[-1]


def test_match_only_policy_holds_when_absent():
    result, _ = decide(employee_candidate(JANE), VendorDirectory.of([]), policy="match_only")
    assert isinstance(result, VendorHold)
    assert "match_only" in result.reason and "demo" in result.reason and "Jane Doe" in result.reason


def test_match_only_still_uses_a_match():
    result, _ = decide(employee_candidate(JANE), VendorDirectory.of([JANE_VENDOR]), policy="match_only")
    assert isinstance(result, UseVendor)


def test_inactive_vendor_is_reactivated_with_its_edit_sequence():
    inactive = QbVendor("80000001-1700000000", "Jane Doe", is_active=False, edit_sequence="1700000123", account_number="E042")
    result, decisions = decide(employee_candidate(JANE), VendorDirectory.of([inactive]))
    assert isinstance(result, ReactivateVendor)
    assert result.mod.list_id == "80000001-1700000000"
    assert result.mod.edit_sequence == "1700000123"
    assert result.mod.is_active is True and result.mod.name is None
    assert result.ref.list_id == "80000001-1700000000"
    assert "reactivated" in decisions[0]


def test_inactive_linked_vendor_is_reactivated():
    inactive = QbVendor("80000009-1", "Jane D", is_active=False, edit_sequence="42")
    result, _ = decide(employee_candidate(JANE), VendorDirectory.of([inactive]), {JANE_KEY: "80000009-1"})
    assert isinstance(result, ReactivateVendor) and result.mod.edit_sequence == "42"


def test_inactive_vendor_without_edit_sequence_holds():
    inactive = QbVendor("80000001-1", "Jane Doe", is_active=False, edit_sequence=None, account_number="E042")
    result, _ = decide(employee_candidate(JANE), VendorDirectory.of([inactive]))
    assert isinstance(result, VendorHold) and "EditSequence" in result.reason


@pytest.mark.parametrize("taken_by", ["Jane Doe", "JANE DOE"])
def test_name_taken_by_customer_or_employee_gets_suffix(taken_by):
    result, decisions = decide(employee_candidate(JANE), VendorDirectory.of([], [taken_by]))
    assert isinstance(result, CreateVendor)
    assert result.add.name == "Jane Doe (V)"
    assert result.add.name_on_check == "Jane Doe"
    assert "already used" in decisions[-1]


def test_second_collision_gets_v2():
    result, _ = decide(employee_candidate(JANE), VendorDirectory.of([], ["Jane Doe", "Jane Doe (V)"]))
    assert isinstance(result, CreateVendor) and result.add.name == "Jane Doe (V2)"


def test_existing_suffixed_vendor_is_reused_not_created_again():
    ours = QbVendor("8000000B-1", "Jane Doe (V)")
    result, decisions = decide(payee(), VendorDirectory.of([ours], ["Jane Doe"]))
    assert result == UseVendor("8000000B-1", "Jane Doe (V)")
    assert "taken by a customer" in decisions[0]


def test_long_unicode_name_is_cut_to_41_latin1_characters():
    name = "Żaneta Wiśniewska-Kowalczyk von Łęczycka-Brzęczyszczykiewicz"
    result, _ = decide(employee_candidate(Employee("E9", name)), VendorDirectory.of([]))
    assert isinstance(result, CreateVendor)
    new = result.add.name
    assert len(new) <= 41
    new.encode("latin-1")
    assert new.startswith("Zaneta Wisniewska-Kowalczyk")
    assert new == cut_name(name)  # deterministic
    assert cut_name(new) == new  # and stable: the builders send it unchanged


def test_two_long_names_sharing_41_characters_stay_distinct():
    a = cut_name("A" * 41 + " first")
    b = cut_name("A" * 41 + " second")
    assert a != b and len(a) <= 41 and len(b) <= 41


def test_suffixed_long_name_still_fits():
    name = "Maximilian Alexander Bartholomew Richardson-Smythe"
    for n in (1, 2, 10):
        suffixed = suffixed_name(name, n)
        assert len(suffixed) <= 41
        assert suffixed.endswith(" (V)" if n == 1 else f" (V{n})")


def test_collision_of_a_long_name_is_suffixed_within_41():
    name = "Maximilian Alexander Bartholomew Richardson-Smythe"
    result, _ = decide(employee_candidate(Employee("E7", name)), VendorDirectory.of([], [cut_name(name)]))
    assert isinstance(result, CreateVendor)
    assert len(result.add.name) <= 41 and result.add.name.endswith(" (V)")


def test_long_name_matches_the_vendor_we_created_before():
    name = "Maximilian Alexander Bartholomew Richardson-Smythe"
    earlier = QbVendor("8000000C-1", cut_name(name))
    result, _ = decide(payee(name), VendorDirectory.of([earlier]))
    assert result == UseVendor("8000000C-1", cut_name(name))


def test_invoice_vendor_by_code_link_then_name():
    inv = invoice()
    cand = invoice_vendor_candidate(inv)
    assert cand.concur_key == "vendor:ACME01"
    result, _ = decide(cand, VendorDirectory.of([ACME]))
    assert result == UseVendor(ACME.list_id, "Acme Supplies")
    linked, _ = decide(cand, VendorDirectory.of([ACME, QbVendor("8000000D-1", "ACME Inc")]), {"vendor:ACME01": "8000000D-1"})
    assert linked == UseVendor("8000000D-1", "ACME Inc")


def test_invoice_vendor_without_code_is_keyed_by_name():
    cand = invoice_vendor_candidate(invoice(vendor_code="", vendor_name="Acme Supplies"))
    assert cand.concur_key == "vendor:acme supplies"
    created, _ = decide(cand, VendorDirectory.of([]))
    assert isinstance(created, CreateVendor) and created.add.account_number == ""


def test_unusable_name_holds():
    result, _ = decide(employee_candidate(Employee("E8", "山田太郎")), VendorDirectory.of([]))
    assert isinstance(result, VendorHold)


def test_suffixes_run_out_with_a_hold():
    taken = ["Jane Doe", "Jane Doe (V)"] + [f"Jane Doe (V{n})" for n in range(2, 100)]
    result, _ = decide(employee_candidate(JANE), VendorDirectory.of([], taken))
    assert isinstance(result, VendorHold) and "(V99)" in result.reason


def test_transliterated_name_is_explained():
    result, decisions = decide(employee_candidate(Employee("E5", "Łukasz Nowak")), VendorDirectory.of([]))
    assert isinstance(result, CreateVendor) and result.add.name == "Lukasz Nowak"
    assert "Latin-1" in decisions[-1]


def test_directory_indexes_answer_like_a_scan():
    vendors = [QbVendor(f"8000{i:04d}-1", f"Vendor {i % 50}", is_active=i % 3 != 0) for i in range(200)]
    d = VendorDirectory.of(vendors, ["Customer A"])
    assert d.by_list_id("80000007-1") == vendors[7]
    assert d.by_name("VENDOR 7") == [v for v in vendors if v.name == "Vendor 7"]
    assert d.by_normalised("vendor 7") == d.by_name("vendor 7")
    assert d.name_taken_by_other("customer a") and not d.name_taken_by_other("Vendor 7")


# --- employees by identity (issue 12) --------------------------------------------------------


def test_employee_is_never_matched_by_name_alone():
    contractor = QbVendor("80000031-1", "Jane Doe")  # an unrelated vendor with the employee's name
    lookalike = QbVendor("80000032-1", "Jane  Doe.")
    result, decisions = decide(employee_candidate(JANE), VendorDirectory.of([contractor, lookalike]))
    assert isinstance(result, CreateVendor)
    assert result.add.name == "Jane Doe (V)" and result.add.account_number == "E042"
    assert "not this employee" in decisions[-1] and "E042" in decisions[-1]


def test_employee_is_found_by_the_account_number_the_connector_set():
    ours = QbVendor("80000033-1", "Jane Doe (V)", account_number="e042")
    result, decisions = decide(employee_candidate(JANE), VendorDirectory.of([QbVendor("80000031-1", "Jane Doe"), ours]))
    assert result == UseVendor("80000033-1", "Jane Doe (V)")
    assert "AccountNumber" in decisions[0]


def test_a_suffixed_name_is_not_taken_for_the_employee_either():
    other = QbVendor("80000034-1", "Jane Doe (V)")  # another Jane Doe the connector created
    result, _ = decide(employee_candidate(JANE), VendorDirectory.of([QbVendor("80000031-1", "Jane Doe"), other]))
    assert isinstance(result, CreateVendor) and result.add.name == "Jane Doe (V2)"


def test_two_vendors_with_the_employee_id_hold():
    a, b = QbVendor("80000035-1", "Jane Doe", account_number="E042"), QbVendor("80000036-1", "J Doe", account_number="E042")
    result, _ = decide(employee_candidate(JANE), VendorDirectory.of([a, b]))
    assert isinstance(result, VendorHold) and "AccountNumber E042" in result.reason


def test_match_only_employee_without_link_or_number_holds_even_when_the_name_exists():
    result, _ = decide(employee_candidate(JANE), VendorDirectory.of([QbVendor("80000031-1", "Jane Doe")]), policy="match_only")
    assert isinstance(result, VendorHold) and "match_only" in result.reason


def test_employee_and_other_names_make_a_new_vendor_step_aside():
    result, _ = decide(employee_candidate(JANE), VendorDirectory.of([], ["Jane Doe"]))
    assert isinstance(result, CreateVendor) and result.add.name == "Jane Doe (V)"
