"""Fault knobs for the Web Connector simulator: the things that go wrong at a customer's PC."""

from __future__ import annotations

from dataclasses import dataclass

# HRESULTs QBWC passes to connectionError, with QuickBooks' messages (see the reference §4.2).
QB_CLOSED = ("0x80040408", "Could not start QuickBooks.")
OTHER_COMPANY_OPEN = ("0x8004040A", "There is already a QuickBooks company data file open, and it is different from the one requested.")
CANNOT_OPEN_FILE = ("0x80040403", "Could not open the specified QuickBooks company data file.")
UNATTENDED_NOT_ALLOWED = (
    "0x8004041D",
    "This application is not allowed to log into this QuickBooks company data file "
    "automatically. The QuickBooks administrator can grant permission for an automatic "
    "login through the Integrated Application preferences.",
)
MODAL_DIALOG = (
    "0x80040414",
    "A modal dialog box is showing in the QuickBooks user interface. Your application cannot access QuickBooks until the user dismisses the dialog box.",
)


@dataclass
class FaultKnobs:
    quickbooks_closed: bool = False  # nobody has QuickBooks open; a company file path from authenticate still opens it
    unattended_allowed: bool = True  # the app may open the file "even if QuickBooks is not running"
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

    def opening_fault(self, requested: str, open_file: str) -> tuple[str, str] | None:
        """What happens when QBWC opens the session for authenticate's ``requested`` path
        ("" = the file open in QuickBooks) on a machine whose company file is ``open_file``.

        With QuickBooks closed and a path given, QBWC starts QuickBooks in the background and opens
        that file (Guide: a full path "opens that file"; unattended mode needs the application's
        "even if QuickBooks is not running" permission, else 0x8004041D). A path that is not this
        machine's file cannot be opened (0x80040403). Assumption (the documents are silent): the
        comparison of paths is case-insensitive, as Windows paths are."""
        named = bool(requested.strip())
        same = requested.strip().casefold() == open_file.casefold()
        if self.quickbooks_closed and named:
            if not same:
                return CANNOT_OPEN_FILE
            return None if self.unattended_allowed else UNATTENDED_NOT_ALLOWED
        fault = self.connection_fault()
        if fault is None and named and not same:
            return OTHER_COMPANY_OPEN  # QuickBooks has another file open than the one named
        return fault

    def connection_fault(self) -> tuple[str, str] | None:
        if self.quickbooks_closed:
            return QB_CLOSED
        if self.other_company_open:
            return OTHER_COMPANY_OPEN
        if self.modal_dialog:
            return MODAL_DIALOG
        return None
