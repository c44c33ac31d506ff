"""JWTs in Supabase's shape, signed HS256 with the local secret."""

from __future__ import annotations

import time
import uuid
from typing import Any

import jwt

DEFAULT_TTL_SECONDS = 3600


def role_key(role: str, secret: str) -> str:
    """An API key like Supabase's anon / service_role keys (long-lived, role claim only)."""
    return jwt.encode(
        {"iss": "supabase-demo", "role": role, "exp": 1983812996}, secret, algorithm="HS256"
    )


def user_claims(
    *,
    user_id: str,
    email: str,
    app_metadata: dict[str, Any] | None = None,
    user_metadata: dict[str, Any] | None = None,
    issuer: str = "http://127.0.0.1:54321/auth/v1",
    ttl_seconds: int = DEFAULT_TTL_SECONDS,
    is_anonymous: bool = False,
) -> dict[str, Any]:
    """The access-token claims Supabase Auth (GoTrue) issues after an email sign-in."""
    now = int(time.time())
    return {
        "iss": issuer,
        "sub": user_id,
        "aud": "authenticated",
        "exp": now + ttl_seconds,
        "iat": now,
        "email": email,
        "phone": "",
        "app_metadata": app_metadata
        if app_metadata is not None
        else {"provider": "email", "providers": ["email"]},
        "user_metadata": user_metadata or {},
        "role": "authenticated",
        "aal": "aal1",
        "amr": [{"method": "password", "timestamp": now}],
        "session_id": str(uuid.uuid4()),
        "is_anonymous": is_anonymous,
    }


def sign(claims: dict[str, Any], secret: str) -> str:
    return jwt.encode(claims, secret, algorithm="HS256")
