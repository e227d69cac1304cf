from __future__ import annotations

from shared.config import MappingConfig
from worker.posting.mapping import Dimensions, Resolver

from posting_factories import MAPPING, company


def test_expense_type_to_account_with_a_decision():
    r = Resolver(company())
    assert r.account("AIRFR") == "Travel:Airfare"
    assert r.unmapped_reason() is None
    assert any('"AIRFR"' in d and "Travel:Airfare" in d for d in r.decisions)


def test_unmapped_expense_type_names_code_company_and_table():
    r = Resolver(company())
    assert r.account("TAXI") is None
    assert r.unmapped_reason() == 'unmapped expense type "TAXI" for company demo (add it under [companies.mapping.expense_types])'


def test_dimensions_from_configured_fields():
    r = Resolver(company())
    assert r.dimensions({"custom1": "CC-100", "custom2": "PRJ-7"}) == Dimensions("Consulting", "Client A:Project X")


def test_empty_or_absent_codes_mean_no_class_or_customer():
    r = Resolver(company())
    assert r.dimensions({}) == Dimensions(None, None)
    assert r.dimensions({"custom1": "", "custom2": "  "}) == Dimensions(None, None)
    assert r.unmapped_reason() is None


def test_no_dimension_configured_ignores_the_fields():
    r = Resolver(company(mapping=MappingConfig(expense_types=MAPPING.expense_types)))
    assert r.dimensions({"custom1": "CC-999"}) == Dimensions(None, None)
    assert r.unmapped_reason() is None


def test_dimension_can_come_from_any_concur_field():
    mapping = MappingConfig(dimensions={"class": "orgUnit2"}, classes={"OU-1": "East"})
    r = Resolver(company(mapping=mapping))
    assert r.dimensions({"custom1": "CC-100", "orgUnit2": "OU-1"}) == Dimensions("East", None)


def test_field_names_and_codes_are_matched_ignoring_case():
    r = Resolver(company())
    assert r.account("airfr") == "Travel:Airfare"
    assert r.dimensions({"Custom1": "cc-100"}) == Dimensions("Consulting", None)


def test_ambiguous_case_insensitive_code_is_unmapped():
    mapping = MappingConfig(expense_types={"Air": "A", "AIR": "B"})
    r = Resolver(company(mapping=mapping))
    assert r.account("AIR") == "B"  # exact wins
    assert r.account("air") is None  # two keys fit ignoring case: do not guess
    assert '"air"' in (r.unmapped_reason() or "")


def test_all_unmapped_codes_are_collected_in_one_reason():
    r = Resolver(company())
    r.account("TAXI")
    r.account("PARKING")
    r.account("TAXI")  # once only
    r.dimensions({"custom1": "CC-9", "custom2": "PRJ-99"})
    r.dimensions({"custom1": "CC-8", "custom2": "PRJ-7"})
    reason = r.unmapped_reason()
    assert reason == (
        'unmapped expense types "TAXI", "PARKING" for company demo (add them under [companies.mapping.expense_types]); '
        'unmapped class codes "CC-9", "CC-8" for company demo (add them under [companies.mapping.classes]); '
        'unmapped customer:job code "PRJ-99" for company demo (add it under [companies.mapping.customers])'
    )
