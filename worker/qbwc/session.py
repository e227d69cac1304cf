"""The QBWC session state machine: pure values and transitions, no store, no clock of its own.

One ``Session`` per ticket. QBWC's order of calls (Guide ch. 8) is

    authenticate -> sendRequestXML -> receiveResponseXML -> sendRequestXML -> ... -> closeConnection

with getLastError after an empty request or a negative progress, and connectionError in place of
sendRequestXML when QuickBooks cannot be opened. A sendRequestXML that arrives while a request set
is still unanswered means the answer was lost somewhere between QuickBooks and us: the writes it
carried may or may not have been applied, so they become *uncertain* and are settled by a query
before anything is sent again. That rule lives here, in ``on_send``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from enum import StrEnum

TICKET_IDLE_SECONDS = 30 * 60
MAX_NOOPS = 6  # short waits for the planner within one session; then end and come back next run


class Phase(StrEnum):
    OPEN = "open"  # authenticated; the first sendRequestXML (with the HCP answer) not yet seen
    READY = "ready"  # company file checked; work may flow
    REFUSED = "refused"  # wrong company file or no common qbXML version: nothing is sent
    CLOSED = "closed"


@dataclass
class Session:
    ticket: str
    company: str
    created_at: float
    last_seen_at: float
    phase: Phase = Phase.OPEN
    qbxml_version: str = ""
    # requestIDs of the request set handed out and not yet answered
    outstanding: list[str] = field(default_factory=list)
    # list_type -> iteratorID; only valid inside this QuickBooks session
    iterators: dict[str, str] = field(default_factory=dict)
    # list_type -> newest TimeModified read in this session's pass; the store's checkpoint moves
    # to it only when the pass has read every page
    pass_newest: dict[str, str] = field(default_factory=dict)
    # list_type -> when an unfiltered (full) pass began; what it did not see was deleted
    full_pass_started: dict[str, str] = field(default_factory=dict)
    last_error: str = ""
    answered: int = 0  # requests answered in this session (for progress)
    client: str = ""  # the Web Connector's address
    noops: int = 0
    handed_at: float = 0.0  # when the outstanding set left for QuickBooks
    pace_s: float = 0.0  # seconds per request this QuickBooks took so far (0: not measured yet)
    # sendRequestXML answered "" to wait for the planner: the next getLastError says "NoOp"
    # (kept in the session, since any worker may answer that getLastError)
    noop_pending: bool = False

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> Session:
        data = json.loads(text)
        data["phase"] = Phase(data["phase"])
        return cls(**data)

    def expired(self, now: float) -> bool:
        return now - self.last_seen_at > TICKET_IDLE_SECONDS


@dataclass(frozen=True)
class SendDecision:
    """What ``on_send`` found before new work is chosen."""

    lost: tuple[str, ...]  # requestIDs whose answer never came: their writes are now uncertain
    first_call: bool


def on_send(session: Session, now: float, has_hcp: bool) -> SendDecision:
    """A sendRequestXML arrived: note what was lost and whether this is the session's first call."""
    lost = tuple(session.outstanding)
    session.outstanding = []
    session.last_seen_at = now
    first = session.phase is Phase.OPEN
    if first and not has_hcp:
        # QBWC always sends the HCP on the first call; without it the file cannot be checked.
        refuse(session, "the Web Connector sent no company file information (strHCPResponse); nothing was sent")
    return SendDecision(lost=lost, first_call=first)


def refuse(session: Session, reason: str) -> None:
    session.phase = Phase.REFUSED
    session.last_error = reason


def handed_out(session: Session, request_ids: list[str]) -> None:
    session.outstanding = list(request_ids)
    session.noops = 0


def on_receive(session: Session, now: float) -> list[str]:
    """An answer arrived: the outstanding set is answered. Returns its requestIDs. The time since
    it was handed out (QuickBooks' work, plus the way there and back) sets the session's pace."""
    answered = session.outstanding
    session.outstanding = []
    if answered and session.handed_at and now > session.handed_at:
        pace = (now - session.handed_at) / len(answered)
        session.pace_s = pace if not session.pace_s else (session.pace_s + pace) / 2
    session.answered += len(answered)
    session.last_seen_at = now
    return answered


def set_size(pace_s: float, most: int, target_s: float, first: int) -> int:
    """How many requests the next set may carry: about ``target_s`` of QuickBooks' work at the
    session's measured pace (``first`` before anything is measured), between 1 and ``most``.
    Fewer, larger sets leave QuickBooks less time idle between them (each costs two round trips);
    a slow QuickBooks still answers each set well inside the Web Connector's patience."""
    wanted = first if pace_s <= 0 else int(target_s / pace_s)
    return max(1, min(most, wanted))


def progress(answered: int, remaining: int) -> int:
    """QBWC's percentage: 100 only when nothing is left, never 100 while work remains."""
    if remaining <= 0:
        return 100
    done = answered * 100 // max(answered + remaining, 1)
    return max(1, min(99, done))


# --- the right company file (issue 14 §2) --------------------------------------------------------


@dataclass(frozen=True)
class CompanyFile:
    """A company file as a session sees it: the FileID under our OwnerID (None: the file carries
    none), QuickBooks' company name and the path the Web Connector opened (strCompanyFileName)."""

    file_id: str | None
    company_name: str
    path: str


class FileVerdict(StrEnum):
    FIRST = "first"  # nothing recorded yet: record this file and trust it from now on
    SAME = "same"  # the recorded file
    GAINED_FILE_ID = "gained_file_id"  # recorded without a FileID; the same file now carries ours
    NO_FILE_ID = "no_file_id"  # one was recorded, this file has none: refused
    OTHER_FILE = "other_file"  # another FileID than the recorded one: refused
    COPY = "copy"  # same FileID (or both none) but another path or company name: a copy or backup, refused

    @property
    def refused(self) -> bool:
        return self in (FileVerdict.NO_FILE_ID, FileVerdict.OTHER_FILE, FileVerdict.COPY)


def _norm_id(file_id: str | None) -> str:
    return (file_id or "").strip().strip("{}").casefold()


def judge_company_file(recorded: CompanyFile | None, seen: CompanyFile) -> FileVerdict:
    """Is ``seen`` the file recorded on the company's first contact? Paths compare
    case-insensitively (Windows); company names exactly, after trimming."""
    if recorded is None:
        return FileVerdict.FIRST
    same_place = seen.path.strip().casefold() == recorded.path.strip().casefold() and seen.company_name.strip() == recorded.company_name.strip()
    if recorded.file_id:
        if not seen.file_id:
            return FileVerdict.NO_FILE_ID
        if _norm_id(seen.file_id) != _norm_id(recorded.file_id):
            return FileVerdict.OTHER_FILE
        return FileVerdict.SAME if same_place else FileVerdict.COPY
    # Recorded without a FileID: only the place tells it apart, and a FileID it gains (the Web
    # Connector registers ours when the .qwc is added) is learned, not a reason to refuse.
    if not same_place:
        return FileVerdict.COPY
    return FileVerdict.GAINED_FILE_ID if seen.file_id else FileVerdict.SAME


def _describe(f: CompanyFile) -> str:
    return f"{f.company_name or 'unnamed'} at {f.path or 'an unknown path'}" + (f" (FileID {f.file_id})" if f.file_id else " (no FileID)")


def file_refusal(verdict: FileVerdict, company: str, recorded: CompanyFile, seen: CompanyFile) -> str:
    """The text getLastError shows in the Web Connector's status column (and the console, the API
    and the audit trail): what is wrong and how to fix it."""
    accept = f"If this file is now the right one, accept it with `mlc accept-company-file {company}`."
    if verdict is FileVerdict.COPY:
        what = f"QuickBooks opened a copy or backup of the company file: {_describe(seen)}; ml-connector posts to {_describe(recorded)}"
        fix = f"Open the original file (or set company_file to its path). {accept}"
    elif verdict is FileVerdict.NO_FILE_ID:
        what = f"QuickBooks opened {_describe(seen)}, which carries no ml-connector FileID; ml-connector posts to {_describe(recorded)}"
        fix = f"Open that file in QuickBooks (or set company_file to its path). {accept}"
    else:
        what = f"QuickBooks opened another company file: {_describe(seen)}; ml-connector posts to {_describe(recorded)}"
        fix = f"Open the right file (or set company_file to its path). {accept}"
    return f"{what}. Nothing was sent. {fix}"


def on_company_file(session: Session, recorded: CompanyFile | None, seen: CompanyFile) -> FileVerdict:
    """The session's first call showed ``seen``: judge it against the recorded file; a refused
    file ends the session's work (nothing is sent) with a message saying how to fix it."""
    verdict = judge_company_file(recorded, seen)
    if verdict.refused and recorded is not None:
        refuse(session, file_refusal(verdict, session.company, recorded, seen))
    return verdict
