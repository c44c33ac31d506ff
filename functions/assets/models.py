"""Request and response models of the assets function."""

from __future__ import annotations

from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

AssetKind = Literal["model_3d", "video"]
# Meshy takes at most 600 characters; Luma more, and the table 2,000
MAX_PROMPT = {"model_3d": 600, "video": 2000}


class Model3dOptions(BaseModel):
    """Options of a 3D model (Meshy text-to-3D, or image-to-3D with a source image)."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    art_style: Literal["realistic", "sculpture"] = "realistic"
    target_formats: list[Literal["glb", "usdz"]] = Field(
        default_factory=lambda: ["glb"], min_length=1, max_length=2
    )
    source_file_id: UUID | None = Field(
        default=None, description="A ready PNG/JPEG/WebP file of the project (image-to-3D)"
    )

    @model_validator(mode="after")
    def _distinct_formats(self) -> Model3dOptions:
        if len(set(self.target_formats)) != len(self.target_formats):
            raise ValueError("target_formats: must not repeat a format")
        return self


class VideoOptions(BaseModel):
    """Options of a video (Luma Dream Machine; a source image becomes its first frame)."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    duration_seconds: Literal[5, 9] = 5
    aspect_ratio: Literal["16:9", "9:16", "1:1", "4:3", "3:4", "21:9", "9:21"] = "16:9"
    loop: bool = False
    source_file_id: UUID | None = Field(
        default=None, description="A ready PNG/JPEG/WebP file of the project (first frame)"
    )


OPTIONS: dict[str, type[BaseModel]] = {"model_3d": Model3dOptions, "video": VideoOptions}


class GenerateRequest(BaseModel):
    """Generate a 3D model or a video for a project from a prompt."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    project_id: UUID
    kind: AssetKind
    prompt: str = Field(min_length=3, max_length=2000, description="What to make")
    options: dict[str, Any] = Field(
        default_factory=dict,
        description="model_3d: art_style, target_formats (glb, usdz), source_file_id; "
        "video: duration_seconds (5, 9), aspect_ratio, loop, source_file_id",
    )
    idempotency_key: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        pattern=r"^[\x21-\x7e]+$",
        description="A repeated key returns the job it first made (also the Idempotency-Key "
        "header)",
    )

    @model_validator(mode="after")
    def _check_kind(self) -> GenerateRequest:
        limit = MAX_PROMPT[self.kind]
        if len(self.prompt.strip()) < 3:
            raise ValueError("prompt: must have at least 3 characters besides spaces")
        if len(self.prompt) > limit:
            raise ValueError(f"prompt: at most {limit} characters for {self.kind}")
        try:
            OPTIONS[self.kind].model_validate(self.options)
        except ValidationError as exc:
            problems = "; ".join(
                f"options.{'.'.join(str(p) for p in e['loc']) or 'options'}: {e['msg']}"
                for e in exc.errors(include_url=False)
            )
            raise ValueError(problems) from None
        return self

    def parsed_options(self) -> Model3dOptions | VideoOptions:
        return OPTIONS[self.kind].model_validate(self.options)  # type: ignore[return-value]


class JobAccepted(BaseModel):
    model_config = ConfigDict(defer_build=True)

    job_id: UUID
    status: str = Field(description="queued, or the job's status when the key was seen before")


class CancelAnswer(BaseModel):
    model_config = ConfigDict(defer_build=True)

    job_id: UUID
    status: str


class WebhookAnswer(BaseModel):
    model_config = ConfigDict(defer_build=True)

    known: bool = Field(description="Whether the task is one of ours (it was looked up again)")
