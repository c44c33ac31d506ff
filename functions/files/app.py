"""Files function (HTTP): upload and download signing, and the database webhook.

Mounted at ``/functions/v1/files``. Everything a caller does goes through PostgREST with
their own JWT, so the policies on ``public.files`` decide.
"""

from __future__ import annotations

from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from core import metrics, ratelimit
from core.auth import TokenVerifier
from core.errors import ApiError, validation_error
from core.events import DatabaseWebhook
from core.http import FunctionApp, authenticate, json_response, path_uuid, read_body
from core.settings import Settings, load_settings
from core.webhooks import SECRET_HEADER, verify_secret
from files import FUNCTION, REQUIRED, service
from files.models import (
    DownloadResponse,
    ObjectCleanup,
    UploadRequest,
    UploadResponse,
    WebhookAccepted,
)

_ERRORS = {
    400: ("Malformed request", None),
    401: ("Missing or invalid access token", None),
    422: ("A field failed validation (the message names it)", None),
    429: ("Rate limited; see Retry-After", None),
}


def create_app(settings: Settings) -> Starlette:
    settings.require(*REQUIRED)
    verifier = TokenVerifier(settings)
    api = FunctionApp(
        FUNCTION,
        "files",
        description="Presigned S3 uploads and downloads for project files.",
    )

    @api.route(
        "POST",
        "/uploads",
        summary="Start an upload: create the pending file row and presign an S3 POST",
        body=UploadRequest,
        security="bearer",
        responses={
            201: ("Pending file row and the presigned POST", UploadResponse),
            403: ("The caller may not add files there", None),
            **_ERRORS,
        },
    )
    async def create_upload(request: Request) -> Response:
        caller = await authenticate(request, verifier)
        await run_in_threadpool(
            ratelimit.enforce,
            settings,
            caller.user_id,
            "files:uploads",
            settings.rate_limit_per_minute,
        )
        body = await read_body(request, UploadRequest)
        result = await run_in_threadpool(service.sign_upload, settings, caller, body)
        return json_response(result, 201)

    @api.route(
        "GET",
        "/{id}/download",
        summary="Presign a download of a ready file the caller can read",
        security="bearer",
        path_params={"id": {"type": "string", "format": "uuid"}},
        responses={
            200: ("Presigned GET URL", DownloadResponse),
            404: ("No such file, or not readable by the caller", None),
            409: ("The file is not ready", None),
            **_ERRORS,
        },
    )
    async def download(request: Request) -> Response:
        caller = await authenticate(request, verifier)
        await run_in_threadpool(
            ratelimit.enforce,
            settings,
            caller.user_id,
            "files:downloads",
            settings.rate_limit_per_minute * 5,
        )
        file_id = path_uuid(request, "id")
        result = await run_in_threadpool(service.sign_download, settings, caller, str(file_id))
        return json_response(result)

    @api.route(
        "POST",
        "/webhooks/database",
        summary="Database webhook on public.files: queue removal of deleted files' objects",
        description=(
            f"Verified by the shared secret in the {SECRET_HEADER} header. Idempotent: a replayed "
            "delivery queues a removal that has already happened, which is harmless."
        ),
        body=DatabaseWebhook,
        security="webhook",
        responses={
            202: ("Accepted", WebhookAccepted),
            401: ("Missing or wrong secret", None),
            400: ("Malformed request", None),
            422: ("Not a database webhook body", None),
        },
    )
    async def database_webhook(request: Request) -> Response:
        try:
            verify_secret(settings, request.headers.get(SECRET_HEADER))
            hook = await read_body(request, DatabaseWebhook)
        except ApiError as exc:
            metrics.count(metrics.WEBHOOKS_REFUSED, provider="database", reason=exc.code)
            raise
        metrics.count(metrics.WEBHOOKS_ACCEPTED, provider="database")
        cleanups: list[ObjectCleanup] = []
        old = hook.old_record or {}
        if hook.table == "files" and hook.schema_ == "public" and hook.type == "DELETE":
            try:
                cleanups.append(
                    ObjectCleanup(
                        bucket=old.get("bucket"), key=old.get("object_key"), file_id=old.get("id")
                    )
                )
            except ValidationError as exc:
                raise validation_error(exc, "old_record: ") from None
        queued = await run_in_threadpool(service.enqueue_cleanup, settings, cleanups)
        return json_response(WebhookAccepted(accepted=True, queued=queued), 202)

    return api.build()


settings = load_settings(*REQUIRED)
app = create_app(settings)
