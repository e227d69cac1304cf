"""The pure QBWC session state machine: call order, lost answers, progress, expiry."""

from __future__ import annotations

import pytest

from worker.qbwc.session import (
    TICKET_IDLE_SECONDS,
    CompanyFile,
    FileVerdict,
    Phase,
    Session,
    handed_out,
    judge_company_file,
    on_receive,
    on_send,
    progress,
    refuse,
    set_size,
)


def new_session(now: float = 1000.0) -> Session:
    return Session(ticket="t" * 32, company="demo", created_at=now, last_seen_at=now, client="10.0.0.5")


def test_first_send_with_the_company_file_information_is_the_first_call() -> None:
    session = new_session()
    decision = on_send(session, 1001.0, has_hcp=True)
    assert decision.first_call and decision.lost == ()
    assert session.phase is Phase.OPEN  # the service checks the file and moves it to READY
    assert session.last_seen_at == 1001.0


def test_first_send_without_company_file_information_is_refused() -> None:
    session = new_session()
    on_send(session, 1001.0, has_hcp=False)
    assert session.phase is Phase.REFUSED and "strHCPResponse" in session.last_error


def test_a_send_while_an_answer_is_outstanding_reports_those_requests_lost() -> None:
    session = new_session()
    session.phase = Phase.READY
    handed_out(session, ["17", "18", "u:3"])
    decision = on_send(session, 1002.0, has_hcp=False)
    assert decision.lost == ("17", "18", "u:3") and not decision.first_call
    assert session.outstanding == []
    # Answered sets are not lost.
    handed_out(session, ["19"])
    assert on_receive(session, 1003.0) == ["19"]
    assert on_send(session, 1004.0, has_hcp=False).lost == ()
    assert session.answered == 1


def test_handing_out_resets_the_noop_count() -> None:
    session = new_session()
    session.noops = 4
    handed_out(session, ["1"])
    assert session.noops == 0


def test_the_pace_of_quickbooks_is_measured_from_hand_out_to_answer() -> None:
    session = new_session()
    handed_out(session, ["1", "2", "3", "4"])
    session.handed_at = 1000.0
    on_receive(session, 1002.0)
    assert session.pace_s == 0.5  # 2 s for 4 requests
    handed_out(session, ["5", "6"])
    session.handed_at = 1003.0
    on_receive(session, 1003.5)
    assert session.pace_s == 0.375  # the new measure counts half
    on_receive(session, 1010.0)  # nothing outstanding: nothing measured
    assert session.pace_s == 0.375


def test_a_set_holds_about_the_target_time_of_quickbooks_work_within_bounds() -> None:
    assert set_size(0.0, most=100, target_s=5.0, first=40) == 40  # not measured yet
    assert set_size(0.05, most=100, target_s=5.0, first=40) == 100  # fast: the cap
    assert set_size(0.2, most=100, target_s=5.0, first=40) == 25  # slow: 5 s of its work
    assert set_size(30.0, most=100, target_s=5.0, first=40) == 1  # very slow: one at a time
    assert set_size(0.0, most=1, target_s=5.0, first=40) == 1  # the cap holds before measuring too


def test_progress_is_100_only_when_nothing_remains() -> None:
    assert progress(0, 0) == 100
    assert progress(500, 0) == 100
    assert progress(0, 10) == 1  # at least 1 while work remains, so the bar moves
    assert progress(99, 1) == 99
    assert progress(10_000, 1) == 99
    assert progress(1, 1) == 50


def test_expiry_after_thirty_idle_minutes() -> None:
    session = new_session(now=0.0)
    assert not session.expired(TICKET_IDLE_SECONDS - 1)
    assert session.expired(TICKET_IDLE_SECONDS + 1)


def test_json_round_trip_keeps_everything() -> None:
    session = new_session()
    refuse(session, "wrong file")
    handed_out(session, ["1", "l:Vendor"])
    session.iterators["Vendor"] = "{abc}"
    copy = Session.from_json(session.to_json())
    assert copy == session and copy.phase is Phase.REFUSED


# --- the right company file (issue 14 §2) --------------------------------------------------------


_PATH = r"C:\Company Files\Acme.QBW"
_RECORDED = CompanyFile("{AAAAAAAA-0000-0000-0000-000000000001}", "Acme", _PATH)


@pytest.mark.parametrize(
    "recorded, seen, verdict",
    [
        (None, CompanyFile(None, "Acme", _PATH), FileVerdict.FIRST),
        (_RECORDED, CompanyFile("{aaaaaaaa-0000-0000-0000-000000000001}", "Acme", _PATH.upper()), FileVerdict.SAME),
        (_RECORDED, CompanyFile(None, "Acme", _PATH), FileVerdict.NO_FILE_ID),
        (_RECORDED, CompanyFile("{BBBBBBBB-0000-0000-0000-000000000002}", "Acme", _PATH), FileVerdict.OTHER_FILE),
        (_RECORDED, CompanyFile(_RECORDED.file_id, "Acme", r"D:\Backup\Acme.QBW"), FileVerdict.COPY),
        (_RECORDED, CompanyFile(_RECORDED.file_id, "Acme (copy)", _PATH), FileVerdict.COPY),
        (CompanyFile(None, "Acme", _PATH), CompanyFile(None, "Acme", _PATH), FileVerdict.SAME),
        (CompanyFile(None, "Acme", _PATH), CompanyFile(_RECORDED.file_id, "Acme", _PATH), FileVerdict.GAINED_FILE_ID),
        (CompanyFile(None, "Acme", _PATH), CompanyFile(None, "Other", r"C:\Other.QBW"), FileVerdict.COPY),
    ],
)
def test_company_file_verdicts(recorded, seen, verdict):
    assert judge_company_file(recorded, seen) is verdict
    assert verdict.refused == (verdict in (FileVerdict.NO_FILE_ID, FileVerdict.OTHER_FILE, FileVerdict.COPY))
