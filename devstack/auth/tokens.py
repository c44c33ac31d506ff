"""Sessions, refresh tokens and access tokens, with the custom access token hook
(``internal/api/token.go``, ``internal/tokens``, ``internal/hooks``)."""

from __future__ import annotations

import datetime as dt
import secrets
import string
import uuid
from dataclasses import dataclass
from typing import Any

from psycopg import sql
from psycopg.types.json import Jsonb
from starlette.requests import Request

from devstack import tokens as jwts
from devstack.auth.errors import AuthError, Code
from devstack.auth.models import user_json
from devstack.auth.settings import AUDIENCE, INSTANCE_ID, AuthSettings
from devstack.auth.store import Conn, find_user

HOOK_TIMEOUT_MS = 2000
REFRESH_TOKEN_ALPHABET = string.ascii_letters + string.digits
# Claims the hosted service requires in the hook's output (tokens.validateTokenClaims)
SECOND_FACTORS = ("totp", "phone", "webauthn")
REQUIRED_CLAIMS = ("aud", "exp", "iat", "sub", "email", "phone", "role", "aal", "session_id")


@dataclass
class Client:
    """Who is calling, recorded on the session as Auth does."""

    user_agent: str | None = None
    ip: str | None = None

    @classmethod
    def of(cls, request: Request) -> Client:
        """The edge's address (``cf-connecting-ip``, which the gateway sets and a client
        cannot), never ``X-Forwarded-For``, which any client writes."""
        return cls(request.headers.get("user-agent"), request.headers.get("cf-connecting-ip"))


def _new_refresh_token() -> str:
    return "".join(secrets.choice(REFRESH_TOKEN_ALPHABET) for _ in range(12))


def insert_refresh_token(conn: Conn, user_id: str, session_id: str, parent: str | None) -> str:
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


def start_session(
    conn: Conn,
    settings: AuthSettings,
    user: dict[str, Any],
    client: Client,
    method: str,
    amr: str | None = None,
) -> dict[str, Any]:
    """A new session, its first refresh token and an access token (Auth's token response);
    the sign-in method is the session's first ``auth.mfa_amr_claims`` row (``amr``, default
    ``method``), as Auth records it."""
    session_id = str(uuid.uuid4())
    user_id = str(user["id"])
    conn.execute(
        """
        insert into auth.sessions (id, user_id, created_at, updated_at, aal, user_agent, ip)
        values (%s, %s, now(), now(), 'aal1', %s, %s)
        """,
        (session_id, user_id, client.user_agent, client.ip),
    )
    add_amr_claim(conn, session_id, amr or method)
    refresh = insert_refresh_token(conn, user_id, session_id, None)
    conn.execute("update auth.users set last_sign_in_at = now() where id = %s", (user_id,))
    user = find_user(conn, user_id=user_id) or user
    return token_response(conn, settings, user, session_id, refresh, method)


def add_amr_claim(conn: Conn, session_id: str, method: str) -> None:
    """Auth's AddClaimToSession: one row per (session, method), its time refreshed."""
    conn.execute(
        """
        insert into auth.mfa_amr_claims (id, session_id, created_at, updated_at,
                                         authentication_method)
        values (gen_random_uuid(), %s, now(), now(), %s)
        on conflict (session_id, authentication_method) do update set updated_at = now()
        """,
        (session_id, method),
    )


def aal_and_amr(conn: Conn, session_id: str) -> tuple[str, list[dict[str, Any]]]:
    """Auth's CalculateAALAndAMR: the session's claims, newest first; a second factor among
    them makes the session aal2."""
    rows = conn.execute(
        """
        select authentication_method as method, extract(epoch from updated_at)::bigint as ts
          from auth.mfa_amr_claims where session_id = %s order by updated_at desc
        """,
        (session_id,),
    ).fetchall()
    amr = [{"method": r["method"], "timestamp": int(r["ts"])} for r in rows]
    aal = "aal2" if any(r["method"] in SECOND_FACTORS for r in rows) else "aal1"
    return aal, amr


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
    claims = jwts.user_claims(
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
    aal, amr = aal_and_amr(conn, session_id)
    claims["aal"] = aal
    claims["amr"] = amr or [{"method": "password", "timestamp": int(session_created.timestamp())}]
    if settings.hook is not None:
        claims = run_hook(conn, settings.hook, str(user["id"]), claims, method)
    return jwts.sign(claims, settings.jwt_secret), int(claims["exp"])


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
            status, Code.UNEXPECTED_FAILURE if status >= 500 else Code.UNKNOWN, error["message"]
        )
    output = result.get("claims") if isinstance(result, dict) else None
    if not isinstance(output, dict) or any(c not in output for c in REQUIRED_CLAIMS):
        raise AuthError(
            500, Code.UNEXPECTED_FAILURE, "output claims do not conform to the expected schema"
        )
    return output
