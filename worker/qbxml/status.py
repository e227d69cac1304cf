"""What each qbXML ``statusCode`` means for ml-connector, as a table.

The session code asks ``classify(code, message)`` for every ``*Rs`` and acts on the outcome:
retry later, re-query and re-apply, hold the document with a reason that names the missing
account/class/vendor, or fail it. ``hresult_outcome`` does the same for the HRESULT that comes
with an empty receiveResponseXML. Messages are QuickBooks' own (digest §4.1); the raw message is
always kept beside the outcome.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from worker.qbxml.hresults import HresultKind, connection_error_message, lookup, parse_hresult

__all__ = [
    "TEXT_DEPENDENT",
    "Classification",
    "HresultOutcome",
    "Outcome",
    "classify",
    "connection_error_message",
    "hresult_outcome",
    "missing_reference",
    "name_in_use",
]


class Outcome(StrEnum):
    OK = "ok"  # 0 (and other Info codes): read the *Ret
    NOT_FOUND = "not_found"  # 1: a query matched nothing; not an error
    WARN_OK = "warn_ok"  # 500-999: done, something was left out (partial query, unsupported field)
    NAME_IN_USE = "name_in_use"  # 3100: look up which list holds the name, then resolve
    MISSING_REFERENCE = "missing_reference"  # 3120/3130/3140: hold, naming the reference
    TRANSIENT = "transient"  # 1000; 3170/3175/3176/3180 with a lock tail: retry later (bounded)
    REFUSED = "refused"  # 3170/3175/3176/3180 without a lock tail: QuickBooks' validation; hold with its words
    STALE_EDIT_SEQUENCE = "stale_edit_sequence"  # 3200: re-query, re-apply (at most 3 times)
    STALE_ITERATOR = "stale_iterator"  # 3391: restart the query
    FEATURE_OFF = "feature_off"  # 3250: e.g. class tracking off; a configuration matter
    PERMISSION = "permission"  # 3260/3261: QuickBooks user rights / personal data
    FATAL = "fatal"  # anything else: the request will not succeed as it is


@dataclass(frozen=True)
class Classification:
    outcome: Outcome
    code: int
    message: str
    ref_type: str = ""  # MISSING_REFERENCE: "Account", "Class", "Vendor", "Customer", "parent", "object"
    ref_name: str = ""  # MISSING_REFERENCE: the name or ID QuickBooks could not use; NAME_IN_USE: the name
    in_txn: str = ""  # MISSING_REFERENCE: where, e.g. "Bill" or "Customers list"

    @property
    def reason(self) -> str:
        """A sentence for a held/failed document's reason."""
        if self.outcome is Outcome.MISSING_REFERENCE and self.ref_name:
            what = self.ref_type if self.ref_type not in ("", "object") else "record"
            return f'QuickBooks has no usable {what} "{self.ref_name}" (missing or inactive; status {self.code})'
        if self.outcome is Outcome.NAME_IN_USE and self.ref_name:
            return f'the name "{self.ref_name}" is already used in QuickBooks (status 3100)'
        return f"QuickBooks status {self.code}: {self.message}".strip()


# Codes whose meaning depends on the message text: a lock (retry) or a validation failure (hold).
TEXT_DEPENDENT = frozenset({3170, 3175, 3176, 3180})

# 3170/3175/3176/3180 tails that mean "someone else holds it" (consolibyte's list, digest §4.1).
_LOCK_TAILS = (
    "list has been modified by another user",
    "internals could not be locked",
    "failed to acquire the lock",
    "list element is in use",
    "could not be locked",
    "in use by another user",
    "already in use",
    "by another user",  # "... is being used by another user", "... modified by another user"
)

# 'There is an invalid reference to QuickBooks Account "Travel:Airfare" in the Bill.'
_INVALID_REF = re.compile(r'invalid reference to (?:QuickBooks )?(?P<type>.+?) "(?P<name>.*)" in the (?P<txn>[^.]+)', re.IGNORECASE | re.DOTALL)
# 'There is an invalid reference to a parent "X" in the Customers list.'
_INVALID_PARENT = re.compile(r'invalid reference to a parent "(?P<name>.*)" in the (?P<txn>[^.]+)', re.IGNORECASE | re.DOTALL)
# 'Object "8000001B-1405768916" specified in the request cannot be found.'
_OBJECT_NOT_FOUND = re.compile(r'Object "(?P<name>[^"]*)" specified in the request cannot be found', re.IGNORECASE)
# 'The name "X" of the list element is already in use.'
_NAME_IN_USE = re.compile(r'The name "(?P<name>.*)" of the list element is already in use', re.IGNORECASE | re.DOTALL)


def missing_reference(message: str) -> tuple[str, str, str] | None:
    """``(type, name, where)`` from a 3120/3130/3140 message, or None."""
    message = message or ""
    match = _INVALID_PARENT.search(message)
    if match:
        return "parent", match.group("name"), match.group("txn").strip()
    match = _INVALID_REF.search(message)
    if match:
        return match.group("type").strip(), match.group("name"), match.group("txn").strip()
    match = _OBJECT_NOT_FOUND.search(message)
    if match:
        return "object", match.group("name"), ""
    return None


def name_in_use(message: str) -> str | None:
    match = _NAME_IN_USE.search(message or "")
    return match.group("name") if match else None


def _has_lock_tail(message: str) -> bool:
    lowered = (message or "").casefold()
    return any(tail in lowered for tail in _LOCK_TAILS)


def classify(code: int, message: str = "", severity: str = "") -> Classification:
    """The outcome for one ``*Rs`` status. ``severity`` is only a tie-breaker for odd codes."""
    message = message or ""
    if code == 0:
        return Classification(Outcome.OK, code, message)
    if code == 1:
        return Classification(Outcome.NOT_FOUND, code, message)
    if 2 <= code <= 499:
        return Classification(Outcome.OK, code, message)
    if 500 <= code <= 999:
        return Classification(Outcome.WARN_OK, code, message)
    if code == 1000:
        return Classification(Outcome.TRANSIENT, code, message)
    if code == 3100:
        return Classification(Outcome.NAME_IN_USE, code, message, ref_name=name_in_use(message) or "")
    if code in (3120, 3130, 3140):
        found = missing_reference(message)
        if found is None:
            return Classification(Outcome.MISSING_REFERENCE, code, message)
        ref_type, ref_name, where = found
        return Classification(Outcome.MISSING_REFERENCE, code, message, ref_type, ref_name, where)
    if code in TEXT_DEPENDENT:
        # One code, two meanings: "in use by another user" passes; anything else is QuickBooks
        # refusing the data, which no retry changes (digest §4.1, consolibyte's tails).
        outcome = Outcome.TRANSIENT if _has_lock_tail(message) else Outcome.REFUSED
        return Classification(outcome, code, message)
    if code == 3200:
        return Classification(Outcome.STALE_EDIT_SEQUENCE, code, message)
    if code == 3391:
        return Classification(Outcome.STALE_ITERATOR, code, message)
    if code == 3250:
        return Classification(Outcome.FEATURE_OFF, code, message)
    if code in (3260, 3261):
        return Classification(Outcome.PERMISSION, code, message)
    if code < 0 and severity.casefold() == "info":  # statusCode missing but QuickBooks says Info
        return Classification(Outcome.OK, code, message)
    return Classification(Outcome.FATAL, code, message)


class HresultOutcome(StrEnum):
    NONE = "none"  # no hresult: read the response
    QUARANTINE = "quarantine"  # 0x80040400: QuickBooks could not parse it; never resend blindly
    RETRY = "retry"  # nothing was processed; send again in a later session
    UNCERTAIN = "uncertain"  # unknown failure: writes may or may not have happened; settle by query


# Failures that can strike while QuickBooks is running the requests (crash, aborted connection).
_MAY_HAVE_RUN = frozenset({0x80040402, 0x8004041C})


def hresult_outcome(hresult: str | int | None) -> HresultOutcome:
    """What an HRESULT on receiveResponseXML means for the requests of that message set.

    QuickBooks parses a whole message set before running any of it, so a parse error means
    nothing was applied; the connection-level codes also mean nothing ran. For any other code
    we cannot know and the writes go to ``unknown``.
    """
    code = parse_hresult(hresult)
    if code is None or code == 0:
        if hresult is None or (isinstance(hresult, str) and not hresult.strip()) or code == 0:
            return HresultOutcome.NONE
        return HresultOutcome.UNCERTAIN
    known = lookup(code)
    if known is None or code in _MAY_HAVE_RUN:
        return HresultOutcome.UNCERTAIN
    if known.kind is HresultKind.PARSE_ERROR:
        return HresultOutcome.QUARANTINE
    if known.kind in (HresultKind.RETRY, HresultKind.USER_ACTION, HresultKind.WRONG_FILE, HresultKind.VERSION):
        return HresultOutcome.RETRY
    return HresultOutcome.UNCERTAIN
