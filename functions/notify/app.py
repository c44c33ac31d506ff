"""Notify function (HTTP): one-click unsubscribe (RFC 8058), which needs no session.

Mounted at ``/functions/v1/notify``. Every message the notify worker sends carries
``List-Unsubscribe: <.../unsubscribe?token=...>`` and ``List-Unsubscribe-Post:
List-Unsubscribe=One-Click``: a mail client POSTs there and the person's e-mail preference
for that notification type becomes off. A GET (a person following the footer link, or a
link scanner) changes nothing: it shows a page whose button POSTs.
"""

from __future__ import annotations

import html
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response

from core.errors import ApiError
from core.http import FunctionApp
from notify import FUNCTION, REQUIRED, service
from notify.models import Unsubscribed
from notify.settings import NotifySettings, load_notify_settings

MAX_FORM_BYTES = 4096

_ERRORS = {
    400: ("The token is missing, malformed or forged", None),
    404: ("The person the token names no longer exists", None),
    410: ("The unsubscribe link has expired", None),
    413: ("The body is too large", None),
}


async def _token(request: Request, *, form: bool) -> str:
    token = request.query_params.get("token")
    if not token and form:
        body = await request.body()
        if len(body) > MAX_FORM_BYTES:
            raise ApiError(413, "body_too_large", f"request body exceeds {MAX_FORM_BYTES} bytes")
        try:
            fields = parse_qs(body.decode("utf-8"), max_num_fields=10)
        except (UnicodeDecodeError, ValueError):
            fields = {}
        token = (fields.get("token") or [""])[0]
    if not token:
        raise ApiError(400, "invalid_token", "an unsubscribe token is required (?token=...)")
    return token


def create_app(settings: NotifySettings) -> Starlette:
    settings.require(*REQUIRED)
    api = FunctionApp(
        FUNCTION,
        "notify",
        description="E-mail of notifications and invitations: one-click unsubscribe.",
    )

    @api.route(
        "POST",
        "/unsubscribe",
        summary="One-click unsubscribe (RFC 8058): e-mail of this type off",
        description=(
            "The URI of a message's `List-Unsubscribe` header; needs no session. `token` (query, "
            "or a form field) is the message's signed token for one person (or invited address) "
            "and one notification type. The mail client's body is "
            "`List-Unsubscribe=One-Click`. Repeating it is harmless."
        ),
        responses={200: ("E-mail of this type is off", Unsubscribed), **_ERRORS},
    )
    async def unsubscribe(request: Request) -> Response:
        token = await _token(request, form=True)
        result = await run_in_threadpool(service.unsubscribe, settings, token)
        return JSONResponse(Unsubscribed(**result).model_dump())

    @api.route(
        "GET",
        "/unsubscribe",
        summary="The unsubscribe page of a message's footer link (changes nothing)",
        description="An HTML page with a button that POSTs the same token; 400/410 as POST.",
        responses={200: ("An HTML page", None), **_ERRORS},
    )
    async def unsubscribe_page(request: Request) -> Response:
        token = await _token(request, form=False)
        claims = service.verify_token(settings, token)
        what = html.escape(claims.t.replace("_", " "))
        page = (
            "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
            "<title>Unsubscribe</title></head><body style='font-family: sans-serif'>"
            f"<p>Stop e-mails about <strong>{what}</strong>?</p>"
            f"<form method='post' action='?token={html.escape(token, quote=True)}'>"
            "<input type='hidden' name='List-Unsubscribe' value='One-Click'>"
            "<button type='submit'>Unsubscribe</button></form></body></html>"
        )
        return HTMLResponse(page)

    return api.build()


settings = load_notify_settings(*REQUIRED)
app = create_app(settings)
