"""The assets function's settings: the shared ones plus its own (environment variables of the
same names, upper case). Provider keys come from SSM in production (serverless.yml)."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field, SecretStr, ValidationError

from core.settings import Settings, SettingsError, _explain


class AssetSettings(Settings):
    asset_jobs_queue_url: str | None = None
    # the provider chains, tried in order (a provider without a key is skipped, recorded)
    asset_3d_providers: str = "meshy"
    asset_video_providers: str = "luma"
    meshy_base_url: str = "https://api.meshy.ai"
    meshy_api_key: SecretStr | None = None
    luma_base_url: str = "https://api.lumalabs.ai"
    luma_api_key: SecretStr | None = None
    luma_model: str = "ray-2"
    # the providers' webhooks carry this token in their URL (neither provider signs them);
    # a webhook only says "look again": the task is re-read from the provider's API
    asset_webhook_token: SecretStr | None = None
    # where the providers reach the webhooks (<it>/assets/webhooks/<provider>); unset: none
    assets_public_url: str | None = None
    # a task still unfinished after this long is cancelled and falls back (or fails)
    asset_task_timeout_seconds: int = Field(default=1800, ge=10)
    asset_poll_batch: int = Field(default=50, ge=1, le=500)
    asset_download_timeout_seconds: float = Field(default=60.0, gt=0, le=600)
    # the presigned URL of a source image handed to the provider
    asset_source_url_expires_seconds: int = Field(default=3600, ge=60, le=7 * 86400)


def build_asset_settings(**overrides: object) -> AssetSettings:
    try:
        return AssetSettings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise SettingsError(_explain(exc)) from None


@lru_cache(maxsize=1)
def _env_settings() -> AssetSettings:
    return build_asset_settings()


def load_asset_settings(*required: str) -> AssetSettings:
    """The process-wide assets settings, checked for ``required`` names."""
    settings = _env_settings()
    settings.require(*required)
    return settings
