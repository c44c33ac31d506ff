"""Local users: an ``auth.users`` row as Supabase Auth would insert it, and its access token."""

from __future__ import annotations

import tomllib
import uuid
from dataclasses import dataclass
from pathlib import Path
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
# ... and its email identity, as sign-up makes it (provider_id = the user's id)
INSERT_IDENTITY = """
insert into auth.identities (provider_id, user_id, identity_data, provider, last_sign_in_at,
                             created_at, updated_at)
select u.id::text, u.id,
       jsonb_build_object('sub', u.id::text, 'email', u.email, 'email_verified', true,
                          'phone_verified', false),
       'email', now(), now(), now()
  from auth.users u where u.id = %(id)s
on conflict (provider_id, provider) do nothing
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
        if conn.execute(INSERT_USER, params).rowcount:
            conn.execute(INSERT_IDENTITY, params)
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


def access_token_hook(config_toml: Path) -> str | None:
    """``schema.function`` of the custom access token hook enabled in supabase/config.toml."""
    try:
        config = tomllib.loads(config_toml.read_text())
    except (OSError, tomllib.TOMLDecodeError):
        return None
    hook = config.get("auth", {}).get("hook", {}).get("custom_access_token", {})
    uri = str(hook.get("uri", ""))
    if not hook.get("enabled") or not uri.startswith("pg-functions://"):
        return None
    _database, schema, function = uri.removeprefix("pg-functions://").split("/")[:3]
    return f"{schema}.{function}"


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
