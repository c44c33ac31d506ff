"""Local users: an ``auth.users`` row as Supabase Auth would insert it, and its access token."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from devstack import tokens

DEFAULT_APP_METADATA: dict[str, Any] = {"provider": "email", "providers": ["email"]}
INSTANCE_ID = "00000000-0000-0000-0000-000000000000"

# Every column GoTrue sets on sign-up, in one insert, so `after insert` triggers on
# auth.users (the profile trigger, the platform-role hook's data) see a complete row.
INSERT_USER = """
insert into auth.users (
  instance_id, id, aud, role, email, encrypted_password, email_confirmed_at,
  confirmation_token, recovery_token, email_change_token_new, email_change,
  raw_app_meta_data, raw_user_meta_data, is_super_admin, created_at, updated_at,
  last_sign_in_at, is_sso_user, is_anonymous
) values (
  %(instance_id)s, %(id)s, 'authenticated', 'authenticated', %(email)s,
  extensions.crypt(%(password)s, extensions.gen_salt('bf')), now(),
  '', '', '', '', %(app_metadata)s, %(user_metadata)s, false, now(), now(),
  now(), false, false
)
on conflict (email) where (is_sso_user = false) do nothing
"""
SELECT_USER = """
select id::text, email, raw_app_meta_data, raw_user_meta_data, is_anonymous
from auth.users where email = %(email)s and not is_sso_user
"""


@dataclass(frozen=True)
class AuthUser:
    id: str
    email: str
    app_metadata: dict[str, Any]
    user_metadata: dict[str, Any]
    is_anonymous: bool = False


def ensure_user(
    db_url: str,
    email: str,
    *,
    app_metadata: dict[str, Any] | None = None,
    user_metadata: dict[str, Any] | None = None,
    password: str = "password",
) -> AuthUser:
    """The auth user with this email, created (email confirmed) if missing."""
    params = {
        "instance_id": INSTANCE_ID,
        "id": str(uuid.uuid4()),
        "email": email.lower(),
        "password": password,
        "app_metadata": Jsonb({**DEFAULT_APP_METADATA, **(app_metadata or {})}),
        "user_metadata": Jsonb(user_metadata or {}),
    }
    with psycopg.connect(db_url, autocommit=True, row_factory=dict_row) as conn:
        conn.execute(INSERT_USER, params)
        row = conn.execute(SELECT_USER, params).fetchone()
    if row is None:
        raise LookupError(f"auth user {email} could not be created")
    return AuthUser(
        id=row["id"],
        email=row["email"],
        app_metadata=row["raw_app_meta_data"] or {},
        user_metadata=row["raw_user_meta_data"] or {},
        is_anonymous=row["is_anonymous"],
    )


def access_token(user: AuthUser, *, secret: str, api_url: str, **overrides: Any) -> str:
    """A signed access token for ``user``; ``overrides`` replace or add claims."""
    claims = tokens.user_claims(
        user_id=user.id,
        email=user.email,
        app_metadata=user.app_metadata,
        user_metadata=user.user_metadata,
        issuer=f"{api_url}/auth/v1",
        is_anonymous=user.is_anonymous,
    )
    claims.update(overrides)
    return tokens.sign(claims, secret)
