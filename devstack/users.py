"""Local users for `make token`, tests and benchmarks: made by local Auth's sign-up code
(devstack/auth/signup.py, the same rows, hash and metadata as ``POST /auth/v1/signup``),
and access tokens for them."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import psycopg

from devstack import tokens
from devstack.auth.passwords import hash_password
from devstack.auth.settings import INSTANCE_ID, AuthSettings, access_token_hook
from devstack.auth.signup import register
from devstack.auth.store import Conn, Store, find_user

__all__ = ["INSTANCE_ID", "AuthUser", "access_token", "access_token_hook", "ensure_user"]


@dataclass(frozen=True)
class AuthUser:
    id: str
    email: str
    app_metadata: dict[str, Any]
    user_metadata: dict[str, Any]
    is_anonymous: bool = False


@functools.cache
def _password_hash(password: str) -> str:
    """One bcrypt hash (Auth's cost) per password and process: fixtures make many users."""
    return hash_password(password)


def ensure_user(
    db_url: str,
    email: str,
    *,
    app_metadata: dict[str, Any] | None = None,
    user_metadata: dict[str, Any] | None = None,
    password: str = "password",
) -> AuthUser:
    """The auth user with this email, made by sign-up's code (email confirmed) if missing."""
    store = Store(AuthSettings(db_url=db_url, jwt_secret="", issuer=""))

    def work(conn: Conn) -> dict[str, Any]:
        found = find_user(conn, email=email)
        if found is not None:
            return found
        return register(
            conn,
            email=email,
            encrypted_password=_password_hash(password),
            data=user_metadata,
            app_metadata=app_metadata,
        )

    try:
        row = store.transaction(work)
    except psycopg.errors.UniqueViolation:  # made meanwhile by another process
        row = store.transaction(lambda conn: find_user(conn, email=email))
    if row is None:
        raise LookupError(f"auth user {email} could not be created")
    return AuthUser(
        id=str(row["id"]),
        email=row["email"],
        app_metadata=row["raw_app_meta_data"] or {},
        user_metadata=row["raw_user_meta_data"] or {},
        is_anonymous=row["is_anonymous"],
    )


def _claims(user: AuthUser, api_url: str) -> dict[str, Any]:
    return tokens.user_claims(
        user_id=user.id,
        email=user.email,
        app_metadata=user.app_metadata,
        user_metadata=user.user_metadata,
        issuer=f"{api_url}/auth/v1",
        is_anonymous=user.is_anonymous,
    )


def access_token(user: AuthUser, *, secret: str, api_url: str, **overrides: Any) -> str:
    """A signed access token for ``user``; ``overrides`` replace or add claims."""
    return tokens.sign({**_claims(user, api_url), **overrides}, secret)
