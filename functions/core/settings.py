"""Settings from the environment (pydantic-settings).

Every function calls :func:`load_settings` at import time with the settings it cannot run
without, so a missing one fails the cold start with a message naming the variable, instead
of failing the first request.
"""

from __future__ import annotations

from functools import lru_cache

from pydantic import AliasChoices, Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class SettingsError(RuntimeError):
    """A required setting is missing or invalid; the message names the environment variable."""


class Settings(BaseSettings):
    """Configuration shared by every function. Names are the environment variable names."""

    model_config = SettingsConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    supabase_url: str = Field(description="Project URL; PostgREST is at <url>/rest/v1")
    supabase_anon_key: SecretStr
    supabase_service_role_key: SecretStr | None = None
    supabase_jwt_secret: SecretStr | None = None
    supabase_jwks_url: str | None = None
    jwt_audience: str | None = "authenticated"
    jwt_issuer: str | None = None
    jwks_cache_seconds: int = 300

    aws_region: str = Field(
        default="us-east-1", validation_alias=AliasChoices("AWS_REGION", "AWS_DEFAULT_REGION")
    )
    aws_endpoint_url: str | None = None

    files_bucket: str | None = None
    files_cleanup_queue_url: str | None = None
    upload_url_expires_seconds: int = Field(default=300, ge=10, le=3600)
    download_url_expires_seconds: int = Field(default=300, ge=10, le=3600)
    pending_upload_ttl_seconds: int = Field(default=3600, ge=60)

    webhook_secret: SecretStr | None = None

    # documents and the assistant (functions/documents, functions/assistant)
    document_jobs_queue_url: str | None = None
    # the provider chain, tried in order; providers without a key are skipped (recorded)
    document_providers: str = "anthropic,openai,template"
    openai_base_url: str = "https://api.openai.com/v1"
    openai_api_key: SecretStr | None = None
    openai_model: str = "gpt-4o-mini"
    anthropic_base_url: str = "https://api.anthropic.com"
    anthropic_api_key: SecretStr | None = None
    anthropic_model: str = "claude-3-5-haiku-latest"
    provider_timeout_seconds: float = Field(default=60.0, gt=0, le=600)
    provider_max_retries: int = Field(default=2, ge=0, le=10)
    provider_backoff_seconds: float = Field(default=1.0, ge=0, le=60)
    # a Retry-After longer than this is not waited for: the next provider is tried
    provider_max_wait_seconds: float = Field(default=20.0, ge=0, le=300)
    provider_max_output_chars: int = Field(default=200_000, ge=1000, le=1_000_000)
    # circuit breaker (shared by all containers, state in Postgres): this many failed
    # calls in a row open it for circuit_open_seconds
    circuit_failure_threshold: int = Field(default=3, ge=1)
    circuit_open_seconds: int = Field(default=120, ge=1)

    rate_limit_per_minute: int = Field(default=60, ge=1)
    http_timeout_seconds: float = 10.0

    @model_validator(mode="after")
    def _one_way_to_verify_tokens(self) -> Settings:
        if self.supabase_jwt_secret is None and self.supabase_jwks_url is None:
            raise ValueError(
                "missing setting SUPABASE_JWT_SECRET or SUPABASE_JWKS_URL "
                "(one is needed to verify callers' tokens)"
            )
        return self

    @property
    def rest_url(self) -> str:
        return self.supabase_url.rstrip("/") + "/rest/v1"

    def require(self, *names: str) -> Settings:
        """Fail unless every named optional setting is present."""
        missing = [n.upper() for n in names if getattr(self, n) in (None, "")]
        if missing:
            raise SettingsError("missing setting " + ", ".join(missing))
        return self


def _explain(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]).upper()
        if err["type"] == "missing":
            parts.append(f"missing setting {loc}")
        elif loc:
            parts.append(f"invalid setting {loc}: {err['msg']}")
        else:
            parts.append(str(err["msg"]).removeprefix("Value error, "))
    return "; ".join(parts)


def build_settings(**overrides: object) -> Settings:
    """Read the environment (plus explicit overrides) into :class:`Settings`."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise SettingsError(_explain(exc)) from None


@lru_cache(maxsize=1)
def _env_settings() -> Settings:
    return build_settings()


def load_settings(*required: str) -> Settings:
    """The process-wide settings from the environment, checked for ``required`` names."""
    return _env_settings().require(*required)
