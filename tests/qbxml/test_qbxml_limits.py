from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from worker.qbxml import limits


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Müller GmbH", "Müller GmbH"),  # Latin-1 letters are kept: existing vendors must match
        ("Łukasz Żółć", "Lukasz Zólc"),
        ("Café – “Bar” ‘x’…", "Café - \"Bar\" 'x'..."),
        ("Dvořák & Søn", "Dvorák & Søn"),
        ("Œuvre €5", "OEuvre EUR5"),
        ("ﬁle №5", "file No5"),
        ("a\x00b\x07c\x85d", "abcd"),
        ("zero\u200bwidth", "zerowidth"),
        ("山田 太郎", ""),
        ("Tokyo 東京 Office", "Tokyo Office"),
        ("😀 Smile", "Smile"),
    ],
)
def test_to_latin1(text: str, expected: str) -> None:
    assert limits.to_latin1(text) == expected


def test_to_ascii_folds_fully() -> None:
    assert limits.to_ascii("Łukasz Żółć") == "Lukasz Zolc"
    assert limits.to_ascii("Straße Ørsted Æble") == "Strasse Orsted AEble"


def test_replacement_marks_each_dropped_run_once() -> None:
    assert limits.to_latin1("A 東京 B 😀😀", replacement="?") == "A ? B ?"


@given(st.text())
@settings(max_examples=300)
def test_to_latin1_always_encodable_and_stable(text: str) -> None:
    result = limits.to_latin1(text)
    result.encode("latin-1")  # never raises
    assert limits.to_latin1(result) == result
    assert all(ord(c) >= 0x20 or c in "\t\n\r" for c in result)
    assert not any(0x7F <= ord(c) < 0xA0 for c in result)


def test_fit_plain_and_disambiguated() -> None:
    assert limits.fit("short", 41) == "short"
    assert limits.fit("x" * 50, 41) == "x" * 41
    a = limits.fit("Very long vendor name that goes on and on - A", 41, disambiguate=True)
    b = limits.fit("Very long vendor name that goes on and on - B", 41, disambiguate=True)
    assert len(a) == len(b) == 41
    assert a != b and a.startswith("Very long vendor name") and "~" in a
    assert limits.fit("Very long vendor name that goes on and on - A", 41, disambiguate=True) == a


@given(st.text(min_size=0, max_size=200), st.integers(min_value=1, max_value=80))
def test_fit_respects_limit_and_is_idempotent(text: str, limit: int) -> None:
    once = limits.fit(text, limit, disambiguate=True)
    assert len(once) <= limit
    assert limits.fit(once, limit, disambiguate=True) == once


@given(st.text(max_size=120))
def test_vendor_name_is_idempotent(name: str) -> None:
    once = limits.vendor_name(name)
    assert len(once) <= limits.VENDOR_NAME
    assert limits.vendor_name(once) == once


def test_fit_full_name_cuts_each_level() -> None:
    name = "A" * 40 + ":" + "B" * 10
    assert limits.fit_full_name(name) == "A" * 31 + ":" + "B" * 10
    assert len(limits.fit_full_name(":".join(["C" * 31] * 8))) == 159


def test_full_name_problems() -> None:
    assert limits.full_name_problems("Travel:Airfare") == []
    assert limits.full_name_problems("") == ["is empty"]
    assert any("31" in p for p in limits.full_name_problems("Travel:" + "x" * 32))
    assert any("Latin-1" in p for p in limits.full_name_problems("Reise:東京"))
    assert any("empty level" in p for p in limits.full_name_problems("Travel::Air"))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (Decimal("123.45"), "123.45"),
        (Decimal("412.3"), "412.30"),
        (Decimal("0.005"), "0.01"),
        (Decimal("-12.345"), "-12.35"),
        (Decimal("-0.001"), "0.00"),
        (7, "7.00"),
        ("19.999", "20.00"),
        (Decimal("9999999999999.99"), "9999999999999.99"),
    ],
)
def test_amount(value: object, expected: str) -> None:
    assert limits.amount(value) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize("value", [Decimal("NaN"), Decimal("Infinity"), "abc", Decimal("10000000000000.00")])
def test_amount_refuses(value: object) -> None:
    with pytest.raises(ValueError):
        limits.amount(value)  # type: ignore[arg-type]


def test_dates_and_guids() -> None:
    assert limits.date_text(dt.date(2024, 5, 31)) == "2024-05-31"
    assert limits.datetime_text(dt.datetime(2024, 1, 2, 3, 4, 5, 999)) == "2024-01-02T03:04:05"
    tz = dt.timezone(dt.timedelta(hours=-5))
    assert limits.datetime_text(dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=tz)) == "2024-01-02T03:04:05-05:00"
    assert limits.guid("9b2e4c1a-0d3f-4a5b-8c7d-112233445566") == "{9B2E4C1A-0D3F-4A5B-8C7D-112233445566}"
    assert limits.same_guid("{9b2e4c1a-0d3f-4a5b-8c7d-112233445566}", "9B2E4C1A-0D3F-4A5B-8C7D-112233445566")
    assert not limits.same_guid("{9b2e4c1a-0d3f-4a5b-8c7d-112233445566}", None)
    with pytest.raises(ValueError):
        limits.guid("not-a-guid")
    assert limits.version_tuple("13.0") == (13, 0)
    with pytest.raises(ValueError):
        limits.version_tuple("13")


def test_fit_full_name_never_leaves_an_empty_level() -> None:
    name = "A" * 31 + ":" + "B" * 31 + ":" + "C" * 31 + ":" + "D" * 31 + ":" + "E" * 31 + ":F"
    fitted = limits.fit_full_name(name)
    assert len(fitted) <= 159 and "" not in fitted.split(":")
    assert limits.fit_full_name("Travel : Airfare ") == "Travel:Airfare"
