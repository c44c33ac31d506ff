"""``GET /user``, ``PUT /user`` (internal/api/user.go) and ``GET /reauthenticate``
(reauthenticate.go). A banned user's unexpired token reads and changes nothing here.

An e-mail change with confirmations on changes nothing until it is confirmed: a link and
code go to the new address and, with ``double_confirm_changes`` (the hosted "secure email
change"), to the current one; ``/verify type=email_change`` applies it once both confirmed.
A change to an address another account holds answers as any change does (nothing reveals
that the address is taken); it can never be confirmed."""

from __future__ import annotations

import datetime as dt
from typing import Any

from starlette.requests import Request

from devstack.auth import mail, mailer, pkce
from devstack.auth.anonymous import make_permanent
from devstack.auth.errors import AuthError, Code, bad_request, unprocessable
from devstack.auth.http import (
    Auth,
    Endpoint,
    Params,
    authenticated_unbanned,
    bearer_claims,
    check_audience,
    check_email,
    client_ip,
)
from devstack.auth.models import user_json
from devstack.auth.passwords import check_new_password, hash_password, password_matches
from devstack.auth.store import Conn, change_email, merge_metadata, reload

INVALID_NONCE = "Nonce has expired or is invalid"


class UserUpdateParams(Params):
    email: str | None = None
    password: Any = None  # checked by check_new_password (its own message)
    nonce: str | None = None
    data: dict[str, Any] | None = None
    app_metadata: Any = None
    phone: str | None = None
    channel: str | None = None
    code_challenge: str | None = None
    code_challenge_method: str | None = None


def get_user(auth: Auth, request: Request, params: dict) -> dict[str, Any]:
    claims = bearer_claims(auth, request)
    user, _ = auth.store.transaction(lambda conn: authenticated_unbanned(conn, claims))
    check_audience(claims)
    return user_json(user)


def _verify_nonce(auth: Auth, conn: Conn, user: dict[str, Any], nonce: str) -> None:
    sent_at = user["reauthentication_sent_at"]
    expected = user["reauthentication_token"] or ""
    fresh = sent_at is not None and dt.datetime.now(dt.UTC) <= sent_at + dt.timedelta(
        seconds=auth.settings.mail.otp_expiry
    )
    if not expected or not fresh or mail.token_hash(user["email"] or "", nonce) != expected:
        raise unprocessable(Code.REAUTHENTICATION_NOT_VALID, INVALID_NONCE)
    conn.execute(
        "update auth.users set reauthentication_token = '', reauthentication_sent_at = null"
        " where id = %s",
        (user["id"],),
    )
    mail.clear_one_time_token(conn, user["id"], "reauthentication_token")


def _needs_reauthentication(conn: Conn, session_id: str | None) -> bool:
    """secure_password_change: a session older than 24 hours must prove the person again."""
    if session_id is None:
        return True
    row = conn.execute("select created_at from auth.sessions where id = %s", (session_id,))
    found = row.fetchone()
    return found is None or found["created_at"] < dt.datetime.now(dt.UTC) - dt.timedelta(hours=24)


def update_user(auth: Auth, request: Request, params: dict) -> dict[str, Any]:
    claims = bearer_claims(auth, request)
    check_audience(claims)
    settings = auth.settings
    body = UserUpdateParams.of(params)
    if body.app_metadata is not None:
        raise AuthError(403, Code.NOT_ADMIN, "Updating app_metadata requires admin privileges")
    if body.phone:
        raise unprocessable(Code.PHONE_PROVIDER_DISABLED, "Phone logins are disabled")
    data = body.data
    password = body.password
    email = (body.email or "").strip()
    if email:
        check_email(email)
    pkce.validate(body.code_challenge_method, body.code_challenge)
    redirect_to = mailer.referrer(
        settings, request.query_params.get("redirect_to"), request.headers.get("referer")
    )

    def work(conn: Conn) -> dict[str, Any]:
        user, session_id = authenticated_unbanned(conn, claims)
        uid = user["id"]
        if password is not None:
            check_new_password(settings, password)
            if settings.mail.secure_password_change and _needs_reauthentication(conn, session_id):
                if not body.nonce:
                    raise bad_request(
                        Code.REAUTHENTICATION_NEEDED, "Password update requires reauthentication"
                    )
                _verify_nonce(auth, conn, user, body.nonce)
            elif body.nonce:
                _verify_nonce(auth, conn, user, body.nonce)
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
            if not settings.mail.enable_confirmations:
                change_email(conn, uid, email.lower())  # the hosted autoconfirm path
                make_permanent(conn, uid)
            else:
                if body.code_challenge:
                    pkce.create_flow_state(
                        conn,
                        uid,
                        pkce.METHODS["email_change"],
                        str(body.code_challenge_method),
                        body.code_challenge,
                    )
                mail.send_email_change(
                    auth,
                    conn,
                    reload(conn, user),
                    email.lower(),
                    redirect_to=redirect_to,
                    ip=client_ip(request),
                    pkce=bool(body.code_challenge),
                )
        return user_json(reload(conn, user))

    return auth.store.transaction(work)


def reauthenticate(auth: Auth, request: Request, params: dict) -> dict[str, Any]:
    claims = bearer_claims(auth, request)

    def work(conn: Conn) -> dict[str, Any]:
        user, _ = authenticated_unbanned(conn, claims)
        if not user["email"]:
            raise bad_request(
                Code.VALIDATION_FAILED,
                "Reauthentication requires the user to have an email or a phone number",
            )
        if user["email_confirmed_at"] is None:
            raise unprocessable(Code.EMAIL_NOT_CONFIRMED, "Please verify your email first.")
        mail.send_reauthentication(auth, conn, user, client_ip(request))
        return {}

    return auth.store.transaction(work)


ROUTES = [
    Endpoint("GET", "/user", get_user),
    Endpoint("PUT", "/user", update_user, "Error updating user", limit="user"),
    Endpoint("GET", "/reauthenticate", reauthenticate, "Error sending reauthentication"),
]
