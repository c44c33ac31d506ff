"""What every endpoint shares: the JSON body, the bearer token, the caller's user and
session, and the dispatch that turns errors into Auth's shapes."""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jwt
import psycopg
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from devstack.auth.errors import AuthError, Code, OAuthError, bad_request, error_response
from devstack.auth.settings import AUDIENCE, AuthSettings
from devstack.auth.store import Conn, Store, find_user

log = logging.getLogger("devstack.auth")

ADMIN_ROLES = ("service_role", "supabase_admin")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@dataclass(frozen=True)
class Auth:
    """The server's state that handlers read: settings and the store."""

    settings: AuthSettings
    store: Store


Handler = Callable[[Auth, Request, dict[str, Any]], Any]


@dataclass(frozen=True)
class Endpoint:
    """One row of the router table."""

    method: str
    path: str
    handler: Handler
    db_error: str = "Database error querying schema"


async def json_params(request: Request) -> dict[str, Any]:
    body = await request.body()
    if not body.strip():
        return {}
    try:
        params = json.loads(body)
    except ValueError as exc:
        raise bad_request(Code.BAD_JSON, f"Could not parse request body as JSON: {exc}") from exc
    if not isinstance(params, dict):
        raise bad_request(Code.BAD_JSON, "Could not parse request body as JSON: not an object")
    return params


def bearer_claims(auth: Auth, request: Request) -> dict[str, Any]:
    header = request.headers.get("authorization", "")
    scheme, _, bearer = header.partition(" ")
    if scheme.lower() != "bearer" or not bearer.strip():
        raise AuthError(401, Code.NO_AUTHORIZATION, "This endpoint requires a valid Bearer token")
    try:
        return jwt.decode(
            bearer.strip(),
            auth.settings.jwt_secret,
            algorithms=["HS256"],
            options={"verify_aud": False},
        )
    except jwt.PyJWTError as exc:
        raise AuthError(
            403, Code.BAD_JWT, f"invalid JWT: unable to parse or verify signature, {exc}"
        ) from exc


def require_admin(auth: Auth, request: Request) -> dict[str, Any]:
    claims = bearer_claims(auth, request)
    if claims.get("role") not in ADMIN_ROLES:
        raise AuthError(403, Code.NOT_ADMIN, "User not allowed")
    return claims


def authenticated(conn: Conn, claims: dict[str, Any]) -> tuple[dict, str | None]:
    """The token's user and session (Auth's requireAuthentication)."""
    sub = claims.get("sub")
    if not sub:
        raise AuthError(403, Code.BAD_JWT, "invalid claim: missing sub claim")
    try:
        uuid.UUID(str(sub))
    except ValueError as exc:
        raise bad_request(Code.BAD_JWT, "invalid claim: sub claim must be a UUID") from exc
    user = find_user(conn, user_id=str(sub))
    if user is None:
        raise AuthError(403, Code.USER_NOT_FOUND, "User from sub claim in JWT does not exist")
    session_id = claims.get("session_id")
    if session_id:
        try:
            uuid.UUID(str(session_id))
        except ValueError as exc:
            raise AuthError(
                403, Code.BAD_JWT, "invalid claim: session_id claim must be a UUID"
            ) from exc
        found = conn.execute("select id from auth.sessions where id = %s", (session_id,)).fetchone()
        if found is None:
            raise AuthError(
                403,
                Code.SESSION_NOT_FOUND,
                "Session from session_id claim in JWT does not exist",
            )
    return user, session_id


def check_audience(claims: dict[str, Any]) -> None:
    aud = claims.get("aud")
    auds = aud if isinstance(aud, list) else [aud]
    if AUDIENCE not in auds:
        raise bad_request(Code.VALIDATION_FAILED, "Token audience doesn't match request audience")


def check_email(email: str) -> None:
    if len(email) > 255 or not EMAIL_RE.match(email):
        raise bad_request(
            Code.VALIDATION_FAILED, "Unable to validate email address: invalid format"
        )


async def dispatch(auth: Auth, request: Request, endpoint: Endpoint) -> Response:
    try:
        params = await json_params(request) if request.method in ("POST", "PUT") else {}
        result = await run_in_threadpool(endpoint.handler, auth, request, params)
    except (AuthError, OAuthError) as exc:
        return error_response(request, exc)
    except psycopg.Error as exc:
        # as Auth answers a failed statement (a trigger's error, a restricting foreign
        # key ...): 500 unexpected_failure with a fixed message; the cause in the log
        log.error("%s %s: %s", request.method, request.url.path, exc)
        return error_response(request, AuthError(500, Code.UNEXPECTED_FAILURE, endpoint.db_error))
    if isinstance(result, Response):
        return result
    return JSONResponse(result)
