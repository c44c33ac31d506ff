"""Privacy function (HTTP): GDPR/CCPA export and erasure requests, export downloads.

Mounted at ``/functions/v1/privacy``. Requests are filed through PostgREST with the caller's
own JWT (RLS: people file and read only their own); the work is done by the queue worker in
``privacy.events``.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from core import jobs, ratelimit
from core.auth import TokenVerifier
from core.http import FunctionApp, authenticate, json_response, path_uuid, read_body
from privacy import FUNCTION, REQUIRED, service
from privacy.kinds import ERASURE, EXPORT
from privacy.models import ErasureRequest, ExportDownload, RequestAccepted
from privacy.settings import PrivacySettings, load_privacy_settings

_ERRORS = {
    400: ("Malformed request", None),
    401: ("Missing or invalid access token", None),
    422: ("A field failed validation (the message names it)", None),
    429: ("Rate limited; see Retry-After", None),
}


def create_app(settings: PrivacySettings) -> Starlette:
    settings.require(*REQUIRED)
    verifier = TokenVerifier(settings)
    api = FunctionApp(
        FUNCTION,
        "privacy",
        description="GDPR/CCPA: export everything about you, or erase your account.",
    )

    async def _limit(user_id: str, key: str) -> None:
        await run_in_threadpool(
            ratelimit.enforce, settings, user_id, key, settings.rate_limit_per_minute
        )

    @api.route(
        "POST",
        "/export",
        summary="Ask for an export of everything stored about you",
        description=(
            "Files a privacy request as the caller and queues it. The archive (a zip in S3) "
            "is ready when the request is `completed`; the person is notified."
        ),
        security="bearer",
        responses={
            202: ("The request, pending", RequestAccepted),
            409: ("An export of yours is still open", None),
            **_ERRORS,
        },
    )
    async def request_export(request: Request) -> Response:
        caller = await authenticate(request, verifier)
        await _limit(caller.user_id, "privacy:requests")
        row = await run_in_threadpool(service.file_request, settings, caller, "export")
        await run_in_threadpool(jobs.send, settings, EXPORT, row["id"])
        return json_response(RequestAccepted(request_id=row["id"], status=row["status"]), 202)

    @api.route(
        "POST",
        "/erasure",
        summary="Ask for your account and everything about you to be erased",
        description=(
            "Needs a sign-in in the last 10 minutes (the token's newest amr timestamp; sign in "
            "again) and the "
            "account's email in `confirm`. Projects you own alone pass to their longest-standing "
            "admin (or are deleted); everything else about you is deleted."
        ),
        body=ErasureRequest,
        security="bearer",
        responses={
            202: ("The request, pending", RequestAccepted),
            403: ("reauthentication_required: sign in again first", None),
            409: ("An erasure of yours is already open", None),
            **_ERRORS,
        },
    )
    async def request_erasure(request: Request) -> Response:
        caller = await authenticate(request, verifier)
        await _limit(caller.user_id, "privacy:requests")
        body = await read_body(request, ErasureRequest)
        await run_in_threadpool(service.check_erasure, settings, caller, body)
        row = await run_in_threadpool(service.file_request, settings, caller, "erasure")
        await run_in_threadpool(jobs.send, settings, ERASURE, row["id"])
        return json_response(RequestAccepted(request_id=row["id"], status=row["status"]), 202)

    @api.route(
        "GET",
        "/requests/{id}/download",
        summary="Presign a download of your completed export",
        security="bearer",
        path_params={"id": {"type": "string", "format": "uuid"}},
        responses={
            200: ("Presigned GET URL of the archive", ExportDownload),
            404: ("No such export of yours", None),
            409: ("The export is not completed yet", None),
            410: ("The export has expired (7 days)", None),
            **_ERRORS,
        },
    )
    async def download(request: Request) -> Response:
        caller = await authenticate(request, verifier)
        await _limit(caller.user_id, "privacy:downloads")
        request_id = path_uuid(request, "id")
        result = await run_in_threadpool(
            service.sign_export_download, settings, caller, str(request_id)
        )
        return json_response(result)

    return api.build()


settings = load_privacy_settings(*REQUIRED)
app = create_app(settings)
