"""Local Auth's settings: ``[auth]`` of supabase/config.toml, the file the Supabase CLI reads,
so local behaviour follows the project's config."""

from __future__ import annotations

import string
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PREFIX = "/auth/v1"
INSTANCE_ID = "00000000-0000-0000-0000-000000000000"
AUDIENCE = "authenticated"


def password_requirements(name: str) -> tuple[str, ...]:
    """The character sets of the CLI's ``password_requirements`` option (Auth's
    GOTRUE_PASSWORD_REQUIRED_CHARACTERS)."""
    lower, upper, digits = string.ascii_lowercase, string.ascii_uppercase, string.digits
    symbols = "!@#$%^&*()_+-=[]{};'\\:\"|<>?,./`~"
    return {
        "": (),
        "letters_digits": (lower + upper, digits),
        "lower_upper_letters_digits": (lower, upper, digits),
        "lower_upper_letters_digits_symbols": (lower, upper, digits, symbols),
    }.get(name, ())


def _read(config_toml: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(config_toml.read_text())
    except (OSError, tomllib.TOMLDecodeError):
        return {}


def access_token_hook(config_toml: Path) -> str | None:
    """``schema.function`` of the custom access token hook enabled in supabase/config.toml."""
    hook = _read(config_toml).get("auth", {}).get("hook", {}).get("custom_access_token", {})
    uri = str(hook.get("uri", ""))
    if not hook.get("enabled") or not uri.startswith("pg-functions://"):
        return None
    _database, schema, function = uri.removeprefix("pg-functions://").split("/")[:3]
    return f"{schema}.{function}"


@dataclass(frozen=True)
class MfaSettings:
    """``[auth.mfa]`` (the CLI's defaults: TOTP enrolment and verification on, 10 factors)."""

    max_enrolled_factors: int = 10
    totp_enroll_enabled: bool = True
    totp_verify_enabled: bool = True

    @classmethod
    def of(cls, mfa: dict[str, Any]) -> MfaSettings:
        totp = mfa.get("totp", {})
        return cls(
            max_enrolled_factors=int(mfa.get("max_enrolled_factors", 10)),
            totp_enroll_enabled=bool(totp.get("enroll_enabled", True)),
            totp_verify_enabled=bool(totp.get("verify_enabled", True)),
        )


@dataclass(frozen=True)
class ExternalProvider:
    """``[auth.external.<name>]``: the OAuth app and, locally, the fake's base URL."""

    name: str
    client_id: str
    secret: str
    url: str  # the provider's web and API base (locally devstack/fakes.py)


def external_providers(
    auth: dict[str, Any], local: dict[str, ExternalProvider]
) -> dict[str, ExternalProvider]:
    """The enabled providers among ``local`` (name -> the local fake's app and URL)."""
    external = auth.get("external", {})
    return {
        name: provider
        for name, provider in local.items()
        if isinstance(external.get(name), dict) and external[name].get("enabled")
    }


@dataclass(frozen=True)
class AuthSettings:
    """What the server needs; the auth options come from supabase/config.toml ``[auth]``."""

    db_url: str
    jwt_secret: str
    issuer: str
    jwt_expiry: int = 3600
    enable_signup: bool = True
    minimum_password_length: int = 6
    required_characters: tuple[str, ...] = ()
    refresh_token_rotation: bool = True
    refresh_token_reuse_interval: int = 10
    hook: str | None = None
    site_url: str = "http://127.0.0.1:3000"
    enable_anonymous_sign_ins: bool = False
    mfa: MfaSettings = MfaSettings()
    external: tuple[ExternalProvider, ...] = ()
    manual_linking: bool = False
    redirect_urls: tuple[str, ...] = ()

    @classmethod
    def load(
        cls,
        *,
        db_url: str,
        jwt_secret: str,
        api_url: str,
        config_toml: Path,
        providers: dict[str, ExternalProvider] | None = None,
    ) -> AuthSettings:
        auth = _read(config_toml).get("auth", {})
        return cls(
            db_url=db_url,
            jwt_secret=jwt_secret,
            issuer=f"{api_url}{PREFIX}",
            jwt_expiry=int(auth.get("jwt_expiry", 3600)),
            enable_signup=bool(auth.get("enable_signup", True)),
            minimum_password_length=int(auth.get("minimum_password_length", 6)),
            required_characters=password_requirements(str(auth.get("password_requirements", ""))),
            refresh_token_rotation=bool(auth.get("enable_refresh_token_rotation", True)),
            refresh_token_reuse_interval=int(auth.get("refresh_token_reuse_interval", 10)),
            hook=access_token_hook(config_toml),
            site_url=str(auth.get("site_url", "http://127.0.0.1:3000")),
            enable_anonymous_sign_ins=bool(auth.get("enable_anonymous_sign_ins", False)),
            mfa=MfaSettings.of(auth.get("mfa", {})),
            external=tuple(external_providers(auth, providers or {}).values()),
            manual_linking=bool(auth.get("enable_manual_linking", False)),
            redirect_urls=tuple(str(u) for u in auth.get("additional_redirect_urls", [])),
        )

    def provider(self, name: str) -> ExternalProvider | None:
        return next((p for p in self.external if p.name == name), None)
