"""Request, response and message models of the files function."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from core.limits import ALLOWED_MIME_TYPES, MAX_FILE_BYTES

_LAZY = ConfigDict(defer_build=True)  # built on first use, not at cold import

_FOLDER = re.compile(r"^(/[^/\x00-\x1f\x7f]+)*$")
_DOT_SEGMENT = re.compile(r"(^|/)\.\.?(/|$)")
# bidirectional controls: make a name display other than it is (``invoice\u202efdp.exe``)
_BIDI = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_BAD_NAME = re.compile(r"[/\\\x00-\x1f\x7f]")


class UploadRequest(BaseModel):
    """What the caller wants to upload, and where."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    project_id: UUID | None = Field(default=None, description="Project the file belongs to")
    message_id: UUID | None = Field(
        default=None,
        description="Chat message it is attached to (yours; its conversation's members read it)",
    )
    folder: str = Field(
        default="", max_length=1024, description="Folder path such as /designs/v2 ('' = root)"
    )
    name: str = Field(min_length=1, max_length=255, description="File name, no slashes")
    content_type: str = Field(max_length=255, description="MIME type; see the allowed list")
    size_bytes: int = Field(ge=1, le=MAX_FILE_BYTES, description="Exact size of the file")
    checksum_sha256: str = Field(
        pattern=r"^[0-9a-fA-F]{64}$", description="SHA-256 of the content, hex"
    )

    @field_validator("folder")
    @classmethod
    def _folder_is_path(cls, value: str) -> str:
        if not _FOLDER.match(value):
            raise ValueError("must be '' or a path like /designs/v2 (no trailing slash)")
        if _DOT_SEGMENT.search(value):
            raise ValueError("must not contain '.' or '..' segments")
        if _BIDI.search(value):
            raise ValueError("must not contain bidirectional control characters")
        return value

    @field_validator("name")
    @classmethod
    def _name_is_plain(cls, value: str) -> str:
        if _BAD_NAME.search(value) or value in (".", ".."):
            raise ValueError("must not contain slashes or control characters")
        if _BIDI.search(value):
            raise ValueError("must not contain bidirectional control characters")
        return value

    @field_validator("content_type")
    @classmethod
    def _type_allowed(cls, value: str) -> str:
        if value not in ALLOWED_MIME_TYPES:
            raise ValueError(
                f"type {value!r} is not allowed; allowed: {', '.join(sorted(ALLOWED_MIME_TYPES))}"
            )
        return value

    @field_validator("checksum_sha256")
    @classmethod
    def _lower(cls, value: str) -> str:
        return value.lower()

    @model_validator(mode="after")
    def _attached(self) -> UploadRequest:
        if (self.project_id is None) == (self.message_id is None):
            raise ValueError(
                "give project_id (a project's file) or message_id (a chat message's file), not both"
            )
        return self


class FileOut(BaseModel):
    model_config = _LAZY

    id: UUID
    project_id: UUID | None
    message_id: UUID | None
    conversation_id: UUID | None = None
    folder: str
    name: str
    mime_type: str
    size_bytes: int
    checksum_sha256: str
    status: Literal["pending", "ready", "failed"]
    failure_reason: str | None = None
    uploaded_by: UUID
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None = None


class PresignedPost(BaseModel):
    model_config = _LAZY

    """Send the file as multipart/form-data: every field, then ``file`` last."""

    method: Literal["POST"] = "POST"
    url: str
    fields: dict[str, str]
    expires_at: datetime
    max_bytes: int


class UploadResponse(BaseModel):
    model_config = _LAZY

    file: FileOut
    upload: PresignedPost


class DownloadResponse(BaseModel):
    model_config = _LAZY

    file: FileOut
    url: str
    expires_at: datetime


class WebhookAccepted(BaseModel):
    model_config = _LAZY

    accepted: bool
    queued: int


class ObjectCleanup(BaseModel):
    """An SQS message: remove an object whose file row is gone or failed."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    bucket: str
    key: str = Field(pattern=r"^files/[0-9a-f-]{36}/[0-9a-f-]{36}$")
    file_id: UUID | None = None
    reason: str = "file deleted"


FILE_COLUMNS = (
    "id,project_id,message_id,conversation_id,folder,name,mime_type,size_bytes,checksum_sha256,status,"
    "failure_reason,uploaded_by,created_at,updated_at,deleted_at,bucket,object_key"
)
