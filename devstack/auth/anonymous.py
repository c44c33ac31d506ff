"""Anonymous sign-ins (internal/api/anonymous.go): ``POST /signup`` with neither an email
address nor a phone number, when ``[auth] enable_anonymous_sign_ins`` is on, makes a user
without identities (``is_anonymous``, the claim of the same name in its tokens). Giving
that user an email address (``PUT /user``) or a linked identity makes it permanent."""

from __future__ import annotations

import json
import uuid
from typing import Any

from psycopg.types.json import Jsonb
from starlette.requests import Request

from devstack.auth.errors import bad_request, unprocessable
from devstack.auth.http import Auth
from devstack.auth.settings import AUDIENCE, INSTANCE_ID
from devstack.auth.store import Conn, find_user
from devstack.auth.tokens import Client, start_session

ANONYMOUS_PROVIDER_DISABLED = "anonymous_provider_disabled"


def signup_anonymously(auth: Auth, request: Request, params: dict) -> dict[str, Any]:
    if not auth.settings.enable_anonymous_sign_ins:
        raise unprocessable(ANONYMOUS_PROVIDER_DISABLED, "Anonymous sign-ins are disabled")
    data = params.get("data") or {}
    if not isinstance(data, dict):
        raise bad_request("bad_json", "Could not parse request body as JSON: data")
    if "\\u0000" in json.dumps(data):  # jsonb cannot hold NUL
        raise bad_request("validation_failed", "data must not contain NUL characters")
    settings = auth.settings

    def work(conn: Conn) -> dict[str, Any]:
        uid = str(uuid.uuid4())
        conn.execute(
            """
            insert into auth.users (
              instance_id, id, aud, role, encrypted_password, confirmation_token,
              recovery_token, email_change_token_new, email_change, raw_app_meta_data,
              raw_user_meta_data, is_super_admin, created_at, updated_at, is_sso_user,
              is_anonymous
            ) values (%s, %s, %s, %s, '', '', '', '', '', '{}', %s, null, now(), now(),
                      false, true)
            """,
            (INSTANCE_ID, uid, AUDIENCE, AUDIENCE, Jsonb(data)),
        )
        user = find_user(conn, user_id=uid)
        assert user is not None
        return start_session(conn, settings, user, Client.of(request), "anonymous")

    return auth.store.transaction(work)


def make_permanent(conn: Conn, user_id: Any) -> None:
    """An anonymous user that now has an email address: its email identity, the providers
    in app_metadata, no longer anonymous (what confirming the address does on the hosted
    service)."""
    user = find_user(conn, user_id=str(user_id))
    if user is None or not user["is_anonymous"] or not user["email"]:
        return
    identity = {
        "sub": str(user_id),
        "email": user["email"],
        "email_verified": True,
        "phone_verified": False,
    }
    conn.execute(
        """
        insert into auth.identities (provider_id, user_id, identity_data, provider,
                                     last_sign_in_at, created_at, updated_at)
        values (%s, %s, %s, 'email', now(), now(), now())
        on conflict (provider_id, provider) do nothing
        """,
        (str(user_id), user_id, Jsonb(identity)),
    )
    conn.execute(
        """
        update auth.users
           set is_anonymous = false, email_confirmed_at = coalesce(email_confirmed_at, now()),
               raw_app_meta_data = raw_app_meta_data
                 || '{"provider": "email", "providers": ["email"]}'::jsonb,
               updated_at = now()
         where id = %s
        """,
        (user_id,),
    )
