"""Integrations function (HTTP): OAuth connect, sync now, remote items, links, webhook
secrets, revoke, and the providers' webhooks.

Mounted at ``/functions/v1/integrations``. What a caller asks goes through PostgREST with
their JWT (RLS and the definer RPCs decide); see ``integrations.service``. The work modules
(service, store, webhooks; with them the provider clients, KMS and AES-GCM) load on the
first request that needs them, not on the cold import.
"""

from __future__ import annotations

import uuid

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from core import metrics, ratelimit
from core.auth import Caller, TokenVerifier
from core.errors import ApiError, not_found
from core.http import FunctionApp, authenticate, json_response, path_uuid, read_body
from core.rest import as_service
from integrations import FUNCTION, REQUIRED, config
from integrations.config import IntegrationsSettings
from integrations.models import (
    WEBHOOK_PROVIDERS,
    AuthorizeResponse,
    ConnectCompleteRequest,
    IntegrationOut,
    LinkRequest,
    LinkResponse,
    Pong,
    RemoteItemsPage,
    RevokeResponse,
    SyncOut,
    WebhookAccepted,
    WebhookSecretResponse,
)

_ERRORS = {
    400: ("Malformed request", None),
    401: ("Missing or invalid access token", None),
    422: ("A field failed validation (the message names it)", None),
    429: ("Rate limited; see Retry-After", None),
}
_ID = {"id": {"type": "string", "format": "uuid"}}
_PROVIDER = {"provider": {"type": "string", "enum": ["github", "google_docs"]}}


def _query_uuid(request: Request, name: str, required: bool = False) -> str | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        if required:
            raise ApiError(422, "validation_failed", f"{name}: required")
        return None
    try:
        return str(uuid.UUID(raw))
    except ValueError:
        raise ApiError(422, "validation_failed", f"{name}: must be a UUID") from None


async def _raw_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isascii() and declared.isdigit() and int(declared) > limit:
        raise ApiError(413, "body_too_large", f"the delivery exceeds {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ApiError(413, "body_too_large", f"the delivery exceeds {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def create_app(settings: IntegrationsSettings) -> Starlette:
    settings.require(*REQUIRED)
    verifier = TokenVerifier(settings)
    api = FunctionApp(
        FUNCTION,
        "integrations",
        description="OAuth connect (GitHub, Google Docs), sync, links and signed webhooks.",
    )

    async def limited(request: Request, bucket: str, per_minute: int | None = None) -> Caller:
        caller = await authenticate(request, verifier)
        await run_in_threadpool(
            ratelimit.enforce,
            settings,
            caller.user_id,
            f"integrations:{bucket}",
            per_minute or settings.rate_limit_per_minute,
        )
        return caller

    @api.route(
        "POST",
        "/webhooks/{provider}",
        summary="A provider's webhook delivery: signature checked, deduplicated, ingested",
        description=(
            "?integration=<id> names the integration whose secret signs the delivery "
            "(see POST /{id}/webhook-secret). A replayed delivery id answers 200 with "
            "duplicate=true and writes nothing; GitHub's ping answers pong."
        ),
        security="webhook",
        path_params={"provider": {"type": "string", "enum": list(WEBHOOK_PROVIDERS)}},
        responses={
            200: ("Ping answered, or a replay (nothing written)", WebhookAccepted),
            202: ("Ingested", WebhookAccepted),
            400: ("Malformed delivery", None),
            401: ("Missing or wrong signature, or outside the time window", None),
            404: ("Unknown provider or integration", None),
            409: (
                "The integration is not linked to a project (or its owner is no longer an "
                "editor of it: unlinked, nothing written)",
                None,
            ),
            413: ("Body too large", None),
            422: ("The body does not have the provider's payload shape", None),
        },
    )
    async def webhook(request: Request) -> Response:
        provider = request.path_params["provider"]
        label = provider if provider in WEBHOOK_PROVIDERS else "unknown"
        try:
            answer = await receive_webhook(request, provider)
        except ApiError as exc:
            metrics.count(metrics.WEBHOOKS_REFUSED, provider=label, reason=exc.code)
            raise
        metrics.count(metrics.WEBHOOKS_ACCEPTED, provider=label)
        return answer

    async def receive_webhook(request: Request, provider: str) -> Response:
        from integrations import store, webhooks

        if provider not in WEBHOOK_PROVIDERS:
            raise not_found(f"unknown webhook provider {provider!r}")
        raw = await _raw_body(request, settings.webhook_max_bytes)
        try:
            integration_id = _query_uuid(request, "integration", required=True)
        except ApiError:
            raise not_found("unknown integration: pass ?integration=<id>") from None
        rows = await run_in_threadpool(
            as_service(settings).select,
            "integrations",
            {"id": f"eq.{integration_id}", "select": "id,provider,project_id,status"},
        )
        if not rows or rows[0]["provider"] != provider or rows[0]["status"] == "revoked":
            raise not_found("unknown integration")
        integration = rows[0]
        secret = await run_in_threadpool(store.webhook_secret, settings, str(integration_id))
        if secret is None:
            raise not_found("the integration has no webhook secret")
        url = f"{settings.public_url}/webhooks/{provider}"
        if request.url.query:
            url += f"?{request.url.query}"
        delivery = webhooks.verify(
            provider,
            secret,
            dict(request.headers),
            raw,
            method=request.method,
            url=url,
            tolerance=settings.webhook_timestamp_tolerance_seconds,
        )
        if delivery.ping:
            return json_response(Pong())
        if not delivery.delivery_id:
            raise ApiError(400, "missing_delivery_id", "the delivery has no delivery id header")
        if integration["project_id"] is None:
            raise ApiError(409, "not_linked", "the integration is not linked to a project")
        project_id = str(integration["project_id"])
        if provider == "github":
            events = webhooks.github_rows(delivery, project_id)
        else:
            events = webhooks.other_rows(provider, delivery, project_id)
        try:
            written = await run_in_threadpool(
                store.ingest, settings, str(integration_id), delivery.delivery_id[:200], events
            )
        except store.UnlinkedError as exc:
            raise ApiError(409, "not_linked", str(exc)) from None
        if written < 0:
            return json_response(WebhookAccepted(accepted=0, duplicate=True))
        return json_response(WebhookAccepted(accepted=written), 202)

    @api.route(
        "GET",
        "/{provider}/authorize",
        summary="Start connecting a provider: the authorize URL with state and PKCE",
        description=(
            "Query: project_id (optional, the caller must be an admin of it), redirect_to "
            "(required, its origin on the allow-list). The state is single use, 10 minutes."
        ),
        security="bearer",
        path_params=_PROVIDER,
        responses={
            200: ("The provider's authorize URL", AuthorizeResponse),
            403: ("Not an admin of the project", None),
            404: ("Unknown provider", None),
            **_ERRORS,
        },
    )
    async def authorize(request: Request) -> Response:
        from integrations import service

        caller = await limited(request, "authorize")
        provider = service.provider_name(request.path_params["provider"])
        project_id = _query_uuid(request, "project_id")
        redirect_to = request.query_params.get("redirect_to")
        if not redirect_to:
            raise ApiError(422, "validation_failed", "redirect_to: required")
        if len(redirect_to) > 2000:
            raise ApiError(422, "validation_failed", "redirect_to: at most 2000 characters")
        url = await run_in_threadpool(
            service.authorize, settings, caller, provider, project_id, redirect_to
        )
        return json_response(AuthorizeResponse(url=url))

    @api.route(
        "GET",
        "/{provider}/callback",
        summary="The provider sends the browser back here: 302 to redirect_to with a connect code",
        description=(
            "Connects nothing: the provider's code is kept as a pending connect (single use, "
            "10 minutes, bound to the user who started authorize) and the browser goes to "
            "redirect_to with ?connect_code=<code>, which the app finishes with POST "
            "/{provider}/connect/complete under its own session; ?error=<code> when the "
            "provider refused. An unknown, expired, replayed or tampered state answers 400 "
            "invalid_state and stores nothing."
        ),
        path_params=_PROVIDER,
        responses={
            302: ("Back to the frontend", None),
            400: ("invalid_state", None),
            404: ("Unknown provider", None),
        },
    )
    async def callback(request: Request) -> Response:
        from integrations import service

        provider = service.provider_name(request.path_params["provider"])
        query = {k: v for k, v in request.query_params.items() if len(v) <= 2000}
        location = await run_in_threadpool(service.callback, settings, provider, query)
        return RedirectResponse(location, status_code=302)

    @api.route(
        "POST",
        "/{provider}/connect/complete",
        summary="Finish a connect with the callback's connect code, as the user who started it",
        description=(
            "The code is taken once, whoever presents it. Only the user who started authorize "
            "gets the grant: anyone else gets 403 and the pending grant is discarded, so a "
            "link someone else made and you opened connects nothing for either of you. The "
            "provider's code is exchanged (PKCE) only here, after that check."
        ),
        security="bearer",
        body=ConnectCompleteRequest,
        path_params=_PROVIDER,
        responses={
            200: (
                "Connected (a reconnect of the same account updates its integration)",
                IntegrationOut,
            ),
            400: ("invalid_connect_code, provider_refused, or a malformed body", None),
            403: (
                "Started by another user (nothing connected), or no longer a project admin",
                None,
            ),
            404: ("Unknown provider", None),
            503: ("The provider is unavailable", None),
            **{k: v for k, v in _ERRORS.items() if k != 400},
        },
    )
    async def complete(request: Request) -> Response:
        from integrations import service

        caller = await limited(request, "complete")
        provider = service.provider_name(request.path_params["provider"])
        body = await read_body(request, ConnectCompleteRequest)
        result = await run_in_threadpool(
            service.complete, settings, caller, provider, body.connect_code
        )
        return json_response(result)

    @api.route(
        "POST",
        "/{id}/sync",
        summary="Queue a sync of the caller's integration now",
        security="bearer",
        path_params=_ID,
        responses={
            202: ("The waiting or running sync job", SyncOut),
            404: ("No such integration of the caller's", None),
            409: ("Not connected, or not linked to a project", None),
            **_ERRORS,
        },
    )
    async def sync_now(request: Request) -> Response:
        from integrations import service

        caller = await limited(request, "sync")
        integration_id = str(path_uuid(request, "id"))
        job = await run_in_threadpool(service.queue_sync, settings, caller, integration_id)
        return json_response(job, 202)

    @api.route(
        "GET",
        "/{id}/remote-items",
        summary="What the account offers to link (GitHub repositories, Google documents), paged",
        description="Query: page (from next_page), per_page (1-100, default 30).",
        security="bearer",
        path_params=_ID,
        responses={
            200: ("One page", RemoteItemsPage),
            404: ("No such integration of the caller's", None),
            409: ("Not connected, or the provider needs a reconnect", None),
            503: ("The provider is unavailable", None),
            **_ERRORS,
        },
    )
    async def remote_items(request: Request) -> Response:
        from integrations import service

        caller = await limited(request, "remote-items")
        integration_id = str(path_uuid(request, "id"))
        page = request.query_params.get("page")
        if page is not None and (
            len(page) > 200 or not page.replace("-", "").replace("_", "").isalnum()
        ):
            raise ApiError(422, "validation_failed", "page: not a page token")
        raw_per_page = request.query_params.get("per_page", "30")
        if (
            not (raw_per_page.isascii() and raw_per_page.isdigit())
            or not 1 <= int(raw_per_page) <= 100
        ):
            raise ApiError(422, "validation_failed", "per_page: an integer from 1 to 100")
        result = await run_in_threadpool(
            service.remote_items, settings, caller, integration_id, page, int(raw_per_page)
        )
        return json_response(result)

    @api.route(
        "POST",
        "/{id}/links",
        summary="Link a repository to the project, or import a Google document into it",
        security="bearer",
        body=LinkRequest,
        path_params=_ID,
        responses={
            201: ("The link (and the queued sync / the imported version)", LinkResponse),
            403: ("Not an admin of the integration's project", None),
            404: ("No such integration, or the item is not visible to the account", None),
            409: ("Not connected, or not linked to a project", None),
            **_ERRORS,
        },
    )
    async def create_link(request: Request) -> Response:
        from integrations import service

        caller = await limited(request, "links")
        integration_id = str(path_uuid(request, "id"))
        body = await read_body(request, LinkRequest)
        result = await run_in_threadpool(service.link, settings, caller, integration_id, body)
        return json_response(result, 201)

    @api.route(
        "POST",
        "/{id}/webhook-secret",
        summary="A new webhook signing secret for the integration (shown once)",
        security="bearer",
        path_params=_ID,
        responses={
            201: ("The secret, the delivery URL and the signature scheme", WebhookSecretResponse),
            404: ("No such integration of the caller's", None),
            409: ("The integration is revoked", None),
            **_ERRORS,
        },
    )
    async def webhook_secret(request: Request) -> Response:
        from integrations import service

        caller = await limited(request, "webhook-secret", 10)
        integration_id = str(path_uuid(request, "id"))
        result = await run_in_threadpool(
            service.rotate_webhook_secret, settings, caller, integration_id
        )
        return json_response(result, 201, headers={"Cache-Control": "no-store"})

    @api.route(
        "DELETE",
        "/{id}",
        summary="Disconnect: revoke the grant at the provider, delete the credentials",
        security="bearer",
        path_params=_ID,
        responses={
            200: ("Revoked", RevokeResponse),
            404: ("No such integration of the caller's", None),
            **_ERRORS,
        },
    )
    async def revoke(request: Request) -> Response:
        from integrations import service

        caller = await limited(request, "revoke")
        integration_id = str(path_uuid(request, "id"))
        result = await run_in_threadpool(service.revoke, settings, caller, integration_id)
        return json_response(result)

    return api.build()


settings = config.load(*REQUIRED)
app = create_app(settings)
