"""``GET /health`` and ``GET /settings`` (internal/api/settings.go)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from devstack.auth.http import Auth, Endpoint

PROVIDERS = (
    "anonymous_users",
    "apple",
    "azure",
    "bitbucket",
    "discord",
    "facebook",
    "snapchat",
    "figma",
    "fly",
    "github",
    "gitlab",
    "google",
    "keycloak",
    "kakao",
    "linkedin",
    "linkedin_oidc",
    "notion",
    "spotify",
    "slack",
    "slack_oidc",
    "workos",
    "twitch",
    "twitter",
    "email",
    "phone",
    "zoom",
)


def health(auth: Auth, request: Request, params: dict) -> dict[str, Any]:
    return {
        "version": "devstack",
        "name": "GoTrue",
        "description": "GoTrue is a user registration and authentication API",
    }


def app_settings(auth: Auth, request: Request, params: dict) -> dict[str, Any]:
    return {
        "external": {name: name == "email" for name in PROVIDERS},
        "disable_signup": not auth.settings.enable_signup,
        "mailer_autoconfirm": True,
        "phone_autoconfirm": False,
        "sms_provider": "",
        "saml_enabled": False,
        "saml_private_key_next_configured": False,
        "passkeys_enabled": False,
    }


ROUTES = [
    Endpoint("GET", "/health", health),
    Endpoint("GET", "/settings", app_settings),
]
