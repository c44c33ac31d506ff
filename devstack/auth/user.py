"""``GET /user`` and ``PUT /user`` (internal/api/user.go)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from devstack.auth.anonymous import make_permanent
from devstack.auth.errors import AuthError, Code, bad_request, unprocessable
from devstack.auth.http import (
    Auth,
    Endpoint,
    authenticated,
    bearer_claims,
    check_audience,
    check_email,
)
from devstack.auth.models import user_json
from devstack.auth.passwords import check_new_password, hash_password, password_matches
from devstack.auth.store import Conn, change_email, merge_metadata, reload


def get_user(auth: Auth, request: Request, params: dict) -> dict[str, Any]:
    claims = bearer_claims(auth, request)
    user, _ = auth.store.transaction(lambda conn: authenticated(conn, claims))
    check_audience(claims)
    return user_json(user)


def update_user(auth: Auth, request: Request, params: dict) -> dict[str, Any]:
    claims = bearer_claims(auth, request)
    check_audience(claims)
    settings = auth.settings
    if params.get("app_metadata") is not None:
        raise AuthError(403, Code.NOT_ADMIN, "Updating app_metadata requires admin privileges")
    if params.get("phone"):
        raise unprocessable(Code.PHONE_PROVIDER_DISABLED, "Phone logins are disabled")
    data = params.get("data")
    if data is not None and not isinstance(data, dict):
        raise bad_request(Code.BAD_JSON, "Could not parse request body as JSON: data")
    password = params.get("password")
    email = str(params.get("email") or "").strip()
    if email:
        check_email(email)

    def work(conn: Conn) -> dict[str, Any]:
        user, session_id = authenticated(conn, claims)
        uid = user["id"]
        if password is not None:
            check_new_password(settings, password)
            if password_matches(password, user["encrypted_password"]):
                raise unprocessable(
                    Code.SAME_PASSWORD, "New password should be different from the old password."
                )
            conn.execute(
                "update auth.users set encrypted_password = %s, updated_at = now() where id = %s",
                (hash_password(password), uid),
            )
            # as Auth does: every other session of the user ends
            if session_id:
                conn.execute(
                    "delete from auth.sessions where user_id = %s and id <> %s",
                    (uid, session_id),
                )
            else:
                conn.execute("delete from auth.sessions where user_id = %s", (uid,))
        if data:
            merge_metadata(conn, uid, "raw_user_meta_data", data)
        if email and email.lower() != (user["email"] or "").lower():
            change_email(conn, uid, email.lower())
            make_permanent(conn, uid)
        return user_json(reload(conn, user))

    return auth.store.transaction(work)


ROUTES = [
    Endpoint("GET", "/user", get_user),
    Endpoint("PUT", "/user", update_user, "Error updating user"),
]
