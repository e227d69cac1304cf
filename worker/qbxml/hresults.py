"""HRESULTs that QBWC reports from QuickBooks' request processor, as data.

They arrive in ``connectionError`` (QuickBooks could not be opened) or in
``receiveResponseXML`` with an empty ``response`` (ProcessRequest threw). Wording follows the
reference digest §4.2; some texts there are paraphrased, so the raw ``message`` QBWC sent is
always shown next to ours.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum


class HresultKind(StrEnum):
    PARSE_ERROR = "parse_error"  # QuickBooks could not parse our qbXML: our bug
    RETRY = "retry"  # QuickBooks busy/locked/not ready: try again in a later session
    USER_ACTION = "user_action"  # someone at the QuickBooks PC must do something
    WRONG_FILE = "wrong_file"  # another company file is open
    VERSION = "version"  # qbXML version not supported
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Hresult:
    code: int
    kind: HresultKind
    text: str  # plain words for the operator


_TABLE: tuple[Hresult, ...] = (
    Hresult(0x80040400, HresultKind.PARSE_ERROR,
            "QuickBooks could not parse the request ml-connector sent. The request was set aside; "
            "this is a defect to report, retrying the same request will not help."),
    Hresult(0x80040401, HresultKind.RETRY, "Could not access QuickBooks. ml-connector will try again on the next run."),
    Hresult(0x80040402, HresultKind.UNKNOWN,
            "QuickBooks reported an unexpected error (see qbsdklog.txt on the QuickBooks PC)."),
    Hresult(0x80040403, HresultKind.USER_ACTION,
            "QuickBooks could not open the company file. Check that the file exists and is not damaged."),
    Hresult(0x80040408, HresultKind.USER_ACTION,
            "QuickBooks could not be started. Open QuickBooks with the company file, or allow this "
            "application to log in automatically (Edit > Preferences > Integrated Applications)."),
    Hresult(0x8004040A, HresultKind.WRONG_FILE,
            "A different QuickBooks company file is open. Open the company file this connection "
            "belongs to, then run the Web Connector again."),
    Hresult(0x8004040D, HresultKind.RETRY, "The Web Connector session ticket was not accepted. It will be renewed on the next run."),
    Hresult(0x80040410, HresultKind.USER_ACTION,
            "The company file is open in a mode that blocks this connection (single-user). Switch "
            "QuickBooks to multi-user mode or close the other user's session."),
    Hresult(0x80040414, HresultKind.USER_ACTION,
            "A dialog box is open in QuickBooks. Close it (and any open forms), then run the Web Connector again."),
    Hresult(0x80040416, HresultKind.USER_ACTION,
            "QuickBooks is not running and no company file was named. Open QuickBooks with the company file."),
    Hresult(0x80040417, HresultKind.USER_ACTION, "No company file is open in QuickBooks. Open the company file."),
    Hresult(0x80040418, HresultKind.USER_ACTION,
            "This application has not been authorised for the company file. A QuickBooks administrator "
            "must open the file and accept the ml-connector certificate prompt."),
    Hresult(0x8004041A, HresultKind.USER_ACTION,
            "This application has no permission to access the company file. Check Edit > Preferences > "
            "Integrated Applications in QuickBooks (as administrator)."),
    Hresult(0x8004041B, HresultKind.RETRY, "QuickBooks could not lock the company file. ml-connector will try again later."),
    Hresult(0x8004041C, HresultKind.RETRY, "QuickBooks had an internal error and closed the connection. ml-connector will try again later."),
    Hresult(0x8004041D, HresultKind.USER_ACTION,
            "QuickBooks does not allow this application to log in when nobody is at the PC. In "
            "QuickBooks (as administrator) tick 'Allow this application to login automatically'."),
    Hresult(0x8004041E, HresultKind.USER_ACTION, "The application certificate has expired. Re-authorise the application in QuickBooks."),
    Hresult(0x8004041F, HresultKind.USER_ACTION, "This QuickBooks edition is not supported by the connection (check AuthFlags in the .qwc file)."),
    Hresult(0x80040420, HresultKind.USER_ACTION, "The QuickBooks user denied access to this application. Re-authorise it in QuickBooks."),
    Hresult(0x80040422, HresultKind.RETRY,
            "QuickBooks needs single-user access and another application holds the file. ml-connector will try again later."),
    Hresult(0x80040423, HresultKind.VERSION,
            "This QuickBooks does not support the qbXML version requested. Lower qbxml_version in the "
            "configuration or update QuickBooks."),
    Hresult(0x80040424, HresultKind.RETRY, "QuickBooks has not finished starting. ml-connector will try again later."),
    Hresult(0x80040427, HresultKind.USER_ACTION, "QuickBooks is not registered. Register QuickBooks, then run the Web Connector again."),
    Hresult(0x8004042A, HresultKind.USER_ACTION, "QuickBooks does not allow remote access for this application."),
    Hresult(0x8004042C, HresultKind.USER_ACTION, "The application certificate has been revoked. Re-authorise the application in QuickBooks."),
)  # fmt: skip

HRESULTS: dict[int, Hresult] = {h.code: h for h in _TABLE}

# connectionError answers that need someone at the QuickBooks PC (shown prominently in the UI).
USER_ACTION_CODES = frozenset(h.code for h in _TABLE if h.kind in (HresultKind.USER_ACTION, HresultKind.WRONG_FILE))


def parse_hresult(value: str | int | None) -> int | None:
    """``"0x80040400"``, ``"80040400"``, ``"-2147220480"`` or an int -> 0x80040400; None if empty/odd."""
    if value is None:
        return None
    if isinstance(value, int):
        return value & 0xFFFFFFFF
    text = value.strip()
    if not text:
        return None
    try:
        if re.fullmatch(r"[0-9a-fA-F]{8}", text):  # "80040400": eight digits is the hex form
            return int(text, 16)
        if re.fullmatch(r"[+-]?\d{1,11}", text):  # decimal (possibly signed 32-bit)
            number = int(text)
            if number > 0xFFFFFFFF or number < -0x80000000:
                return None
            return number & 0xFFFFFFFF
        if re.fullmatch(r"(0[xX])?[0-9a-fA-F]{1,8}", text):
            return int(text, 16)
    except ValueError:
        return None
    return None


def lookup(value: str | int | None) -> Hresult | None:
    code = parse_hresult(value)
    return None if code is None else HRESULTS.get(code)


def hex_code(code: int) -> str:
    return f"0x{code:08X}"


def _clip(text: str, limit: int = 300) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def connection_error_message(hresult: str | int | None, message: str | None) -> str:
    """One plain paragraph for the operator: what happened, what to do, and QuickBooks' words."""
    code = parse_hresult(hresult)
    raw = _clip(message or "")
    known = HRESULTS.get(code) if code is not None else None
    if known is not None:
        text = f"{known.text} (QuickBooks error {hex_code(known.code)}"
    elif code is not None:
        text = f"QuickBooks could not be reached (error {hex_code(code)}"
    else:
        text = "QuickBooks could not be reached (no error code"
    text += f': "{raw}")' if raw else ")"
    return text
