"""``POST /token?grant_type=password|refresh_token|pkce`` (internal/api/token.go,
internal/tokens/service.go), all grants in the ``token`` rate-limit bucket.

Refresh-token rotation, with the reuse rules the hosted server means:

- a token has at most one successor: presenting a revoked token within
  ``refresh_token_reuse_interval`` of its rotation answers the session's current token
  (the client lost the answer, or two tabs refreshed at once) and mints nothing;
- the interval counts from the token's first rotation (a replay does not restart it);
- outside the interval the session ends (every token revoked); a family with no live token
  stays dead, whatever the age of the token presented.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from starlette.requests import Request

from devstack.auth import pkce
from devstack.auth.errors import Code, OAuthError, bad_request, unprocessable
from devstack.auth.http import Auth, Endpoint, Params
from devstack.auth.passwords import hash_password, password_matches, weak_password
from devstack.auth.store import Conn, banned, find_user
from devstack.auth.tokens import Client, insert_refresh_token, start_session, token_response

INVALID_LOGIN = "Invalid login credentials"
# bcrypt of a random password at Auth's cost: checked when there is no user or no password,
# so an unknown address takes as long as a wrong password
_DUMMY_HASH = hash_password("no account has this password: 6f1c0d6e")


class PasswordGrantParams(Params):
    email: str | None = None
    phone: str | None = None
    password: str | None = None


class RefreshGrantParams(Params):
    refresh_token: str | None = None


class PKCEGrantParams(Params):
    auth_code: str | None = None
    code_verifier: str | None = None


def token(auth: Auth, request: Request, params: dict) -> dict[str, Any]:
    grant = request.query_params.get("grant_type")
    if grant == "password":
        return password_grant(auth, request, params)
    if grant == "refresh_token":
        return refresh_grant(auth, request, params)
    if grant == "pkce":
        return pkce_grant(auth, request, params)
    if grant == "id_token":
        from devstack.auth import external  # social login's module

        return external.id_token_grant(auth, request, params)
    raise bad_request(Code.INVALID_CREDENTIALS, "unsupported_grant_type")


def password_grant(auth: Auth, request: Request, params: dict) -> dict[str, Any]:
    body = PasswordGrantParams.of(params)
    email = body.email or ""
    password = body.password or ""
    if email and body.phone:
        raise bad_request(
            Code.VALIDATION_FAILED,
            "Only an email address or phone number should be provided on login.",
        )
    if body.phone:
        raise unprocessable(Code.PHONE_PROVIDER_DISABLED, "Phone logins are disabled")
    if not email:
        raise bad_request(Code.VALIDATION_FAILED, "missing email or phone")
    settings = auth.settings

    def work(conn: Conn) -> dict[str, Any]:
        user = find_user(conn, email=email)
        encrypted = user["encrypted_password"] if user is not None else None
        matches = password_matches(password, encrypted or _DUMMY_HASH)
        if user is None or not encrypted or not matches:
            raise bad_request(Code.INVALID_CREDENTIALS, INVALID_LOGIN)
        # only the person who knows the password learns of the ban
        if banned(user):
            raise bad_request(Code.USER_BANNED, "User is banned")
        if user["email_confirmed_at"] is None:
            raise bad_request(Code.EMAIL_NOT_CONFIRMED, "Email not confirmed")
        response = start_session(conn, settings, user, Client.of(request), "password")
        weak = weak_password(settings, password)
        if weak is not None and weak.reasons:
            response["weak_password"] = {"message": weak.message, "reasons": weak.reasons}
        return response

    return auth.store.transaction(work)


def pkce_grant(auth: Auth, request: Request, params: dict) -> dict[str, Any]:
    body = PKCEGrantParams.of(params)
    if not body.auth_code or not body.code_verifier:
        raise bad_request(
            Code.VALIDATION_FAILED,
            "invalid request: both auth code and code verifier should be non-empty",
        )

    def work(conn: Conn) -> dict[str, Any]:
        flow = pkce.take_flow_state(conn, str(body.auth_code), str(body.code_verifier))
        user = find_user(conn, user_id=str(flow["user_id"]))
        if user is None:
            raise bad_request(Code.USER_NOT_FOUND, "User not found")
        if banned(user):
            raise bad_request(Code.USER_BANNED, "User is banned")
        session = start_session(
            conn, auth.settings, user, Client.of(request), flow["authentication_method"]
        )
        if flow["provider_type"] not in (None, "", "email"):  # social login: the IdP's tokens
            session["provider_token"] = flow["provider_access_token"] or ""
            if flow["provider_refresh_token"]:
                session["provider_refresh_token"] = flow["provider_refresh_token"]
        return session

    return auth.store.transaction(work)


def _not_found() -> Exception:
    return bad_request(
        Code.REFRESH_TOKEN_NOT_FOUND, "Invalid Refresh Token: Refresh Token Not Found"
    )


def refresh_grant(auth: Auth, request: Request, params: dict) -> dict[str, Any]:
    presented = RefreshGrantParams.of(params).refresh_token
    if not presented:
        raise OAuthError("invalid_request", "refresh_token required")
    settings = auth.settings
    client = Client.of(request)
    outcome: dict[str, Any] = {}

    def work(conn: Conn) -> dict[str, Any] | None:
        token = conn.execute(
            "select * from auth.refresh_tokens where token = %s for update", (presented,)
        ).fetchone()
        if token is None:
            raise _not_found()
        user = find_user(conn, user_id=token["user_id"])
        if user is None:
            raise _not_found()
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
            # updated_at of a revoked token is the time of its rotation: never touched again
            reuse_until = token["updated_at"] + dt.timedelta(
                seconds=settings.refresh_token_reuse_interval
            )
            if active is not None and (
                active["parent"] == token["token"] or dt.datetime.now(dt.UTC) <= reuse_until
            ):
                # the client lost the answer (its successor is live) or refreshed twice at
                # once: the session's live token, never a second successor
                issued = active["token"]
            else:
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


ROUTES = [Endpoint("POST", "/token", token, "Database error granting user", limit="token")]
