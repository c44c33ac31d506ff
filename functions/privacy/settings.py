"""The privacy function's settings: the shared ones plus its own (environment variables of
the same names, upper case)."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field, ValidationError

from core.settings import Settings, SettingsError, _explain


class PrivacySettings(Settings):
    privacy_exports_bucket: str | None = None
    privacy_queue_url: str | None = None
    # the archive's lifetime: the bucket's lifecycle rule says the same (serverless.yml)
    privacy_export_ttl_days: int = Field(default=7, ge=1, le=30)
    privacy_export_page_size: int = Field(default=1000, ge=1, le=5000)
    # rows a round trip of the export carries (rpc/privacy_export_batch), across tables
    privacy_export_batch_rows: int = Field(default=10000, ge=1, le=20000)
    # an erasure needs a sign-in this recent (amr timestamps; the database checks 10 minutes)
    privacy_reauth_seconds: int = Field(default=600, ge=60, le=600)
    # on: the auth user is deleted through Auth's admin API (<SUPABASE_URL>/auth/v1/admin/
    # users/{id}); off: through rpc delete_auth_user (the stand-in until the local stack
    # serves /auth/v1)
    privacy_auth_admin_api: bool = False
    # the erasure's, purge's and retention's bulk RPCs (the service role's statement timeout
    # is 15 minutes; the worker Lambda's is 900 s)
    privacy_bulk_rpc_timeout_seconds: float = Field(default=840.0, ge=10, le=900)
    # audit entries older than this are archived to S3 (JSON Lines) and deleted
    audit_retention_days: int = Field(default=365, ge=30)
    audit_archive_bucket: str | None = None


def build_privacy_settings(**overrides: object) -> PrivacySettings:
    try:
        return PrivacySettings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise SettingsError(_explain(exc)) from None


@lru_cache(maxsize=1)
def _env_settings() -> PrivacySettings:
    return build_privacy_settings()


def load_privacy_settings(*required: str) -> PrivacySettings:
    """The process-wide privacy settings, checked for ``required`` names."""
    settings = _env_settings()
    settings.require(*required)
    return settings
