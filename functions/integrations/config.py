"""Settings of the integrations function: the shared ones plus the providers' base URLs and
OAuth apps, the KMS key and the redirect allow-list. Production points the URLs at the real
providers (the defaults); locally they point at the fakes in devstack/fakes.py."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field, SecretStr, ValidationError

from core.settings import Settings, SettingsError, _explain


class IntegrationsSettings(Settings):
    github_web_url: str = "https://github.com"
    github_api_url: str = "https://api.github.com"
    github_client_id: str | None = None
    github_client_secret: SecretStr | None = None
    github_scopes: str = "repo read:user"

    google_accounts_url: str = "https://accounts.google.com"
    google_oauth_url: str = "https://oauth2.googleapis.com"
    google_api_url: str = "https://www.googleapis.com"
    google_client_id: str | None = None
    google_client_secret: SecretStr | None = None
    google_scopes: str = "openid email profile https://www.googleapis.com/auth/drive.readonly"

    integrations_kms_key_id: str | None = None
    integrations_sync_queue_url: str | None = None
    # comma-separated origins (scheme://host[:port]) a connect flow may return to
    integrations_redirect_allowlist: str = "http://localhost:3000"
    # where the providers send the browser back; default <SUPABASE_URL>/functions/v1/integrations
    integrations_public_url: str | None = None
    webhook_max_bytes: int = Field(default=1_048_576, ge=1024)
    webhook_timestamp_tolerance_seconds: int = Field(default=300, ge=10)
    provider_timeout_seconds: float = 10.0
    # a provider asking to wait longer than this fails the attempt (the queue retries later)
    provider_max_inline_wait_seconds: float = 2.0
    sync_page_size: int = Field(default=100, ge=1, le=100)

    @property
    def public_url(self) -> str:
        base = self.integrations_public_url or (
            self.supabase_url.rstrip("/") + "/functions/v1/integrations"
        )
        return base.rstrip("/")

    @property
    def redirect_allowlist(self) -> tuple[str, ...]:
        return tuple(
            o.strip().rstrip("/")
            for o in self.integrations_redirect_allowlist.split(",")
            if o.strip()
        )


@lru_cache(maxsize=1)
def _env() -> IntegrationsSettings:
    try:
        return IntegrationsSettings()  # type: ignore[call-arg]
    except ValidationError as exc:
        raise SettingsError(_explain(exc)) from None


def load(*required: str) -> IntegrationsSettings:
    settings = _env()
    settings.require(*required)
    return settings


def build(**overrides: object) -> IntegrationsSettings:
    try:
        return IntegrationsSettings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise SettingsError(_explain(exc)) from None
