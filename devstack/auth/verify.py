"""``GET|POST /verify`` (internal/api/verify.go): the link or the 6-digit code of a mail.

Types ``signup``, ``invite``, ``magiclink``, ``recovery``, ``email_change`` and ``email`` (a
code from either a confirmation or a magic-link mail). ``POST`` takes ``token_hash`` +
``type``, or ``email`` + ``token`` + ``type``, and answers a session. ``GET`` (the mail's
link, ``token`` = the token hash) answers ``303`` to ``redirect_to``: with ``#access_token=…``
(implicit flow) or ``?code=…`` (PKCE: the token hash starts ``pkce_``; the app trades the code
with ``POST /token?grant_type=pkce``); a failure redirects with ``#error=…&error_code=…``.

A secure e-mail change needs both links: the first answers "Confirmation link accepted..."
and changes nothing; the second applies the new address (if still free)."""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from psycopg.types.json import Jsonb
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from devstack.auth import mail, mailer, pkce
from devstack.auth.anonymous import make_permanent
from devstack.auth.errors import AuthError, Code, bad_request, forbidden, unprocessable
from devstack.auth.http import Auth, Endpoint, Params, check_email
from devstack.auth.store import DUPLICATE_EMAIL, Conn, banned, change_email, find_user, reload
from devstack.auth.tokens import Client, start_session

SINGLE_CONFIRMATION = (
    "Confirmation link accepted. Please proceed to confirm link sent to the other email"
)
LINK_INVALID = "Email link is invalid or has expired"
TOKEN_INVALID = "Token has expired or is invalid"
TYPES = ("signup", "invite", "magiclink", "recovery", "email_change", "email")
OAUTH_ERRORS = {
    400: "invalid_request",
    401: "unauthorized_client",
    403: "access_denied",
    422: "invalid_request",
    429: "invalid_request",
    500: "server_error",
}
METHODS = {
    "signup": "otp",
    "invite": "otp",
    "magiclink": "otp",
    "recovery": "otp",
    "email_change": "otp",
    "email": "otp",
}


class VerifyParams(Params):
    type: str | None = None
    token: str | None = None
    token_hash: str | None = None
    email: str | None = None
    phone: str | None = None
    redirect_to: str | None = None


def _expired(auth: Auth, sent_at: dt.datetime | None) -> bool:
    return sent_at is None or dt.datetime.now(dt.UTC) > sent_at + dt.timedelta(
        seconds=auth.settings.mail.otp_expiry
    )


def _matches(given: str, expected: str | None) -> bool:
    return bool(expected) and (given == expected or pkce.PREFIX + given == expected)


def _by_token_hash(auth: Auth, conn: Conn, kind: str, hashed: str) -> tuple[dict, str]:
    """verifyTokenHash: the user whose column holds this hash; ``email`` resolves to the
    type of the mail it came from."""
    columns = {
        "email": ("confirmation_token", "recovery_token"),
        "signup": ("confirmation_token",),
        "invite": ("confirmation_token",),
        "recovery": ("recovery_token",),
        "magiclink": ("recovery_token",),
        "email_change": ("email_change_token_current", "email_change_token_new"),
    }[kind]
    where = " or ".join(f"u.{c} = %(h)s or u.{c} = %(p)s" for c in columns)
    row = conn.execute(
        f"select u.id from auth.users u where {where} limit 1",
        {"h": hashed, "p": pkce.PREFIX + hashed},
    ).fetchone()
    user = find_user(conn, user_id=str(row["id"])) if row else None
    if user is None:
        raise forbidden(Code.OTP_EXPIRED, LINK_INVALID)
    if banned(user):
        raise forbidden(Code.USER_BANNED, "User is banned")
    if kind == "email":
        kind = "magiclink" if _matches(hashed, user["recovery_token"]) else "signup"
    sent_at = {
        "signup": "confirmation_sent_at",
        "invite": "confirmation_sent_at",
        "recovery": "recovery_sent_at",
        "magiclink": "recovery_sent_at",
        "email_change": "email_change_sent_at",
    }[kind]
    if _expired(auth, user[sent_at]):
        raise forbidden(Code.OTP_EXPIRED, LINK_INVALID)
    return user, kind


def _by_email_and_code(
    auth: Auth, conn: Conn, kind: str, email: str, hashed: str
) -> tuple[dict, str]:
    """verifyUserAndToken: the address's user and a code of the right mail, unexpired."""
    user = None
    if kind == "email_change":
        row = conn.execute(
            """
            select id from auth.users
             where (lower(email_change) = lower(%(e)s) and email_change_token_new in (%(h)s, %(p)s))
                or (lower(email) = lower(%(e)s) and email_change_token_current in (%(h)s, %(p)s))
             limit 1
            """,
            {"e": email, "h": hashed, "p": pkce.PREFIX + hashed},
        ).fetchone()
        user = find_user(conn, user_id=str(row["id"])) if row else None
    else:
        user = find_user(conn, email=email)
    if user is None:
        raise forbidden(Code.OTP_EXPIRED, TOKEN_INVALID)
    if banned(user):
        raise forbidden(Code.USER_BANNED, "User is banned")

    def valid(column: str, sent_at: str) -> bool:
        return _matches(hashed, user[column]) and not _expired(auth, user[sent_at])

    if kind == "email":
        if valid("confirmation_token", "confirmation_sent_at"):
            kind = "signup"
        elif valid("recovery_token", "recovery_sent_at"):
            kind = "magiclink"
        else:
            raise forbidden(Code.OTP_EXPIRED, TOKEN_INVALID)
    elif kind in ("signup", "invite"):
        ok = valid("confirmation_token", "confirmation_sent_at")
        if not ok:
            raise forbidden(Code.OTP_EXPIRED, TOKEN_INVALID)
    elif kind in ("recovery", "magiclink"):
        if not valid("recovery_token", "recovery_sent_at"):
            raise forbidden(Code.OTP_EXPIRED, TOKEN_INVALID)
    elif not (
        valid("email_change_token_current", "email_change_sent_at")
        or valid("email_change_token_new", "email_change_sent_at")
    ):
        raise forbidden(Code.OTP_EXPIRED, TOKEN_INVALID)
    return user, kind


def _confirm(conn: Conn, user: dict[str, Any]) -> None:
    """user.Confirm: the address confirmed, its identity and metadata say so."""
    conn.execute(
        """
        update auth.users set email_confirmed_at = coalesce(email_confirmed_at, now()),
               confirmation_token = '',
               raw_user_meta_data = case when raw_user_meta_data ? 'email_verified'
                 then raw_user_meta_data || '{"email_verified": true}'::jsonb
                 else raw_user_meta_data end,
               updated_at = now()
         where id = %s
        """,
        (user["id"],),
    )
    conn.execute(
        """
        update auth.identities set identity_data = identity_data || %s, updated_at = now()
         where user_id = %s and provider = 'email'
        """,
        (Jsonb({"email_verified": True}), user["id"]),
    )
    mail.clear_one_time_token(conn, user["id"], "confirmation_token")


def _apply(conn: Conn, auth: Auth, user: dict[str, Any], kind: str, hashed: str) -> bool:
    """The verification's effect; False when a secure e-mail change still awaits its other
    confirmation."""
    if kind in ("signup", "invite"):
        _confirm(conn, user)
    elif kind in ("recovery", "magiclink"):
        conn.execute(
            "update auth.users set recovery_token = '', updated_at = now() where id = %s",
            (user["id"],),
        )
        mail.clear_one_time_token(conn, user["id"], "recovery_token")
        if user["email_confirmed_at"] is None:
            _confirm(conn, user)
    elif kind == "email_change":
        current = _matches(hashed, user["email_change_token_current"])
        if (
            auth.settings.mail.double_confirm_changes
            and user["email_change_confirm_status"] == 0
            and user["email"]
        ):
            column = "email_change_token_current" if current else "email_change_token_new"
            conn.execute(
                f"update auth.users set email_change_confirm_status = 1, {column} = ''"
                " where id = %s",
                (user["id"],),
            )
            mail.clear_one_time_token(conn, user["id"], column)
            return False
        new_email = user["email_change"]
        if not new_email:
            raise forbidden(Code.OTP_EXPIRED, LINK_INVALID)
        taken = find_user(conn, email=new_email)
        if taken is not None and taken["id"] != user["id"]:
            raise unprocessable(Code.EMAIL_EXISTS, DUPLICATE_EMAIL)
        change_email(conn, user["id"], new_email)
        conn.execute(
            """
            update auth.users set email_change_token_new = '', email_change_token_current = '',
                   email_change_confirm_status = 0, email_change = '',
                   email_confirmed_at = coalesce(email_confirmed_at, now())
             where id = %s
            """,
            (user["id"],),
        )
        conn.execute(
            "update auth.identities set identity_data = identity_data || %s"
            " where user_id = %s and provider = 'email'",
            (Jsonb({"email_verified": True}), user["id"]),
        )
        mail.clear_one_time_token(conn, user["id"], "email_change_token_new")
        mail.clear_one_time_token(conn, user["id"], "email_change_token_current")
        make_permanent(conn, user["id"])  # an anonymous user whose address is now proven
    return True


def _fragment_url(base: str, values: dict[str, Any], *, query: dict[str, Any] | None = None) -> str:
    parts = urlsplit(base)
    q = parts.query
    if query:
        q = (q + "&" if q else "") + urlencode(query)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, q, urlencode(values)))


def verify_post(auth: Auth, request: Request, params: dict) -> Any:
    body = VerifyParams.of(params)
    kind = body.type or ""
    if not kind:
        raise bad_request(Code.VALIDATION_FAILED, "Verify requires a verification type")
    token, token_hash = body.token or "", body.token_hash or ""
    if bool(token) == bool(token_hash):
        raise bad_request(Code.VALIDATION_FAILED, "Verify requires either a token or a token hash")
    if kind not in TYPES:
        raise bad_request(Code.VALIDATION_FAILED, "Unsupported verification type")
    email = (body.email or "").strip()
    if token:
        if body.phone or not email:
            raise bad_request(
                Code.VALIDATION_FAILED,
                "Only an email address or phone number should be provided on verify",
            )
        try:
            check_email(email)
        except AuthError as exc:
            raise unprocessable(Code.VALIDATION_FAILED, "Invalid email format") from exc
        hashed = mail.token_hash(email.lower(), token)
    else:
        if email or body.phone or body.redirect_to:
            raise bad_request(
                Code.VALIDATION_FAILED, "Only the token_hash and type should be provided"
            )
        hashed = token_hash

    def work(conn: Conn) -> Any:
        if token:
            user, resolved = _by_email_and_code(auth, conn, kind, email, hashed)
        else:
            user, resolved = _by_token_hash(auth, conn, kind, hashed)
        if not _apply(conn, auth, user, resolved, hashed):
            return {"msg": SINGLE_CONFIRMATION, "code": "200"}
        return start_session(conn, auth.settings, reload(conn, user), Client.of(request), "otp")

    return auth.store.transaction(work)


def verify_get(auth: Auth, request: Request, params: dict) -> Response:
    query = request.query_params
    kind = query.get("type") or ""
    token = query.get("token") or ""
    if not kind:
        raise bad_request(Code.VALIDATION_FAILED, "Verify requires a verification type")
    if not token:
        raise bad_request(Code.VALIDATION_FAILED, "Verify requires a token or a token hash")
    if "\x00" in token or "\x00" in kind:
        raise bad_request(Code.VALIDATION_FAILED, "Verify requires a token or a token hash")
    redirect_to = mailer.referrer(
        auth.settings, query.get("redirect_to"), request.headers.get("referer")
    )
    is_pkce = token.startswith(pkce.PREFIX)
    hashed = token.removeprefix(pkce.PREFIX)

    def work(conn: Conn) -> str:
        if kind not in TYPES or kind == "email":
            raise bad_request(Code.VALIDATION_FAILED, "Unsupported verification type")
        user, resolved = _by_token_hash(auth, conn, kind, hashed)
        if not _apply(conn, auth, user, resolved, hashed):
            message = {"message": SINGLE_CONFIRMATION, "sb": ""}
            extra = {"message": SINGLE_CONFIRMATION} if is_pkce else None
            return _fragment_url(redirect_to, message, query=extra)
        user = reload(conn, user)
        if is_pkce:
            code = pkce.issue_auth_code(conn, user["id"], resolved)
            return _fragment_url(redirect_to, {}, query={"code": code}).rstrip("#")
        session = start_session(conn, auth.settings, user, Client.of(request), "otp")
        return _fragment_url(
            redirect_to,
            {
                "access_token": session["access_token"],
                "expires_at": session["expires_at"],
                "expires_in": session["expires_in"],
                "refresh_token": session["refresh_token"],
                "token_type": "bearer",
                "type": kind,
            },
        )

    try:
        url = auth.store.transaction(work)
    except AuthError as exc:
        error = {
            "error": OAUTH_ERRORS.get(exc.status, "server_error"),
            "error_code": exc.code,
            "error_description": exc.message,
        }
        url = _fragment_url(redirect_to, {**error, "sb": ""}, query=error if is_pkce else None)
    return RedirectResponse(url, status_code=303)


def verify(auth: Auth, request: Request, params: dict) -> Any:
    if request.method == "GET":
        return verify_get(auth, request, params)
    result = verify_post(auth, request, params)
    if isinstance(result, dict) and "msg" in result:
        return JSONResponse(result)
    return result


ROUTES = [
    Endpoint("GET", "/verify", verify, "Database error updating user", limit="verify"),
    Endpoint("POST", "/verify", verify, "Database error updating user", limit="verify"),
]
