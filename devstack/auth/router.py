"""The router table: every endpoint group of local Auth, in one list (supabase/auth
``internal/api/api.go`` mounts the same paths). A new group is a module with ``ROUTES``
(a list of ``Endpoint``) added to ``GROUPS``."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from devstack.auth import (
    admin,
    external,
    health,
    linking,
    logout,
    mfa,
    otp,
    signup,
    token,
    user,
    verify,
)
from devstack.auth.http import Auth, Endpoint, dispatch
from devstack.auth.settings import PREFIX

GROUPS = (
    health,  # GET /health, GET /settings
    signup,  # POST /signup
    token,  # POST /token?grant_type=password|refresh_token|pkce
    verify,  # GET|POST /verify
    otp,  # POST /otp, /magiclink, /recover, /resend
    user,  # GET /user, PUT /user, GET /reauthenticate
    logout,  # POST /logout
    admin,  # /admin/users[/{user_id}], POST /invite, POST /admin/generate_link
    external,  # GET /authorize, GET|POST /callback (POST /token?grant_type=pkce|id_token in token)
    linking,  # GET /user/identities/authorize, DELETE /user/identities/{identity_id}
    mfa,  # /factors[/{factor_id}[/challenge|/verify]], /admin/users/{user_id}/factors
)


def endpoints() -> list[Endpoint]:
    return [endpoint for group in GROUPS for endpoint in group.ROUTES]


def routes(auth: Auth) -> list[Route]:
    def route(endpoint: Endpoint) -> Route:
        async def serve(request: Request) -> Response:
            return await dispatch(auth, request, endpoint)

        return Route(PREFIX + endpoint.path, serve, methods=[endpoint.method])

    return [route(e) for e in endpoints()]
