"""Request and response models of the documents function."""

from __future__ import annotations

from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

DocumentType = Literal["prd", "tech_spec", "backend_structure", "custom"]
ExportFormat = Literal["md", "html", "docx"]


class GenerateRequest(BaseModel):
    """Queue the generation of a project document (a new version of ``document_id``, or a new
    document when it is left out)."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    project_id: UUID
    document_type: DocumentType
    document_id: UUID | None = Field(default=None, description="Regenerate this document")
    instructions: str | None = Field(
        default=None, max_length=20000, description="What the writer should take into account"
    )


class GenerateAccepted(BaseModel):
    model_config = ConfigDict(defer_build=True)

    job_id: UUID
    status: Literal["queued"] = "queued"
