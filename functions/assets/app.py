"""Assets function (HTTP): generate a 3D model or a video, cancel it, and the providers'
webhooks.

Mounted at ``/functions/v1/assets``. Generation and cancel go through PostgREST with the
caller's JWT (``request_asset_generation`` / ``cancel_asset_job`` decide); a webhook only
makes us read the task again from the provider with our key.
"""

from __future__ import annotations

import hmac

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from assets import FUNCTION, REQUIRED, service
from assets.models import CancelAnswer, GenerateRequest, JobAccepted, WebhookAnswer
from assets.settings import AssetSettings, load_asset_settings
from core import log, ratelimit
from core.auth import TokenVerifier
from core.errors import ApiError, not_found, unauthorized
from core.http import FunctionApp, authenticate, json_response, path_uuid, read_body

_ERRORS = {
    400: ("Malformed request", None),
    401: ("Missing or invalid access token", None),
    422: ("A field failed validation (the message names it)", None),
    429: ("Rate limited or daily quota used; see Retry-After", None),
}
WEBHOOK_PROVIDERS = ("meshy", "luma")
MAX_WEBHOOK_BYTES = 256 * 1024


def create_app(settings: AssetSettings) -> Starlette:
    settings.require(*REQUIRED)
    verifier = TokenVerifier(settings)
    api = FunctionApp(
        FUNCTION,
        "assets",
        description="3D models (Meshy) and videos (Luma) generated from a prompt; the "
        "artefacts become project files in /generated.",
    )

    @api.route(
        "POST",
        "/generate",
        summary="Queue the generation of a 3D model or a video",
        description=(
            "Calls request_asset_generation as the caller, then sends the job to the queue. "
            "Follow the job row (asset_jobs, also on Realtime): queued -> submitting -> "
            "processing (progress) -> succeeded (file_ids) | failed (error) | canceled. A "
            "repeated idempotency key (body or Idempotency-Key header) returns the same job."
        ),
        body=GenerateRequest,
        security="bearer",
        responses={
            202: ("The job is queued (or, for a repeated key, the job it made)", JobAccepted),
            403: ("The caller is not an editor of the project", None),
            404: ("No such project visible to the caller", None),
            409: ("The source image is not ready yet", None),
            **_ERRORS,
        },
    )
    async def generate(request: Request) -> Response:
        caller = await authenticate(request, verifier)
        await run_in_threadpool(
            ratelimit.enforce,
            settings,
            caller.user_id,
            "assets:generate",
            max(1, settings.rate_limit_per_minute // 3),
        )
        body = await read_body(request, GenerateRequest)
        key = body.idempotency_key
        header = request.headers.get("idempotency-key")
        if header is not None:
            if not (1 <= len(header) <= 200 and header.isascii() and header.isprintable()):
                raise ApiError(422, "validation_failed", "Idempotency-Key: 1-200 ASCII characters")
            if key is not None and key != header:
                raise ApiError(
                    422,
                    "validation_failed",
                    "idempotency_key: differs from the Idempotency-Key header",
                )
            key = header
        result = await run_in_threadpool(service.request_generation, settings, caller, body, key)
        return json_response(result, 202)

    @api.route(
        "POST",
        "/jobs/{id}/cancel",
        summary="Cancel an asset job that has not finished",
        description="The requester (an editor) or a project admin; the provider's task is "
        "deleted too. A finished job answers its final status.",
        security="bearer",
        path_params={"id": {"type": "string", "format": "uuid"}},
        responses={
            200: ("The job's status afterwards", CancelAnswer),
            403: ("Not the requester nor a project admin", None),
            404: ("No such job visible to the caller", None),
            **_ERRORS,
        },
    )
    async def cancel_job(request: Request) -> Response:
        caller = await authenticate(request, verifier)
        await run_in_threadpool(
            ratelimit.enforce,
            settings,
            caller.user_id,
            "assets:cancel",
            settings.rate_limit_per_minute,
        )
        job_id = path_uuid(request, "id")
        result = await run_in_threadpool(service.cancel, settings, caller, str(job_id))
        return json_response(result)

    @api.route(
        "POST",
        "/webhooks/{provider}",
        summary="A provider's task changed (Meshy webhook, Luma callback_url)",
        description=(
            "Neither provider signs its webhooks, so the URL carries a secret "
            "(?token=ASSET_WEBHOOK_TOKEN, compared in constant time) and the body is only a "
            "hint: the task named by its id is read again from the provider with our key."
        ),
        path_params={"provider": {"type": "string", "enum": list(WEBHOOK_PROVIDERS)}},
        responses={
            200: ("Looked at (known: whether the task is one of ours)", WebhookAnswer),
            400: ("The body is not JSON with an id", None),
            401: ("Missing or wrong token", None),
            404: ("Unknown provider", None),
            413: ("Body too large", None),
        },
    )
    async def webhook(request: Request) -> Response:
        provider = str(request.path_params["provider"])
        if provider not in WEBHOOK_PROVIDERS:
            raise not_found("unknown provider")
        expected = settings.asset_webhook_token
        given = request.query_params.get("token", "")
        if expected is None or not hmac.compare_digest(
            given.encode(), expected.get_secret_value().encode()
        ):
            raise unauthorized("missing or wrong webhook token")
        raw = await request.body()
        if len(raw) > MAX_WEBHOOK_BYTES:
            raise ApiError(413, "body_too_large", f"body exceeds {MAX_WEBHOOK_BYTES} bytes")
        try:
            import json

            body = json.loads(raw)
        except ValueError:
            raise ApiError(400, "invalid_json", "the body is not JSON") from None
        task_id = body.get("id") if isinstance(body, dict) else None
        if not isinstance(task_id, str) or not task_id:
            raise ApiError(400, "invalid_body", "the body names no task id")
        job_id = await run_in_threadpool(service.job_for_task, settings, provider, task_id)
        if job_id is None:
            return json_response(WebhookAnswer(known=False))
        outcome = await run_in_threadpool(
            lambda: service.advance(settings, job_id, claim_seconds=0)
        )
        log.info("webhook", provider=provider, job_id=job_id, outcome=outcome)
        return json_response(WebhookAnswer(known=True))

    return api.build()


settings = load_asset_settings(*REQUIRED)
app = create_app(settings)
