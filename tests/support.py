"""Reusable access to the local stack for tests and benchmarks (bench/ imports this too).

stack = Stack.start()          # starts the stack, or reuses a running one
alice = stack.new_user()
stack.rest(alice.token).table("projects").select("*").execute()
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sys
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
import psycopg
from postgrest import SyncPostgrestClient
from psycopg.rows import dict_row

from devstack import gateway_proc, stack, users
from devstack.config import Config, read_env_file

# PostgREST: answer a write with the rows it wrote (an empty list when RLS let none through)
REPRESENTATION = {"Prefer": "return=representation"}


@dataclass(frozen=True)
class TestUser:
    """A row in auth.users and an access token for it."""

    __test__ = False  # not a pytest test class

    id: str
    email: str
    token: str
    app_metadata: dict[str, Any] = field(default_factory=dict)
    user_metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def auth(self) -> users.AuthUser:
        return users.AuthUser(self.id, self.email, self.app_metadata, self.user_metadata)


class Stack:
    """A running local stack: its env, users and tokens, HTTP and SQL access."""

    def __init__(self, cfg: Config, env: dict[str, str]) -> None:
        self.cfg = cfg
        self.env = env
        self._http: httpx.Client | None = None
        self.started_here = False
        self._session_fd: int | None = None

    @classmethod
    def start(cls, cfg: Config | None = None) -> Stack:
        """Start the stack, or reuse a running one (its gateway answers and its env file
        exists). Either way ``up`` runs: it is idempotent, applies pending migrations and
        restarts a part whose code or config changed, so tests see the current code."""
        cfg = cfg or Config()
        # Every session using the stack holds a shared lock, so that the one which started it
        # stops it only when no other session is still using it (see stop_if_started_here).
        cfg.state_dir.mkdir(parents=True, exist_ok=True)
        session_fd = os.open(cfg.state_dir / "sessions.lock", os.O_RDWR | os.O_CREAT, 0o644)
        fcntl.flock(session_fd, fcntl.LOCK_SH)
        started = not (cfg.env_file.exists() and gateway_proc.ready(cfg))
        with contextlib.redirect_stdout(sys.stderr):
            stack.up(cfg)
        running = cls(cfg, read_env_file(cfg))
        running.started_here = started
        running._session_fd = session_fd
        return running

    def stop_if_started_here(self) -> bool:
        """``down`` if this session started the stack and no other session is using it."""
        fd, self._session_fd = self._session_fd, None
        if fd is None:
            return False
        try:
            if not self.started_here:
                return False
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False  # another test session is still using it
            stack.down(self.cfg)
            return True
        finally:
            os.close(fd)

    # -- users and tokens ---------------------------------------------------------------
    def new_user(
        self,
        email: str | None = None,
        app_metadata: dict[str, Any] | None = None,
        user_metadata: dict[str, Any] | None = None,
    ) -> TestUser:
        """A new auth user (unique email unless given) with a valid access token."""
        email = email or f"user-{uuid.uuid4().hex[:12]}@example.test"
        user = users.ensure_user(
            self.env["DB_URL"], email, app_metadata=app_metadata, user_metadata=user_metadata
        )
        return TestUser(
            id=user.id,
            email=user.email,
            token=self._sign(user),
            app_metadata=user.app_metadata,
            user_metadata=user.user_metadata,
        )

    def token(self, user: TestUser, **claim_overrides: Any) -> str:
        """Another token for ``user``; e.g. ``exp=0``, ``aud="x"``, ``app_metadata={...}``."""
        return self._sign(user.auth, **claim_overrides)

    def _sign(self, user: users.AuthUser, **overrides: Any) -> str:
        return users.access_token(
            user, secret=self.env["JWT_SECRET"], api_url=self.env["API_URL"], **overrides
        )

    # -- HTTP ---------------------------------------------------------------------------
    def rest(self, token: str | None = None) -> SyncPostgrestClient:
        """postgrest-py through the gateway, as the token's user (anon when None)."""
        return SyncPostgrestClient(
            f"{self.env['API_URL']}/rest/v1",
            headers={
                "apikey": self.env["ANON_KEY"],
                "Authorization": f"Bearer {token or self.env['ANON_KEY']}",
            },
        )

    def service_rest(self) -> SyncPostgrestClient:
        """postgrest-py as service_role (bypasses RLS)."""
        key = self.env["SERVICE_ROLE_KEY"]
        return SyncPostgrestClient(
            f"{self.env['API_URL']}/rest/v1",
            headers={"apikey": key, "Authorization": f"Bearer {key}"},
        )

    def http(self, token: str | None = None, **kwargs: Any) -> httpx.Client:
        """An httpx client on API_URL; with ``token`` it sends apikey + Authorization."""
        if token is None and not kwargs:
            if self._http is None:
                self._http = httpx.Client(base_url=self.env["API_URL"], timeout=30.0)
            return self._http
        headers = dict(kwargs.pop("headers", {}) or {})
        if token is not None:
            headers.setdefault("apikey", self.env["ANON_KEY"])
            headers.setdefault("Authorization", f"Bearer {token}")
        return httpx.Client(base_url=self.env["API_URL"], timeout=30.0, headers=headers, **kwargs)

    # -- SQL ----------------------------------------------------------------------------
    def sql(self, query: str, params: Any = None) -> list[dict[str, Any]]:
        """Run SQL as the postgres superuser (autocommit); rows as dicts ([] if none)."""
        with psycopg.connect(self.env["DB_URL"], autocommit=True, row_factory=dict_row) as conn:
            cur = conn.execute(query, params)  # type: ignore[arg-type]
            return cur.fetchall() if cur.description else []

    def close(self) -> None:
        if self._http is not None:
            self._http.close()
            self._http = None
