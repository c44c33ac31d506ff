"""Local Supabase Auth: the part of its HTTP API that supabase-js / supabase-py call.

Served by the gateway at ``/auth/v1`` (no GoTrue binary installs here), on the tables the
hosted service uses (``auth.users``, ``auth.identities``, ``auth.sessions``,
``auth.refresh_tokens``; devstack/bootstrap.sql), acting as ``supabase_auth_admin`` as the
hosted server does. Written from supabase/auth's handlers (``internal/api``) so the SDKs see
the same wire format; the modules follow that server's seams:

- ``settings`` (``[auth]`` of supabase/config.toml), ``errors`` (codes and the two error
  shapes), ``store`` (SQL), ``passwords``, ``models`` (user JSON), ``tokens`` (sessions,
  refresh tokens, access tokens and the custom access token hook), ``http`` (body, bearer,
  dispatch), ``ratelimit``, ``mailer`` (templates, SMTP), ``mail`` (codes and token hashes of
  the mails), ``pkce`` (flow states);
- one module per endpoint group, listed in ``router.GROUPS``: ``health``, ``signup``,
  ``token``, ``verify``, ``otp``, ``user``, ``logout``, ``admin``.

Details and the hosted settings the guarantees depend on: docs/auth.md.
"""

from __future__ import annotations

from starlette.routing import Route

from devstack.auth import router
from devstack.auth.errors import AuthError
from devstack.auth.http import Auth
from devstack.auth.ratelimit import Limits
from devstack.auth.settings import PREFIX, AuthSettings, ExternalProvider
from devstack.auth.signup import register
from devstack.auth.store import Conn, Store, find_user
from devstack.auth.tokens import Client, start_session

__all__ = ["PREFIX", "AuthApi", "AuthSettings", "local_providers", "session_token"]


def local_providers(env: dict[str, str]) -> dict[str, ExternalProvider]:
    """GitHub and Google login against the local fakes (devstack/fakes.py), with their one
    local OAuth app each; ``[auth.external.*] enabled`` in config.toml picks which serve."""
    from devstack import config

    return {
        "github": ExternalProvider(
            "github",
            config.LOCAL_GITHUB_CLIENT_ID,
            config.LOCAL_GITHUB_CLIENT_SECRET,
            env.get("GITHUB_WEB_URL", "http://127.0.0.1:54351"),
        ),
        "google": ExternalProvider(
            "google",
            config.LOCAL_GOOGLE_CLIENT_ID,
            config.LOCAL_GOOGLE_CLIENT_SECRET,
            env.get("GOOGLE_OAUTH_URL", "http://127.0.0.1:54352"),
        ),
    }


class AuthApi:
    """The server: settings, the store and the router table."""

    def __init__(self, settings: AuthSettings) -> None:
        self.auth = Auth(settings, Store(settings), Limits(settings.rate_limit))

    def routes(self) -> list[Route]:
        return router.routes(self.auth)


def session_token(settings: AuthSettings, email: str) -> str:
    """``make token``: an access token for ``email`` on a new session, exactly as a password
    sign-in issues it (hook included); the user, if missing, is made by sign-up's code
    (confirmed). Raises ``PermissionError`` with the hook's message when it refuses."""

    def work(conn: Conn) -> str:
        user = find_user(conn, email=email)
        if user is None:
            user = register(conn, email=email, password="password")
        return start_session(conn, settings, user, Client(user_agent="make token"), "password")[
            "access_token"
        ]

    try:
        return Store(settings).transaction(work)
    except AuthError as exc:
        raise PermissionError(f"{settings.hook} refused the token: {exc.message}") from exc
