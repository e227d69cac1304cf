"""The sender shell: a JSON POST with a ``text`` field (what Slack and Teams incoming webhooks
accept) and email over SMTP with STARTTLS. Each send raises ``DeliveryError`` on any failure; the
caller records it and retries later."""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage

import httpx
import trio

from shared.config import AlertsConfig

WEBHOOK_TIMEOUT_S = 15.0
SMTP_TIMEOUT_S = 20.0


class DeliveryError(Exception):
    """Why an alert could not be delivered (never carries a secret: URLs and passwords stay out)."""


def channels(alerts: AlertsConfig) -> tuple[str, ...]:
    return tuple(name for name, on in (("webhook", bool(alerts.webhook_url)), ("email", alerts.email)) if on)


async def send_webhook(alerts: AlertsConfig, subject: str, text: str, http: httpx.AsyncClient) -> None:
    try:
        reply = await http.post(alerts.webhook_url.reveal(), json={"text": f"*{subject}*\n{text}"}, timeout=WEBHOOK_TIMEOUT_S)
    except httpx.HTTPError as exc:
        raise DeliveryError(f"webhook: {type(exc).__name__}") from None  # the exception text may quote the URL
    if reply.status_code >= 300:
        raise DeliveryError(f"webhook: HTTP {reply.status_code}")


def _tls_context(alerts: AlertsConfig) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(alerts.smtp_ca_file) if alerts.smtp_ca_file else None)


def _send_email_sync(alerts: AlertsConfig, subject: str, text: str, timeout_s: float) -> None:
    message = EmailMessage()
    message["From"] = alerts.email_from
    message["To"] = ", ".join(alerts.email_to)
    message["Subject"] = subject
    message.set_content(text)
    try:
        with smtplib.SMTP(alerts.smtp_host, alerts.smtp_port, timeout=timeout_s) as smtp:
            smtp.ehlo()
            if not smtp.has_extn("starttls"):
                raise DeliveryError(f"email: {alerts.smtp_host} does not offer STARTTLS; alerts are not sent in clear text")
            smtp.starttls(context=_tls_context(alerts))
            smtp.ehlo()
            if alerts.smtp_user:
                smtp.login(alerts.smtp_user, alerts.smtp_password.reveal())
            smtp.send_message(message)
    except DeliveryError:
        raise
    except (OSError, smtplib.SMTPException, ssl.SSLError) as exc:
        raise DeliveryError(f"email via {alerts.smtp_host}:{alerts.smtp_port}: {type(exc).__name__}: {_smtp_reason(exc)}") from None


def _smtp_reason(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPResponseException):
        text = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
        return f"{exc.smtp_code} {text[:200]}"
    return str(exc)[:200]


async def send_email(alerts: AlertsConfig, subject: str, text: str, timeout_s: float = SMTP_TIMEOUT_S) -> None:
    # smtplib blocks: a thread, abandoned if the job is cancelled (posting never waits for it).
    await trio.to_thread.run_sync(_send_email_sync, alerts, subject, text, timeout_s, abandon_on_cancel=True)
