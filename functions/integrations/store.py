"""Tokens and secrets at rest (service-role RPCs on the private tables, envelope encrypted),
fresh tokens (refresh before expiry), and the "reconnect" state with its notification."""

from __future__ import annotations

import secrets
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from core import log
from core.rest import as_service
from integrations import crypto
from integrations.config import IntegrationsSettings
from integrations.providers import Meter, ProviderError, TokenSet, for_provider

REFRESH_BEFORE = timedelta(minutes=5)
RECONNECT_MESSAGES = {
    "github": "GitHub refused the saved authorization; reconnect GitHub to resume syncing.",
    "google_docs": "Google refused the saved authorization; reconnect Google Docs to resume.",
}


class ReconnectNeededError(Exception):
    """The grant is gone (revoked, expired refresh token): the user has to connect again."""


def _context(integration_id: str) -> str:
    return f"integration:{integration_id}"


def save_tokens(settings: IntegrationsSettings, integration_id: str, tokens: TokenSet) -> None:
    assert settings.integrations_kms_key_id
    sealed = crypto.seal(
        settings,
        settings.integrations_kms_key_id,
        _context(integration_id),
        {"access_token": tokens.access_token, "refresh_token": tokens.refresh_token},
    )
    as_service(settings).request(
        "POST",
        "rpc/save_integration_credentials",
        json={
            "integration_id": integration_id,
            "access_token_ciphertext": sealed.ciphertexts["access_token"],
            "refresh_token_ciphertext": sealed.ciphertexts["refresh_token"],
            "data_key_ciphertext": sealed.data_key_ciphertext,
            "key_id": sealed.key_id,
            "expires_at": tokens.expires_at.isoformat() if tokens.expires_at else None,
        },
    )


def load_tokens(settings: IntegrationsSettings, integration_id: str) -> TokenSet | None:
    rows = as_service(settings).rpc(
        "get_integration_credentials", {"integration_id": integration_id}
    )
    if not rows:
        return None
    row = rows[0]
    plain = crypto.open_sealed(
        settings,
        _context(integration_id),
        row["data_key_ciphertext"],
        {
            "access_token": row["access_token_ciphertext"],
            "refresh_token": row["refresh_token_ciphertext"],
        },
    )
    expires = row.get("expires_at")
    return TokenSet(
        access_token=plain["access_token"] or "",
        refresh_token=plain["refresh_token"],
        expires_at=datetime.fromisoformat(expires) if expires else None,
        scopes=[],
    )


def fresh_access_token(
    settings: IntegrationsSettings, integration: dict[str, Any], meter: Meter | None = None
) -> str:
    """The access token, refreshed first when it expires within five minutes. A refused
    refresh (or no credentials) marks the integration for reconnection and raises."""
    integration_id = str(integration["id"])
    tokens = load_tokens(settings, integration_id)
    if tokens is None:
        mark_reconnect(settings, integration)
        raise ReconnectNeededError("no credentials are stored")
    if tokens.expires_at is None or tokens.expires_at - datetime.now(UTC) > REFRESH_BEFORE:
        return tokens.access_token
    return refresh(settings, integration, tokens, meter)


def refresh(
    settings: IntegrationsSettings,
    integration: dict[str, Any],
    tokens: TokenSet | None = None,
    meter: Meter | None = None,
) -> str:
    integration_id = str(integration["id"])
    tokens = tokens or load_tokens(settings, integration_id)
    if tokens is None or not tokens.refresh_token:
        mark_reconnect(settings, integration)
        raise ReconnectNeededError("the token expired and there is no refresh token")
    client = for_provider(settings, integration["provider"])
    try:
        new = client.refresh(tokens.refresh_token)
    except ProviderError as exc:
        if exc.kind in ("oauth", "unauthorized"):
            mark_reconnect(settings, integration)
            raise ReconnectNeededError(str(exc)) from exc
        raise
    if meter is not None:
        meter.requests += 1
    save_tokens(settings, integration_id, new)
    log.info("token refreshed", integration_id=integration_id)
    return new.access_token


def mark_reconnect(settings: IntegrationsSettings, integration: dict[str, Any]) -> None:
    """Status error with a message asking to reconnect; the owner is notified once."""
    message = RECONNECT_MESSAGES.get(
        integration["provider"], "The provider refused the saved authorization; reconnect."
    )
    rest = as_service(settings)
    changed = rest.update(
        "integrations",
        {"id": f"eq.{integration['id']}", "status": "neq.error", "select": "id"},
        {"status": "error", "last_error": message},
    )
    if changed:
        rest.insert(
            "notifications",
            {
                "user_id": integration["user_id"],
                "type": "system",
                "payload": {
                    "kind": "integration_reconnect",
                    "integration_id": str(integration["id"]),
                    "provider": integration["provider"],
                    "project_id": integration.get("project_id"),
                    "message": message,
                },
            },
        )
    else:
        rest.update("integrations", {"id": f"eq.{integration['id']}"}, {"last_error": message})


# --- webhook secrets ------------------------------------------------------------------------------
def new_webhook_secret(settings: IntegrationsSettings, integration_id: str) -> str:
    assert settings.integrations_kms_key_id
    secret = "whsec_" + secrets.token_urlsafe(32)
    sealed = crypto.seal(
        settings,
        settings.integrations_kms_key_id,
        f"webhook:{integration_id}",
        {"secret": secret},
    )
    as_service(settings).request(
        "POST",
        "rpc/save_integration_webhook_secret",
        json={
            "integration_id": integration_id,
            "secret_ciphertext": sealed.ciphertexts["secret"],
            "data_key_ciphertext": sealed.data_key_ciphertext,
            "key_id": sealed.key_id,
        },
    )
    return secret


# (integration id, ciphertext) -> (plaintext, when): a rotated secret has a new ciphertext,
# so the cache never answers an old secret; it saves a KMS Decrypt per delivery
_SECRETS: dict[tuple[str, str], tuple[str, float]] = {}
SECRET_CACHE_SECONDS = 300


def webhook_secret(settings: IntegrationsSettings, integration_id: str) -> str | None:
    rows = as_service(settings).rpc(
        "get_integration_webhook_secret", {"integration_id": integration_id}
    )
    if not rows:
        return None
    key = (integration_id, rows[0]["secret_ciphertext"])
    cached = _SECRETS.get(key)
    if cached is not None and time.monotonic() - cached[1] < SECRET_CACHE_SECONDS:
        return cached[0]
    plain = crypto.open_sealed(
        settings,
        f"webhook:{integration_id}",
        rows[0]["data_key_ciphertext"],
        {"secret": rows[0]["secret_ciphertext"]},
    )
    secret = plain["secret"] or ""
    if len(_SECRETS) > 1000:
        _SECRETS.clear()
    _SECRETS[key] = (secret, time.monotonic())
    return secret


# --- activity ------------------------------------------------------------------------------------
UNLINKED = -2  # rpc ingest_activity: the owner may no longer write into the project
UNLINKED_MESSAGE = (
    "nothing was written: the integration is not linked to the project (its owner is no "
    "longer an editor of it, so it was unlinked)"
)


class UnlinkedError(Exception):
    """The integration's owner may no longer write into its project: the database unlinked it
    in the transaction that would have written (and told the owner); nothing was written."""


def ingest(
    settings: IntegrationsSettings,
    integration_id: str,
    delivery_id: str | None,
    events: list[dict[str, Any]],
) -> int:
    """Rows written; -1 for a replayed delivery; :class:`UnlinkedError` when the owner lost
    the right to write into the project (checked in the writing transaction)."""
    written = int(
        as_service(settings).rpc(
            "ingest_activity",
            {"integration_id": integration_id, "delivery_id": delivery_id, "events": events},
        )
    )
    if written == UNLINKED:
        raise UnlinkedError(UNLINKED_MESSAGE)
    return written


def import_document_version(
    settings: IntegrationsSettings, link_id: str, content: str, change_summary: str
) -> int:
    """The sync's new version of a linked project document (its number), written only while
    the owner may write into the project (checked in the writing transaction), else
    :class:`UnlinkedError`."""
    version = int(
        as_service(settings).rpc(
            "import_integration_document_version",
            {"link_id": link_id, "content": content[:1_000_000], "change_summary": change_summary},
        )
    )
    if version == UNLINKED:
        raise UnlinkedError(UNLINKED_MESSAGE)
    return version
