"""Assistant function (HTTP): suggestions, formatting, validation, transcript -> tasks.

Mounted at ``/functions/v1/assistant``. Every read and write goes through PostgREST with the
caller's JWT, so RLS decides what the assistant sees and whether it may create tasks.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from assistant import FUNCTION, REQUIRED, service
from assistant.models import (
    ExtractRequest,
    ExtractResponse,
    FormatRequest,
    FormatResponse,
    SuggestRequest,
    SuggestResponse,
    ValidateRequest,
    ValidateResponse,
)
from core import ratelimit
from core.auth import Caller, TokenVerifier
from core.http import FunctionApp, authenticate, json_response, read_body
from core.settings import Settings, load_settings

_ERRORS = {
    400: ("Malformed request", None),
    401: ("Missing or invalid access token", None),
    422: ("A field failed validation (the message names it)", None),
    429: ("Rate limited; see Retry-After", None),
}
_NOT_VISIBLE = {404: ("No such project or document visible to the caller", None)}


def create_app(settings: Settings) -> Starlette:
    settings.require(*REQUIRED)
    verifier = TokenVerifier(settings)
    api = FunctionApp(
        FUNCTION,
        "assistant",
        description="The project assistant: suggestions, formatting, validation, task extraction.",
    )

    async def _caller(request: Request, key: str) -> Caller:
        caller = await authenticate(request, verifier)
        await run_in_threadpool(
            ratelimit.enforce, settings, caller.user_id, f"assistant:{key}",
            settings.rate_limit_per_minute,
        )  # fmt: skip
        return caller

    @api.route(
        "POST",
        "/suggest",
        summary="Next steps for a project from its state",
        body=SuggestRequest,
        security="bearer",
        responses={200: ("Suggestions, most urgent first", SuggestResponse), **_NOT_VISIBLE,
                   **_ERRORS},
    )  # fmt: skip
    async def suggest(request: Request) -> Response:
        caller = await _caller(request, "suggest")
        body = await read_body(request, SuggestRequest)
        result = await run_in_threadpool(service.suggest, settings, caller, body.project_id)
        return json_response(result)

    @api.route(
        "POST",
        "/format",
        summary="Normalise Markdown (deterministic, mdformat with GitHub tables)",
        body=FormatRequest,
        security="bearer",
        responses={200: ("The formatted Markdown", FormatResponse), **_ERRORS},
    )
    async def format_markdown(request: Request) -> Response:
        await _caller(request, "format")
        body = await read_body(request, FormatRequest)
        result = await run_in_threadpool(service.format_markdown, body.markdown)
        return json_response(result)

    @api.route(
        "POST",
        "/validate",
        summary="Findings for a document: missing or empty sections, TODOs, undefined roles",
        body=ValidateRequest,
        security="bearer",
        responses={200: ("Findings, each with a location", ValidateResponse), **_NOT_VISIBLE,
                   **_ERRORS},
    )  # fmt: skip
    async def validate(request: Request) -> Response:
        caller = await _caller(request, "validate")
        body = await read_body(request, ValidateRequest)
        result = await run_in_threadpool(service.validate, settings, caller, body)
        return json_response(result)

    @api.route(
        "POST",
        "/extract-tasks",
        summary="Requirements and tasks from a call transcript; create: true creates the tasks",
        description="Tasks are created as the caller: a viewer gets 403 and nothing is written.",
        body=ExtractRequest,
        security="bearer",
        responses={
            200: ("Proposed requirements and tasks", ExtractResponse),
            201: ("The tasks were created (created_task_ids)", ExtractResponse),
            403: ("create: the caller may not create tasks in the project", None),
            **_NOT_VISIBLE,
            **_ERRORS,
        },
    )
    async def extract_tasks(request: Request) -> Response:
        caller = await _caller(request, "extract")
        body = await read_body(request, ExtractRequest)
        result = await run_in_threadpool(service.extract_tasks, settings, caller, body)
        return json_response(result, 201 if body.create and result.created_task_ids else 200)

    return api.build()


settings = load_settings(*REQUIRED)
app = create_app(settings)
