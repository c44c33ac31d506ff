"""The database, as ``supabase_auth_admin`` (the role the hosted Auth server uses): one
transaction per request, on the hosted tables (devstack/bootstrap.sql mirrors them)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row
from psycopg.types.datetime import TimestamptzLoader
from psycopg.types.json import Jsonb

from devstack.auth.errors import Code, unprocessable
from devstack.auth.passwords import hash_password
from devstack.auth.settings import AUDIENCE, INSTANCE_ID, AuthSettings

Conn = psycopg.Connection[dict[str, Any]]

DUPLICATE_EMAIL = "A user with this email address has already been registered"

USER_SELECT = """
select u.*, coalesce((
  select jsonb_agg(to_jsonb(i) order by i.created_at) from auth.identities i where i.user_id = u.id
), '[]'::jsonb) as identities_json, (
  select jsonb_agg(jsonb_build_object(
           'id', f.id, 'friendly_name', f.friendly_name, 'factor_type', f.factor_type,
           'status', f.status, 'created_at', f.created_at, 'updated_at', f.updated_at,
           'last_challenged_at', f.last_challenged_at
         ) order by f.created_at)
    from auth.mfa_factors f where f.user_id = u.id
) as factors_json
  from auth.users u
"""


class _TimestamptzLoader(TimestamptzLoader):
    """``infinity`` (how private.sync_auth_ban bans a disabled user) as the largest datetime."""

    def load(self, data: Any) -> dt.datetime:
        if bytes(data) == b"infinity":
            return dt.datetime.max.replace(tzinfo=dt.UTC)
        if bytes(data) == b"-infinity":
            return dt.datetime.min.replace(tzinfo=dt.UTC)
        return super().load(data)


class Store:
    """One transaction per request, as the role the hosted Auth server uses."""

    def __init__(self, settings: AuthSettings) -> None:
        self.settings = settings

    def transaction(self, work: Callable[[Conn], Any]) -> Any:
        with (
            psycopg.connect(self.settings.db_url, row_factory=dict_row) as conn,
            conn.transaction(),
        ):
            conn.adapters.register_loader("timestamptz", _TimestamptzLoader)
            conn.execute("set local role supabase_auth_admin")
            return work(conn)


def find_user(conn: Conn, *, user_id: str | None = None, email: str | None = None) -> dict | None:
    if user_id is not None:
        return conn.execute(USER_SELECT + " where u.id = %s", (user_id,)).fetchone()
    return conn.execute(
        USER_SELECT + " where lower(u.email) = lower(%s) and u.aud = %s and not u.is_sso_user",
        (email, AUDIENCE),
    ).fetchone()


def reload(conn: Conn, user: dict[str, Any]) -> dict[str, Any]:
    found = find_user(conn, user_id=str(user["id"]))
    assert found is not None
    return found


def banned(user: dict[str, Any]) -> bool:
    until = user["banned_until"]
    return until is not None and until > dt.datetime.now(dt.UTC)


def create_user(
    conn: Conn,
    *,
    email: str,
    password: str | None,
    user_metadata: dict[str, Any],
    app_metadata: dict[str, Any] | None = None,
    confirmed: bool = True,
    user_id: str | None = None,
    role: str = AUDIENCE,
    encrypted_password: str | None = None,
) -> dict[str, Any]:
    """The auth.users row and its email identity, in one insert each, as sign-up does (the
    profile trigger sees the whole row: metadata included)."""
    uid = user_id or str(uuid.uuid4())
    identity_data = {
        **user_metadata,
        "sub": uid,
        "email": email,
        "email_verified": confirmed,
        "phone_verified": False,
    }
    metadata = {**user_metadata, **{k: identity_data[k] for k in ("sub", "email")}}
    metadata["email_verified"] = confirmed
    metadata["phone_verified"] = False
    apps = {"provider": "email", "providers": ["email"], **(app_metadata or {})}
    if encrypted_password is None and password is not None:
        encrypted_password = hash_password(password)
    conn.execute(
        """
        insert into auth.users (
          instance_id, id, aud, role, email, encrypted_password, email_confirmed_at,
          confirmation_token, recovery_token, email_change_token_new, email_change,
          raw_app_meta_data, raw_user_meta_data, is_super_admin, created_at, updated_at,
          is_sso_user, is_anonymous
        ) values (
          %(instance)s, %(id)s, %(aud)s, %(role)s, %(email)s, %(pw)s,
          case when %(confirmed)s then now() end, '', '', '', '',
          %(app)s, %(meta)s, null, now(), now(), false, false
        )
        """,
        {
            "instance": INSTANCE_ID,
            "id": uid,
            "aud": AUDIENCE,
            "role": role,
            "email": email,
            "pw": encrypted_password or "",
            "confirmed": confirmed,
            "app": Jsonb(apps),
            "meta": Jsonb(metadata),
        },
    )
    conn.execute(
        """
        insert into auth.identities (provider_id, user_id, identity_data, provider,
                                     last_sign_in_at, created_at, updated_at)
        values (%s, %s, %s, 'email', now(), now(), now())
        """,
        (uid, uid, Jsonb(identity_data)),
    )
    user = find_user(conn, user_id=uid)
    assert user is not None
    return user


def merge_metadata(conn: Conn, user_id: Any, column: str, updates: dict[str, Any]) -> None:
    """Auth's metadata update: keys set, a null value removes its key."""
    removed = [k for k, v in updates.items() if v is None]
    kept = {k: v for k, v in updates.items() if v is not None}
    conn.execute(
        sql.SQL(
            "update auth.users set {col} = (coalesce({col}, '{{}}'::jsonb) || %s) - %s::text[],"
            " updated_at = now() where id = %s"
        ).format(col=sql.Identifier(column)),
        (Jsonb(kept), removed, user_id),
    )


def change_email(conn: Conn, user_id: Any, email: str) -> None:
    """The address itself changes (the user row, the email identity, the metadata copy)."""
    if find_user(conn, email=email) is not None:
        raise unprocessable(Code.EMAIL_EXISTS, DUPLICATE_EMAIL)
    conn.execute(
        "update auth.users set email = %s, email_change = '', updated_at = now() where id = %s",
        (email, user_id),
    )
    conn.execute(
        """
        update auth.identities
           set identity_data = identity_data || jsonb_build_object('email', %s::text),
               updated_at = now()
         where user_id = %s and provider = 'email'
        """,
        (email, user_id),
    )
    conn.execute(
        """
        update auth.users set raw_user_meta_data = raw_user_meta_data
               || jsonb_build_object('email', %s::text)
         where id = %s and raw_user_meta_data ? 'email'
        """,
        (email, user_id),
    )
