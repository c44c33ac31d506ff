"""The mail-sending endpoints a person calls without a session: ``POST /otp`` (magic link
and e-mail code; ``/magiclink`` is its legacy name), ``POST /recover``, ``POST /resend``
(internal/api/otp.go, magic_link.go, recover.go, resend.go). None reveals whether an
address has an account, except ``/otp`` with ``create_user: false``, as hosted."""

from __future__ import annotations

import secrets
from typing import Any

from starlette.requests import Request

from devstack.auth import mail, mailer, pkce
from devstack.auth.errors import Code, bad_request, unprocessable
from devstack.auth.http import Auth, Endpoint, Params, check_email, client_ip
from devstack.auth.signup import register
from devstack.auth.store import Conn, find_user, reload


class OtpParams(Params):
    email: str | None = None
    phone: str | None = None
    create_user: bool = True
    data: dict[str, Any] | None = None
    channel: str | None = None
    code_challenge: str | None = None
    code_challenge_method: str | None = None


class RecoverParams(Params):
    email: str | None = None
    code_challenge: str | None = None
    code_challenge_method: str | None = None


class ResendParams(Params):
    type: str | None = None
    email: str | None = None
    phone: str | None = None
    code_challenge: str | None = None
    code_challenge_method: str | None = None


def _email(value: str | None) -> str:
    email = (value or "").strip()
    if not email:
        raise bad_request(Code.VALIDATION_FAILED, "An email address is required")
    check_email(email)
    return email.lower()


def _redirect(auth: Auth, request: Request) -> str:
    return mailer.referrer(
        auth.settings, request.query_params.get("redirect_to"), request.headers.get("referer")
    )


def _flow(conn: Conn, user: dict[str, Any], kind: str, body: Any) -> bool:
    if body.code_challenge:
        pkce.create_flow_state(
            conn,
            user["id"],
            pkce.METHODS[kind],
            str(body.code_challenge_method),
            body.code_challenge,
        )
        return True
    return False


def otp(auth: Auth, request: Request, params: dict) -> dict[str, Any]:
    body = OtpParams.of(params)
    if body.phone:
        raise bad_request(Code.PHONE_PROVIDER_DISABLED, "Unsupported phone provider")
    email = _email(body.email)
    pkce.validate(body.code_challenge_method, body.code_challenge)
    settings = auth.settings
    redirect_to = _redirect(auth, request)
    ip = client_ip(request)

    def work(conn: Conn) -> dict[str, Any]:
        user = find_user(conn, email=email)
        if user is None and not body.create_user:
            raise unprocessable(Code.OTP_DISABLED, "Signups not allowed for otp")
        if user is None or user["email_confirmed_at"] is None:
            if not settings.enable_signup and user is None:
                raise unprocessable(Code.SIGNUP_DISABLED, "Signups not allowed for this instance")
            if user is None:
                user = register(
                    conn,
                    email=email,
                    password=secrets.token_urlsafe(33),
                    data=body.data,
                    confirmed=not settings.mail.enable_confirmations,
                )
            if user["email_confirmed_at"] is None:
                # a new address: a confirmation (its link and code sign in once confirmed)
                flow = _flow(conn, user, "signup", body)
                mail.send_token_mail(
                    auth, conn, user, "signup", redirect_to=redirect_to, ip=ip, pkce=flow
                )
                return {}
        user = reload(conn, user)
        flow = _flow(conn, user, "magiclink", body)
        mail.send_token_mail(
            auth, conn, user, "magiclink", redirect_to=redirect_to, ip=ip, pkce=flow
        )
        return {}

    return auth.store.transaction(work)


def recover(auth: Auth, request: Request, params: dict) -> dict[str, Any]:
    body = RecoverParams.of(params)
    email = _email(body.email)
    pkce.validate(body.code_challenge_method, body.code_challenge)
    redirect_to = _redirect(auth, request)

    def work(conn: Conn) -> dict[str, Any]:
        user = find_user(conn, email=email)
        if user is None:
            # as much work as a real one, and the same answer
            mail.new_otp(auth.settings.mail.otp_length)
            return {}
        flow = _flow(conn, user, "recovery", body)
        mail.send_token_mail(
            auth,
            conn,
            user,
            "recovery",
            redirect_to=redirect_to,
            ip=client_ip(request),
            pkce=flow,
        )
        return {}

    return auth.store.transaction(work)


def resend(auth: Auth, request: Request, params: dict) -> dict[str, Any]:
    body = ResendParams.of(params)
    kind = body.type or ""
    if kind not in ("signup", "email_change", "sms", "phone_change"):
        raise bad_request(
            Code.VALIDATION_FAILED,
            "Missing one of these types: signup, email_change, sms, phone_change",
        )
    if kind in ("sms", "phone_change") or body.phone:
        raise bad_request(Code.PHONE_PROVIDER_DISABLED, "Unsupported phone provider")
    email = _email(body.email)
    pkce.validate(body.code_challenge_method, body.code_challenge)
    redirect_to = _redirect(auth, request)
    ip = client_ip(request)

    def work(conn: Conn) -> dict[str, Any]:
        user = find_user(conn, email=email)
        if user is None:
            return {}
        if kind == "signup":
            if user["email_confirmed_at"] is not None:
                return {}
            flow = _flow(conn, user, "signup", body)
            mail.send_token_mail(
                auth, conn, user, "signup", redirect_to=redirect_to, ip=ip, pkce=flow
            )
            return {}
        if not user["email_change"]:
            return {}
        flow = _flow(conn, user, "email_change", body)
        mail.send_email_change(
            auth, conn, user, user["email_change"], redirect_to=redirect_to, ip=ip, pkce=flow
        )
        return {}

    return auth.store.transaction(work)


ROUTES = [
    Endpoint("POST", "/otp", otp, "Error sending magic link", limit="otp"),
    Endpoint("POST", "/magiclink", otp, "Error sending magic link", limit="magiclink"),
    Endpoint("POST", "/recover", recover, "Error recovering user", limit="recover"),
    Endpoint("POST", "/resend", resend, "Error sending email", limit="resend"),
]
