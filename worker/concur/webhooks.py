"""Concur Event Subscription Service webhooks: signature check and envelope parsing (pure).

The signature scheme lives only in ``SIGNATURE_SCHEME``/``verify_signature``: it is the best
public evidence (RSA-PSS, SHA-256, MGF1-SHA-256, maximal salt, over the raw body, base64 in the
``Concur-Signature`` header), not an SAP-documented contract, so it must stay easy to change.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from shared.types import DocKind

SIGNATURE_HEADER = "Concur-Signature"
EXPENSE_REPORT_TOPIC = "public.concur.expense.report"
# Not documented by SAP (see CONCUR-API.md §2.2); handled in case it exists, the sweep covers invoices.
INVOICE_TOPIC = "public.concur.invoice.paymentrequest"
# Financial Integration Service: ``{expense|invoice}.readyForIntegration`` (only wakes the FIS poll).
FIS_TOPIC = "public.concur.financialintegration"
MAX_EVENT_ID = 200


def _pss() -> padding.PSS:
    # AUTO accepts any salt length on verification, including Concur's maximal (222-byte) salt.
    return padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.AUTO)


_VERIFY_PADDING = _pss()  # immutable: made once, not per webhook
_SHA256 = hashes.SHA256()


SIGNATURE_SCHEME = "RSASSA-PSS/SHA-256/MGF1-SHA-256/salt=auto over the raw body, base64"


def load_public_keys(pems: list[bytes]) -> list[rsa.RSAPublicKey]:
    """Parse PEM public keys (SubjectPublicKeyInfo or an X.509 certificate); raises ValueError."""
    keys: list[rsa.RSAPublicKey] = []
    for pem in pems:
        if b"BEGIN CERTIFICATE" in pem:
            from cryptography import x509

            key: object = x509.load_pem_x509_certificate(pem).public_key()
        else:
            key = serialization.load_pem_public_key(pem)
        if not isinstance(key, rsa.RSAPublicKey):
            raise ValueError("Concur signature key must be an RSA key")
        keys.append(key)
    return keys


def verify_signature(public_keys: list[bytes] | list[rsa.RSAPublicKey], raw_body: bytes, header: str | None) -> bool:
    """True when ``header`` is a valid signature of ``raw_body`` under any of the keys (current and
    previous keys, so a rotation does not drop events). Missing/garbled header -> False."""
    if not header or not header.strip():
        return False
    try:
        signature = base64.b64decode(header.strip(), validate=True)
    except (binascii.Error, ValueError):
        return False
    if not signature:
        return False
    keys = [k if isinstance(k, rsa.RSAPublicKey) else load_public_keys([k])[0] for k in public_keys]
    for key in keys:
        try:
            key.verify(signature, raw_body, _VERIFY_PADDING, _SHA256)
            return True
        except (InvalidSignature, ValueError):
            continue
    return False


def sign(private_key: rsa.RSAPrivateKey, raw_body: bytes) -> str:
    """The counterpart of ``verify_signature`` (for tests; the simulator has its own copy)."""
    sig = private_key.sign(raw_body, padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.MAX_LENGTH), hashes.SHA256())
    return base64.b64encode(sig).decode("ascii")


class BadEvent(ValueError):
    """The body is not a Concur event envelope; the message is safe to return in a 400."""


@dataclass(frozen=True)
class Event:
    id: str
    topic: str  # always with the "public." prefix
    event_type: str
    company_id: str  # facts.companyId, else the older envelope's subtopic; "" when neither
    timestamp: str
    facts: dict[str, Any] = field(default_factory=dict)
    subtopic: str | None = None
    href: str | None = None
    report_id: str | None = None
    payment_request_id: str | None = None
    correlation_id: str | None = None

    @property
    def approval_status(self) -> str:
        return str(self.facts.get("currentApprovalStatus") or "")

    @property
    def payment_status(self) -> str:
        return str(self.facts.get("currentPaymentStatus") or "")

    @property
    def last_modified(self) -> str:
        """facts.lastModifiedDate as sent (v4 reports carry no modification time of their own, so
        this, or the sweep's LastModifiedDate, is what to pass to fetch_document(modified_at=...))."""
        return str(self.facts.get("lastModifiedDate") or "")


def _str(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, (str, int, Decimal)) and not isinstance(value, bool):
        text = str(value).strip()
        return text or None
    return None


def normalise_topic(topic: str) -> str:
    """Samples say both ``concur.expense.report`` and ``public.concur.expense.report``."""
    topic = topic.strip()
    return topic if topic.startswith("public.") else f"public.{topic}"


def parse_event(raw_body: bytes) -> Event:
    try:
        data = json.loads(raw_body, parse_float=Decimal)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadEvent("body is not JSON") from exc
    except RecursionError:
        raise BadEvent("body is nested too deeply") from None
    if not isinstance(data, dict):
        raise BadEvent("event is not a JSON object")
    event_id = _str(data.get("id"))
    if not event_id:
        raise BadEvent("event has no id")
    if len(event_id) > MAX_EVENT_ID:
        raise BadEvent("event id too long")
    topic = _str(data.get("topic"))
    if not topic:
        raise BadEvent("event has no topic")
    event_type = _str(data.get("eventType"))
    if not event_type:
        raise BadEvent("event has no eventType")
    facts = data.get("facts")
    if facts is None:
        facts = {}
    if not isinstance(facts, dict):
        raise BadEvent("facts is not an object")
    subtopic = _str(data.get("subtopic"))
    normalised_topic = normalise_topic(topic)
    payment_request_id = None
    if normalised_topic == INVOICE_TOPIC:
        # Undocumented topic: accept the plausible spellings of the id.
        for key in ("paymentRequestId", "PaymentRequestId", "requestId", "paymentRequestID", "id"):
            payment_request_id = _str(facts.get(key))
            if payment_request_id:
                break
    return Event(
        id=event_id,
        topic=normalised_topic,
        event_type=event_type,
        company_id=_str(facts.get("companyId")) or subtopic or "",
        timestamp=_str(data.get("timeStamp")) or "",
        facts=facts,
        subtopic=subtopic,
        href=_str(facts.get("href")),
        report_id=_str(facts.get("reportId")),
        payment_request_id=payment_request_id,
        correlation_id=_str(data.get("correlationId")),
    )


def object_of(event: Event) -> tuple[DocKind, str] | None:
    """Which Concur document an event is about, or None for topics we store and ignore."""
    if event.topic == EXPENSE_REPORT_TOPIC and event.report_id:
        return DocKind.EXPENSE_REPORT, event.report_id
    if event.topic == INVOICE_TOPIC and event.payment_request_id:
        return DocKind.INVOICE, event.payment_request_id
    return None
