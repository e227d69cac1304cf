import base64
import json

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from shared.types import DocKind
from worker.concur.webhooks import BadEvent, load_public_keys, object_of, parse_event, sign, verify_signature

from concur_helpers import reference

ESS_EVENTS = [
    "expense_report.reportCreated.json",
    "expense_report.reportUpdated.json",
    "expense_report.reportDeleted.json",
    "expense_report.statusChanged.accounting_review.json",
    "expense_report.statusChanged.pending_cost_object.json",
    "expense_report.statusChanged.resubmitted_to_manager.json",
]


@pytest.fixture(scope="module")
def keypair():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return key, pem


@pytest.mark.parametrize("name", ESS_EVENTS)
def test_expense_report_fixtures_parse_and_map_to_the_report(name):
    raw = reference("ess", name).read_bytes()
    event = parse_event(raw)
    data = json.loads(raw)
    assert event.id == data["id"]
    assert event.topic == "public.concur.expense.report"  # with or without the prefix in the sample
    assert event.event_type == data["eventType"]
    assert event.company_id == data["facts"]["companyId"]
    assert object_of(event) == (DocKind.EXPENSE_REPORT, data["facts"]["reportId"])
    assert event.href == data["facts"].get("href")  # reportDeleted has none


def test_status_changed_facts_give_statuses_and_the_owner_href_not_the_actor():
    event = parse_event(reference("ess", "expense_report.statusChanged.accounting_review.json").read_bytes())
    assert event.approval_status == "A_ACCO" and event.payment_status == "P_NOTP"
    assert event.last_modified == "2023-04-10T21:54:16.661Z"
    assert event.facts["userId"] not in event.href  # userId is the approver; href names the owner


@pytest.mark.parametrize("name", ["financialintegration.expense.readyForIntegration.json", "financialintegration.invoice.readyForIntegration.json"])
def test_fis_events_parse_but_are_not_ours(name):
    event = parse_event(reference("ess", name).read_bytes())
    assert event.topic == "public.concur.financialintegration"
    assert event.subtopic and event.company_id  # companyId from facts, not the entity subtopic
    assert event.company_id != event.subtopic
    assert object_of(event) is None


def test_older_envelope_with_subtopic_as_company():
    raw = json.dumps(
        {
            "id": "e1",
            "topic": "concur.expense.report",
            "subtopic": "COMPANY-UUID",
            "eventType": "statusChanged",
            "timeStamp": "2021-03-18T23:11:51.034Z",
            "facts": {"reportId": "ABC"},
        }
    ).encode()
    event = parse_event(raw)
    assert event.company_id == "COMPANY-UUID"
    assert object_of(event) == (DocKind.EXPENSE_REPORT, "ABC")


def test_invoice_topic_maps_to_the_payment_request_and_unknown_topics_to_none():
    raw = json.dumps(
        {"id": "e2", "topic": "public.concur.invoice.paymentrequest", "eventType": "statusChanged", "facts": {"companyId": "c", "paymentRequestId": "gW12$ab"}}
    ).encode()
    assert object_of(parse_event(raw)) == (DocKind.INVOICE, "gW12$ab")
    other = json.dumps({"id": "e3", "topic": "public.concur.travel.itinerary", "eventType": "x", "facts": {}}).encode()
    assert object_of(parse_event(other)) is None


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"not json",
        b"[1,2]",
        b'{"topic":"t","eventType":"x"}',
        b'{"id":"a","eventType":"x"}',
        b'{"id":"a","topic":"t"}',
        b'{"id":"a","topic":"t","eventType":"x","facts":[1]}',
        b'{"id":"' + b"x" * 300 + b'","topic":"t","eventType":"x"}',
        b"\xff\xfe",
    ],
)
def test_malformed_events_raise_bad_event(raw):
    with pytest.raises(BadEvent):
        parse_event(raw)


def test_signature_round_trip_and_tampering(keypair):
    key, pem = keypair
    body = reference("ess", "expense_report.statusChanged.resubmitted_to_manager.json").read_bytes()
    header = sign(key, body)
    assert verify_signature([pem], body, header)
    assert not verify_signature([pem], body.replace(b"A_PEND", b"A_APPR"), header)
    assert not verify_signature([pem], body + b" ", header)
    assert not verify_signature([pem], body, None)
    assert not verify_signature([pem], body, "")
    assert not verify_signature([pem], body, "%%% not base64 %%%")
    assert not verify_signature([pem], body, base64.b64encode(b"\x00" * 256).decode())


def test_signature_accepts_any_configured_key_for_rotation(keypair):
    key, pem = keypair
    body = b'{"id":"x"}'
    concur_keys = [reference("ess", f"concur-signature.public_key.{n}.pem").read_bytes() for n in ("after_2025-10-22", "before_2025-10-22", "legacy_2022")]
    assert not verify_signature(concur_keys, body, sign(key, body))  # someone else's signature
    assert verify_signature([*concur_keys, pem], body, sign(key, body))  # current + previous keys


def test_published_keys_and_certificate_load():
    pems = [reference("ess", f"concur-signature.public_key.{n}.pem").read_bytes() for n in ("after_2025-10-22", "before_2025-10-22", "legacy_2022")]
    cert = reference("ess", "mtls", "2026.webhook.api.concursolutions.com.pem").read_bytes()
    keys = load_public_keys([*pems, cert])
    assert all(k.key_size == 2048 for k in keys)
    # The "after" key is the 2026 client certificate's key.
    assert keys[0].public_numbers() == keys[3].public_numbers()
