"""Turn allocation percentages into cent amounts that add up exactly to the parent amount.

Where Concur states each allocation's amount (v4 ``allocationAmount``) that figure is the truth
and is posted as is, so that Concur and QuickBooks reconcile per cost center. Only where Concur
gives percentages alone (v3 allocations, invoice allocations), or where its amounts do not add
up to the expense, are amounts computed here, by largest remainder: every share is within one
cent of its exact value and the shares sum to the parent to the cent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Protocol

from shared.domain import Allocation
from shared.types import cents


class SplitError(ValueError):
    """The weights cannot divide an amount (none given, negative, or all zero)."""


def split_amount(total: Decimal, weights: Sequence[Decimal]) -> list[Decimal]:
    """Split ``total`` (rounded to the cent) in proportion to ``weights``.

    Largest remainder: each share is first rounded down (towards zero) to the cent, then the
    cents left over go one each to the shares with the largest dropped fractions; equal
    fractions go to the lower index, so the result is deterministic. Weights need not sum to
    100 (Concur's 33.33/33.33/33.33 is fine): they are proportions. A negative total (a credit)
    is split like its absolute value and negated.
    """
    if not weights:
        raise SplitError("nothing to split into: no weights")
    fractions = [Fraction(w) for w in weights]
    if any(f < 0 for f in fractions):
        raise SplitError("weights must not be negative")
    weight_sum = sum(fractions)
    if weight_sum == 0:
        raise SplitError("weights add up to zero")
    total_cents = int(cents(total) * 100)
    sign = -1 if total_cents < 0 else 1
    magnitude = abs(total_cents)
    exact = [magnitude * f / weight_sum for f in fractions]
    floors = [int(e) for e in exact]  # exact >= 0, so int() is floor
    left_over = magnitude - sum(floors)
    # Largest dropped fraction first; the index breaks ties so equal remainders favour the start.
    order = sorted(range(len(exact)), key=lambda i: (-(exact[i] - floors[i]), i))
    for i in order[:left_over]:
        floors[i] += 1
    return [Decimal(sign * c).scaleb(-2) for c in floors]


class _Allocated(Protocol):
    """Both ``Expense`` and ``InvoiceLine``: an amount and its allocations."""

    @property
    def amount(self) -> Decimal: ...

    @property
    def allocations(self) -> tuple[Allocation, ...]: ...


@dataclass(frozen=True)
class AllocationSplit:
    amounts: tuple[Decimal, ...]
    # "whole" (no allocations: one line), "amounts" (Concur's figures), "percentages"
    # (only percentages given), "percentages_fallback" (Concur's amounts did not add up).
    method: str
    note: str = ""


def allocation_split(item: _Allocated) -> AllocationSplit:
    """How ``item``'s amount divides over its allocations, in allocation order."""
    total = cents(item.amount)
    allocations = item.allocations
    if not allocations:
        return AllocationSplit((total,), "whole")
    stated = [a.amount for a in allocations if a.amount is not None]
    note = ""
    if len(stated) == len(allocations):  # Concur stated every amount
        amounts = tuple(cents(a) for a in stated)
        if sum(amounts, Decimal(0)) == total:
            return AllocationSplit(amounts, "amounts")
        note = f"Concur's allocation amounts add up to {sum(amounts, Decimal(0)):.2f}, not {total:.2f}"
    try:
        amounts = tuple(split_amount(total, [a.percentage for a in allocations]))
    except SplitError as exc:
        raise SplitError(f"{note + '; ' if note else ''}allocation percentages unusable: {exc}") from None
    return AllocationSplit(amounts, "percentages_fallback" if note else "percentages", note)


def allocation_amounts(item: _Allocated) -> list[Decimal]:
    """The cent amount of each allocation of ``item`` (one amount when it has none)."""
    return list(allocation_split(item).amounts)
