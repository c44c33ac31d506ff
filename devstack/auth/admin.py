"""``/admin/users[/{id}]`` (internal/api/admin.go), only with a service-role token."""

from __future__ import annotations

import datetime as dt
import re
import secrets
import uuid
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from devstack.auth import mail, mailer
from devstack.auth.errors import AuthError, Code, bad_request, unprocessable
from devstack.auth.http import Auth, Endpoint, Params, check_email, client_ip, require_admin
from devstack.auth.models import user_json
from devstack.auth.passwords import check_new_password, hash_password
from devstack.auth.settings import AUDIENCE, INSTANCE_ID
from devstack.auth.store import (
    DUPLICATE_EMAIL,
    USER_SELECT,
    Conn,
    change_email,
    create_user,
    find_user,
    merge_metadata,
    reload,
)

_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}


def ban_until(value: Any) -> tuple[dt.datetime | None] | None:
    """``ban_duration``: a Go duration (``"24h"``, ``"1h30m"``) or ``"none"`` to lift a ban.
    None when absent; ``(None,)`` to lift; ``(until,)`` to ban."""
    if value is None or value == "":
        return None
    if value == "none":
        return (None,)
    text = str(value)
    parts = _DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise bad_request(
            Code.VALIDATION_FAILED,
            f'invalid format for ban duration: time: invalid duration "{text}"',
        )
    seconds = sum(float(n) * _UNIT_SECONDS[u] for n, u in parts)
    return (dt.datetime.now(dt.UTC) + dt.timedelta(seconds=seconds),)


_MAX_PAGINATION = 2**31 - 1  # an offset beyond it is no page of any real user list


def _pagination_number(text: str | None, default: int) -> int:
    if not text:
        return default
    if not text.isascii() or not text.isdigit() or int(text) > _MAX_PAGINATION:
        raise bad_request(
            Code.VALIDATION_FAILED,
            f"Bad Pagination Parameters: expected a whole number from 0 to {_MAX_PAGINATION}",
        )
    return int(text)


def admin_list(auth: Auth, request: Request, params: dict) -> Response:
    require_admin(auth, request)
    page = _pagination_number(request.query_params.get("page"), 1)
    per_page = _pagination_number(request.query_params.get("per_page"), 50)
    page = max(page, 1)
    per_page = max(per_page, 1)

    def work(conn: Conn) -> tuple[list[dict], int]:
        total = conn.execute(
            "select count(*) as n from auth.users where instance_id = %s and aud = %s",
            (INSTANCE_ID, AUDIENCE),
        ).fetchone()
        rows = conn.execute(
            USER_SELECT
            + " where u.instance_id = %s and u.aud = %s"
            + " order by u.created_at desc, u.id desc limit %s offset %s",
            (INSTANCE_ID, AUDIENCE, per_page, (page - 1) * per_page),
        ).fetchall()
        return rows, int(total["n"] if total else 0)

    rows, total = auth.store.transaction(work)
    response = JSONResponse({"users": [user_json(r) for r in rows], "aud": AUDIENCE})
    pages = -(-total // per_page)
    links = []
    base = dict(request.query_params.items())
    path = request.url.path
    if pages > page:
        links.append(f'<{path}?{urlencode({**base, "page": page + 1})}>; rel="next"')
    links.append(f'<{path}?{urlencode({**base, "page": pages})}>; rel="last"')
    response.headers["Link"] = ", ".join(links)
    response.headers["X-Total-Count"] = str(total)
    return response


def admin_create(auth: Auth, request: Request, params: dict) -> dict[str, Any]:
    require_admin(auth, request)
    settings = auth.settings
    email = str(params.get("email") or "").strip()
    if params.get("phone"):
        raise bad_request(Code.PHONE_PROVIDER_DISABLED, "Phone signups are disabled")
    if not email:
        raise bad_request(
            Code.VALIDATION_FAILED, "Cannot create a user without either an email or phone"
        )
    check_email(email)
    password = params.get("password")
    password_hash = params.get("password_hash")
    if password is not None and password_hash:
        raise bad_request(
            Code.VALIDATION_FAILED, "Only a password or a password hash should be provided"
        )
    if password is not None:
        check_new_password(settings, password)
    user_id = params.get("id")
    if user_id is not None:
        try:
            if uuid.UUID(str(user_id)).version != 4:
                raise ValueError
        except ValueError as exc:
            raise bad_request(
                Code.VALIDATION_FAILED, "ID must conform to the uuid v4 format"
            ) from exc
    user_metadata = params.get("user_metadata") or {}
    app_metadata = params.get("app_metadata") or {}
    if not isinstance(user_metadata, dict) or not isinstance(app_metadata, dict):
        raise bad_request(Code.BAD_JSON, "Could not parse request body as JSON: metadata")
    ban = ban_until(params.get("ban_duration"))

    def work(conn: Conn) -> dict[str, Any]:
        if find_user(conn, email=email) is not None:
            raise unprocessable(Code.EMAIL_EXISTS, DUPLICATE_EMAIL)
        user = create_user(
            conn,
            email=email.lower(),
            password=password if password is not None else None,
            encrypted_password=password_hash or None,
            user_metadata=user_metadata,
            app_metadata=app_metadata,
            confirmed=bool(params.get("email_confirm")),
            user_id=str(user_id) if user_id else None,
            role=str(params.get("role") or AUDIENCE),
        )
        if ban is not None:
            conn.execute(
                "update auth.users set banned_until = %s where id = %s", (ban[0], user["id"])
            )
            user = reload(conn, user)
        return user_json(user)

    return auth.store.transaction(work)


def _path_user(conn: Conn, request: Request) -> dict[str, Any]:
    raw = request.path_params["user_id"]
    try:
        user_id = str(uuid.UUID(raw))
    except ValueError as exc:
        raise AuthError(404, Code.VALIDATION_FAILED, "user_id must be an UUID") from exc
    user = find_user(conn, user_id=user_id)
    if user is None:
        raise AuthError(404, Code.USER_NOT_FOUND, "User not found")
    return user


def admin_get(auth: Auth, request: Request, params: dict) -> dict[str, Any]:
    require_admin(auth, request)
    return user_json(auth.store.transaction(lambda conn: _path_user(conn, request)))


def admin_update(auth: Auth, request: Request, params: dict) -> dict[str, Any]:
    require_admin(auth, request)
    password = params.get("password")
    if password is not None:
        check_new_password(auth.settings, password)
    email = str(params.get("email") or "").strip()
    if email:
        check_email(email)
    for key in ("user_metadata", "app_metadata"):
        if params.get(key) is not None and not isinstance(params[key], dict):
            raise bad_request(Code.BAD_JSON, f"Could not parse request body as JSON: {key}")
    ban = ban_until(params.get("ban_duration"))

    def work(conn: Conn) -> dict[str, Any]:
        user = _path_user(conn, request)
        uid = user["id"]
        if params.get("role"):
            conn.execute("update auth.users set role = %s where id = %s", (params["role"], uid))
        if email and email.lower() != (user["email"] or "").lower():
            change_email(conn, uid, email.lower())
        if password is not None:
            conn.execute(
                "update auth.users set encrypted_password = %s where id = %s",
                (hash_password(password), uid),
            )
            conn.execute("delete from auth.sessions where user_id = %s", (uid,))
        if params.get("email_confirm"):
            conn.execute(
                "update auth.users set email_confirmed_at = coalesce(email_confirmed_at, now())"
                " where id = %s",
                (uid,),
            )
        if params.get("app_metadata"):
            merge_metadata(conn, uid, "raw_app_meta_data", params["app_metadata"])
        if params.get("user_metadata"):
            merge_metadata(conn, uid, "raw_user_meta_data", params["user_metadata"])
        if ban is not None:
            conn.execute("update auth.users set banned_until = %s where id = %s", (ban[0], uid))
            if ban[0] is not None:
                conn.execute("delete from auth.sessions where user_id = %s", (uid,))
        conn.execute("update auth.users set updated_at = now() where id = %s", (uid,))
        return user_json(reload(conn, user))

    return auth.store.transaction(work)


def admin_delete(auth: Auth, request: Request, params: dict) -> dict[str, Any]:
    require_admin(auth, request)
    soft = bool(params.get("should_soft_delete"))

    def work(conn: Conn) -> None:
        user = _path_user(conn, request)
        if not soft:
            conn.execute("delete from auth.users where id = %s", (user["id"],))
            return
        # Auth's soft delete: identifying fields obfuscated, sign-in impossible
        conn.execute(
            """
            update auth.users
               set email = encode(
                     extensions.digest(id::text || coalesce(email, ''), 'sha256'), 'hex'),
                   encrypted_password = null, email_change = '', confirmation_token = '',
                   recovery_token = '', email_change_token_current = '',
                   email_change_token_new = '', phone_change_token = '',
                   raw_user_meta_data = '{}'::jsonb, deleted_at = now()
             where id = %s
            """,
            (user["id"],),
        )
        conn.execute("delete from auth.identities where user_id = %s", (user["id"],))
        conn.execute("delete from auth.sessions where user_id = %s", (user["id"],))

    auth.store.transaction(work)
    return {}


ROUTES = [
    Endpoint("GET", "/admin/users", admin_list, "Database error finding users"),
    Endpoint("POST", "/admin/users", admin_create, "Database error creating new user"),
    Endpoint("GET", "/admin/users/{user_id}", admin_get, "Database error loading user"),
    Endpoint("PUT", "/admin/users/{user_id}", admin_update, "Error updating user"),
    Endpoint("DELETE", "/admin/users/{user_id}", admin_delete, "Database error deleting user"),
]


class InviteParams(Params):
    email: str | None = None
    data: dict[str, Any] | None = None


class GenerateLinkParams(Params):
    type: str | None = None
    email: str | None = None
    new_email: str | None = None
    password: Any = None
    data: dict[str, Any] | None = None
    redirect_to: str | None = None


def _invited_user(conn: Conn, email: str, data: dict[str, Any] | None) -> dict[str, Any]:
    user = find_user(conn, email=email)
    if user is not None:
        if user["email_confirmed_at"] is not None:
            raise unprocessable(Code.EMAIL_EXISTS, DUPLICATE_EMAIL)
        return user
    return create_user(conn, email=email, password=None, user_metadata=data or {}, confirmed=False)


def invite(auth: Auth, request: Request, params: dict) -> dict[str, Any]:
    """``POST /invite``: an unconfirmed user and an invitation mail; following its link
    confirms the address and signs in (then ``PUT /user {password}``)."""
    require_admin(auth, request)
    body = InviteParams.of(params)
    email = (body.email or "").strip().lower()
    check_email(email)
    redirect_to = mailer.referrer(
        auth.settings, request.query_params.get("redirect_to"), request.headers.get("referer")
    )

    def work(conn: Conn) -> dict[str, Any]:
        user = _invited_user(conn, email, body.data)
        mail.send_token_mail(
            auth, conn, user, "invite", redirect_to=redirect_to, ip=client_ip(request)
        )
        return user_json(reload(conn, user))

    return auth.store.transaction(work)


def generate_link(auth: Auth, request: Request, params: dict) -> dict[str, Any]:
    """``POST /admin/generate_link``: the link and code a mail would carry, sending nothing."""
    require_admin(auth, request)
    body = GenerateLinkParams.of(params)
    email = (body.email or "").strip().lower()
    if not email:
        raise bad_request(Code.VALIDATION_FAILED, "An email address is required")
    check_email(email)
    kind = body.type or ""
    settings = auth.settings
    redirect_to = mailer.referrer(settings, body.redirect_to, request.headers.get("referer"))
    otp = mail.new_otp(settings.mail.otp_length)
    hashed = mail.token_hash(email, otp)

    def work(conn: Conn) -> dict[str, Any]:
        nonlocal kind, hashed
        user = find_user(conn, email=email)
        if user is None:
            if kind == "magiclink":
                kind = "signup"
            elif kind in ("recovery", "email_change_current", "email_change_new"):
                raise AuthError(404, Code.USER_NOT_FOUND, "User with this email not found")
        if kind in ("magiclink", "recovery"):
            assert user is not None
            conn.execute(
                "update auth.users set recovery_token = %s, recovery_sent_at = now() where id = %s",
                (hashed, user["id"]),
            )
            mail.save_one_time_token(conn, user["id"], "recovery_token", hashed, email)
        elif kind == "invite":
            user = _invited_user(conn, email, body.data)
            conn.execute(
                "update auth.users set confirmation_token = %s, confirmation_sent_at = now(),"
                " invited_at = now() where id = %s",
                (hashed, user["id"]),
            )
            mail.save_one_time_token(conn, user["id"], "confirmation_token", hashed, email)
        elif kind == "signup":
            if user is not None and user["email_confirmed_at"] is not None:
                raise unprocessable(Code.EMAIL_EXISTS, DUPLICATE_EMAIL)
            if user is None:
                password = body.password if isinstance(body.password, str) else None
                if password:
                    check_new_password(settings, password)
                user = create_user(
                    conn,
                    email=email,
                    password=password or secrets.token_urlsafe(48),
                    user_metadata=body.data or {},
                    confirmed=False,
                )
            conn.execute(
                "update auth.users set confirmation_token = %s, confirmation_sent_at = now()"
                " where id = %s",
                (hashed, user["id"]),
            )
            mail.save_one_time_token(conn, user["id"], "confirmation_token", hashed, email)
        elif kind in ("email_change_current", "email_change_new"):
            assert user is not None
            if kind == "email_change_current" and not settings.mail.double_confirm_changes:
                raise bad_request(
                    Code.VALIDATION_FAILED,
                    "Enable secure email change to generate link for current email",
                )
            new_email = (body.new_email or "").strip().lower()
            if not new_email:
                raise bad_request(Code.VALIDATION_FAILED, "An email address is required")
            check_email(new_email)
            taken = find_user(conn, email=new_email)
            if taken is not None and taken["id"] != user["id"]:
                raise unprocessable(Code.EMAIL_EXISTS, DUPLICATE_EMAIL)
            current, new = "", ""
            if kind == "email_change_current":
                current = hashed
            else:
                new = hashed = mail.token_hash(new_email, otp)
            conn.execute(
                """
                update auth.users set email_change = %s, email_change_token_current = %s,
                       email_change_token_new = %s, email_change_confirm_status = 0,
                       email_change_sent_at = now()
                 where id = %s
                """,
                (new_email, current, new, user["id"]),
            )
            if current:
                mail.save_one_time_token(
                    conn, user["id"], "email_change_token_current", current, email
                )
            if new:
                mail.save_one_time_token(conn, user["id"], "email_change_token_new", new, new_email)
        else:
            raise bad_request(
                Code.VALIDATION_FAILED, f"Invalid email action link type requested: {kind}"
            )
        assert user is not None
        link_type = "email_change" if kind.startswith("email_change") else kind
        return {
            **user_json(reload(conn, user)),
            "action_link": mailer.action_url(settings, hashed, link_type, redirect_to),
            "email_otp": otp,
            "hashed_token": hashed,
            "verification_type": kind,
            "redirect_to": redirect_to,
        }

    return auth.store.transaction(work)


ROUTES += [
    Endpoint("POST", "/invite", invite, "Database error inviting user"),
    Endpoint("POST", "/admin/generate_link", generate_link, "Database error generating link"),
]
