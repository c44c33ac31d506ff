"""Tokens and channel authorization, as supabase/realtime decides them.

- Tokens: HS256 with the project's JWT secret; ``role`` and ``exp`` are required
  (``ChannelsAuthorization.authorize_conn``); the messages are the hosted ones.
- Private channels (``Realtime.Tenants.Authorization``): in one transaction that is rolled
  back, probe rows are inserted into ``realtime.messages`` as the admin, then the caller's
  role, claims and ``realtime.topic`` are set locally and the probes selected (read); a write
  is an insert under a savepoint as the caller (42501 = refused).
"""

from __future__ import annotations

import asyncio
import json
import re
import select
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import jwt
import psycopg
from psycopg import errors as pg_errors

MISSING_CLAIMS = "Fields `role` and `exp` are required in JWT"
MALFORMED = "The token provided is not a valid JWT"
BAD_SIGNATURE = "Failed to validate JWT signature"


class TokenError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def verify_token(token: Any, secret: str) -> dict[str, Any]:
    """The claims of a valid token, else TokenError(code, hosted message)."""
    if not isinstance(token, str):
        raise TokenError("MalformedJWT", MALFORMED)
    token = re.sub(r"\s", "", token)
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=["HS256"],
            options={"verify_exp": False, "verify_aud": False, "verify_iat": False},
        )
    except jwt.InvalidSignatureError as exc:
        raise TokenError("JwtSignatureError", BAD_SIGNATURE) from exc
    except jwt.PyJWTError as exc:
        raise TokenError("MalformedJWT", MALFORMED) from exc
    if not isinstance(claims, dict) or "role" not in claims or "exp" not in claims:
        raise TokenError("InvalidJWTToken", MISSING_CLAIMS)
    exp = claims["exp"]
    if isinstance(exp, bool) or not isinstance(exp, int):
        raise TokenError("InvalidJWTToken", "Token expiration time is invalid")
    now = int(time.time())
    if exp <= now:
        raise TokenError("InvalidJWTToken", f"Token has expired {now - exp} seconds ago")
    if not isinstance(claims["role"], str):
        raise TokenError("InvalidJWTToken", MISSING_CLAIMS)
    return claims


GONE = "The account of this token no longer exists"


async def ensure_account(pool: Pool, claims: dict[str, Any]) -> None:
    """TokenError when a signed-in user's token names an account that is deleted or being
    erased (``private.account_is_gone``): such a token stops at once, as in PostgREST and the
    functions, though it has not expired."""
    if claims.get("role") != "authenticated":
        return
    sub = claims.get("sub")
    try:
        user_id = uuid.UUID(sub) if isinstance(sub, str) else None
    except ValueError:
        user_id = None
    if user_id is None:
        raise TokenError("InvalidJWTToken", GONE)
    async with pool.connection() as conn:
        row = await (
            await conn.execute("select private.account_is_gone(%s)", (user_id,))
        ).fetchone()
    if row is None or row[0]:
        raise TokenError("InvalidJWTToken", GONE)


@dataclass
class Policies:
    """What ``realtime.messages`` lets this token do on this topic (None: not asked yet)."""

    broadcast_read: bool | None = None
    presence_read: bool | None = None
    broadcast_write: bool | None = None
    presence_write: bool | None = None


@dataclass
class Pool:
    """A few admin connections (the local cluster's superuser, as Realtime's admin role)."""

    db_url: str
    size: int = 4
    _free: asyncio.Queue[psycopg.AsyncConnection[Any]] = field(default_factory=asyncio.Queue)
    _opened: int = 0
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
        conn = await self._take()
        try:
            yield conn
        except BaseException:
            await conn.close()
            self._opened -= 1
            raise
        else:
            if conn.closed or conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
                await conn.close()
                self._opened -= 1
            else:
                self._free.put_nowait(conn)

    async def _take(self) -> psycopg.AsyncConnection[Any]:
        while True:
            async with self._lock:
                while not self._free.empty():
                    conn = self._free.get_nowait()
                    if _alive(conn):
                        return conn
                    await self._discard(conn)
                if self._opened < self.size:
                    self._opened += 1
                    try:
                        return await psycopg.AsyncConnection.connect(self.db_url, autocommit=True)
                    except BaseException:
                        self._opened -= 1
                        raise
            conn = await self._free.get()
            if _alive(conn):
                return conn
            await self._discard(conn)

    async def _discard(self, conn: psycopg.AsyncConnection[Any]) -> None:
        await conn.close()
        self._opened -= 1

    async def close(self) -> None:
        while not self._free.empty():
            await self._free.get_nowait().close()
        self._opened = 0


def _alive(conn: psycopg.AsyncConnection[Any]) -> bool:
    """An idle pooled connection has nothing to read: if its socket is readable, the server
    has closed it (a restart's "terminating connection"), so it must not serve a join."""
    if conn.closed:
        return False
    try:
        readable, _, _ = select.select([conn.fileno()], [], [], 0)
    except (OSError, ValueError, psycopg.Error):
        return False
    return not readable


async def _set_context(
    cur: psycopg.AsyncCursor[Any], topic: str, claims: dict[str, Any], headers: dict[str, str]
) -> None:
    role = claims.get("role")
    sub = claims.get("sub")
    await cur.execute(
        "select set_config('role', %s, true), set_config('realtime.topic', %s, true),"
        " set_config('request.jwt.claims', %s, true),"
        " set_config('request.jwt.claim.sub', %s, true),"
        " set_config('request.jwt.claim.role', %s, true),"
        " set_config('request.headers', %s, true)",
        (
            role,
            topic,
            json.dumps(claims),
            sub if isinstance(sub, str) else "",
            role,
            json.dumps(headers),
        ),
    )


async def read_policies(
    pool: Pool,
    topic: str,
    claims: dict[str, Any],
    headers: dict[str, str],
    policies: Policies,
    presence: bool,
) -> Policies:
    extensions = ["broadcast", "presence"] if presence else ["broadcast"]
    probes = {ext: str(uuid.uuid4()) for ext in extensions}
    async with pool.connection() as conn, conn.transaction(force_rollback=True):
        cur = conn.cursor()
        for ext, probe in probes.items():
            await cur.execute(
                "insert into realtime.messages (id, topic, extension, private)"
                " values (%s, %s, %s, true)",
                (probe, topic, ext),
            )
        await _set_context(cur, topic, claims, headers)
        await cur.execute(
            "select id::text from realtime.messages where id = any(%s::uuid[])",
            (list(probes.values()),),
        )
        seen = {row[0] for row in await cur.fetchall()}
    policies.broadcast_read = probes["broadcast"] in seen
    if presence:
        policies.presence_read = probes["presence"] in seen
    return policies


async def write_policies(
    pool: Pool,
    topic: str,
    claims: dict[str, Any],
    headers: dict[str, str],
    policies: Policies,
    presence: bool,
) -> Policies:
    async with pool.connection() as conn, conn.transaction(force_rollback=True):
        cur = conn.cursor()
        await _set_context(cur, topic, claims, headers)
        for ext in ("broadcast", "presence"):
            allowed = False
            if ext == "broadcast" or presence:
                try:
                    async with conn.transaction():
                        await cur.execute(
                            "insert into realtime.messages (topic, extension, private)"
                            " values (%s, %s, true)",
                            (topic, ext),
                        )
                    allowed = True
                except pg_errors.InsufficientPrivilege:
                    allowed = False
            setattr(policies, f"{ext}_write", allowed)
    return policies
