"""Manual identity linking (internal/api/identity.go), on when ``[auth]
enable_manual_linking`` is: ``GET /user/identities/authorize?provider=…`` starts a social
login whose identity joins the signed-in user (supabase-js ``linkIdentity``; with
``skip_http_redirect=true`` it answers ``{"url": …}`` instead of redirecting), and
``DELETE /user/identities/{identity_id}`` removes one of the user's identities
(``unlinkIdentity``) as long as another one remains."""

from __future__ import annotations

import json
import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from devstack.auth.errors import AuthError, Code, bad_request, unprocessable
from devstack.auth.external import provider_url
from devstack.auth.http import Auth, Endpoint, authenticated_unbanned, bearer_claims
from devstack.auth.store import Conn

MANUAL_LINKING_DISABLED = "manual_linking_disabled"
IDENTITY_NOT_FOUND = "identity_not_found"
SINGLE_IDENTITY_NOT_DELETABLE = "single_identity_not_deletable"


def _require_manual_linking(auth: Auth) -> None:
    if not auth.settings.manual_linking:
        raise AuthError(404, MANUAL_LINKING_DISABLED, "Manual linking is disabled")


def link_authorize(auth: Auth, request: Request, params: dict) -> Response:
    _require_manual_linking(auth)
    claims = bearer_claims(auth, request)
    user, _ = auth.store.transaction(lambda conn: authenticated_unbanned(conn, claims))
    url = provider_url(auth, request, linking_target_id=str(user["id"]))
    if request.query_params.get("skip_http_redirect") == "true":
        return JSONResponse({"url": url})
    return RedirectResponse(url, status_code=302)


def unlink(auth: Auth, request: Request, params: dict) -> dict[str, Any]:
    _require_manual_linking(auth)
    claims = bearer_claims(auth, request)
    try:
        identity_id = str(uuid.UUID(request.path_params["identity_id"]))
    except ValueError as exc:
        raise bad_request(Code.VALIDATION_FAILED, "identity_id must be a UUID") from exc

    def work(conn: Conn) -> dict[str, Any]:
        user, _ = authenticated_unbanned(conn, claims)
        identities = conn.execute(
            "select id::text, provider from auth.identities where user_id = %s", (user["id"],)
        ).fetchall()
        mine = next((i for i in identities if i["id"] == identity_id), None)
        if mine is None:
            raise unprocessable(IDENTITY_NOT_FOUND, "Identity doesn't exist")
        if len(identities) <= 1:
            raise unprocessable(
                SINGLE_IDENTITY_NOT_DELETABLE, "User must have at least 1 identity after unlinking"
            )
        conn.execute("delete from auth.identities where id = %s", (identity_id,))
        left = [i["provider"] for i in identities if i["id"] != identity_id]
        conn.execute(
            """
            update auth.users set raw_app_meta_data = coalesce(raw_app_meta_data, '{}'::jsonb)
                   || jsonb_build_object('providers', %s::jsonb,
                        'provider', case when raw_app_meta_data ->> 'provider' = any(%s)
                                         then raw_app_meta_data ->> 'provider' else %s end),
                   updated_at = now()
             where id = %s
            """,
            (json.dumps(sorted(set(left))), left, left[0], user["id"]),
        )
        return {}

    return auth.store.transaction(work)


ROUTES = [
    Endpoint("GET", "/user/identities/authorize", link_authorize),
    Endpoint("DELETE", "/user/identities/{identity_id}", unlink),
]
