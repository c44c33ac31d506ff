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
