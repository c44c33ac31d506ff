"""Request and response models of the assistant function."""

from __future__ import annotations

from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

_IN = ConfigDict(extra="forbid", defer_build=True)
_OUT = ConfigDict(defer_build=True)


class SuggestRequest(BaseModel):
    model_config = _IN
    project_id: UUID


class Suggestion(BaseModel):
    model_config = _OUT
    kind: Literal[
        "overdue_task", "unassigned_task", "missing_document", "empty_document",
        "no_tasks", "stale_integration", "failed_integration", "finish_in_progress",
    ]  # fmt: skip
    priority: Literal["high", "medium", "low"]
    title: str
    detail: str
    target_id: UUID | None = None


class SuggestResponse(BaseModel):
    model_config = _OUT
    project_id: UUID
    suggestions: list[Suggestion]


class FormatRequest(BaseModel):
    model_config = _IN
    markdown: str = Field(max_length=50_000)


class FormatResponse(BaseModel):
    model_config = _OUT
    markdown: str
    changed: bool


class ValidateRequest(BaseModel):
    model_config = _IN
    project_id: UUID
    document_id: UUID
    version: int | None = Field(default=None, ge=1, description="Default: the current version")


class Location(BaseModel):
    model_config = _OUT
    line: int = Field(description="1-based line in the version's Markdown")
    section: str | None = None


class Finding(BaseModel):
    model_config = _OUT
    rule: Literal["missing_section", "empty_section", "unresolved_todo", "undefined_role"]
    severity: Literal["error", "warning"]
    message: str
    location: Location


class ValidateResponse(BaseModel):
    model_config = _OUT
    document_id: UUID
    version: int
    document_type: str
    findings: list[Finding]


class ExtractRequest(BaseModel):
    model_config = _IN
    project_id: UUID
    transcript: str = Field(min_length=1, max_length=50_000)
    create: bool = False


class ProposedTask(BaseModel):
    model_config = _OUT
    title: str
    description: str
    acceptance_criteria: list[str]
    assignee_hint: str | None = None
    assignee_id: UUID | None = Field(default=None, description="The member the hint matched")
    source_line: int


class ExtractResponse(BaseModel):
    model_config = _OUT
    requirements: list[str]
    tasks: list[ProposedTask]
    created_task_ids: list[UUID] = Field(default_factory=list)
