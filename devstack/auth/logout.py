"""``POST /logout?scope=global|local|others`` (internal/api/logout.go)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from devstack.auth.errors import Code, bad_request
from devstack.auth.http import Auth, Endpoint, authenticated, bearer_claims
from devstack.auth.store import Conn


def logout(auth: Auth, request: Request, params: dict) -> Response:
    scope = request.query_params.get("scope") or "global"
    if scope not in ("global", "local", "others"):
        raise bad_request(Code.VALIDATION_FAILED, f'Unsupported logout scope "{scope}"')
    claims = bearer_claims(auth, request)

    def work(conn: Conn) -> None:
        user, session_id = authenticated(conn, claims)
        if session_id and scope == "local":
            conn.execute("delete from auth.sessions where id = %s", (session_id,))
        elif session_id and scope == "others":
            conn.execute(
                "delete from auth.sessions where user_id = %s and id <> %s",
                (user["id"], session_id),
            )
        else:
            conn.execute("delete from auth.sessions where user_id = %s", (user["id"],))

    auth.store.transaction(work)
    return Response(status_code=204)


ROUTES = [Endpoint("POST", "/logout", logout, "Error logging out user")]
