"""What the integrations HTTP API does: connect (authorize + callback), sync now, remote
items, links, webhook secrets and revoke.

Everything a caller asks goes through PostgREST with their JWT (RLS and the definer RPCs
decide). The service role is used for what no client role may touch: the OAuth state, the
pending connects, the encrypted credentials, and the callback (the provider sends the browser
back without the caller's token). A connect is bound to its starter: the callback only keeps
the provider's code as a pending connect, and the starter's own session finishes it."""

from __future__ import annotations

import base64
import hashlib
import secrets
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from core import log
from core.auth import Caller
from core.errors import ApiError, forbidden, not_found
from core.rest import as_caller, as_service
from integrations import crypto, store
from integrations.config import IntegrationsSettings
from integrations.models import (
    OAUTH_PROVIDERS,
    IntegrationOut,
    LinkOut,
    LinkRequest,
    LinkResponse,
    RemoteItem,
    RemoteItemsPage,
    RevokeResponse,
    SyncOut,
    WebhookSecretResponse,
)
from integrations.providers import GitHub, Google, ProviderError, for_provider

INTEGRATION_COLUMNS = (
    "id,user_id,provider,project_id,status,external_account_id,external_account_name,scopes,"
    "last_synced_at,last_error"
)
SIGNATURES = {
    "github": "X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body>",
    "linear": "Linear-Signature: <hex HMAC-SHA256 of the raw body>",
    "jira": "X-Hub-Signature: sha256=<hex HMAC-SHA256 of the raw body>",
    "hubspot": "X-HubSpot-Signature-v3 (base64 HMAC-SHA256 of method+URI+body+timestamp)",
}
GENERIC_SIGNATURE = (
    "X-Signature-256: sha256=<hex HMAC-SHA256 of '<X-Signature-Timestamp>.<raw body>'>, "
    "X-Delivery-Id"
)


def provider_name(raw: str) -> str:
    name = OAUTH_PROVIDERS.get(raw)
    if name is None:
        raise not_found(f"unknown provider {raw!r}; use one of: github, google_docs")
    return name


def _client(settings: IntegrationsSettings, provider: str) -> GitHub | Google:
    client = for_provider(settings, provider)
    if not client.configured:
        raise ApiError(503, "provider_not_configured", f"{provider} OAuth is not configured")
    return client


def callback_uri(settings: IntegrationsSettings, provider: str) -> str:
    return f"{settings.public_url}/{provider}/callback"


def check_redirect(settings: IntegrationsSettings, redirect_to: str) -> str:
    """``redirect_to`` if its origin is on the allow-list (400 otherwise)."""
    try:
        parts = urlsplit(redirect_to)
        port = parts.port
    except ValueError:
        parts, port = None, None
    if (
        parts is None
        or parts.scheme not in ("http", "https")
        or not parts.hostname
        or parts.username is not None
        or parts.password is not None
        or "\\" in redirect_to
        or any(ord(c) < 33 for c in redirect_to)
    ):
        raise ApiError(400, "redirect_not_allowed", "redirect_to must be an absolute http(s) URL")
    origin = f"{parts.scheme}://{parts.hostname}" + (f":{port}" if port else "")
    if origin not in settings.redirect_allowlist:
        raise ApiError(
            400, "redirect_not_allowed", f"redirect_to origin {origin} is not on the allow-list"
        )
    return redirect_to


def with_query(url: str, **params: str) -> str:
    parts = urlsplit(url)
    query = "&".join(p for p in (parts.query, urlencode(params)) if p)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


def _is_project_admin(rest: Any, project_id: str, user_id: str) -> bool:
    rows = rest.select(
        "project_members",
        {"project_id": f"eq.{project_id}", "user_id": f"eq.{user_id}", "select": "role"},
    )
    return bool(rows) and rows[0]["role"] in ("admin", "owner")


# --- connect --------------------------------------------------------------------------------------
def authorize(
    settings: IntegrationsSettings,
    caller: Caller,
    provider: str,
    project_id: str | None,
    redirect_to: str,
) -> str:
    client = _client(settings, provider)
    check_redirect(settings, redirect_to)
    if project_id is not None and not _is_project_admin(
        as_caller(settings, caller.token), project_id, caller.user_id
    ):
        raise forbidden("only admins of the project can connect an integration to it")
    state = secrets.token_urlsafe(32)
    verifier = secrets.token_urlsafe(64)
    challenge = (
        base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii")).digest())
        .rstrip(b"=")
        .decode("ascii")
    )
    assert settings.integrations_kms_key_id
    sealed = crypto.seal(
        settings, settings.integrations_kms_key_id, f"oauth_state:{state}", {"verifier": verifier}
    )
    as_service(settings).request(
        "POST",
        "rpc/save_oauth_state",
        json={
            "state": state,
            "user_id": caller.user_id,
            "provider": provider,
            "project_id": project_id,
            "code_verifier_ciphertext": (
                f"{sealed.data_key_ciphertext}.{sealed.ciphertexts['verifier']}"
            ),
            "redirect_uri": redirect_to,
        },
    )
    return client.authorize_url(state, challenge, callback_uri(settings, provider))


def invalid_state() -> ApiError:
    return ApiError(
        400, "invalid_state", "the OAuth state is unknown, expired or already used; connect again"
    )


def invalid_connect_code() -> ApiError:
    return ApiError(
        400,
        "invalid_connect_code",
        "the connect code is unknown, expired or already used; connect again",
    )


def _code_hash(connect_code: str) -> str:
    return hashlib.sha256(connect_code.encode("utf-8")).hexdigest()


def callback(settings: IntegrationsSettings, provider: str, query: dict[str, str]) -> str:
    """The provider sent the browser back: keep its authorization code as a pending connect
    and send the browser to ``redirect_to`` with ``?connect_code=<one-time code>`` (or
    ``?error=<code>``). Nothing is connected here: the state says who started the flow, not
    whose browser this is, so the app finishes it under its own session (:func:`complete`)."""
    state = query.get("state") or ""
    if not (32 <= len(state) <= 200):
        raise invalid_state()
    rest = as_service(settings)
    rows = rest.rpc("take_oauth_state", {"state": state})
    if not rows or rows[0]["provider"] != provider:
        raise invalid_state()
    saved = rows[0]
    redirect_to = saved["redirect_uri"]
    if query.get("error"):
        return with_query(redirect_to, error=query["error"][:100])
    code = query.get("code")
    if not code:
        return with_query(redirect_to, error="invalid_request")
    data_key, _, ciphertext = saved["code_verifier_ciphertext"].partition(".")
    try:
        verifier = crypto.open_sealed(
            settings, f"oauth_state:{state}", data_key, {"verifier": ciphertext}
        )["verifier"]
    except crypto.CryptoError:
        raise invalid_state() from None
    connect_code = secrets.token_urlsafe(32)
    code_hash = _code_hash(connect_code)
    assert settings.integrations_kms_key_id
    sealed = crypto.seal(
        settings,
        settings.integrations_kms_key_id,
        f"pending_connect:{code_hash}",
        {"code": code, "verifier": verifier or ""},
    )
    rest.request(
        "POST",
        "rpc/save_pending_connect",
        json={
            "code_hash": code_hash,
            "user_id": saved["user_id"],
            "provider": provider,
            "project_id": saved["project_id"],
            "grant_ciphertext": (
                f"{sealed.data_key_ciphertext}.{sealed.ciphertexts['code']}"
                f".{sealed.ciphertexts['verifier']}"
            ),
        },
    )
    return with_query(redirect_to, connect_code=connect_code)


def complete(
    settings: IntegrationsSettings, caller: Caller, provider: str, connect_code: str
) -> IntegrationOut:
    """Finish a connect with the code the callback gave the browser, as the caller. The
    pending connect is taken once; only the user who started the flow gets the grant (403 for
    anyone else, and the grant is discarded unexchanged: nothing is connected for anybody)."""
    rest = as_service(settings)
    rows = rest.rpc("take_pending_connect", {"code_hash": _code_hash(connect_code)})
    if not rows or rows[0]["provider"] != provider:
        raise invalid_connect_code()
    pending = rows[0]
    if str(pending["user_id"]) != caller.user_id:
        log.warning("connect completed by someone else", provider=provider)
        raise forbidden(
            "this connect was started by another account; nothing was connected. "
            "Start connecting from your own account."
        )
    data_key, _, rest_of = pending["grant_ciphertext"].partition(".")
    code_ciphertext, _, verifier_ciphertext = rest_of.partition(".")
    try:
        grant = crypto.open_sealed(
            settings,
            f"pending_connect:{_code_hash(connect_code)}",
            data_key,
            {"code": code_ciphertext, "verifier": verifier_ciphertext},
        )
    except crypto.CryptoError:
        raise invalid_connect_code() from None
    client = _client(settings, provider)
    try:
        tokens = client.exchange(
            grant["code"] or "", grant["verifier"] or "", callback_uri(settings, provider)
        )
        account_id, account_name, granted = client.whoami(tokens.access_token)
    except ProviderError as exc:
        log.warning("oauth exchange failed", provider=provider, kind=exc.kind, code=exc.code)
        if exc.kind in ("unavailable", "rate_limited"):
            raise ApiError(
                503, "provider_unavailable", f"{provider} is unavailable; connect again later"
            ) from None
        raise ApiError(
            400,
            "provider_refused",
            f"{provider} refused the authorization ({exc.code or exc.kind}); connect again",
        ) from None
    project_id = pending["project_id"]
    if project_id is not None and not _is_project_admin(rest, project_id, caller.user_id):
        raise forbidden("only admins of the project can connect an integration to it")
    values: dict[str, Any] = {
        "status": "connected",
        "external_account_name": account_name[:200],
        "scopes": (granted if granted is not None else tokens.scopes)[:50],
        "last_error": None,
    }
    if project_id is not None:
        values["project_id"] = project_id
    existing = rest.update(
        "integrations",
        {
            "user_id": f"eq.{caller.user_id}",
            "provider": f"eq.{provider}",
            "external_account_id": f"eq.{account_id}",
            "select": INTEGRATION_COLUMNS,
        },
        values,
    )
    if existing:
        row = existing[0]
    else:
        row = rest.insert(
            "integrations",
            {
                "user_id": caller.user_id,
                "provider": provider,
                "external_account_id": account_id[:200],
                **values,
            },
            {"select": INTEGRATION_COLUMNS},
        )
    integration_id = str(row["id"])
    store.save_tokens(settings, integration_id, tokens)
    if provider == "github" and store.webhook_secret(settings, integration_id) is None:
        store.new_webhook_secret(settings, integration_id)
    log.info("integration connected", provider=provider, integration_id=integration_id)
    return IntegrationOut.model_validate(row)


# --- the caller's integrations --------------------------------------------------------------------
def own_integration(settings: IntegrationsSettings, caller: Caller, integration_id: str) -> dict:
    """The caller's integration (RLS: only their own are visible), else 404."""
    rows = as_caller(settings, caller.token).select(
        "integrations", {"id": f"eq.{integration_id}", "select": INTEGRATION_COLUMNS}
    )
    if not rows:
        raise not_found("no such integration of yours")
    return rows[0]


def _usable(integration: dict) -> None:
    if integration["status"] not in ("connected", "syncing", "error"):
        raise ApiError(
            409, "not_connected", f"the integration is {integration['status']}; connect it first"
        )


def _rpc_error(exc: ApiError) -> ApiError:
    if exc.status == 403:
        return forbidden(exc.message)
    if exc.status == 400 and exc.message.startswith("document "):
        return ApiError(422, "validation_failed", f"document_id: {exc.message}")
    if exc.status == 400:
        return ApiError(409, "not_linked", exc.message)
    return exc


def _require_oauth_provider(integration: dict, what: str) -> None:
    """Webhook-only providers (linear, jira, hubspot, ...) have no API client here."""
    if integration["provider"] not in ("github", "google_docs"):
        raise ApiError(409, f"not_{what}", "this provider feeds the stream through webhooks")


def _require_project(integration: dict) -> None:
    if integration["project_id"] is None:
        # last_error says why when it was unlinked (its owner lost the right to write there)
        raise ApiError(
            409,
            "not_linked",
            integration.get("last_error") or "connect the integration to a project first",
        )


def queue_sync(settings: IntegrationsSettings, caller: Caller, integration_id: str) -> SyncOut:
    integration = own_integration(settings, caller, integration_id)
    _usable(integration)
    _require_project(integration)
    _require_oauth_provider(integration, "syncable")
    try:
        job = as_caller(settings, caller.token).rpc(
            "queue_integration_sync", {"integration_id": integration_id}
        )
    except ApiError as exc:
        raise _rpc_error(exc) from None
    from integrations.jobs import send_sync  # the pipeline loads when a sync is asked for

    send_sync(settings, str(job["id"]))
    return SyncOut.model_validate(job)


def _provider_call(settings: IntegrationsSettings, integration: dict, fn: Any) -> Any:
    """Run ``fn(token)`` with a fresh token; one refresh on 401; reconnect state if refused."""
    try:
        token = store.fresh_access_token(settings, integration)
        try:
            return fn(token)
        except ProviderError as exc:
            if exc.kind != "unauthorized":
                raise
            return fn(store.refresh(settings, integration))
    except store.ReconnectNeededError:
        raise ApiError(
            409, "reconnect_required", store.RECONNECT_MESSAGES[integration["provider"]]
        ) from None
    except ProviderError as exc:
        if exc.kind == "unauthorized":
            store.mark_reconnect(settings, integration)
            raise ApiError(
                409, "reconnect_required", store.RECONNECT_MESSAGES[integration["provider"]]
            ) from None
        headers = {"Retry-After": str(int(exc.retry_after))} if exc.retry_after else None
        raise ApiError(
            503, "provider_unavailable", f"{integration['provider']}: {exc}", headers
        ) from None


def remote_items(
    settings: IntegrationsSettings,
    caller: Caller,
    integration_id: str,
    page: str | None,
    per_page: int,
) -> RemoteItemsPage:
    integration = own_integration(settings, caller, integration_id)
    _usable(integration)
    _require_oauth_provider(integration, "listable")
    client = for_provider(settings, integration["provider"])
    if isinstance(client, GitHub):
        if page is not None and not (
            page.isascii() and page.isdigit() and 1 <= int(page) <= 10_000
        ):
            raise ApiError(422, "validation_failed", "page: a page number")
        number = int(page or 1)
        items, more = _provider_call(
            settings, integration, lambda t: client.remote_items(t, number, per_page)
        )
        next_page = str(number + 1) if more else None
    else:
        google = client
        items, next_page = _provider_call(
            settings, integration, lambda t: google.remote_items(t, page, per_page)
        )
    return RemoteItemsPage(items=[RemoteItem.model_validate(i) for i in items], next_page=next_page)


def link(
    settings: IntegrationsSettings, caller: Caller, integration_id: str, body: LinkRequest
) -> LinkResponse:
    integration = own_integration(settings, caller, integration_id)
    _usable(integration)
    _require_project(integration)
    _require_oauth_provider(integration, "linkable")
    rest = as_caller(settings, caller.token)
    client = for_provider(settings, integration["provider"])
    if isinstance(client, GitHub):
        if body.document_id is not None:
            raise ApiError(422, "validation_failed", "document_id: only for Google documents")
        if body.external_id.count("/") != 1:
            raise ApiError(422, "validation_failed", "external_id: must be owner/name")
        repo = _provider_call(
            settings,
            integration,
            lambda t: _github_repo(client, t, body.external_id),
        )
        link_row = _link_rpc(
            rest,
            integration_id,
            "repository",
            repo["full_name"],
            repo["full_name"],
            repo.get("html_url"),
            None,
        )
        sync = queue_sync(settings, caller, integration_id)
        return LinkResponse(link=LinkOut.model_validate(link_row), sync=sync)
    google = client
    meta, content = _provider_call(
        settings,
        integration,
        lambda t: (google.metadata(t, body.external_id), google.export(t, body.external_id)),
    )
    link_row = _link_rpc(
        rest,
        integration_id,
        "document",
        meta["id"],
        meta.get("name"),
        meta.get("webViewLink"),
        str(body.document_id) if body.document_id else None,
    )
    document_id = link_row.get("document_id")
    if document_id is None:
        try:
            document_id = rest.insert(
                "documents",
                {
                    "project_id": integration["project_id"],
                    "type": "custom",
                    "title": (meta.get("name") or "Imported document")[:300],
                    "created_by": caller.user_id,
                },
                {"select": "id"},
            )["id"]
        except ApiError as exc:
            raise _rpc_error(exc) from None
        link_row = _link_rpc(
            rest,
            integration_id,
            "document",
            meta["id"],
            meta.get("name"),
            meta.get("webViewLink"),
            document_id,
        )
    version = import_version(
        rest, document_id, content, meta, summary_prefix="Imported from Google Docs"
    )
    as_service(settings).update(
        "integration_links",
        {"id": f"eq.{link_row['id']}"},
        {
            "sync_cursor": {
                "version": str(meta.get("version")),
                "modified": meta.get("modifiedTime"),
            },
            "last_synced_at": "now()",
        },
    )
    return LinkResponse(link=LinkOut.model_validate(link_row), document_version=version)


def version_summary(meta: dict, prefix: str) -> str:
    summary = f"{prefix}: {meta.get('name') or meta.get('id')}"
    if meta.get("version"):
        summary += f" (Drive version {meta['version']})"
    return summary[:1000]


def import_version(
    rest: Any,
    document_id: str,
    content: str,
    meta: dict,
    summary_prefix: str,
) -> int:
    """A new version of the project document with the exported text and a change summary, as
    the caller (they are its author; the sync writes its versions through
    ``store.import_document_version``)."""
    row: dict[str, Any] = {
        "document_id": document_id,
        "content": content[:1_000_000],
        "change_summary": version_summary(meta, summary_prefix),
    }
    try:
        created = rest.insert("document_versions", row, {"select": "version"})
    except ApiError as exc:
        raise _rpc_error(exc) from None
    return int(created["version"])


def _github_repo(client: GitHub, token: str, full_name: str) -> dict:
    from integrations.providers import call

    try:
        return call(client.s, "GET", client.api(f"/repos/{full_name}"), token=token).json()
    except ProviderError as exc:
        if exc.kind == "rejected" and exc.status == 404:
            raise not_found(f"repository {full_name} is not visible to this account") from None
        raise


def _link_rpc(
    rest: Any,
    integration_id: str,
    kind: str,
    external_id: str,
    name: str | None,
    url: str | None,
    document_id: str | None,
) -> dict:
    try:
        return rest.rpc(
            "link_integration_item",
            {
                "integration_id": integration_id,
                "kind": kind,
                "external_id": external_id,
                "name": name,
                "url": url,
                "document_id": document_id,
            },
        )
    except ApiError as exc:
        raise _rpc_error(exc) from None


# --- webhook secret and revoke --------------------------------------------------------------------
def rotate_webhook_secret(
    settings: IntegrationsSettings, caller: Caller, integration_id: str
) -> WebhookSecretResponse:
    integration = own_integration(settings, caller, integration_id)
    if integration["status"] == "revoked":
        raise ApiError(409, "not_connected", "the integration is revoked")
    secret = store.new_webhook_secret(settings, integration_id)
    if integration["status"] == "pending" and integration["provider"] not in OAUTH_PROVIDERS:
        # webhook-only providers (task boards, CRMs) are connected by their secret
        as_service(settings).update(
            "integrations", {"id": f"eq.{integration_id}"}, {"status": "connected"}
        )
    provider = integration["provider"]
    return WebhookSecretResponse(
        secret=secret,
        url=f"{settings.public_url}/webhooks/{provider}?integration={integration_id}",
        signature=SIGNATURES.get(provider, GENERIC_SIGNATURE),
    )


def revoke(settings: IntegrationsSettings, caller: Caller, integration_id: str) -> RevokeResponse:
    integration = own_integration(settings, caller, integration_id)
    provider_revoked = False
    if integration["provider"] in ("github", "google_docs"):
        try:
            tokens = store.load_tokens(settings, integration_id)
        except crypto.CryptoError:
            tokens = None
        if tokens is not None:
            client = for_provider(settings, integration["provider"])
            try:
                client.revoke(tokens.access_token)
                provider_revoked = True
            except ProviderError as exc:
                # the local grant goes anyway; the provider's stays until it expires
                log.warning("provider revoke failed", kind=exc.kind, integration_id=integration_id)
    as_service(settings).request(
        "POST", "rpc/delete_integration_credentials", json={"integration_id": integration_id}
    )
    as_caller(settings, caller.token).update(
        "integrations", {"id": f"eq.{integration_id}"}, {"status": "revoked"}
    )
    return RevokeResponse(id=integration_id, status="revoked", provider_revoked=provider_revoked)


def get_integration_out(row: dict) -> IntegrationOut:
    return IntegrationOut.model_validate(row)
