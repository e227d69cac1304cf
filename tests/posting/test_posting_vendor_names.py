"""Payee names QuickBooks cannot hold as written: a ``:`` separates FullName levels.

Regression: hypothesis once named an employee ":"; the planner sent EntityRef FullName ":" and
the builder raised BuildError ("has an empty level"). A name is now fitted the one way
``limits.vendor_name`` fits it (colon -> space) everywhere it is used, or the document is held
with a reason when nothing usable is left.
"""

from __future__ import annotations

import pytest

from worker.posting.plan import Hold, Plan, plan_document
from worker.posting.vendors import CreateVendor, QbVendor, UseVendor, VendorDirectory, suffixed_name
from worker.qbxml import limits
from worker.qbxml.build import build_message_set
from worker.qbxml.model import JournalEntryAdd, Tagged

from posting_factories import company, directory, expense, facts, lists, report


def _plan(name: str, *, as_bill: bool = False, vendors: VendorDirectory | None = None) -> Plan | Hold:
    doc = report(expense("120.00"), owner=report().owner.__class__("E-1", name))
    comp = company(expense_report_as="bill" if as_bill else "journal_entry")
    result = plan_document(doc, comp, facts(), lists(), vendors if vendors is not None else VendorDirectory.of([]), {})
    assert isinstance(result, Plan | Hold), result
    return result


@pytest.mark.parametrize("name", [":", " : ", "::", ":\u6771\u4eac:"])
@pytest.mark.parametrize("as_bill", [False, True])
def test_a_name_of_colons_is_held_with_a_reason(name: str, as_bill: bool) -> None:
    result = _plan(name, as_bill=as_bill)
    assert isinstance(result, Hold), result
    assert "no name usable in QuickBooks" in result.reason
    assert "':'" in result.reason


@pytest.mark.parametrize(("name", "fitted"), [("a:b", "a b"), ("Sales: Jane Doe", "Sales Jane Doe"), (":Jane:", "Jane")])
def test_a_colon_in_a_name_becomes_a_space_in_every_request(name: str, fitted: str) -> None:
    result = _plan(name)
    assert isinstance(result, Plan), result
    assert isinstance(result.vendor_action, CreateVendor)
    assert result.vendor_action.add.name == fitted
    (je,) = result.transactions
    assert isinstance(je, JournalEntryAdd)
    entities = [line.entity.full_name for line in je.lines if line.entity is not None]
    assert entities == [fitted]
    text = build_message_set([Tagged(str(i + 1), r) for i, r in enumerate([result.vendor_action.add, je])])
    assert f"<Name>{fitted}</Name>" in text
    assert f"<EntityRef><FullName>{fitted}</FullName></EntityRef>" in text


def test_the_fitted_name_matches_the_vendor_created_earlier() -> None:
    result = _plan("a:b", as_bill=True, vendors=directory(QbVendor(list_id="80000099-1234567890", name="a b", account_number="E-1")))
    assert isinstance(result, Plan), result
    assert isinstance(result.vendor_action, UseVendor)
    assert result.vendor_action.list_id == "80000099-1234567890"


def test_vendor_name_rule() -> None:
    assert limits.vendor_name(":") == ""
    assert limits.vendor_name("a:b") == "a b"
    assert limits.vendor_name(limits.vendor_name("x" * 30 + ":" + "y" * 30)) == limits.vendor_name("x" * 30 + ":" + "y" * 30)
    assert ":" not in suffixed_name("a:b", 2)
    assert suffixed_name("a:b", 2) == "a b (V2)"
