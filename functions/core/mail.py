"""Sending one e-mail: SES (API v2, raw MIME) in production, SMTP locally (the local inbox).

The message is built once, as MIME with a text and an HTML part and the headers the caller
gives (``List-Unsubscribe`` ...), and handed to either transport unchanged, so what the local
inbox shows is what SES sends. Standard library at import; boto3 only on the SES path.
"""

from __future__ import annotations

import smtplib
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Literal

from core import aws
from core.settings import Settings

Transport = Literal["ses", "smtp"]


class MailError(Exception):
    """The transport refused or failed; ``permanent`` when sending again cannot help."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.permanent = permanent


@dataclass(frozen=True)
class OutgoingMail:
    sender: str
    to: str
    subject: str
    text: str
    html: str
    headers: dict[str, str] = field(default_factory=dict)
    # stable per delivery, so a resend after a crash is recognisably the same message
    message_id: str | None = None


def build_message(mail: OutgoingMail) -> EmailMessage:
    message = EmailMessage()
    message["From"] = mail.sender
    message["To"] = mail.to
    message["Subject"] = mail.subject
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = mail.message_id or make_msgid(domain="collab.local")
    for name, value in mail.headers.items():
        message[name] = value
    message.set_content(mail.text)
    message.add_alternative(mail.html, subtype="html")
    return message


@dataclass(frozen=True)
class MailSettings:
    transport: Transport
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    ses_configuration_set: str | None = None
    timeout_s: float = 10.0


def send(settings: Settings, how: MailSettings, mail: OutgoingMail) -> str:
    """Send; returns the transport's message id (SES's MessageId, or our Message-ID)."""
    message = build_message(mail)
    if how.transport == "smtp":
        return _send_smtp(how, message)
    return _send_ses(settings, how, mail, message)


def _send_smtp(how: MailSettings, message: EmailMessage) -> str:
    try:
        with smtplib.SMTP(how.smtp_host, how.smtp_port, timeout=how.timeout_s) as smtp:
            smtp.send_message(message)
    except smtplib.SMTPRecipientsRefused as exc:
        raise MailError(f"recipient refused: {exc.recipients}", permanent=True) from exc
    except (OSError, smtplib.SMTPException) as exc:
        raise MailError(f"SMTP: {type(exc).__name__}") from exc
    return str(message["Message-ID"])


def _send_ses(
    settings: Settings, how: MailSettings, mail: OutgoingMail, message: EmailMessage
) -> str:
    from botocore.exceptions import BotoCoreError, ClientError

    kwargs: dict[str, object] = {
        "FromEmailAddress": mail.sender,
        "Destination": {"ToAddresses": [mail.to]},
        "Content": {"Raw": {"Data": message.as_bytes()}},
    }
    if how.ses_configuration_set:
        kwargs["ConfigurationSetName"] = how.ses_configuration_set
    try:
        answer = aws.sesv2(settings).send_email(**kwargs)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        # a rejected message or a suppressed / unverified address will not pass on a retry
        permanent = code in {"MessageRejected", "MailFromDomainNotVerifiedException",
                             "AccountSuspendedException", "BadRequestException"}  # fmt: skip
        raise MailError(f"SES: {code or 'error'}", permanent=permanent) from exc
    except BotoCoreError as exc:
        raise MailError(f"SES: {type(exc).__name__}") from exc
    return str(answer["MessageId"])
