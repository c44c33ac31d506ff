"""Local Auth's settings: ``[auth]`` of supabase/config.toml, the file the Supabase CLI reads,
so local behaviour follows the project's config."""

from __future__ import annotations

import os
import re
import string
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devstack.auth.ratelimit import RateLimitSettings

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


_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
_UNIT_SECONDS = {"ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def duration_seconds(value: Any, default: float) -> float:
    """A Go duration as the CLI writes them (``"1s"``, ``"1m30s"``) in seconds."""
    parts = _DURATION.findall(str(value))
    if not parts:
        return default
    return sum(float(n) * _UNIT_SECONDS[u] for n, u in parts)


# [auth.email.template.<name>] of the CLI, and the mail type each one renders
TEMPLATE_TYPES = (
    "invite",
    "confirmation",
    "recovery",
    "magic_link",
    "email_change",
    "reauthentication",
)


@dataclass(frozen=True)
class EmailTemplate:
    subject: str | None = None
    content_path: Path | None = None


@dataclass(frozen=True)
class MailSettings:
    """``[auth.email]`` and where mail goes (the local inbox's SMTP server)."""

    enable_confirmations: bool = False
    double_confirm_changes: bool = True
    secure_password_change: bool = False
    max_frequency: float = 1.0
    otp_length: int = 6
    otp_expiry: int = 3600
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 54325
    admin_email: str = "admin@email.com"
    sender_name: str = "Supabase Auth"
    templates: dict[str, EmailTemplate] = field(default_factory=dict)


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
    additional_redirect_urls: tuple[str, ...] = ()
    mail: MailSettings = field(default_factory=MailSettings)
    rate_limit: RateLimitSettings = field(default_factory=RateLimitSettings)
    enable_anonymous_sign_ins: bool = False
    mfa: MfaSettings = MfaSettings()
    external: tuple[ExternalProvider, ...] = ()
    manual_linking: bool = False

    @property
    def redirect_urls(self) -> tuple[str, ...]:
        return self.additional_redirect_urls

    @property
    def external_url(self) -> str:
        """Where Auth is served (``.../auth/v1``): the base of e-mail links."""
        return self.issuer

    @classmethod
    def load(
        cls,
        *,
        db_url: str,
        jwt_secret: str,
        api_url: str,
        config_toml: Path,
        smtp_host: str | None = None,
        smtp_port: int | None = None,
        providers: dict[str, ExternalProvider] | None = None,
    ) -> AuthSettings:
        auth = _read(config_toml).get("auth", {})
        email = auth.get("email", {})
        limits = auth.get("rate_limit", {})
        smtp = email.get("smtp", {})
        templates = {
            name: EmailTemplate(
                subject=email.get("template", {}).get(name, {}).get("subject"),
                content_path=(
                    config_toml.parent.parent / path
                    if (path := email.get("template", {}).get(name, {}).get("content_path"))
                    else None
                ),
            )
            for name in TEMPLATE_TYPES
        }
        exempt = os.environ.get("AUTH_RATE_LIMIT_EXEMPT_IPS", "127.0.0.1,::1")
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
            additional_redirect_urls=tuple(auth.get("additional_redirect_urls", ())),
            mail=MailSettings(
                enable_confirmations=bool(email.get("enable_confirmations", False)),
                double_confirm_changes=bool(email.get("double_confirm_changes", True)),
                secure_password_change=bool(email.get("secure_password_change", False)),
                max_frequency=duration_seconds(email.get("max_frequency", "1s"), 1.0),
                otp_length=int(email.get("otp_length", 6)),
                otp_expiry=int(email.get("otp_expiry", 3600)),
                smtp_host=smtp_host or os.environ.get("SMTP_HOST", "127.0.0.1"),
                smtp_port=smtp_port or int(os.environ.get("SMTP_PORT", "54325")),
                admin_email=str(smtp.get("admin_email", "admin@email.com")),
                sender_name=str(smtp.get("sender_name", "Supabase Auth")),
                templates=templates,
            ),
            rate_limit=RateLimitSettings(
                email_sent=int(limits.get("email_sent", 2)),
                token_refresh=int(limits.get("token_refresh", 150)),
                sign_in_sign_ups=int(limits.get("sign_in_sign_ups", 30)),
                token_verifications=int(limits.get("token_verifications", 30)),
                exempt_ips=frozenset(ip.strip() for ip in exempt.split(",") if ip.strip()),
            ),
            enable_anonymous_sign_ins=bool(auth.get("enable_anonymous_sign_ins", False)),
            mfa=MfaSettings.of(auth.get("mfa", {})),
            external=tuple(external_providers(auth, providers or {}).values()),
            manual_linking=bool(auth.get("enable_manual_linking", False)),
        )

    def provider(self, name: str) -> ExternalProvider | None:
        return next((p for p in self.external if p.name == name), None)
