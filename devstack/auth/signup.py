"""``POST /signup`` (internal/api/signup.go) and the user creation it shares with
``make token`` and the test fixtures (devstack/users.py).

With ``[auth.email] enable_confirmations = true`` a new address gets a confirmation mail and
no session; an address that is already registered and confirmed answers what a new sign-up
answers (a user with a fresh id, no session, no mail): nobody learns from sign-up which
addresses have accounts. An unconfirmed one gets the confirmation again."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from starlette.requests import Request

from devstack.auth import mail, mailer, pkce
from devstack.auth.anonymous import signup_anonymously
from devstack.auth.errors import Code, bad_request, unprocessable
from devstack.auth.http import Auth, Endpoint, Params, check_email, client_ip
from devstack.auth.models import ts, user_json
from devstack.auth.passwords import check_new_password, weak_password
from devstack.auth.store import Conn, create_user, find_user, reload
from devstack.auth.tokens import Client, start_session


class SignupParams(Params):
    email: str | None = None
    phone: str | None = None
    password: Any = None  # checked by check_new_password (its own message)
    data: dict[str, Any] | None = None
    code_challenge: str | None = None
    code_challenge_method: str | None = None
    channel: str | None = None


def register(
    conn: Conn,
    *,
    email: str,
    password: str | None = None,
    encrypted_password: str | None = None,
    data: dict[str, Any] | None = None,
    app_metadata: dict[str, Any] | None = None,
    confirmed: bool = True,
) -> dict[str, Any]:
    """A new email user as sign-up makes it: address lower-cased, its identity, metadata."""
    return create_user(
        conn,
        email=email.lower(),
        password=password,
        encrypted_password=encrypted_password,
        user_metadata=data or {},
        app_metadata=app_metadata,
        confirmed=confirmed,
    )


def sanitized_user(email: str, data: dict[str, Any]) -> dict[str, Any]:
    """sanitizeUser: what a repeated sign-up of a confirmed address answers, shaped like a
    new unconfirmed user's answer. Unlike the hosted server (``identities: []``, which
    clients read as "already registered"), it carries an identity like a new user's, so the
    two answers cannot be told apart."""
    now = ts(dt.datetime.now(dt.UTC))
    user_id = str(uuid.uuid4())
    identity_data = {
        **data,
        "sub": user_id,
        "email": email.lower(),
        "email_verified": False,
        "phone_verified": False,
    }
    return {
        "id": user_id,
        "aud": "authenticated",
        "role": "authenticated",
        "email": email.lower(),
        "phone": "",
        "confirmation_sent_at": now,
        "app_metadata": {"provider": "email", "providers": ["email"]},
        "user_metadata": {k: v for k, v in identity_data.items()},
        "identities": [
            {
                "identity_id": str(uuid.uuid4()),
                "id": user_id,
                "user_id": user_id,
                "identity_data": identity_data,
                "provider": "email",
                "last_sign_in_at": now,
                "created_at": now,
                "updated_at": now,
                "email": email.lower(),
            }
        ],
        "created_at": now,
        "updated_at": now,
        "is_anonymous": False,
    }


def signup(auth: Auth, request: Request, params: dict) -> dict[str, Any]:
    settings = auth.settings
    if not settings.enable_signup:
        raise unprocessable(Code.SIGNUP_DISABLED, "Signups not allowed for this instance")
    body = SignupParams.of(params)
    email = (body.email or "").strip()
    password = body.password
    # no credentials at all: an anonymous sign-in (a password without an address is a
    # mistake the checks below answer)
    if not email and not body.phone and password is None:
        return signup_anonymously(auth, request, params)
    data = body.data or {}
    if body.phone:
        raise bad_request(Code.PHONE_PROVIDER_DISABLED, "Phone signups are disabled")
    if password is not None and not isinstance(password, str):
        check_new_password(settings, password)
    if not password:
        raise bad_request(Code.VALIDATION_FAILED, "Signup requires a valid password")
    if not email:
        raise bad_request(
            Code.VALIDATION_FAILED, "Sign up only available with email or phone provider"
        )
    check_email(email)
    if (weak := weak_password(settings, password)) is not None:
        raise weak
    pkce.validate(body.code_challenge_method, body.code_challenge)
    confirm_by_mail = settings.mail.enable_confirmations
    redirect_to = mailer.referrer(
        settings, request.query_params.get("redirect_to"), request.headers.get("referer")
    )

    def work(conn: Conn) -> dict[str, Any]:
        user = find_user(conn, email=email)
        if user is not None and user["email_confirmed_at"] is not None:
            if not confirm_by_mail:
                raise unprocessable(Code.USER_ALREADY_EXISTS, "User already registered")
            # the hash of a password, as for a new user, so timing tells nothing either
            weak_password(settings, password)
            mail.hash_password_like_signup(password)
            return sanitized_user(email, data)
        if user is None:
            user = register(
                conn, email=email, password=password, data=data, confirmed=not confirm_by_mail
            )
        if not confirm_by_mail:
            return start_session(conn, settings, user, Client.of(request), "password")
        if body.code_challenge:
            pkce.create_flow_state(
                conn,
                user["id"],
                pkce.METHODS["signup"],
                str(body.code_challenge_method),
                body.code_challenge,
            )
        mail.send_token_mail(
            auth,
            conn,
            user,
            "signup",
            redirect_to=redirect_to,
            ip=client_ip(request),
            pkce=bool(body.code_challenge),
        )
        return user_json(reload(conn, user))

    return auth.store.transaction(work)


ROUTES = [Endpoint("POST", "/signup", signup, "Database error saving new user", limit="signup")]
