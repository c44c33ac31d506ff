"""Request, response and message models of the integrations function."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

_LAZY = ConfigDict(defer_build=True)

# the path names of the OAuth providers -> public.integration_provider
OAUTH_PROVIDERS = {"github": "github", "google_docs": "google_docs", "google": "google_docs"}
WEBHOOK_PROVIDERS = ("github", "gitlab", "jira", "linear", "hubspot", "salesforce")


class AuthorizeResponse(BaseModel):
    model_config = _LAZY

    url: str = Field(description="The provider's authorize URL (state and PKCE challenge in it)")


class ConnectCompleteRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    connect_code: str = Field(
        min_length=32,
        max_length=200,
        pattern=r"^[A-Za-z0-9_\-]+$",
        description="The one-time code the callback sent the browser back with (?connect_code=)",
    )


class IntegrationOut(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="ignore")

    id: UUID
    provider: str
    project_id: UUID | None
    status: str
    external_account_id: str | None = None
    external_account_name: str | None = None
    scopes: list[str] = []
    last_synced_at: datetime | None = None
    last_error: str | None = None


class SyncOut(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="ignore")

    id: UUID
    integration_id: UUID
    project_id: UUID
    status: str
    reason: str
    attempts: int
    created_at: datetime


class RemoteItem(BaseModel):
    model_config = _LAZY

    external_id: str
    name: str | None = None
    url: str | None = None
    kind: Literal["repository", "document"]
    updated_at: str | None = None


class RemoteItemsPage(BaseModel):
    model_config = _LAZY

    items: list[RemoteItem]
    next_page: str | None = Field(
        default=None, description="Pass as ?page= for the next page; null on the last page"
    )


class LinkRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    external_id: str = Field(
        min_length=1,
        max_length=300,
        pattern=r"^[A-Za-z0-9._\-/]+$",
        description="owner/name of a GitHub repository, or a Google document id",
    )
    document_id: UUID | None = Field(
        default=None, description="Google Docs: the project document to add a version to"
    )


class LinkOut(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="ignore")

    id: UUID
    integration_id: UUID
    project_id: UUID
    kind: str
    external_id: str
    name: str | None = None
    url: str | None = None
    document_id: UUID | None = None
    last_synced_at: datetime | None = None


class LinkResponse(BaseModel):
    model_config = _LAZY

    link: LinkOut
    sync: SyncOut | None = None
    document_version: int | None = None


class RevokeResponse(BaseModel):
    model_config = _LAZY

    id: UUID
    status: Literal["revoked"]
    provider_revoked: bool


class WebhookSecretResponse(BaseModel):
    model_config = _LAZY

    secret: str = Field(description="Shown once; only its ciphertext is kept")
    url: str
    signature: str = Field(description="How deliveries must be signed")


class WebhookAccepted(BaseModel):
    model_config = _LAZY

    accepted: int = Field(description="Activity events written")
    duplicate: bool = False


class Pong(BaseModel):
    model_config = _LAZY

    pong: bool = True


class SyncMessage(BaseModel):
    """The job queue's message (functions/core/jobs.py contract)."""

    model_config = ConfigDict(extra="ignore", defer_build=True)

    kind: str
    job_id: UUID


class ActivityEvent(BaseModel):
    """One row for rpc ingest_activity."""

    model_config = _LAZY

    source: str
    kind: str
    occurred_at: str | None = None
    actor: str | None = None
    external_id: str
    payload: dict[str, Any] = {}
