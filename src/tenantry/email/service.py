"""Sending mail over SMTP, and the test email.

One path for every message (``send_mail``): plain SMTP to ``smtp_host:smtp_port``,
STARTTLS when ``smtp_starttls``, AUTH when a username is configured. Every header value
goes through ``email.headers.header_value`` first (no line breaks or controls reach a
header, whatever a user typed into a title or a name).
"""

from __future__ import annotations

import smtplib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import make_msgid

import structlog
from sqlalchemy.orm import Session

from tenantry.db.loop import off_loop
from tenantry.email import repository
from tenantry.email.errors import MailUnavailable, RecipientNotInTeam
from tenantry.email.headers import header_value
from tenantry.settings import Settings

__all__ = ["MailUnavailable", "SentMail", "send_mail", "send_test_email"]

_log = structlog.get_logger("tenantry.email")


@dataclass(frozen=True)
class SentMail:
    to: str
    mail_from: str
    subject: str
    body: str
    sent_at: datetime


def send_mail(settings: Settings, *, to: str, subject: str, body: str) -> SentMail:
    """Send one plain-text message; raises ``MailUnavailable`` when SMTP fails."""
    subject = header_value(subject)
    message = EmailMessage()
    message["From"] = header_value(settings.mail_from, max_chars=320)
    message["To"] = header_value(to, max_chars=320)
    message["Subject"] = subject
    message["Message-ID"] = make_msgid(domain="tenantry")
    message.set_content(body)
    try:
        off_loop(_send, settings, message)  # up to seconds of network: not on the loop
    except (smtplib.SMTPException, OSError) as exc:
        _log.warning("mail_failed", error=exc.__class__.__name__)
        raise MailUnavailable() from exc
    _log.info("mail_sent", subject=subject)
    return SentMail(to, settings.mail_from, subject, body, datetime.now(UTC))


def _send(settings: Settings, message: EmailMessage) -> None:
    with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=10) as smtp:
        if settings.smtp_starttls:
            smtp.starttls()
        if settings.smtp_username:
            smtp.login(settings.smtp_username, settings.smtp_password or "")
        smtp.send_message(message)


def send_test_email(
    session: Session, *, settings: Settings, sender_id: uuid.UUID, to: str | None
) -> SentMail:
    """A test message to the caller (``sender_id``), or to a member of this tenant's team."""
    if to is None:
        recipient = repository.member_email(session, user_id=sender_id)
    else:
        # Anyone outside this tenant looks exactly like an unknown address.
        recipient = repository.member_with_email(session, email=to)
    if recipient is None:
        raise RecipientNotInTeam()
    body = (
        "This is a test message from Tenantry.\n\n"
        "If you can read it, outgoing mail works for your workspace."
    )
    return send_mail(settings, to=recipient, subject="Tenantry test email", body=body)
