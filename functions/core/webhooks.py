"""Supabase database webhooks: the shared secret header, compared in constant time."""

from __future__ import annotations

import hmac

from core.errors import ApiError
from core.settings import Settings

SECRET_HEADER = "x-webhook-secret"


def verify_secret(settings: Settings, presented: str | None) -> None:
    """Raise 401 unless the request carries the configured webhook secret."""
    secret = settings.webhook_secret
    if secret is None:
        raise ApiError(503, "webhooks_disabled", "no webhook secret is configured")
    if not presented or not hmac.compare_digest(
        presented.encode("utf-8"), secret.get_secret_value().encode("utf-8")
    ):
        raise ApiError(401, "unauthorized", f"missing or wrong {SECRET_HEADER} header")
