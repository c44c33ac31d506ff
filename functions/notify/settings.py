"""The notify function's settings: the shared ones plus its own (environment variables of
the same names, upper case)."""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import Field, SecretStr, ValidationError

from core.mail import MailSettings
from core.settings import Settings, SettingsError, _explain


class NotifySettings(Settings):
    notify_queue_url: str | None = None
    # signs the unsubscribe tokens (HMAC-SHA256); SSM in production
    notify_signing_secret: SecretStr | None = None
    # the app the mail links into, and the public base URL of this function (unsubscribe)
    site_url: str = "http://127.0.0.1:3000"
    notify_public_url: str | None = None
    mail_from: str = "Collab <no-reply@collab.local>"
    # ses in production; smtp locally (SMTP_HOST:SMTP_PORT, the local inbox)
    mail_transport: Literal["ses", "smtp"] = "ses"
    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(default=25, ge=1, le=65535)
    ses_configuration_set: str | None = None
    # Web Push (VAPID, RFC 8292): the raw P-256 private key, base64url (SSM in production);
    # without it push deliveries are skipped
    vapid_private_key: SecretStr | None = None
    vapid_public_key: str | None = None
    vapid_subject: str = "mailto:no-reply@collab.local"
    push_ttl_seconds: int = Field(default=86400, ge=0, le=2419200)
    push_timeout_seconds: float = Field(default=10.0, gt=0, le=30)
    # how long an unsubscribe link keeps working
    unsubscribe_ttl_days: int = Field(default=365, ge=1, le=3650)

    @property
    def public_url(self) -> str:
        return (self.notify_public_url or f"{self.supabase_url}/functions/v1/notify").rstrip("/")

    @property
    def mail(self) -> MailSettings:
        return MailSettings(
            transport=self.mail_transport,
            smtp_host=self.smtp_host,
            smtp_port=self.smtp_port,
            ses_configuration_set=self.ses_configuration_set,
        )


def build_notify_settings(**overrides: object) -> NotifySettings:
    try:
        return NotifySettings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise SettingsError(_explain(exc)) from None


@lru_cache(maxsize=1)
def _env_settings() -> NotifySettings:
    return build_notify_settings()


def load_notify_settings(*required: str) -> NotifySettings:
    """The process-wide notify settings, checked for ``required`` names."""
    settings = _env_settings()
    settings.require(*required)
    return settings
