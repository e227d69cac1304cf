"""The console's pure parts: SSE parsing, backoff, formatting, card text, view matching."""

from __future__ import annotations

import datetime as dt

import pytest

from console.client import Backoff, SseEvent, SseParser
from console.format import age, short_time
from console.widgets.company_card import card_text
from console.widgets.qbxml_viewer import postings_text
from console.widgets.sparkline import sparkline
from shared.api import CompanySummary, Document, Posting, view_matches


def parse(lines: list[str]) -> tuple[list[SseEvent], SseParser]:
    parser = SseParser()
    return [e for e in (parser.feed(line) for line in lines) if e is not None], parser


def test_sse_parser_reads_events_ids_comments_and_multiline_data():
    events, parser = parse(
        [
            "retry: 2000",
            "",
            ": heartbeat",
            "",
            "event: summary",
            'data: {"a":',
            "data: 1}",
            "",
            "id: 42",
            "event: change",
            "data:{}",
            "",
        ]
    )
    assert events == [SseEvent("summary", '{"a":\n1}', None), SseEvent("change", "{}", "42")]
    assert parser.last_event_id == "42"


def test_backoff_doubles_to_a_ceiling_and_resets():
    b = Backoff(initial=1.0, maximum=4.0)
    delays = [b.next() for _ in range(5)]
    assert 0.8 <= delays[0] <= 1.2 and 3.2 <= delays[-1] <= 4.8
    assert delays[1] > delays[0] * 1.3
    b.reset()
    assert b.next() <= 1.2


@pytest.mark.parametrize(("seconds", "text"), [(None, "-"), (5, "5s"), (125, "2m"), (3 * 3600 + 300, "3h 05m"), (2 * 86400 + 7200, "2d 2h")])
def test_age(seconds, text):
    assert age(seconds) == text


def test_sparkline_and_times():
    assert sparkline([0, 0, 0]) == "▁▁▁"
    assert sparkline([0, 1, 8]) == "▁▂█"
    assert short_time("2026-01-05T09:30:00.000000Z") == "01-05 09:30"
    assert short_time(None) == "-"


def test_card_text_makes_trouble_stand_out():
    c = CompanySummary(
        id="x",
        name="X",
        counts={"queued": 3, "posted": 2},
        total=5,
        pending=3,
        oldest_pending_at="2026-01-06T11:00:00.000000Z",
        pending_offline=3,
        pending_offline_since="2026-01-06T10:00:00.000000Z",
        quickbooks_unreachable_since="2026-01-06T10:00:00.000000Z",
        concur="needs_reconnect",
        concur_reason="refresh token revoked",
        webhooks_received=4,
        webhooks_rejected=1,
        duplicates_skipped=2,
        postings_per_minute=[0] * 29 + [3],
    )
    text = card_text(c, dt.datetime(2026, 1, 6, 12, 0, tzinfo=dt.UTC))
    plain = text.plain
    assert "queued 3 posted 2" in plain and "oldest 1h 00m" in plain and "3 pending offline since 01-06 10:00" in plain
    assert "NEEDS RECONNECT" in plain and "refresh token revoked" in plain and plain.rstrip().endswith("3 in 30m")
    styles = {str(span.style) for span in text.spans if "NEEDS RECONNECT" in plain[span.start : span.end]}
    assert any("red" in s for s in styles)


def test_view_matching_mirrors_the_api_views():
    doc = Document(id=1, company="a", kind="invoice", concur_id="I", state="queued")
    assert view_matches("pending", doc) and view_matches("", doc) and view_matches("queued", doc)
    assert not view_matches("pending_offline", doc) and view_matches("pending_offline", doc, {"a"})
    dup = Document(id=2, company="a", kind="invoice", concur_id="J", state="skipped", reason="duplicate of J")
    assert view_matches("duplicates", dup) and not view_matches("pending", dup)


def test_qbxml_viewer_text():
    assert "no qbXML yet" in postings_text([])
    text = postings_text(
        [Posting(id=1, seq=0, op="BillAdd", state="done", status_code=0, status_message="Status OK", request_xml="<BillAddRq/>", response_xml="<BillAddRs/>")]
    )
    assert "BillAdd · done" in text and "status 0 Status OK" in text and "<BillAddRq/>" in text and "<BillAddRs/>" in text


def test_run_console_without_a_token_file_exits_2(tmp_path, capsys):
    from console.launch import run_console

    assert run_console("http://127.0.0.1:9", tmp_path / "missing.token") == 2
    assert "not found" in capsys.readouterr().err
