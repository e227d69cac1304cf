from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from worker.posting.split import SplitError, allocation_amounts, allocation_split, split_amount

from posting_factories import alloc, expense, invoice_line

D = Decimal


def test_hundred_three_ways_gives_the_extra_cent_to_the_first():
    assert split_amount(D("100.00"), [D(1), D(1), D(1)]) == [D("33.34"), D("33.33"), D("33.33")]


def test_one_cent_three_ways():
    assert split_amount(D("0.01"), [D(1), D(1), D(1)]) == [D("0.01"), D("0.00"), D("0.00")]


def test_two_cents_three_ways_goes_to_the_first_two():
    assert split_amount(D("0.02"), [D(1), D(1), D(1)]) == [D("0.01"), D("0.01"), D("0.00")]


def test_largest_remainder_not_first_index():
    # exact shares 3.333.., 6.666..: the larger remainder (second) gets the cent
    assert split_amount(D("10.00"), [D(1), D(2)]) == [D("3.33"), D("6.67")]


def test_concur_percentages_that_do_not_sum_to_100_are_proportions():
    assert split_amount(D("100.00"), [D("33.33"), D("33.33"), D("33.33")]) == [D("33.34"), D("33.33"), D("33.33")]


def test_negative_total_is_split_symmetrically():
    assert split_amount(D("-100.00"), [D(1), D(1), D(1)]) == [D("-33.34"), D("-33.33"), D("-33.33")]


def test_total_is_rounded_to_the_cent_first():
    assert split_amount(D("10.005"), [D(1)]) == [D("10.01")]


def test_results_have_two_places():
    assert [str(x) for x in split_amount(D("5"), [D(50), D(50)])] == ["2.50", "2.50"]


@pytest.mark.parametrize("weights", [[], [D(0), D(0)], [D(1), D(-1)]])
def test_unusable_weights_raise(weights):
    with pytest.raises(SplitError):
        split_amount(D("1.00"), weights)


@settings(max_examples=300, deadline=None)
@given(
    total=st.decimals(min_value=D("-100000"), max_value=D("100000"), places=2),
    weights=st.lists(st.decimals(min_value=D("0"), max_value=D("100"), places=8), min_size=1, max_size=12).filter(lambda w: sum(w) > 0),
)
def test_split_is_exact_and_each_share_within_a_cent(total, weights):
    shares = split_amount(total, weights)
    assert sum(shares) == total
    assert all(s == s.quantize(D("0.01")) for s in shares)
    weight_sum = sum(Fraction(w) for w in weights)
    for share, weight in zip(shares, weights, strict=True):
        exact = Fraction(total) * Fraction(weight) / weight_sum
        assert abs(Fraction(share) - exact) < Fraction(1, 100)


@settings(max_examples=100, deadline=None)
@given(total=st.decimals(min_value=D("0"), max_value=D("1000"), places=2), n=st.integers(1, 7))
def test_split_is_deterministic_and_never_favours_later_ties(total, n):
    shares = split_amount(total, [D(1)] * n)
    assert shares == split_amount(total, [D(1)] * n)
    assert shares == sorted(shares, reverse=True)  # equal weights: extra cents go to the start


def test_no_allocations_is_one_line_for_the_whole_amount():
    split = allocation_split(expense("12.345"))
    assert split.amounts == (D("12.35"),) and split.method == "whole"


def test_stated_amounts_are_used_as_is():
    e = expense("100.00", allocations=(alloc("50", "40.00"), alloc("50", "60.00")))
    split = allocation_split(e)
    assert split.method == "amounts"
    assert split.amounts == (D("40.00"), D("60.00"))  # not 50/50: Concur's amounts are the truth


def test_stated_amounts_are_quantised():
    e = expense("100.00", allocations=(alloc("50", "49.99999999"), alloc("50", "50.00000001")))
    assert allocation_amounts(e) == [D("50.00"), D("50.00")]


def test_stated_amounts_that_do_not_add_up_fall_back_to_percentages():
    e = expense("100.00", allocations=(alloc("50", "40.00"), alloc("50", "59.00")))
    split = allocation_split(e)
    assert split.method == "percentages_fallback"
    assert split.amounts == (D("50.00"), D("50.00"))
    assert "99.00" in split.note and "100.00" in split.note


def test_partial_amounts_mean_percentages():
    e = expense("100.00", allocations=(alloc("25", "25.00"), alloc("75")))
    split = allocation_split(e)
    assert split.method == "percentages" and split.amounts == (D("25.00"), D("75.00"))


def test_percentages_only_split_by_largest_remainder():
    e = invoice_line("100.00", allocations=(alloc("33.33333333"), alloc("33.33333333"), alloc("33.33333334")))
    assert allocation_amounts(e) == [D("33.33"), D("33.33"), D("33.34")]


def test_zero_percentages_without_amounts_raise_with_a_reason():
    e = expense("10.00", allocations=(alloc("0"), alloc("0")))
    with pytest.raises(SplitError, match="percentages"):
        allocation_split(e)


@settings(max_examples=200, deadline=None)
@given(
    amount=st.decimals(min_value=D("-5000"), max_value=D("5000"), places=2),
    percentages=st.lists(st.decimals(min_value=D("0.00000001"), max_value=D("100"), places=8), min_size=1, max_size=6),
    with_amounts=st.booleans(),
)
def test_allocations_always_sum_to_the_expense(amount, percentages, with_amounts):
    allocations = tuple(alloc(str(p), "1.00" if with_amounts else None) for p in percentages)
    amounts = allocation_amounts(expense(str(amount), allocations=allocations))
    assert len(amounts) == len(percentages)
    assert sum(amounts) == amount
