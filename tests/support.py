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
        self._inbox: Inbox | None = None
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

    # -- mail -------------------------------------------------------------------------
    @property
    def inbox(self) -> Inbox:
        """The local inbox (Mailpit's HTTP API at MAILPIT_URL): the only way tests read mail."""
        if self._inbox is None:
            self._inbox = Inbox(self.env["MAILPIT_URL"])
        return self._inbox

    def close(self) -> None:
        if self._inbox is not None:
            self._inbox.close()
            self._inbox = None
        if self._http is not None:
            self._http.close()
            self._http = None


class Inbox:
    """A small client of Mailpit's HTTP API (``devstack/inbox.py`` locally; the same calls work
    against a real Mailpit). Tests search by their own unique addresses (``to:<email>``), so they
    never see each other's mail and never need to empty the inbox."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")
        self._client = httpx.Client(base_url=self.base_url, timeout=10.0)

    def close(self) -> None:
        self._client.close()

    def _get(self, path: str, **params: Any) -> Any:
        response = self._client.get(path, params=params or None)
        response.raise_for_status()
        return response.json()

    def messages(self, start: int = 0, limit: int = 50) -> dict[str, Any]:
        """``GET /api/v1/messages``: the summary page (``messages_count``, ``messages``...)."""
        return self._get("/api/v1/messages", start=start, limit=limit)

    def search(self, query: str, start: int = 0, limit: int = 50) -> dict[str, Any]:
        """``GET /api/v1/search``: e.g. ``to:alice@example.test subject:invited``."""
        return self._get("/api/v1/search", query=query, start=start, limit=limit)

    def message(self, message_id: str) -> dict[str, Any]:
        """``GET /api/v1/message/{ID}``: Text, HTML, addresses, ListUnsubscribe, Attachments."""
        return self._get(f"/api/v1/message/{message_id}")

    def headers(self, message_id: str) -> dict[str, list[str]]:
        return self._get(f"/api/v1/message/{message_id}/headers")

    def raw(self, message_id: str) -> bytes:
        response = self._client.get(f"/api/v1/message/{message_id}/raw")
        response.raise_for_status()
        return response.content

    def delete(self, ids: list[str] | None = None) -> None:
        """``DELETE /api/v1/messages``: these ids, or every message when None."""
        body = {"IDs": ids} if ids else None
        response = self._client.request("DELETE", "/api/v1/messages", json=body)
        response.raise_for_status()

    def count(self, query: str) -> int:
        return int(self.search(query, limit=1)["messages_count"])

    def wait_for(self, query: str, count: int = 1, timeout: float = 20.0) -> list[dict[str, Any]]:
        """The full messages matching ``query`` (newest first) once at least ``count`` arrived;
        fails the test, saying what it saw, when they do not arrive within ``timeout``."""
        import time

        deadline = time.monotonic() + timeout
        while True:
            found = self.search(query, limit=max(count, 50))
            if found["messages_count"] >= count:
                return [self.message(m["ID"]) for m in found["messages"]]
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"inbox: {found['messages_count']} message(s) match {query!r} after "
                    f"{timeout:.0f}s, expected {count}"
                )
            time.sleep(0.1)
