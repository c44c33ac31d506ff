"""Request and response models of the privacy function."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

_LAZY = ConfigDict(defer_build=True)  # built on first use, not at cold import


class ErasureRequest(BaseModel):
    """The account's email, typed again: the person confirms whom they erase."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    confirm: str = Field(
        min_length=3, max_length=320, description="The email address of the account to erase"
    )


class RequestAccepted(BaseModel):
    """The privacy request was filed; the worker processes it."""

    model_config = _LAZY

    request_id: UUID
    status: Literal["pending", "processing", "completed", "failed", "cancelled"]


class ExportDownload(BaseModel):
    model_config = _LAZY

    url: str = Field(description="Presigned GET of the archive (short-lived)")
    expires_at: datetime = Field(description="When the URL stops working")
    archive_expires_at: datetime = Field(description="When the archive itself is deleted")
    size_bytes: int | None = None


REQUEST_COLUMNS = "id,user_id,kind,status,result_location,error,expires_at,requested_at"
