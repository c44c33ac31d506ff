"""``POST /signup`` (internal/api/signup.go) and the user creation it shares with
``make token`` and the test fixtures (devstack/users.py)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from devstack.auth.anonymous import signup_anonymously
from devstack.auth.errors import Code, bad_request, unprocessable
from devstack.auth.http import Auth, Endpoint, check_email
from devstack.auth.passwords import check_new_password, weak_password
from devstack.auth.store import Conn, create_user, find_user
from devstack.auth.tokens import Client, start_session


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


def signup(auth: Auth, request: Request, params: dict) -> dict[str, Any]:
    settings = auth.settings
    if not settings.enable_signup:
        raise unprocessable(Code.SIGNUP_DISABLED, "Signups not allowed for this instance")
    email = str(params.get("email") or "").strip()
    password = params.get("password")
    # no credentials at all: an anonymous sign-in (a password without an address is a
    # mistake the checks below answer)
    if not email and not params.get("phone") and password is None:
        return signup_anonymously(auth, request, params)
    data = params.get("data") or {}
    if not isinstance(data, dict):
        raise bad_request(Code.BAD_JSON, "Could not parse request body as JSON: data")
    if params.get("phone"):
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

    def work(conn: Conn) -> dict[str, Any]:
        if find_user(conn, email=email) is not None:
            raise unprocessable(Code.USER_ALREADY_EXISTS, "User already registered")
        user = register(conn, email=email, password=password, data=data)
        return start_session(conn, settings, user, Client.of(request), "password")

    return auth.store.transaction(work)


ROUTES = [Endpoint("POST", "/signup", signup, "Database error saving new user")]
