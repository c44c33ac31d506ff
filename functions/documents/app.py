"""Documents function (HTTP): queue a generation, export a version.

Mounted at ``/functions/v1/documents``. Everything goes through PostgREST with the caller's
JWT, so the policies and ``request_document_generation`` decide.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from core import ratelimit
from core.auth import TokenVerifier
from core.errors import ApiError
from core.http import FunctionApp, authenticate, json_response, path_uuid, read_body
from core.settings import Settings, load_settings
from documents import FUNCTION, REQUIRED, service
from documents.models import GenerateAccepted, GenerateRequest

_ERRORS = {
    400: ("Malformed request", None),
    401: ("Missing or invalid access token", None),
    422: ("A field failed validation (the message names it)", None),
    429: ("Rate limited; see Retry-After", None),
}
FORMATS = ("md", "html", "docx")


def create_app(settings: Settings) -> Starlette:
    settings.require(*REQUIRED)
    verifier = TokenVerifier(settings)
    api = FunctionApp(
        FUNCTION,
        "documents",
        description="AI-generated project documents: generation jobs and exports.",
    )

    @api.route(
        "POST",
        "/generate",
        summary="Queue the generation of a project document (a new version)",
        description=(
            "Calls request_document_generation as the caller, then sends the job to the "
            "queue. Follow the job row (document_jobs, also on Realtime): queued -> running "
            "-> succeeded (document_id, version) | failed (error)."
        ),
        body=GenerateRequest,
        security="bearer",
        responses={
            202: ("The job is queued", GenerateAccepted),
            403: ("The caller is not an editor of the project", None),
            404: ("No such project (or document) visible to the caller", None),
            **_ERRORS,
        },
    )
    async def generate(request: Request) -> Response:
        caller = await authenticate(request, verifier)
        await run_in_threadpool(
            ratelimit.enforce,
            settings,
            caller.user_id,
            "documents:generate",
            max(1, settings.rate_limit_per_minute // 3),
        )
        body = await read_body(request, GenerateRequest)
        result = await run_in_threadpool(service.request_generation, settings, caller, body)
        return json_response(result, 202)

    @api.route(
        "GET",
        "/{id}/export",
        summary="Export a document version as Markdown, HTML or DOCX",
        description="Query: format=md|html|docx (default md), version=N (default: current).",
        security="bearer",
        path_params={"id": {"type": "string", "format": "uuid"}},
        responses={
            200: ("The document in the asked format", None),
            404: ("No such document or version, or not readable by the caller", None),
            **_ERRORS,
        },
    )
    async def export_document(request: Request) -> Response:
        caller = await authenticate(request, verifier)
        await run_in_threadpool(
            ratelimit.enforce,
            settings,
            caller.user_id,
            "documents:export",
            settings.rate_limit_per_minute,
        )
        document_id = path_uuid(request, "id")
        fmt = request.query_params.get("format", "md")
        if fmt not in FORMATS:
            raise ApiError(422, "validation_failed", f"format: must be one of {', '.join(FORMATS)}")
        raw_version = request.query_params.get("version")
        version = None
        if raw_version is not None:
            if (
                not (raw_version.isascii() and raw_version.isdigit())
                or not 1 <= int(raw_version) <= 1_000_000
            ):
                raise ApiError(422, "validation_failed", "version: must be a positive integer")
            version = int(raw_version)
        content, media_type, filename = await run_in_threadpool(
            service.export_document, settings, caller, str(document_id), fmt, version
        )
        return Response(
            content,
            media_type=media_type,
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )

    return api.build()


settings = load_settings(*REQUIRED)
app = create_app(settings)
