"""Typed models of the events the functions receive (pydantic v2).

Only the fields the code uses are required; everything else is kept (``extra="allow"``) so
a real AWS sample validates unchanged. API Gateway HTTP API v2 events are handled by Mangum.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from urllib.parse import unquote_plus

from pydantic import BaseModel, ConfigDict, Field


class _Event(BaseModel):
    # Built on first use: one handler module serves several Lambda functions, and each
    # should pay at cold start only for the event models it actually parses.
    model_config = ConfigDict(extra="allow", populate_by_name=True, defer_build=True)


# --- SQS ------------------------------------------------------------------------------------
class SqsRecord(_Event):
    message_id: str = Field(alias="messageId")
    receipt_handle: str = Field(alias="receiptHandle")
    body: str
    attributes: dict[str, Any] = Field(default_factory=dict)
    message_attributes: dict[str, Any] = Field(default_factory=dict, alias="messageAttributes")
    event_source: Literal["aws:sqs"] = Field(alias="eventSource")
    event_source_arn: str = Field(alias="eventSourceARN")

    @property
    def receive_count(self) -> int:
        return int(self.attributes.get("ApproximateReceiveCount", "1"))


class SqsEvent(_Event):
    records: list[SqsRecord] = Field(alias="Records")


# --- S3 object-created notifications ----------------------------------------------------------
class S3Bucket(_Event):
    name: str
    arn: str | None = None


class S3Object(_Event):
    key: str  # URL-encoded as S3 sends it; use S3Record.object_key
    size: int | None = None
    e_tag: str | None = Field(default=None, alias="eTag")
    sequencer: str | None = None


class S3Entity(_Event):
    bucket: S3Bucket
    object: S3Object


class S3Record(_Event):
    event_source: Literal["aws:s3"] = Field(alias="eventSource")
    event_name: str = Field(alias="eventName")
    event_time: datetime | None = Field(default=None, alias="eventTime")
    s3: S3Entity

    @property
    def object_key(self) -> str:
        return unquote_plus(self.s3.object.key)

    @property
    def is_object_created(self) -> bool:
        return self.event_name.startswith("ObjectCreated:")


class S3Event(_Event):
    records: list[S3Record] = Field(alias="Records")


class S3TestEvent(_Event):
    """What S3 sends once when a notification configuration is saved."""

    event: Literal["s3:TestEvent"] = Field(alias="Event")
    bucket: str = Field(alias="Bucket")


# --- EventBridge schedule ------------------------------------------------------------------
class ScheduledEvent(_Event):
    id: str
    detail_type: Literal["Scheduled Event"] = Field(alias="detail-type")
    source: Literal["aws.events"]
    account: str
    time: datetime
    region: str
    resources: list[str] = Field(default_factory=list)
    detail: dict[str, Any] = Field(default_factory=dict)


# --- Supabase database webhooks --------------------------------------------------------------
class DatabaseWebhook(_Event):
    """The body of a Supabase database webhook (``supabase_functions.http_request``)."""

    type: Literal["INSERT", "UPDATE", "DELETE"]
    table: str
    schema_: str = Field(alias="schema")
    record: dict[str, Any] | None = None
    old_record: dict[str, Any] | None = None
