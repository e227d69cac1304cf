from __future__ import annotations

import dataclasses
from decimal import Decimal
from pathlib import Path

import pytest

from shared.config import ConfigError, MappingConfig, parse_config
from shared.domain import Allocation
from worker.posting.mapping import Dimensions, Resolver
from worker.posting.plan import Hold, ListsView, Plan, plan_document

from posting_factories import ACCOUNTS, ACME, MAPPING, alloc, company, directory, expense, facts, invoice, invoice_line, lists, report


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


# --- issue 19: cost-center rules, Concur account codes, accounts by number ---------------------

RULES = MappingConfig(
    expense_types={"AIRFR": "Travel:Airfare", "MEALS": "Meals"},
    dimensions={"class": "custom1", "cost_center": "custom1"},
    classes={"CC-100": "Consulting", "CC-200": "Sales"},
    accounts={"AIRFR/CC-100": "6110", "AIRFR/*": "Travel:Lodging", "*/CC-200": "Sales Travel"},
)


def test_rule_order_exact_then_type_then_cost_center_then_expense_types():
    r = Resolver(company(mapping=RULES))
    assert r.account("AIRFR", {"custom1": "CC-100"}) == "6110"
    assert r.account("AIRFR", {"custom1": "CC-200"}) == "Travel:Lodging"  # TYPE/* before */CC
    assert r.account("MEALS", {"custom1": "CC-200"}) == "Sales Travel"
    assert r.account("MEALS", {"custom1": "CC-100"}) == "Meals"  # no rule: expense_types
    assert r.account("AIRFR", {}) == "Travel:Lodging"  # no cost center: only TYPE/* rules
    assert 'expense type "AIRFR", custom1 "CC-100" -> account "6110" (mapping.accounts rule "AIRFR/CC-100")' in r.decisions
    assert 'expense type "MEALS", custom1 "CC-200" -> account "Sales Travel" (mapping.accounts rule "*/CC-200")' in r.decisions


def test_catch_all_rule_comes_after_expense_types():
    mapping = dataclasses.replace(RULES, accounts={"*/*": "Ask My Accountant"})
    r = Resolver(company(mapping=mapping))
    assert r.account("MEALS", {"custom1": "CC-100"}) == "Meals"
    assert r.account("PARKING", {"custom1": "CC-100"}) == "Ask My Accountant"
    assert r.unmapped_reason() is None


def test_unmapped_with_rules_points_at_both_tables():
    r = Resolver(company(mapping=RULES))
    assert r.account("PARKING", {"custom1": "CC-100"}) is None
    assert "[companies.mapping.expense_types] or a rule under [companies.mapping.accounts]" in (r.unmapped_reason() or "")


def test_account_code_translated_or_taken_as_is_or_missing():
    mapping = MappingConfig(account_source="concur_account_code", account_codes={"6100-TRV": "6110"})
    r = Resolver(company(mapping=mapping))
    assert r.account_by_code(Allocation(Decimal("100"), account_code="6100-TRV"), "expense E1") == "6110"
    assert r.account_by_code(Allocation(Decimal("100"), account_code="6130"), "expense E2") == "6130"
    assert r.account_by_code(Allocation(Decimal("100")), "expense E3") is None
    assert any("(mapping.account_codes)" in d for d in r.decisions)
    assert "no Concur account code on expense E3" in (r.unmapped_reason() or "")


def test_over_limit_code_is_named_but_the_whole_share_goes_to_the_account_code():
    r = Resolver(company(mapping=MappingConfig(account_source="concur_account_code")))
    assert r.account_by_code(Allocation(Decimal("100"), account_code="6130", over_limit_account_code="6139"), "expense E1") == "6130"
    assert any('over-limit account code "6139" not used' in d for d in r.decisions)


# --- accounts by number in the planner --------------------------------------------------------

NUMBERS = {"Travel:Airfare": "6110", "Travel:Lodging": "6120", "Meals": "6130", "Office Supplies": "6210", "Accounts Payable": "2000", "Company Card": "2050"}


def numbered(**kw):
    return lists(numbers=NUMBERS, numbers_in_use=True, **kw)


def debit_accounts(result):
    assert isinstance(result, Plan), getattr(result, "reason", result)
    return [(line.account.full_name, line.amount) for txn in result.transactions for line in txn.lines if getattr(line, "side", "debit") == "debit"]


def test_report_by_concur_account_codes_posts_to_the_numbered_accounts():
    mapping = MappingConfig(account_source="concur_account_code")
    doc = report(
        expense("100.00", "AIRFR", allocations=(Allocation(Decimal("60"), fields={}, account_code="6110"), Allocation(Decimal("40"), account_code="6120"))),
        expense("30.00", "MEALS", allocations=(Allocation(Decimal("100"), account_code="6130"),)),
    )
    result = plan_document(doc, company(mapping=mapping, ap_account="2000"), facts(), numbered(), directory(), {})
    assert debit_accounts(result) == [("Travel:Airfare", Decimal("60.00")), ("Travel:Lodging", Decimal("40.00")), ("Meals", Decimal("30.00"))]
    credit = [line for line in result.transactions[0].lines if line.side == "credit"]
    assert credit[0].account.full_name == "Accounts Payable"  # ap_account given by number
    assert 'account number 6110 is "Travel:Airfare" in QuickBooks' in result.decisions
    assert 'ap_account "2000" is account number 2000: "Accounts Payable"' in result.decisions


def test_translated_code_and_invoice_lines_use_the_same_resolver():
    mapping = MappingConfig(account_source="concur_account_code", account_codes={"6100-TRV": "6210"})
    doc = invoice(invoice_line("80.00", allocations=(Allocation(Decimal("100"), account_code="6100-TRV"),)))
    result = plan_document(doc, company(mapping=mapping), facts(), numbered(), directory(ACME), {})
    assert debit_accounts(result) == [("Office Supplies", Decimal("80.00"))]
    assert 'Concur account code "6100-TRV" -> account "6210" (mapping.account_codes)' in result.decisions


def test_unknown_code_holds_naming_the_code_and_the_expense():
    mapping = MappingConfig(account_source="concur_account_code")
    doc = report(
        expense("10.00", "MEALS", expense_id="E-77", allocations=(Allocation(Decimal("100"), account_code="6999"),)),
        expense("5.00", "MEALS", expense_id="E-78", allocations=(Allocation(Decimal("100")),)),
    )
    result = plan_document(doc, company(mapping=mapping), facts(), numbered(), directory(), {})
    assert isinstance(result, Hold)
    assert (
        'Concur account code "6999" of expense E-77: not in [companies.mapping.account_codes] and account "6999" does not exist in QuickBooks' in result.reason
    )
    assert "no Concur account code on expense E-78" in result.reason


def test_a_zero_share_needs_no_account_code():
    mapping = MappingConfig(account_source="concur_account_code")
    doc = report(expense("10.00", "MEALS", allocations=(Allocation(Decimal("100"), account_code="6130"),)), expense("0.00", "MEALS", expense_id="E-personal"))
    result = plan_document(doc, company(mapping=mapping), facts(), numbered(), directory(), {})
    assert debit_accounts(result) == [("Meals", Decimal("10.00"))]


def test_number_needs_the_preference_one_active_account_and_full_names_win():
    view = ListsView.of(
        {**{a: True for a in ACCOUNTS}, "6110": True, "Old Travel": False, "Dup A": True, "Dup B": True},
        numbers={**NUMBERS, "Old Travel": "6999", "Dup A": "7000", "Dup B": "7000"},
        numbers_in_use=True,
    )
    assert view.account("6110").full_name == "6110" and view.account("6110").number is None  # an account named "6110"
    assert view.account("6120").full_name == "Travel:Lodging"
    assert "inactive" in (view.account("6999").problem or "")
    assert "2 active accounts" in (view.account("7000").problem or "")
    off = dataclasses.replace(view, numbers_in_use=False)
    assert "does not use account numbers" in (off.account("6120").problem or "")
    assert ListsView().account("6120").full_name == "6120"  # lists not synced: sent as given


def test_cost_center_rules_choose_different_accounts_and_the_plan_names_the_rule():
    doc = report(expense("100.00", "AIRFR", allocations=(alloc("50", custom1="CC-100"), alloc("50", custom1="CC-200"))))
    result = plan_document(
        doc, company(mapping=RULES), facts(), numbered(accounts=[*ACCOUNTS, "Sales Travel"], classes=["Consulting", "Sales"]), directory(), {}
    )
    assert debit_accounts(result) == [("Travel:Airfare", Decimal("50.00")), ("Travel:Lodging", Decimal("50.00"))]
    assert any('rule "AIRFR/CC-100"' in d for d in result.decisions)
    assert any('rule "AIRFR/*"' in d for d in result.decisions)


# --- config -----------------------------------------------------------------------------------


def _raw(mapping: dict) -> dict:
    return {
        "companies": [
            {
                "id": "demo",
                "concur": {"client_id": "c", "client_secret": "s", "company_uuid": "u", "verify_webhook_signature": False},
                "qbwc": {"username": "u", "file_id": "{6B29FC40-CA47-1067-B31D-00DD010662DA}", "owner_id": "{6B29FC40-CA47-1067-B31D-00DD010662DB}"},
                "mapping": mapping,
            }
        ]
    }


def test_config_reads_the_new_mapping_keys():
    config = parse_config(
        _raw(
            {
                "account_source": "concur_account_code",
                "account_codes": {"6100-TRV": "6110"},
                "accounts": {"AIRFR/CC-100": "6110", "*/*": "Ask My Accountant"},
                "dimensions": {"cost_center": "custom1"},
            }
        ),
        Path("mlc.toml"),
        {},
    )
    m = config.companies[0].mapping
    assert (m.account_source, m.account_codes, m.dimensions["cost_center"]) == ("concur_account_code", {"6100-TRV": "6110"}, "custom1")


@pytest.mark.parametrize(
    ("mapping", "expected"),
    [
        ({"account_source": "gl"}, "mlc.toml: companies[0].mapping.account_source: expected one of 'expense_type', 'concur_account_code'"),
        ({"accounts": {"AIRFR": "6110"}}, 'mlc.toml: companies[0].mapping.accounts.AIRFR: expected "EXPENSE_TYPE/COST_CENTER" (either may be "*")'),
        (
            {"accounts": {"AIRFR/CC-1": "6110"}},
            "mlc.toml: companies[0].mapping.accounts.AIRFR/CC-1: a rule naming a cost center needs [companies.mapping.dimensions] cost_center (the Concur allocation field that holds it)",
        ),
    ],
)
def test_config_refuses_bad_mapping_keys_in_one_line(mapping, expected):
    with pytest.raises(ConfigError) as err:
        parse_config(_raw(mapping), Path("mlc.toml"), {})
    assert err.value.problems == [expected]
