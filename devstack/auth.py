"""Local Supabase Auth: the part of its HTTP API that supabase-js / supabase-py call.

Served by the gateway at ``/auth/v1`` (no GoTrue binary installs here), on the tables the
hosted service uses (``auth.users``, ``auth.identities``, ``auth.sessions``,
``auth.refresh_tokens``; devstack/bootstrap.sql), acting as ``supabase_auth_admin`` as the
hosted server does. Written from supabase/auth's handlers (internal/api) so the SDKs see the
same wire format:

- ``POST /signup``, ``POST /token?grant_type=password|refresh_token`` (rotation within a
  session; a rotated token presented again after the reuse interval revokes the session),
  ``POST /logout?scope=global|local|others``, ``GET/PUT /user``, ``GET /settings``,
  ``GET /health``;
- ``/admin/users[/{id}]`` (GET with ``page``/``per_page`` paging, POST, PUT, DELETE), only with
  a service-role token;
- access tokens in Auth's claim shape with ``session_id``, passed through the custom access
  token hook that supabase/config.toml enables (a refusal answers the hook's status and
  message, as the hosted service does);
- errors as Auth sends them: ``{"code", "message"}`` when the client sends
  ``X-Supabase-Api-Version: 2024-01-01`` (the SDKs do), else ``{"code", "error_code", "msg"}``;
  ``weak_password`` carries its reasons.

Only email + password sign-in exists locally, and e-mail addresses are confirmed at sign-up
(``[auth.email] enable_confirmations = false``, Supabase's local default): no mail is sent.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import secrets
import string
import tomllib
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import bcrypt
import jwt
import psycopg
from psycopg import sql
from psycopg.rows import dict_row
from psycopg.types.datetime import TimestamptzLoader
from psycopg.types.json import Jsonb
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from devstack import tokens, users

log = logging.getLogger("devstack.auth")

PREFIX = "/auth/v1"
API_VERSION_HEADER = "X-Supabase-Api-Version"
API_VERSION_2024 = "2024-01-01"
INSTANCE_ID = users.INSTANCE_ID
AUDIENCE = "authenticated"
ADMIN_ROLES = ("service_role", "supabase_admin")
MAX_PASSWORD_BYTES = 72  # bcrypt's limit; Auth refuses longer passwords
BCRYPT_COST = 10  # Go's bcrypt.DefaultCost, what the hosted service stores ($2a$10$...)
HOOK_TIMEOUT_MS = 2000
REFRESH_TOKEN_ALPHABET = string.ascii_letters + string.digits
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# Claims the hosted service requires in the hook's output (tokens.validateTokenClaims)
REQUIRED_CLAIMS = ("aud", "exp", "iat", "sub", "email", "phone", "role", "aal", "session_id")

INVALID_LOGIN = "Invalid login credentials"
DUPLICATE_EMAIL = "A user with this email address has already been registered"


# ---------------------------------------------------------------------------------------
# settings
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class AuthSettings:
    """What the server needs; the auth options come from supabase/config.toml ``[auth]``
    (the same file the Supabase CLI reads), so local behaviour follows the project's config."""

    db_url: str
    jwt_secret: str
    issuer: str
    jwt_expiry: int = 3600
    enable_signup: bool = True
    minimum_password_length: int = 6
    required_characters: tuple[str, ...] = ()
    refresh_token_rotation: bool = True
    refresh_token_reuse_interval: int = 10
    hook: str | None = None
    site_url: str = "http://127.0.0.1:3000"

    @classmethod
    def load(cls, *, db_url: str, jwt_secret: str, api_url: str, config_toml: Path) -> AuthSettings:
        try:
            auth = tomllib.loads(config_toml.read_text()).get("auth", {})
        except (OSError, tomllib.TOMLDecodeError):
            auth = {}
        return cls(
            db_url=db_url,
            jwt_secret=jwt_secret,
            issuer=f"{api_url}{PREFIX}",
            jwt_expiry=int(auth.get("jwt_expiry", 3600)),
            enable_signup=bool(auth.get("enable_signup", True)),
            minimum_password_length=int(auth.get("minimum_password_length", 6)),
            required_characters=password_requirements(str(auth.get("password_requirements", ""))),
            refresh_token_rotation=bool(auth.get("enable_refresh_token_rotation", True)),
            refresh_token_reuse_interval=int(auth.get("refresh_token_reuse_interval", 10)),
            hook=users.access_token_hook(config_toml),
            site_url=str(auth.get("site_url", "http://127.0.0.1:3000")),
        )


def password_requirements(name: str) -> tuple[str, ...]:
    """The character sets of the CLI's ``password_requirements`` option (Auth's
    GOTRUE_PASSWORD_REQUIRED_CHARACTERS)."""
    lower, upper, digits = string.ascii_lowercase, string.ascii_uppercase, string.digits
    symbols = "!@#$%^&*()_+-=[]{};'\\:\"|<>?,./`~"
    return {
        "": (),
        "letters_digits": (lower + upper, digits),
        "lower_upper_letters_digits": (lower, upper, digits),
        "lower_upper_letters_digits_symbols": (lower, upper, digits, symbols),
    }.get(name, ())


# ---------------------------------------------------------------------------------------
# errors, in Auth's shapes
# ---------------------------------------------------------------------------------------
class AuthError(Exception):
    """An Auth HTTPError: status, error code, message (and weak-password reasons)."""

    def __init__(
        self, status: int, code: str, message: str, *, reasons: list[str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.reasons = reasons


class OAuthError(Exception):
    """Auth's OAuth-style error (``{"error", "error_description"}``)."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status


def _wants_2024(request: Request) -> bool:
    value = request.headers.get(API_VERSION_HEADER, "")
    try:
        return dt.date.fromisoformat(value) >= dt.date(2024, 1, 1)
    except ValueError:
        return False


def error_response(request: Request, exc: Exception) -> JSONResponse:
    if isinstance(exc, OAuthError):
        return JSONResponse(
            {"error": exc.error, "error_description": exc.description}, status_code=exc.status
        )
    assert isinstance(exc, AuthError)
    headers = {"x-sb-error-code": exc.code}
    body: dict[str, Any]
    if _wants_2024(request):
        headers[API_VERSION_HEADER] = API_VERSION_2024
        body = {"code": exc.code, "message": exc.message}
    else:
        body = {"code": exc.status, "error_code": exc.code, "msg": exc.message}
    if exc.reasons is not None:
        body["weak_password"] = {"reasons": exc.reasons}
    return JSONResponse(body, status_code=exc.status, headers=headers)


def _bad_request(code: str, message: str) -> AuthError:
    return AuthError(400, code, message)


def _unprocessable(code: str, message: str) -> AuthError:
    return AuthError(422, code, message)


# ---------------------------------------------------------------------------------------
# passwords
# ---------------------------------------------------------------------------------------
def hash_password(password: str) -> str:
    salt = bcrypt.gensalt(rounds=BCRYPT_COST, prefix=b"2a")
    return bcrypt.hashpw(password.encode(), salt).decode()


def password_matches(password: str, encrypted: str | None) -> bool:
    if not encrypted:
        return False
    try:
        return bcrypt.checkpw(password.encode(), encrypted.encode())
    except ValueError:  # longer than 72 bytes, or not a bcrypt hash
        return False


def weak_password(settings: AuthSettings, password: str) -> AuthError | None:
    """Auth's password strength check (length, required characters)."""
    if len(password.encode()) > MAX_PASSWORD_BYTES:
        return _bad_request(
            "validation_failed", f"Password cannot be longer than {MAX_PASSWORD_BYTES} characters"
        )
    messages, reasons = [], []
    if len(password) < settings.minimum_password_length:
        reasons.append("length")
        messages.append(
            f"Password should be at least {settings.minimum_password_length} characters."
        )
    if any(not any(c in charset for c in password) for charset in settings.required_characters):
        reasons.append("characters")
        messages.append(
            "Password should contain at least one character of each: "
            + ", ".join(settings.required_characters)
            + "."
        )
    if reasons:
        return AuthError(422, "weak_password", " ".join(messages), reasons=reasons)
    return None


# ---------------------------------------------------------------------------------------
# JSON of users, identities, timestamps (Go's RFC 3339 with a Z)
# ---------------------------------------------------------------------------------------
def _ts(value: dt.datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


USER_SELECT = """
select u.*, coalesce((
  select jsonb_agg(to_jsonb(i) order by i.created_at) from auth.identities i where i.user_id = u.id
), '[]'::jsonb) as identities_json
  from auth.users u
"""


def identity_json(row: dict[str, Any]) -> dict[str, Any]:
    out = {
        "identity_id": row["id"],
        "id": row["provider_id"],
        "user_id": row["user_id"],
        "identity_data": row["identity_data"],
        "provider": row["provider"],
        "last_sign_in_at": row.get("last_sign_in_at"),
        "created_at": row.get("created_at"),
        "updated_at": row.get("updated_at"),
        "email": row.get("email"),
    }
    for key in ("last_sign_in_at", "created_at", "updated_at"):  # already JSON strings
        if out[key] is not None:
            out[key] = dt.datetime.fromisoformat(out[key]).astimezone(dt.UTC).isoformat()
            out[key] = out[key].replace("+00:00", "Z")
    return {k: v for k, v in out.items() if v is not None or k in ("created_at", "updated_at")}


def user_json(row: dict[str, Any]) -> dict[str, Any]:
    """``models.User`` as Auth marshals it (omitempty fields left out when empty)."""
    out: dict[str, Any] = {
        "id": str(row["id"]),
        "aud": row["aud"] or "",
        "role": row["role"] or "",
        "email": row["email"] or "",
        "email_confirmed_at": _ts(row["email_confirmed_at"]),
        "invited_at": _ts(row["invited_at"]),
        "phone": row["phone"] or "",
        "phone_confirmed_at": _ts(row["phone_confirmed_at"]),
        "confirmation_sent_at": _ts(row["confirmation_sent_at"]),
        "confirmed_at": _ts(row["confirmed_at"]),
        "recovery_sent_at": _ts(row["recovery_sent_at"]),
        "new_email": row["email_change"] or None,
        "email_change_sent_at": _ts(row["email_change_sent_at"]),
        "last_sign_in_at": _ts(row["last_sign_in_at"]),
        "app_metadata": row["raw_app_meta_data"] or {},
        "user_metadata": row["raw_user_meta_data"] or {},
        "identities": [identity_json(i) for i in row.get("identities_json") or []],
        "created_at": _ts(row["created_at"]),
        "updated_at": _ts(row["updated_at"]),
        "banned_until": _ts(row["banned_until"]),
        "deleted_at": _ts(row["deleted_at"]),
        "is_anonymous": bool(row["is_anonymous"]),
    }
    return {k: v for k, v in out.items() if v is not None}


# ---------------------------------------------------------------------------------------
# the database, as supabase_auth_admin
# ---------------------------------------------------------------------------------------
Conn = psycopg.Connection[dict[str, Any]]


class _TimestamptzLoader(TimestamptzLoader):
    """``infinity`` (how private.sync_auth_ban bans a disabled user) as the largest datetime."""

    def load(self, data: Any) -> dt.datetime:
        if bytes(data) == b"infinity":
            return dt.datetime.max.replace(tzinfo=dt.UTC)
        if bytes(data) == b"-infinity":
            return dt.datetime.min.replace(tzinfo=dt.UTC)
        return super().load(data)


class Store:
    """One transaction per request, as the role the hosted Auth server uses."""

    def __init__(self, settings: AuthSettings) -> None:
        self.settings = settings

    def transaction(self, work: Callable[[Conn], Any]) -> Any:
        with (
            psycopg.connect(self.settings.db_url, row_factory=dict_row) as conn,
            conn.transaction(),
        ):
            conn.adapters.register_loader("timestamptz", _TimestamptzLoader)
            conn.execute("set local role supabase_auth_admin")
            return work(conn)


def find_user(conn: Conn, *, user_id: str | None = None, email: str | None = None) -> dict | None:
    if user_id is not None:
        return conn.execute(USER_SELECT + " where u.id = %s", (user_id,)).fetchone()
    return conn.execute(
        USER_SELECT + " where lower(u.email) = lower(%s) and u.aud = %s and not u.is_sso_user",
        (email, AUDIENCE),
    ).fetchone()


def _banned(user: dict[str, Any]) -> bool:
    until = user["banned_until"]
    return until is not None and until > dt.datetime.now(dt.UTC)


def create_user(
    conn: Conn,
    *,
    email: str,
    password: str | None,
    user_metadata: dict[str, Any],
    app_metadata: dict[str, Any] | None = None,
    confirmed: bool = True,
    user_id: str | None = None,
    role: str = AUDIENCE,
    encrypted_password: str | None = None,
) -> dict[str, Any]:
    """The auth.users row and its email identity, in one insert each, as sign-up does (the
    profile trigger sees the whole row: metadata included)."""
    uid = user_id or str(uuid.uuid4())
    identity_data = {
        **user_metadata,
        "sub": uid,
        "email": email,
        "email_verified": confirmed,
        "phone_verified": False,
    }
    metadata = {**user_metadata, **{k: identity_data[k] for k in ("sub", "email")}}
    metadata["email_verified"] = confirmed
    metadata["phone_verified"] = False
    apps = {"provider": "email", "providers": ["email"], **(app_metadata or {})}
    if encrypted_password is None and password is not None:
        encrypted_password = hash_password(password)
    conn.execute(
        """
        insert into auth.users (
          instance_id, id, aud, role, email, encrypted_password, email_confirmed_at,
          confirmation_token, recovery_token, email_change_token_new, email_change,
          raw_app_meta_data, raw_user_meta_data, is_super_admin, created_at, updated_at,
          is_sso_user, is_anonymous
        ) values (
          %(instance)s, %(id)s, %(aud)s, %(role)s, %(email)s, %(pw)s,
          case when %(confirmed)s then now() end, '', '', '', '',
          %(app)s, %(meta)s, null, now(), now(), false, false
        )
        """,
        {
            "instance": INSTANCE_ID,
            "id": uid,
            "aud": AUDIENCE,
            "role": role,
            "email": email,
            "pw": encrypted_password or "",
            "confirmed": confirmed,
            "app": Jsonb(apps),
            "meta": Jsonb(metadata),
        },
    )
    conn.execute(
        """
        insert into auth.identities (provider_id, user_id, identity_data, provider,
                                     last_sign_in_at, created_at, updated_at)
        values (%s, %s, %s, 'email', now(), now(), now())
        """,
        (uid, uid, Jsonb(identity_data)),
    )
    user = find_user(conn, user_id=uid)
    assert user is not None
    return user


def _new_refresh_token() -> str:
    return "".join(secrets.choice(REFRESH_TOKEN_ALPHABET) for _ in range(12))


def _insert_refresh_token(conn: Conn, user_id: str, session_id: str, parent: str | None) -> str:
    token = _new_refresh_token()
    conn.execute(
        """
        insert into auth.refresh_tokens (instance_id, token, user_id, revoked, created_at,
                                         updated_at, parent, session_id)
        values (%s, %s, %s, false, now(), now(), %s, %s)
        """,
        (INSTANCE_ID, token, user_id, parent, session_id),
    )
    return token


@dataclass
class Client:
    """Who is calling, recorded on the session as Auth does."""

    user_agent: str | None = None
    ip: str | None = None

    @classmethod
    def of(cls, request: Request) -> Client:
        forwarded = request.headers.get("x-forwarded-for", "").split(",")[0].strip()
        ip = forwarded or (request.client.host if request.client else None)
        return cls(request.headers.get("user-agent"), ip)


def start_session(
    conn: Conn, settings: AuthSettings, user: dict[str, Any], client: Client, method: str
) -> dict[str, Any]:
    """A new session, its first refresh token and an access token (Auth's token response)."""
    session_id = str(uuid.uuid4())
    user_id = str(user["id"])
    conn.execute(
        """
        insert into auth.sessions (id, user_id, created_at, updated_at, aal, user_agent, ip)
        values (%s, %s, now(), now(), 'aal1', %s, %s)
        """,
        (session_id, user_id, client.user_agent, client.ip),
    )
    refresh = _insert_refresh_token(conn, user_id, session_id, None)
    conn.execute("update auth.users set last_sign_in_at = now() where id = %s", (user_id,))
    user = find_user(conn, user_id=user_id) or user
    return token_response(conn, settings, user, session_id, refresh, method)


def token_response(
    conn: Conn,
    settings: AuthSettings,
    user: dict[str, Any],
    session_id: str,
    refresh_token: str,
    method: str,
) -> dict[str, Any]:
    session = conn.execute(
        "select created_at from auth.sessions where id = %s", (session_id,)
    ).fetchone()
    created = session["created_at"] if session else dt.datetime.now(dt.UTC)
    access, expires_at = access_token(conn, settings, user, session_id, created, method)
    return {
        "access_token": access,
        "token_type": "bearer",
        "expires_in": settings.jwt_expiry,
        "expires_at": expires_at,
        "refresh_token": refresh_token,
        "user": user_json(user),
    }


def access_token(
    conn: Conn,
    settings: AuthSettings,
    user: dict[str, Any],
    session_id: str,
    session_created: dt.datetime,
    method: str,
) -> tuple[str, int]:
    """Auth's access token claims, through the custom access token hook when enabled."""
    claims = tokens.user_claims(
        user_id=str(user["id"]),
        email=user["email"] or "",
        app_metadata=user["raw_app_meta_data"] or {},
        user_metadata=user["raw_user_meta_data"] or {},
        issuer=settings.issuer,
        ttl_seconds=settings.jwt_expiry,
        is_anonymous=bool(user["is_anonymous"]),
    )
    claims["aud"] = user["aud"] or AUDIENCE
    claims["role"] = user["role"] or AUDIENCE
    claims["phone"] = user["phone"] or ""
    claims["session_id"] = session_id
    claims["amr"] = [{"method": "password", "timestamp": int(session_created.timestamp())}]
    if settings.hook is not None:
        claims = run_hook(conn, settings.hook, str(user["id"]), claims, method)
    return tokens.sign(claims, settings.jwt_secret), int(claims["exp"])


def run_hook(
    conn: Conn, hook: str, user_id: str, claims: dict[str, Any], method: str
) -> dict[str, Any]:
    """The custom access token hook, called in the request's transaction as the hosted
    service calls it; its ``error`` becomes the response (status ``http_code``)."""
    schema, function = hook.split(".", 1)
    event = {"user_id": user_id, "claims": claims, "authentication_method": method}
    conn.execute(f"set local statement_timeout = {HOOK_TIMEOUT_MS}")
    query = sql.SQL("select {}.{}(%s) as result").format(
        sql.Identifier(schema), sql.Identifier(function)
    )
    row = conn.execute(query, (Jsonb(event),)).fetchone()
    conn.execute("set local statement_timeout to default")
    result = (row or {}).get("result") or {}
    error = result.get("error") if isinstance(result, dict) else None
    if isinstance(error, dict) and error.get("message"):
        status = int(error.get("http_code") or 500)
        raise AuthError(
            status, "unexpected_failure" if status >= 500 else "unknown", error["message"]
        )
    output = result.get("claims") if isinstance(result, dict) else None
    if not isinstance(output, dict) or any(c not in output for c in REQUIRED_CLAIMS):
        raise AuthError(
            500, "unexpected_failure", "output claims do not conform to the expected schema"
        )
    return output


# ---------------------------------------------------------------------------------------
# the HTTP API
# ---------------------------------------------------------------------------------------
class AuthApi:
    def __init__(self, settings: AuthSettings) -> None:
        self.settings = settings
        self.store = Store(settings)

    # -- request helpers --------------------------------------------------------------
    @staticmethod
    async def _params(request: Request) -> dict[str, Any]:
        body = await request.body()
        if not body.strip():
            return {}
        try:
            params = json.loads(body)
        except ValueError as exc:
            raise _bad_request("bad_json", f"Could not parse request body as JSON: {exc}") from exc
        if not isinstance(params, dict):
            raise _bad_request("bad_json", "Could not parse request body as JSON: not an object")
        return params

    def _claims(self, request: Request) -> dict[str, Any]:
        header = request.headers.get("authorization", "")
        scheme, _, bearer = header.partition(" ")
        if scheme.lower() != "bearer" or not bearer.strip():
            raise AuthError(401, "no_authorization", "This endpoint requires a valid Bearer token")
        try:
            return jwt.decode(
                bearer.strip(),
                self.settings.jwt_secret,
                algorithms=["HS256"],
                options={"verify_aud": False},
            )
        except jwt.PyJWTError as exc:
            raise AuthError(
                403,
                "bad_jwt",
                f"invalid JWT: unable to parse or verify signature, {exc}",
            ) from exc

    def _require_admin(self, request: Request) -> dict[str, Any]:
        claims = self._claims(request)
        if claims.get("role") not in ADMIN_ROLES:
            raise AuthError(403, "not_admin", "User not allowed")
        return claims

    def _authenticated(self, conn: Conn, claims: dict[str, Any]) -> tuple[dict, str | None]:
        """The token's user and session (Auth's requireAuthentication)."""
        sub = claims.get("sub")
        if not sub:
            raise AuthError(403, "bad_jwt", "invalid claim: missing sub claim")
        try:
            uuid.UUID(str(sub))
        except ValueError as exc:
            raise _bad_request("bad_jwt", "invalid claim: sub claim must be a UUID") from exc
        user = find_user(conn, user_id=str(sub))
        if user is None:
            raise AuthError(403, "user_not_found", "User from sub claim in JWT does not exist")
        session_id = claims.get("session_id")
        if session_id:
            try:
                uuid.UUID(str(session_id))
            except ValueError as exc:
                raise AuthError(
                    403, "bad_jwt", "invalid claim: session_id claim must be a UUID"
                ) from exc
            found = conn.execute(
                "select id from auth.sessions where id = %s", (session_id,)
            ).fetchone()
            if found is None:
                raise AuthError(
                    403, "session_not_found", "Session from session_id claim in JWT does not exist"
                )
        return user, session_id

    async def dispatch(
        self, request: Request, handler: Callable[..., Any], db_error: str
    ) -> Response:
        try:
            params = await self._params(request) if request.method in ("POST", "PUT") else {}
            result = await run_in_threadpool(handler, request, params)
        except (AuthError, OAuthError) as exc:
            return error_response(request, exc)
        except psycopg.Error as exc:
            # as Auth answers a failed statement (a trigger's error, a restricting foreign
            # key ...): 500 unexpected_failure with a fixed message; the cause in the log
            log.error("%s %s: %s", request.method, request.url.path, exc)
            return error_response(request, AuthError(500, "unexpected_failure", db_error))
        if isinstance(result, Response):
            return result
        return JSONResponse(result)

    # -- public endpoints ---------------------------------------------------------------
    def health(self, request: Request, params: dict) -> dict[str, Any]:
        return {
            "version": "devstack",
            "name": "GoTrue",
            "description": "GoTrue is a user registration and authentication API",
        }

    def app_settings(self, request: Request, params: dict) -> dict[str, Any]:
        providers = [
            "anonymous_users",
            "apple",
            "azure",
            "bitbucket",
            "discord",
            "facebook",
            "snapchat",
            "figma",
            "fly",
            "github",
            "gitlab",
            "google",
            "keycloak",
            "kakao",
            "linkedin",
            "linkedin_oidc",
            "notion",
            "spotify",
            "slack",
            "slack_oidc",
            "workos",
            "twitch",
            "twitter",
            "email",
            "phone",
            "zoom",
        ]
        external = {name: name == "email" for name in providers}
        return {
            "external": external,
            "disable_signup": not self.settings.enable_signup,
            "mailer_autoconfirm": True,
            "phone_autoconfirm": False,
            "sms_provider": "",
            "saml_enabled": False,
            "saml_private_key_next_configured": False,
            "passkeys_enabled": False,
        }

    def signup(self, request: Request, params: dict) -> dict[str, Any]:
        settings = self.settings
        if not settings.enable_signup:
            raise _unprocessable("signup_disabled", "Signups not allowed for this instance")
        email = str(params.get("email") or "").strip()
        password = params.get("password")
        data = params.get("data") or {}
        if not isinstance(data, dict):
            raise _bad_request("bad_json", "Could not parse request body as JSON: data")
        if params.get("phone"):
            raise _bad_request("phone_provider_disabled", "Phone signups are disabled")
        if password is not None and not isinstance(password, str):
            _check_new_password(settings, password)
        if not password:
            raise _bad_request("validation_failed", "Signup requires a valid password")
        if not email:
            raise _bad_request(
                "validation_failed", "Sign up only available with email or phone provider"
            )
        _check_email(email)
        if (weak := weak_password(settings, password)) is not None:
            raise weak

        def work(conn: Conn) -> dict[str, Any]:
            existing = find_user(conn, email=email)
            if existing is not None:
                raise _unprocessable("user_already_exists", "User already registered")
            user = create_user(conn, email=email.lower(), password=password, user_metadata=data)
            return start_session(conn, settings, user, Client.of(request), "password")

        return self.store.transaction(work)

    def token(self, request: Request, params: dict) -> dict[str, Any]:
        grant = request.query_params.get("grant_type")
        if grant == "password":
            return self._password_grant(request, params)
        if grant == "refresh_token":
            return self._refresh_grant(request, params)
        raise _bad_request("invalid_credentials", "unsupported_grant_type")

    def _password_grant(self, request: Request, params: dict) -> dict[str, Any]:
        email = str(params.get("email") or "")
        password = str(params.get("password") or "")
        if email and params.get("phone"):
            raise _bad_request(
                "validation_failed",
                "Only an email address or phone number should be provided on login.",
            )
        if params.get("phone"):
            raise _unprocessable("phone_provider_disabled", "Phone logins are disabled")
        if not email:
            raise _bad_request("validation_failed", "missing email or phone")
        settings = self.settings

        def work(conn: Conn) -> dict[str, Any]:
            user = find_user(conn, email=email)
            if user is None or not user["encrypted_password"]:
                raise _bad_request("invalid_credentials", INVALID_LOGIN)
            if _banned(user):
                raise _bad_request("user_banned", "User is banned")
            if not password_matches(password, user["encrypted_password"]):
                raise _bad_request("invalid_credentials", INVALID_LOGIN)
            if user["email_confirmed_at"] is None:
                raise _bad_request("email_not_confirmed", "Email not confirmed")
            response = start_session(conn, settings, user, Client.of(request), "password")
            weak = weak_password(settings, password)
            if weak is not None and weak.reasons:
                response["weak_password"] = {"message": weak.message, "reasons": weak.reasons}
            return response

        return self.store.transaction(work)

    def _refresh_grant(self, request: Request, params: dict) -> dict[str, Any]:
        presented = params.get("refresh_token")
        if not presented or not isinstance(presented, str):
            raise OAuthError("invalid_request", "refresh_token required")
        settings = self.settings
        client = Client.of(request)
        outcome: dict[str, Any] = {}

        def work(conn: Conn) -> dict[str, Any] | None:
            token = conn.execute(
                "select * from auth.refresh_tokens where token = %s for update", (presented,)
            ).fetchone()
            if token is None:
                raise _bad_request(
                    "refresh_token_not_found", "Invalid Refresh Token: Refresh Token Not Found"
                )
            user = find_user(conn, user_id=token["user_id"])
            if user is None:
                raise _bad_request(
                    "refresh_token_not_found", "Invalid Refresh Token: Refresh Token Not Found"
                )
            if _banned(user):
                raise _bad_request("user_banned", "Invalid Refresh Token: User Banned")
            session = None
            if token["session_id"] is not None:
                session = conn.execute(
                    "select * from auth.sessions where id = %s for update", (token["session_id"],)
                ).fetchone()
            if session is None:
                raise _bad_request(
                    "session_not_found", "Invalid Refresh Token: No Valid Session Found"
                )
            if session["not_after"] is not None and session["not_after"] < dt.datetime.now(dt.UTC):
                raise _bad_request("session_expired", "Invalid Refresh Token: Session Expired")
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
                        outcome["error"] = _bad_request(
                            "refresh_token_already_used", "Invalid Refresh Token: Already Used"
                        )
                        return None
            if issued is None:
                conn.execute(
                    "update auth.refresh_tokens set revoked = true, updated_at = now()"
                    " where id = %s",
                    (token["id"],),
                )
                issued = _insert_refresh_token(
                    conn, str(user["id"]), str(session["id"]), token["token"]
                )
            conn.execute(
                """
                update auth.sessions set refreshed_at = now() at time zone 'utc',
                       updated_at = now(), user_agent = %s, ip = %s
                 where id = %s
                """,
                (client.user_agent, client.ip, session["id"]),
            )
            return token_response(conn, settings, user, str(session["id"]), issued, "token_refresh")

        result = self.store.transaction(work)
        if "error" in outcome:
            raise outcome["error"]
        return result

    def logout(self, request: Request, params: dict) -> Response:
        scope = request.query_params.get("scope") or "global"
        if scope not in ("global", "local", "others"):
            raise _bad_request("validation_failed", f'Unsupported logout scope "{scope}"')
        claims = self._claims(request)

        def work(conn: Conn) -> None:
            user, session_id = self._authenticated(conn, claims)
            if session_id and scope == "local":
                conn.execute("delete from auth.sessions where id = %s", (session_id,))
            elif session_id and scope == "others":
                conn.execute(
                    "delete from auth.sessions where user_id = %s and id <> %s",
                    (user["id"], session_id),
                )
            else:
                conn.execute("delete from auth.sessions where user_id = %s", (user["id"],))

        self.store.transaction(work)
        return Response(status_code=204)

    def get_user(self, request: Request, params: dict) -> dict[str, Any]:
        claims = self._claims(request)
        user, _ = self.store.transaction(lambda conn: self._authenticated(conn, claims))
        _check_audience(claims)
        return user_json(user)

    def update_user(self, request: Request, params: dict) -> dict[str, Any]:
        claims = self._claims(request)
        _check_audience(claims)
        settings = self.settings
        if params.get("app_metadata") is not None:
            raise AuthError(403, "not_admin", "Updating app_metadata requires admin privileges")
        if params.get("phone"):
            raise _unprocessable("phone_provider_disabled", "Phone logins are disabled")
        data = params.get("data")
        if data is not None and not isinstance(data, dict):
            raise _bad_request("bad_json", "Could not parse request body as JSON: data")
        password = params.get("password")
        email = str(params.get("email") or "").strip()
        if email:
            _check_email(email)

        def work(conn: Conn) -> dict[str, Any]:
            user, session_id = self._authenticated(conn, claims)
            uid = user["id"]
            if password is not None:
                _check_new_password(settings, password)
                if password_matches(password, user["encrypted_password"]):
                    raise _unprocessable(
                        "same_password", "New password should be different from the old password."
                    )
                conn.execute(
                    "update auth.users set encrypted_password = %s, updated_at = now()"
                    " where id = %s",
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
                _merge_metadata(conn, uid, "raw_user_meta_data", data)
            if email and email.lower() != (user["email"] or "").lower():
                _change_email(conn, uid, email.lower())
            updated = find_user(conn, user_id=str(uid))
            assert updated is not None
            return user_json(updated)

        return self.store.transaction(work)

    # -- admin --------------------------------------------------------------------------
    def admin_list(self, request: Request, params: dict) -> Response:
        self._require_admin(request)
        try:
            page = int(request.query_params.get("page") or 1)
            per_page = int(request.query_params.get("per_page") or 50)
            if page < 0 or per_page < 0:
                raise ValueError("must not be negative")
        except ValueError as exc:
            raise _bad_request("validation_failed", f"Bad Pagination Parameters: {exc}") from exc
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

        rows, total = self.store.transaction(work)
        response = JSONResponse({"users": [user_json(r) for r in rows], "aud": AUDIENCE})
        pages = -(-total // per_page)
        links = []
        base = {k: v for k, v in request.query_params.items()}
        path = request.url.path
        if pages > page:
            links.append(f'<{path}?{urlencode({**base, "page": page + 1})}>; rel="next"')
        links.append(f'<{path}?{urlencode({**base, "page": pages})}>; rel="last"')
        response.headers["Link"] = ", ".join(links)
        response.headers["X-Total-Count"] = str(total)
        return response

    def admin_create(self, request: Request, params: dict) -> dict[str, Any]:
        self._require_admin(request)
        settings = self.settings
        email = str(params.get("email") or "").strip()
        if params.get("phone"):
            raise _bad_request("phone_provider_disabled", "Phone signups are disabled")
        if not email:
            raise _bad_request(
                "validation_failed", "Cannot create a user without either an email or phone"
            )
        _check_email(email)
        password = params.get("password")
        password_hash = params.get("password_hash")
        if password is not None and password_hash:
            raise _bad_request(
                "validation_failed", "Only a password or a password hash should be provided"
            )
        if password is not None:
            _check_new_password(settings, password)
        user_id = params.get("id")
        if user_id is not None:
            try:
                if uuid.UUID(str(user_id)).version != 4:
                    raise ValueError
            except ValueError as exc:
                raise _bad_request(
                    "validation_failed", "ID must conform to the uuid v4 format"
                ) from exc
        user_metadata = params.get("user_metadata") or {}
        app_metadata = params.get("app_metadata") or {}
        if not isinstance(user_metadata, dict) or not isinstance(app_metadata, dict):
            raise _bad_request("bad_json", "Could not parse request body as JSON: metadata")
        ban = _ban_until(params.get("ban_duration"))

        def work(conn: Conn) -> dict[str, Any]:
            if find_user(conn, email=email) is not None:
                raise _unprocessable("email_exists", DUPLICATE_EMAIL)
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
                user = find_user(conn, user_id=str(user["id"])) or user
            return user_json(user)

        return self.store.transaction(work)

    def _admin_user(self, conn: Conn, request: Request) -> dict[str, Any]:
        raw = request.path_params["user_id"]
        try:
            user_id = str(uuid.UUID(raw))
        except ValueError as exc:
            raise AuthError(404, "validation_failed", "user_id must be an UUID") from exc
        user = find_user(conn, user_id=user_id)
        if user is None:
            raise AuthError(404, "user_not_found", "User not found")
        return user

    def admin_get(self, request: Request, params: dict) -> dict[str, Any]:
        self._require_admin(request)
        return user_json(self.store.transaction(lambda conn: self._admin_user(conn, request)))

    def admin_update(self, request: Request, params: dict) -> dict[str, Any]:
        self._require_admin(request)
        settings = self.settings
        password = params.get("password")
        if password is not None:
            _check_new_password(settings, password)
        email = str(params.get("email") or "").strip()
        if email:
            _check_email(email)
        for key in ("user_metadata", "app_metadata"):
            if params.get(key) is not None and not isinstance(params[key], dict):
                raise _bad_request("bad_json", f"Could not parse request body as JSON: {key}")
        ban = _ban_until(params.get("ban_duration"))

        def work(conn: Conn) -> dict[str, Any]:
            user = self._admin_user(conn, request)
            uid = user["id"]
            if params.get("role"):
                conn.execute("update auth.users set role = %s where id = %s", (params["role"], uid))
            if email and email.lower() != (user["email"] or "").lower():
                if find_user(conn, email=email) is not None:
                    raise _unprocessable("email_exists", DUPLICATE_EMAIL)
                _change_email(conn, uid, email.lower())
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
                _merge_metadata(conn, uid, "raw_app_meta_data", params["app_metadata"])
            if params.get("user_metadata"):
                _merge_metadata(conn, uid, "raw_user_meta_data", params["user_metadata"])
            if ban is not None:
                conn.execute("update auth.users set banned_until = %s where id = %s", (ban[0], uid))
                if ban[0] is not None:
                    conn.execute("delete from auth.sessions where user_id = %s", (uid,))
            conn.execute("update auth.users set updated_at = now() where id = %s", (uid,))
            updated = find_user(conn, user_id=str(uid))
            assert updated is not None
            return user_json(updated)

        return self.store.transaction(work)

    def admin_delete(self, request: Request, params: dict) -> dict[str, Any]:
        self._require_admin(request)
        soft = bool(params.get("should_soft_delete"))

        def work(conn: Conn) -> None:
            user = self._admin_user(conn, request)
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

        self.store.transaction(work)
        return {}

    # -- routes -------------------------------------------------------------------------
    def routes(self) -> list[Route]:
        def route(
            path: str,
            handler: Callable[..., Any],
            methods: list[str],
            db_error: str = "Database error querying schema",
        ) -> Route:
            async def endpoint(request: Request) -> Response:
                return await self.dispatch(request, handler, db_error)

            return Route(PREFIX + path, endpoint, methods=methods)

        return [
            route("/health", self.health, ["GET"]),
            route("/settings", self.app_settings, ["GET"]),
            route("/signup", self.signup, ["POST"], "Database error saving new user"),
            route("/token", self.token, ["POST"], "Database error granting user"),
            route("/logout", self.logout, ["POST"], "Error logging out user"),
            route("/user", self.get_user, ["GET"]),
            route("/user", self.update_user, ["PUT"], "Error updating user"),
            route("/admin/users", self.admin_list, ["GET"], "Database error finding users"),
            route("/admin/users", self.admin_create, ["POST"], "Database error creating new user"),
            route("/admin/users/{user_id}", self.admin_get, ["GET"], "Database error loading user"),
            route("/admin/users/{user_id}", self.admin_update, ["PUT"], "Error updating user"),
            route(
                "/admin/users/{user_id}",
                self.admin_delete,
                ["DELETE"],
                "Database error deleting user",
            ),
        ]


def _check_new_password(settings: AuthSettings, password: Any) -> None:
    """A password being set: a JSON string (else, as Go's decoder, bad_json) strong enough."""
    if not isinstance(password, str):
        raise _bad_request(
            "bad_json", "Could not parse request body as JSON: password must be a string"
        )
    weak = weak_password(settings, password)
    if weak is not None:
        raise weak


def _check_email(email: str) -> None:
    if len(email) > 255 or not EMAIL_RE.match(email):
        raise _bad_request("validation_failed", "Unable to validate email address: invalid format")


def _check_audience(claims: dict[str, Any]) -> None:
    aud = claims.get("aud")
    auds = aud if isinstance(aud, list) else [aud]
    if AUDIENCE not in auds:
        raise _bad_request("validation_failed", "Token audience doesn't match request audience")


def _merge_metadata(conn: Conn, user_id: Any, column: str, updates: dict[str, Any]) -> None:
    """Auth's metadata update: keys set, a null value removes its key."""
    removed = [k for k, v in updates.items() if v is None]
    kept = {k: v for k, v in updates.items() if v is not None}
    conn.execute(
        sql.SQL(
            "update auth.users set {col} = (coalesce({col}, '{{}}'::jsonb) || %s) - %s::text[],"
            " updated_at = now() where id = %s"
        ).format(col=sql.Identifier(column)),
        (Jsonb(kept), removed, user_id),
    )


def _change_email(conn: Conn, user_id: Any, email: str) -> None:
    if find_user(conn, email=email) is not None:
        raise _unprocessable("email_exists", DUPLICATE_EMAIL)
    conn.execute(
        "update auth.users set email = %s, email_change = '', updated_at = now() where id = %s",
        (email, user_id),
    )
    conn.execute(
        """
        update auth.identities
           set identity_data = identity_data || jsonb_build_object('email', %s::text),
               updated_at = now()
         where user_id = %s and provider = 'email'
        """,
        (email, user_id),
    )
    conn.execute(
        """
        update auth.users set raw_user_meta_data = raw_user_meta_data
               || jsonb_build_object('email', %s::text)
         where id = %s and raw_user_meta_data ? 'email'
        """,
        (email, user_id),
    )


_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}


def _ban_until(value: Any) -> tuple[dt.datetime | None] | None:
    """``ban_duration``: a Go duration (``"24h"``, ``"1h30m"``) or ``"none"`` to lift a ban.
    None when absent; ``(None,)`` to lift; ``(until,)`` to ban."""
    if value is None or value == "":
        return None
    if value == "none":
        return (None,)
    text = str(value)
    parts = _DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise _bad_request(
            "validation_failed", f'invalid format for ban duration: time: invalid duration "{text}"'
        )
    seconds = sum(float(n) * _UNIT_SECONDS[u] for n, u in parts)
    return (dt.datetime.now(dt.UTC) + dt.timedelta(seconds=seconds),)


# ---------------------------------------------------------------------------------------
# used by `make token`
# ---------------------------------------------------------------------------------------
def session_token(settings: AuthSettings, email: str) -> str:
    """An access token for ``email`` (the user made if missing) on a new session, exactly as
    a password sign-in issues it (hook included). Raises ``PermissionError`` with the
    hook's message when it refuses."""
    users.ensure_user(settings.db_url, email)
    store = Store(settings)

    def work(conn: Conn) -> str:
        user = find_user(conn, email=email)
        assert user is not None
        return start_session(conn, settings, user, Client(user_agent="make token"), "password")[
            "access_token"
        ]

    try:
        return store.transaction(work)
    except AuthError as exc:
        raise PermissionError(f"{settings.hook} refused the token: {exc.message}") from exc
