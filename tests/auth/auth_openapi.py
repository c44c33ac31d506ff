"""A small OpenAPI document of the Auth endpoints local Auth serves, with the shapes
supabase/auth documents (openapi.yaml of the hosted server, the SDKs' request bodies). Used
by test_auth_fuzz.py; it describes requests only (the fuzz asserts no 5xx and Auth's error
shape, not every answer's body)."""

from __future__ import annotations

from typing import Any

METADATA = {"type": "object", "additionalProperties": True}
PKCE = {
    "code_challenge": {"type": "string"},
    "code_challenge_method": {"type": "string", "enum": ["s256", "plain"]},
}
EMAIL = {"type": "string", "maxLength": 300}
VERIFY_TYPES = ["signup", "invite", "magiclink", "recovery", "email_change", "email"]


def _body(properties: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = required
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def _op(body: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    operation: dict[str, Any] = {"responses": {"default": {"description": "any"}}, **extra}
    if body is not None:
        operation["requestBody"] = body
    return operation


def _query(name: str, schema: dict[str, Any], required: bool = False) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": required, "schema": schema}


def _path(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}


OAUTH_QUERY = [
    _query("provider", {"type": "string", "enum": ["github", "google", "myspace"]}, True),
    _query("redirect_to", {"type": "string"}),
    _query("scopes", {"type": "string"}),
    _query("code_challenge", {"type": "string"}),
    _query("code_challenge_method", {"type": "string"}),
]


def document() -> dict[str, Any]:
    user_id = {"name": "user_id", "in": "path", "required": True, "schema": {"type": "string"}}
    return {
        "openapi": "3.0.3",
        "info": {"title": "Local Supabase Auth", "version": "1"},
        "paths": {
            "/health": {"get": _op()},
            "/settings": {"get": _op()},
            "/signup": {
                "post": _op(
                    _body(
                        {
                            "email": EMAIL,
                            "password": {"type": "string"},
                            "data": METADATA,
                            "phone": {"type": "string"},
                            **PKCE,
                        }
                    ),
                    parameters=[_query("redirect_to", {"type": "string"})],
                )
            },
            "/token": {
                "post": _op(
                    _body(
                        {
                            "email": EMAIL,
                            "password": {"type": "string"},
                            "refresh_token": {"type": "string"},
                            "auth_code": {"type": "string"},
                            "code_verifier": {"type": "string"},
                            "provider": {"type": "string", "enum": ["google", "github"]},
                            "id_token": {"type": "string"},
                            "nonce": {"type": "string"},
                        }
                    ),
                    parameters=[
                        _query(
                            "grant_type",
                            {
                                "type": "string",
                                "enum": ["password", "refresh_token", "pkce", "id_token"],
                            },
                            required=True,
                        )
                    ],
                )
            },
            "/verify": {
                "get": _op(
                    parameters=[
                        _query("type", {"type": "string", "enum": VERIFY_TYPES}, required=True),
                        _query("token", {"type": "string"}, required=True),
                        _query("redirect_to", {"type": "string"}),
                    ]
                ),
                "post": _op(
                    _body(
                        {
                            "type": {"type": "string", "enum": VERIFY_TYPES},
                            "token": {"type": "string"},
                            "token_hash": {"type": "string"},
                            "email": EMAIL,
                            "redirect_to": {"type": "string"},
                        },
                        ["type"],
                    )
                ),
            },
            "/otp": {
                "post": _op(
                    _body(
                        {
                            "email": EMAIL,
                            "create_user": {"type": "boolean"},
                            "data": METADATA,
                            **PKCE,
                        }
                    )
                )
            },
            "/magiclink": {"post": _op(_body({"email": EMAIL, "data": METADATA}))},
            "/recover": {"post": _op(_body({"email": EMAIL, **PKCE}))},
            "/resend": {
                "post": _op(
                    _body(
                        {
                            "type": {"type": "string", "enum": ["signup", "email_change"]},
                            "email": EMAIL,
                            **PKCE,
                        }
                    )
                )
            },
            "/user": {
                "get": _op(),
                "put": _op(
                    _body(
                        {
                            "email": EMAIL,
                            "password": {"type": "string"},
                            "nonce": {"type": "string"},
                            "data": METADATA,
                            **PKCE,
                        }
                    )
                ),
            },
            "/reauthenticate": {"get": _op()},
            "/logout": {
                "post": _op(
                    parameters=[
                        _query("scope", {"type": "string", "enum": ["global", "local", "others"]})
                    ]
                )
            },
            "/invite": {"post": _op(_body({"email": EMAIL, "data": METADATA}))},
            "/admin/generate_link": {
                "post": _op(
                    _body(
                        {
                            "type": {
                                "type": "string",
                                "enum": [
                                    "signup",
                                    "invite",
                                    "magiclink",
                                    "recovery",
                                    "email_change_current",
                                    "email_change_new",
                                ],
                            },
                            "email": EMAIL,
                            "new_email": EMAIL,
                            "password": {"type": "string"},
                            "data": METADATA,
                            "redirect_to": {"type": "string"},
                        },
                        ["type", "email"],
                    )
                )
            },
            "/admin/users": {
                "get": _op(
                    parameters=[
                        _query("page", {"type": "integer"}),
                        _query("per_page", {"type": "integer"}),
                    ]
                ),
                "post": _op(
                    _body(
                        {
                            "email": EMAIL,
                            "password": {"type": "string"},
                            "email_confirm": {"type": "boolean"},
                            "user_metadata": METADATA,
                            "app_metadata": METADATA,
                            "ban_duration": {"type": "string"},
                            "id": {"type": "string"},
                            "role": {"type": "string"},
                        }
                    )
                ),
            },
            "/authorize": {"get": _op(parameters=OAUTH_QUERY)},
            "/callback": {
                "get": _op(
                    parameters=[
                        _query("state", {"type": "string"}),
                        _query("code", {"type": "string"}),
                        _query("error", {"type": "string"}),
                        _query("error_description", {"type": "string"}),
                    ]
                )
            },
            "/user/identities/authorize": {
                "get": _op(
                    parameters=[
                        *OAUTH_QUERY,
                        _query("skip_http_redirect", {"type": "string", "enum": ["true"]}),
                    ]
                )
            },
            "/user/identities/{identity_id}": {"delete": _op(parameters=[_path("identity_id")])},
            "/factors": {
                "post": _op(
                    _body(
                        {
                            "factor_type": {"type": "string", "enum": ["totp", "phone"]},
                            "friendly_name": {"type": "string"},
                            "issuer": {"type": "string"},
                        }
                    )
                )
            },
            "/factors/{factor_id}": {"delete": _op(parameters=[_path("factor_id")])},
            "/factors/{factor_id}/challenge": {"post": _op(parameters=[_path("factor_id")])},
            "/factors/{factor_id}/verify": {
                "post": _op(
                    _body({"challenge_id": {"type": "string"}, "code": {"type": "string"}}),
                    parameters=[_path("factor_id")],
                )
            },
            "/admin/users/{user_id}": {
                "get": _op(parameters=[user_id]),
                "put": _op(
                    _body(
                        {
                            "email": EMAIL,
                            "password": {"type": "string"},
                            "email_confirm": {"type": "boolean"},
                            "user_metadata": METADATA,
                            "app_metadata": METADATA,
                            "ban_duration": {"type": "string"},
                        }
                    ),
                    parameters=[user_id],
                ),
                "delete": _op(parameters=[user_id]),
            },
        },
    }
