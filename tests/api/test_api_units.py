"""Pure parts of the operator API: cursors, token matching, SSE framing, the JSON shapes round trip."""

from __future__ import annotations

import pytest

from shared.api import ChangeEvent, Document, DocumentDetail, Summary, normalise_amount
from shared.tokens import OperatorToken
from worker.api.auth import match_token
from worker.api.queries import BadRequest, decode_cursor, encode_cursor, parse_limit
from worker.api.stream import sse_event

TOKENS = [OperatorToken("ann", "a" * 20), OperatorToken("bob", "b" * 20, read_only=True)]


def test_cursor_round_trip_and_tampering():
    cursor = encode_cursor(["2026-01-05T09:00:00.000000Z", 17])
    assert decode_cursor(cursor, (str, int)) == ["2026-01-05T09:00:00.000000Z", 17]
    for bad in ("", "%%%", encode_cursor([1, 2]), encode_cursor(["x"]), encode_cursor(["x", True])):
        with pytest.raises(BadRequest):
            decode_cursor(bad, (str, int))


def test_limits():
    assert parse_limit(None) == 50 and parse_limit("500") == 500
    for bad in ("0", "501", "-1", "x"):
        with pytest.raises(BadRequest):
            parse_limit(bad)


@pytest.mark.parametrize(
    ("header", "name"),
    [
        (None, None),
        ("", None),
        ("Bearer " + "a" * 20, "ann"),
        ("bearer " + "b" * 20, "bob"),
        ("Bearer " + "a" * 19, None),
        ("Basic " + "a" * 20, None),
        ("Bearer", None),
        ("Bearer  ", None),
    ],
)
def test_match_token(header, name):
    token = match_token(TOKENS, header)
    assert (token.name if token else None) == name


def test_sse_framing():
    assert sse_event("change", '{"a":1}', 7) == b'id: 7\nevent: change\ndata: {"a":1}\n\n'
    assert sse_event("summary", "x\ny") == b"event: summary\ndata: x\ndata: y\n\n"


def test_amount_normalisation():
    assert normalise_amount("12.3") == "12.30" and normalise_amount("1,200") == "1200.00"
    assert normalise_amount("abc") is None and normalise_amount("NaN") is None


def test_shapes_round_trip_and_ignore_unknown_keys():
    doc = Document(id=1, company="a", kind="invoice", concur_id="I", state="posted", amount="1.00", quickbooks_txn_id="T")
    assert Document.from_dict({**doc.to_dict(), "future_field": 1}) == doc
    detail = DocumentDetail(doc, {"x": 1}, None, [], [])
    assert DocumentDetail.from_dict(detail.to_dict()) == detail
    summary = Summary("now", [], {"total": 0})
    assert Summary.from_dict(summary.to_dict()) == summary
    assert (
        ChangeEvent.from_dict({"audit": {"id": 1, "company": "a", "document_id": None, "at": "t", "actor": "w", "action": "x"}, "document": None}).document
        is None
    )
