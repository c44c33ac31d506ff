"""SES's bounce and complaint notifications (SES -> SNS -> SQS): the address is suppressed, so
no more mail goes to it (``rpc/suppress_email_address``; the delivery context skips it).

A permanent bounce and any complaint suppress every recipient they name; a transient bounce
(mailbox full, greylisting) changes nothing. The SQS body is SNS's envelope
(``{"Type": "Notification", "Message": "<SES JSON>"}``) or, with raw message delivery, the SES
JSON itself; both the notification form (``notificationType``) and the event-publishing form
of a configuration set (``eventType``) are read.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from core.batch import PermanentRecordError
from core.events import SqsRecord
from core.rest import as_service
from core.settings import Settings


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class Recipient(_Model):
    email_address: str = Field(alias="emailAddress", min_length=3, max_length=320)


class Bounce(_Model):
    bounce_type: str = Field(alias="bounceType")
    bounce_sub_type: str | None = Field(default=None, alias="bounceSubType")
    recipients: list[Recipient] = Field(alias="bouncedRecipients", max_length=100)


class Complaint(_Model):
    recipients: list[Recipient] = Field(alias="complainedRecipients", max_length=100)
    feedback_type: str | None = Field(default=None, alias="complaintFeedbackType")


class SesNotification(_Model):
    notification_type: str | None = Field(default=None, alias="notificationType")
    event_type: str | None = Field(default=None, alias="eventType")
    bounce: Bounce | None = None
    complaint: Complaint | None = None
    mail: dict[str, Any] = Field(default_factory=dict)

    @property
    def kind(self) -> str:
        return (self.notification_type or self.event_type or "").lower()


def parse(body: str) -> SesNotification:
    try:
        outer = json.loads(body)
        if isinstance(outer, dict) and outer.get("Type") == "Notification":
            outer = json.loads(outer["Message"])
        return SesNotification.model_validate(outer)
    except (ValueError, KeyError, TypeError, ValidationError) as exc:
        raise PermanentRecordError(f"not an SES notification: {type(exc).__name__}") from None


def suppressions(note: SesNotification) -> list[tuple[str, str, dict[str, Any]]]:
    """(address, reason, detail) for each recipient the notification stops mail to."""
    if note.kind == "bounce" and note.bounce and note.bounce.bounce_type == "Permanent":
        detail = {"bounce_sub_type": note.bounce.bounce_sub_type}
        return [(r.email_address, "bounce", detail) for r in note.bounce.recipients]
    if note.kind == "complaint" and note.complaint:
        detail = {"feedback_type": note.complaint.feedback_type}
        return [(r.email_address, "complaint", detail) for r in note.complaint.recipients]
    return []


def handle_record(settings: Settings, record: SqsRecord) -> None:
    rest = as_service(settings)
    for address, reason, detail in suppressions(parse(record.body)):
        rest.request(
            "POST",
            "rpc/suppress_email_address",
            json={"email": address, "reason": reason, "detail": detail},
            prefer="return=minimal",
        )
