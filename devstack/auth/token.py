"""``POST /token?grant_type=password|refresh_token`` (internal/api/token.go,
token_refresh.go)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from starlette.requests import Request

from devstack.auth.errors import Code, OAuthError, bad_request, unprocessable
from devstack.auth.http import Auth, Endpoint
from devstack.auth.passwords import password_matches, weak_password
from devstack.auth.store import Conn, banned, find_user
from devstack.auth.tokens import Client, insert_refresh_token, start_session, token_response

INVALID_LOGIN = "Invalid login credentials"


def token(auth: Auth, request: Request, params: dict) -> dict[str, Any]:
    grant = request.query_params.get("grant_type")
    if grant == "password":
        return password_grant(auth, request, params)
    if grant == "refresh_token":
        return refresh_grant(auth, request, params)
    if grant in ("pkce", "id_token"):
        from devstack.auth import external  # social login's module

        return (external.pkce_grant if grant == "pkce" else external.id_token_grant)(
            auth, request, params
        )
    raise bad_request(Code.INVALID_CREDENTIALS, "unsupported_grant_type")


def password_grant(auth: Auth, request: Request, params: dict) -> dict[str, Any]:
    email = str(params.get("email") or "")
    password = str(params.get("password") or "")
    if email and params.get("phone"):
        raise bad_request(
            Code.VALIDATION_FAILED,
            "Only an email address or phone number should be provided on login.",
        )
    if params.get("phone"):
        raise unprocessable(Code.PHONE_PROVIDER_DISABLED, "Phone logins are disabled")
    if not email:
        raise bad_request(Code.VALIDATION_FAILED, "missing email or phone")
    settings = auth.settings

    def work(conn: Conn) -> dict[str, Any]:
        user = find_user(conn, email=email)
        if user is None or not user["encrypted_password"]:
            raise bad_request(Code.INVALID_CREDENTIALS, INVALID_LOGIN)
        if banned(user):
            raise bad_request(Code.USER_BANNED, "User is banned")
        if not password_matches(password, user["encrypted_password"]):
            raise bad_request(Code.INVALID_CREDENTIALS, INVALID_LOGIN)
        if user["email_confirmed_at"] is None:
            raise bad_request(Code.EMAIL_NOT_CONFIRMED, "Email not confirmed")
        response = start_session(conn, settings, user, Client.of(request), "password")
        weak = weak_password(settings, password)
        if weak is not None and weak.reasons:
            response["weak_password"] = {"message": weak.message, "reasons": weak.reasons}
        return response

    return auth.store.transaction(work)


def refresh_grant(auth: Auth, request: Request, params: dict) -> dict[str, Any]:
    presented = params.get("refresh_token")
    if not presented or not isinstance(presented, str):
        raise OAuthError("invalid_request", "refresh_token required")
    settings = auth.settings
    client = Client.of(request)
    outcome: dict[str, Any] = {}

    def work(conn: Conn) -> dict[str, Any] | None:
        token = conn.execute(
            "select * from auth.refresh_tokens where token = %s for update", (presented,)
        ).fetchone()
        if token is None:
            raise bad_request(
                Code.REFRESH_TOKEN_NOT_FOUND, "Invalid Refresh Token: Refresh Token Not Found"
            )
        user = find_user(conn, user_id=token["user_id"])
        if user is None:
            raise bad_request(
                Code.REFRESH_TOKEN_NOT_FOUND, "Invalid Refresh Token: Refresh Token Not Found"
            )
        if banned(user):
            raise bad_request(Code.USER_BANNED, "Invalid Refresh Token: User Banned")
        session = None
        if token["session_id"] is not None:
            session = conn.execute(
                "select * from auth.sessions where id = %s for update", (token["session_id"],)
            ).fetchone()
        if session is None:
            raise bad_request(
                Code.SESSION_NOT_FOUND, "Invalid Refresh Token: No Valid Session Found"
            )
        if session["not_after"] is not None and session["not_after"] < dt.datetime.now(dt.UTC):
            raise bad_request(Code.SESSION_EXPIRED, "Invalid Refresh Token: Session Expired")
        issued: str | None = None
        if token["revoked"]:
            active = conn.execute(
                """
                select token, parent from auth.refresh_tokens
                 where session_id = %s and not revoked order by id desc limit 1
                """,
                (session["id"],),
            ).fetchone()
            if active is not None and active["parent"] == token["token"]:
                issued = active["token"]  # a retry of the last refresh: same answer
            else:
                reuse_until = token["updated_at"] + dt.timedelta(
                    seconds=settings.refresh_token_reuse_interval
                )
                if dt.datetime.now(dt.UTC) > reuse_until:
                    if settings.refresh_token_rotation:
                        conn.execute(
                            """
                            update auth.refresh_tokens set revoked = true, updated_at = now()
                             where session_id = %s and not revoked
                            """,
                            (session["id"],),
                        )
                    # committed (the session's tokens stay revoked), then refused
                    outcome["error"] = bad_request(
                        Code.REFRESH_TOKEN_ALREADY_USED, "Invalid Refresh Token: Already Used"
                    )
                    return None
        if issued is None:
            conn.execute(
                "update auth.refresh_tokens set revoked = true, updated_at = now() where id = %s",
                (token["id"],),
            )
            issued = insert_refresh_token(conn, str(user["id"]), str(session["id"]), token["token"])
        conn.execute(
            """
            update auth.sessions set refreshed_at = now() at time zone 'utc',
                   updated_at = now(), user_agent = %s, ip = %s
             where id = %s
            """,
            (client.user_agent, client.ip, session["id"]),
        )
        return token_response(conn, settings, user, str(session["id"]), issued, "token_refresh")

    result = auth.store.transaction(work)
    if "error" in outcome:
        raise outcome["error"]
    return result


ROUTES = [Endpoint("POST", "/token", token, "Database error granting user")]
