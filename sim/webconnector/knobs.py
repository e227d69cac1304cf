"""Fault knobs for the Web Connector simulator: the things that go wrong at a customer's PC."""

from __future__ import annotations

from dataclasses import dataclass

# HRESULTs QBWC passes to connectionError, with QuickBooks' messages (see the reference §4.2).
QB_CLOSED = ("0x80040408", "Could not start QuickBooks.")
OTHER_COMPANY_OPEN = ("0x8004040A", "There is already a QuickBooks company data file open, and it is different "
                                    "from the one requested.")
MODAL_DIALOG = ("0x80040414", "A modal dialog box is showing in the QuickBooks user interface. Your application "
                              "cannot access QuickBooks until the user dismisses the dialog box.")


@dataclass
class FaultKnobs:
    quickbooks_closed: bool = False
    other_company_open: bool = False
    modal_dialog: bool = False
    lose_response_probability: float = 0.0  # a receiveResponseXML lost after QuickBooks applied the request
    lose_responses: frozenset[int] = frozenset()  # 1-based receiveResponseXML numbers (within a session) to lose
    kill_after_calls: int | None = None  # Web Connector killed after this many SOAP calls in a session
    network_latency_s: float = 0.0  # added before each SOAP call (scaled by the clock)
    user_edits_vendors: tuple[str, ...] = ()  # edited in QuickBooks before each session (EditSequence moves on)
    seed: int = 0  # for the random parts
    max_noops: int = 1000  # a run of NoOp pauses longer than this ends the session (guards endless loops)
    connection_error_retries: int = 2  # QBWC retries "a couple of times" when connectionError returns a path

    def connection_fault(self) -> tuple[str, str] | None:
        if self.quickbooks_closed:
            return QB_CLOSED
        if self.other_company_open:
            return OTHER_COMPANY_OPEN
        if self.modal_dialog:
            return MODAL_DIALOG
        return None

