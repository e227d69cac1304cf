"""Refusals on demand: the status codes whose meaning depends on the message text.

QuickBooks answers 3170, 3175, 3176 and 3180 both when another user holds what a request needs
(a lock: retrying later works) and when it refuses the data itself (a validation failure:
retrying changes nothing). Only the message tells them apart, so the simulator produces both.

Lock texts are QuickBooks' words as the digest gives them (QBWC-AND-QBXML.md §4.1: 3170 "The
internals could not be locked. They are in use by another user." with its prefix paraphrased;
3175 "The transaction could not be locked. It is in use by another user."; 3176 "... because it is
already in use." (the digest marks that code-to-text mapping unverified); 3180 "This list has been
modified by another user."). The validation texts are (unverified): the public documents give no
verbatim validation message for these codes, so each keeps QuickBooks' usual "There was an error
when saving a <Txn>. QuickBooks error message: ..." frame with a plain data complaint and no lock
words.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Meaning = Literal["lock", "validation"]

LOCK_TEXTS = {
    3170: "There was an error when saving a {txn}.  QuickBooks error message: The internals could not be locked. They are in use by another user.",
    3175: "There was an error when saving a {txn}.  QuickBooks error message: The transaction could not be locked. It is in use by another user.",
    3176: "There was an error adding, modifying or deleting {txn} because it is already in use.",
    3180: "There was an error when saving a {txn}.  QuickBooks error message: This list has been modified by another user.",
}
VALIDATION_TEXTS = {  # (unverified)
    3170: "There was an error when saving a {txn}.  QuickBooks error message: The account type does not allow this transaction.",
    3175: "There was an error when saving a {txn}.  QuickBooks error message: The transaction is not valid for this account.",
    3176: "There was an error when saving a {txn}.  QuickBooks error message: A line amount is outside the range QuickBooks accepts.",
    3180: "There was an error when saving a {txn}.  QuickBooks error message: The amount is too large.",
}


def refusal_text(code: int, meaning: Meaning, txn: str) -> str:
    table = LOCK_TEXTS if meaning == "lock" else VALIDATION_TEXTS
    return table[code].format(txn=txn)


@dataclass
class Refusal:
    """The next ``times`` requests named ``request`` (e.g. "JournalEntryAdd", "ClassQuery") are
    refused with ``code`` and ``message``; ``times=None`` refuses every one."""

    request: str
    code: int
    message: str
    times: int | None = 1
    used: int = 0

    def take(self, request: str) -> bool:
        if request != self.request or (self.times is not None and self.used >= self.times):
            return False
        self.used += 1
        return True
