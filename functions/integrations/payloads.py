"""Each provider's webhook body as a pydantic model: what the row mapping reads, typed.

A signed body of the wrong shape (``"user": "x"``, ``"issue": [1]``, an epoch of ``1e20``)
fails here with a 422 instead of an ``AttributeError`` or ``OverflowError`` further on.
Fields the mapping does not read are ignored; every field is optional, as providers omit
them freely.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictStr,
    TypeAdapter,
    ValidationError,
)

from core.errors import validation_error

# 9999-12-31T23:59:59.999Z: the last instant time.gmtime and Postgres both render
MAX_EPOCH_MS = 253_402_300_799_999


def _number(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and math.isfinite(value))


def _scalar(value: Any) -> str | int | float:
    if isinstance(value, str) or _number(value):
        return value
    raise ValueError("should be a string or a finite number")


def _when(value: Any) -> str | int | float:
    if isinstance(value, str) or (_number(value) and 0 <= value <= MAX_EPOCH_MS):
        return value
    raise ValueError(f"should be an ISO timestamp or epoch milliseconds in 0..{MAX_EPOCH_MS}")


def _finite(value: Any) -> int | float:
    if _number(value):
        return value
    raise ValueError("should be a finite number")


Scalar = Annotated[Any, AfterValidator(_scalar)]  # ids, titles: what str() renders as text
When = Annotated[Any, AfterValidator(_when)] | None  # epoch milliseconds or an ISO timestamp
Number = Annotated[Any, AfterValidator(_finite)]


class Body(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


# --- github ------------------------------------------------------------------------------------
class GitHubAccount(Body):
    login: StrictStr | None = None


class GitHubRepository(Body):
    full_name: StrictStr | None = None
    html_url: StrictStr | None = None


class GitHubCommitAuthor(Body):
    username: StrictStr | None = None


class GitHubCommit(Body):
    id: Scalar | None = None
    message: StrictStr | None = None
    timestamp: When = None
    url: StrictStr | None = None
    author: GitHubCommitAuthor | None = None


class GitHubItem(Body):
    """A pull request or an issue."""

    id: Scalar | None = None
    number: Scalar | None = None
    title: StrictStr | None = None
    merged: StrictBool | None = None
    created_at: When = None
    merged_at: When = None
    closed_at: When = None
    updated_at: When = None
    html_url: StrictStr | None = None


class GitHubRelease(Body):
    id: Scalar | None = None
    name: StrictStr | None = None
    tag_name: StrictStr | None = None
    created_at: When = None
    published_at: When = None
    html_url: StrictStr | None = None


class GitHubEvent(Body):
    action: StrictStr | None = None
    repository: GitHubRepository | None = None
    sender: GitHubAccount | None = None
    commits: list[GitHubCommit] | None = None
    pull_request: GitHubItem | None = None
    issue: GitHubItem | None = None
    release: GitHubRelease | None = None


# --- linear ------------------------------------------------------------------------------------
class LinearActor(Body):
    name: StrictStr | None = None


class LinearData(Body):
    title: StrictStr | None = None
    identifier: StrictStr | None = None
    updatedAt: When = None  # noqa: N815 (the provider's name)
    url: StrictStr | None = None


class LinearEvent(Body):
    type: StrictStr | None = None
    action: StrictStr | None = None
    createdAt: When = None  # noqa: N815
    url: StrictStr | None = None
    actor: LinearActor | None = None
    data: LinearData | None = None
    webhookId: StrictStr | None = None  # noqa: N815
    webhookTimestamp: Number | None = None  # noqa: N815 (checked against the window)


# --- jira --------------------------------------------------------------------------------------
class JiraUser(Body):
    displayName: StrictStr | None = None  # noqa: N815


class JiraFields(Body):
    summary: StrictStr | None = None


class JiraIssue(Body):
    key: StrictStr | None = None
    self_: StrictStr | None = Field(default=None, alias="self")
    fields: JiraFields | None = None


class JiraEvent(Body):
    timestamp: When = None
    webhookEvent: StrictStr | None = None  # noqa: N815
    user: JiraUser | None = None
    issue: JiraIssue | None = None


# --- hubspot -----------------------------------------------------------------------------------
class HubSpotEvent(Body):
    eventId: Scalar | None = None  # noqa: N815
    subscriptionType: StrictStr | None = None  # noqa: N815
    objectId: Scalar | None = None  # noqa: N815
    portalId: Scalar | None = None  # noqa: N815
    occurredAt: When = None  # noqa: N815


HubSpotEvents = TypeAdapter(list[HubSpotEvent])


# --- generic (gitlab, salesforce) --------------------------------------------------------------
class GenericEvent(Body):
    kind: Scalar | None = None
    occurred_at: When = None
    actor: Scalar | None = None
    title: Scalar | None = None
    url: StrictStr | None = None


M = TypeVar("M", bound=BaseModel)


def parse(model: type[M], body: Any) -> M:
    """The body as ``model``; 422 naming the bad fields otherwise."""
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        raise validation_error(exc, "the delivery body: ") from None


def parse_hubspot(body: Any) -> list[HubSpotEvent]:
    try:
        return HubSpotEvents.validate_python(body)
    except ValidationError as exc:
        raise validation_error(exc, "the delivery body: ") from None
