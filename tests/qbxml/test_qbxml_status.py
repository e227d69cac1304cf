from __future__ import annotations

from pathlib import Path

import pytest

from worker.qbxml.parse import parse_message_set
from worker.qbxml.status import HresultOutcome, Outcome, classify, connection_error_message, hresult_outcome


@pytest.mark.parametrize(
    ("code", "message", "outcome"),
    [
        (0, "Status OK", Outcome.OK),
        (1, "A query request did not find a matching object in QuickBooks", Outcome.NOT_FOUND),
        (500, 'The query request has not been fully completed. There was a required element ("x")', Outcome.WARN_OK),
        (530, 'The field "X" is not supported by this implementation.', Outcome.WARN_OK),
        (1000, "Internal error", Outcome.TRANSIENT),
        (3100, 'The name "Jane Doe" of the list element is already in use.', Outcome.NAME_IN_USE),
        (3170, "There was an error when modifying a Vendor list. The internals could not be locked.", Outcome.TRANSIENT),
        (3175, "There was an error when modifying a Bill. The transaction could not be locked. It is in use by another user.", Outcome.TRANSIENT),
        (3176, "There was an error adding, modifying or deleting 1-1 because it is already in use.", Outcome.TRANSIENT),
        (3180, "There was an error when saving a Customers list. QuickBooks error message: This list has been modified by another user.", Outcome.TRANSIENT),
        (3180, "There was an error when saving a Bill transaction. QuickBooks error message: The amount is too large.", Outcome.REFUSED),
        # 3170/3176 (and 3175): one code, two meanings, told apart by the text (lock vs validation).
        (3170, "There was an error when saving a Bill.  QuickBooks error message: The account type does not allow this transaction.", Outcome.REFUSED),
        (3176, "There was an error adding, modifying or deleting JournalEntry because it is already in use.", Outcome.TRANSIENT),
        (
            3176,
            "There was an error when saving a JournalEntry.  QuickBooks error message: A line amount is outside the range QuickBooks accepts.",
            Outcome.REFUSED,
        ),
        (3175, "There was an error when saving a Bill.  QuickBooks error message: The transaction is not valid for this account.", Outcome.REFUSED),
        (3200, 'The provided edit sequence "1416315972" is out-of-date.', Outcome.STALE_EDIT_SEQUENCE),
        (3391, "The iteratorID {x} is not valid", Outcome.STALE_ITERATOR),
        (3250, "This feature is not enabled or not available in this version of QuickBooks.", Outcome.FEATURE_OFF),
        (3260, "Insufficient permission level to perform this action.", Outcome.PERMISSION),
        (3261, "The integrated application has no permission to access personal data.", Outcome.PERMISSION),
        (3000, 'The given object ID "x" in the field "list id" is invalid.', Outcome.FATAL),
        (3020, "Date conversion error", Outcome.FATAL),
        (9999, "", Outcome.FATAL),
    ],
)
def test_classify_table(code: int, message: str, outcome: Outcome) -> None:
    assert classify(code, message).outcome is outcome


def test_missing_reference_names_account_and_transaction() -> None:
    result = classify(3140, 'There is an invalid reference to QuickBooks Account "Travel:Airfare" in the Bill.')
    assert result.outcome is Outcome.MISSING_REFERENCE
    assert (result.ref_type, result.ref_name, result.in_txn) == ("Account", "Travel:Airfare", "Bill")
    assert "Account" in result.reason and "Travel:Airfare" in result.reason


def test_missing_reference_variants() -> None:
    klass = classify(3140, 'There is an invalid reference to QuickBooks Class "Consulting" in the Journal Entry.  QuickBooks error message: Invalid argument.')
    assert (klass.ref_type, klass.ref_name, klass.in_txn) == ("Class", "Consulting", "Journal Entry")
    vendor = classify(3140, 'There is an invalid reference to QuickBooks Vendor "Łukasz "Big" Żółć" in the Bill.')
    assert (vendor.ref_type, vendor.ref_name) == ("Vendor", 'Łukasz "Big" Żółć')
    stale = classify(3120, 'Object "8000001B-1405768916" specified in the request cannot be found.  QuickBooks error message: Invalid argument.')
    assert (stale.outcome, stale.ref_type, stale.ref_name) == (Outcome.MISSING_REFERENCE, "object", "8000001B-1405768916")
    odd = classify(3140, "Something QuickBooks never said before")
    assert odd.outcome is Outcome.MISSING_REFERENCE and odd.ref_name == "" and "3140" in odd.reason


def test_real_batch_statuses(samples: Path) -> None:
    responses = parse_message_set((samples / "real-responses" / "hotglue-customer-batch-mixed.response.xml").read_bytes())
    results = [classify(r.status_code, r.status_message, r.status_severity) for r in responses]
    assert [r.outcome for r in results] == [
        Outcome.OK, Outcome.NAME_IN_USE, Outcome.FEATURE_OFF, Outcome.MISSING_REFERENCE, Outcome.OK,
    ]  # fmt: skip
    assert results[1].ref_name == "HG-BATCH-MIX-1785964184-1"
    assert (results[3].ref_type, results[3].ref_name, results[3].in_txn) == (
        "parent", "NONEXISTENT-PARENT-CUSTOMER", "Customers list",
    )  # fmt: skip
    error = parse_message_set((samples / "real-responses" / "qbwc-gem-CustomerQueryRs-3120-Error.xml").read_bytes())[0]
    assert classify(error.status_code, error.status_message).ref_name == "8000001B-1405768916"


@pytest.mark.parametrize(
    ("hresult", "outcome"),
    [
        ("", HresultOutcome.NONE),
        (None, HresultOutcome.NONE),
        ("0x80040400", HresultOutcome.QUARANTINE),
        ("80040400", HresultOutcome.QUARANTINE),
        ("-2147220480", HresultOutcome.QUARANTINE),  # the same code as a signed int
        (0x80040400, HresultOutcome.QUARANTINE),
        ("0x8004041B", HresultOutcome.RETRY),
        ("0x80040424", HresultOutcome.RETRY),
        ("0x80040402", HresultOutcome.UNCERTAIN),
        ("0x8004041C", HresultOutcome.UNCERTAIN),
        ("0x80049999", HresultOutcome.UNCERTAIN),
        ("garbage", HresultOutcome.UNCERTAIN),
    ],
)
def test_hresult_outcome(hresult: object, outcome: HresultOutcome) -> None:
    assert hresult_outcome(hresult) is outcome  # type: ignore[arg-type]


def test_connection_error_message_is_plain() -> None:
    text = connection_error_message("0x80040408", "Could not start QuickBooks.")
    assert "QuickBooks could not be started" in text and "0x80040408" in text and "Could not start QuickBooks." in text
    assert "different QuickBooks company file" in connection_error_message("0x8004040A", "")
    assert "0x80049999" in connection_error_message("0x80049999", "odd")
    assert "no error code" in connection_error_message("", "x" * 1000)
    assert len(connection_error_message("", "x" * 1000)) < 400
