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
    """An answer arrived: the outstanding set is answered. Returns its requestIDs."""
    answered = session.outstanding
    session.outstanding = []
    session.answered += len(answered)
    session.last_seen_at = now
    return answered


def progress(answered: int, remaining: int) -> int:
    """QBWC's percentage: 100 only when nothing is left, never 100 while work remains."""
    if remaining <= 0:
        return 100
    done = answered * 100 // max(answered + remaining, 1)
    return max(1, min(99, done))
