from __future__ import annotations

import pytest

from worker.qbxml.hresults import HRESULTS, USER_ACTION_CODES, HresultKind, hex_code, lookup, parse_hresult


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("0x80040400", 0x80040400),
        ("0X8004040a", 0x8004040A),
        ("8004040A", 0x8004040A),
        ("80040408", 0x80040408),  # eight digits: the hex form QBWC logs use
        ("-2147220480", 0x80040400),
        (" 0x80040414 ", 0x80040414),
        (-2147220480, 0x80040400),
        (0x80040400, 0x80040400),
        ("", None),
        (None, None),
        ("0x", None),
        ("zzz", None),
        ("99999999999", None),
    ],
)
def test_parse_hresult(raw: object, code: int | None) -> None:
    assert parse_hresult(raw) == code  # type: ignore[arg-type]


def test_table_covers_the_digest_codes() -> None:
    digest = [0x80040400, 0x80040401, 0x80040402, 0x80040403, 0x80040408, 0x8004040A, 0x8004040D, 0x80040410,
              0x80040414, 0x80040416, 0x80040417, 0x80040418, 0x8004041A, 0x8004041B, 0x8004041C, 0x8004041D,
              0x8004041E, 0x8004042C, 0x8004041F, 0x80040420, 0x80040422, 0x80040423, 0x80040424, 0x80040427,
              0x8004042A]  # fmt: skip
    assert set(digest) <= set(HRESULTS)
    # The ones the UI must show as "someone at the QuickBooks PC has to act" (digest §6.16).
    assert {0x80040408, 0x8004040A, 0x80040410, 0x80040414, 0x80040418, 0x8004041D} <= USER_ACTION_CODES
    assert lookup("0x80040400").kind is HresultKind.PARSE_ERROR  # type: ignore[union-attr]
    assert lookup("0x80040423").kind is HresultKind.VERSION  # type: ignore[union-attr]
    assert lookup("0x12345678") is None
    assert hex_code(0x8004040A) == "0x8004040A"
    for entry in HRESULTS.values():
        assert entry.text.endswith((".", ")")) and len(entry.text) < 300
