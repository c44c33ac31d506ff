"""The local API gateway on API_PORT, standing in for Supabase's Kong.

- ``/rest/v1/*`` is proxied to PostgREST. Like Supabase's gateway it requires the ``apikey``
  header (or query parameter) to be one of the project's keys and, when the request has no
  ``Authorization`` header, sends ``Bearer <apikey>`` so PostgREST picks the key's role.
- ``/auth/v1/*`` is Supabase Auth's API, served by ``devstack/auth/`` (same apikey rule).
- ``/functions/v1/<name>/*`` is served by ``functions/<name>/app.py``'s ASGI ``app``, in a
  bounded pool of worker processes (``devstack/function_pool.py``), never on this event loop.
- ``devstack.events`` (if present) delivers local events in the background.

Run as its own process by ``python -m devstack up``: ``python -m devstack.gateway``.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import importlib.util
import inspect
import logging
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket

from devstack.config import Config, function_env
from devstack.function_pool import FunctionPool

log = logging.getLogger("devstack.gateway")

FUNCTIONS_PREFIX = "/functions/v1/"
REST_PREFIX = b"/rest/v1"
HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
}
NOT_FORWARDED = HOP_BY_HOP | {"host", "content-length"}
# set by the edge only (see RestProxy.handle)
EDGE_HEADERS = {"cf-connecting-ip", "sb-request-id"}
# Auth routes the hosted gateway serves without an apikey (Kong's auth-v1-open routes):
# browsers reach them from a mail's link or a provider's redirect
AUTH_OPEN_PATHS = {"/auth/v1/verify", "/auth/v1/callback", "/auth/v1/authorize"}


def _error(status: int, message: str, hint: str | None = None) -> JSONResponse:
    body: dict[str, str] = {"message": message}
    if hint:
        body["hint"] = hint
    return JSONResponse(body, status_code=status)


def check_apikey(request: Request, api_keys: set[str]) -> Response | None:
    """Supabase's gateway rule: the ``apikey`` header (or query parameter) must be one of the
    project's keys. None when it is, else the gateway's 401."""
    apikey = request.headers.get("apikey") or request.query_params.get("apikey")
    if not apikey:
        return _error(
            401,
            "No API key found in request",
            "No `apikey` request header or url param was found.",
        )
    if apikey not in api_keys:
        return _error(
            401,
            "Invalid API key",
            "Double check your Supabase `anon` or `service_role` API key.",
        )
    return None


def auth_routes(env: dict[str, str], config_toml: Path, api_keys: set[str]) -> list[Route]:
    """``/auth/v1/*``: devstack/auth/ behind the same apikey rule as the rest of the API."""
    from devstack import auth

    settings = auth.AuthSettings.load(
        db_url=env["DB_URL"],
        jwt_secret=env["JWT_SECRET"],
        api_url=env["API_URL"],
        config_toml=config_toml,
        smtp_host=env.get("SMTP_HOST"),
        smtp_port=int(env["SMTP_PORT"]) if env.get("SMTP_PORT") else None,
        providers=auth.local_providers(env),
    )
    routes = []
    for route in auth.AuthApi(settings).routes():
        inner = route.endpoint

        async def guarded(request: Request, inner: Any = inner) -> Response:
            # the hosted gateway's open Auth routes: a link in a mail carries no apikey
            open_route = request.url.path in AUTH_OPEN_PATHS and request.method == "GET"
            refused = None if open_route else check_apikey(request, api_keys)
            if refused is not None:
                return refused
            # as the hosted edge does in front of Auth: the connecting address and a
            # request id, replacing whatever a client sent under those names
            scope = dict(request.scope)
            scope["headers"] = [
                (k, v)
                for k, v in request.scope["headers"]
                if k.decode("latin-1").lower() not in EDGE_HEADERS
            ] + [
                (b"cf-connecting-ip", (request.client.host if request.client else "").encode()),
                (b"sb-request-id", str(uuid.uuid4()).encode()),
            ]
            return await inner(Request(scope, request.receive))

        routes.append(Route(route.path, guarded, methods=sorted(route.methods or [])))
    return routes


def realtime_server(env: dict[str, str]) -> Any:
    """The local Realtime server (devstack/realtime/); channels are private-only, like the
    hosted project with "Allow public access" off, unless ``REALTIME_PRIVATE_ONLY=false``."""
    from devstack.realtime.server import Realtime

    return Realtime(
        db_url=env["DB_URL"],
        jwt_secret=env["JWT_SECRET"],
        private_only=os.environ.get("REALTIME_PRIVATE_ONLY", "true").lower() != "false",
    )


def realtime_routes(realtime: Any, api_keys: set[str]) -> list[BaseRoute]:
    """``/realtime/v1/*`` behind the same apikey rule as the rest of the API."""
    routes: list[BaseRoute] = []
    for route in realtime.routes():
        inner = route.endpoint
        if isinstance(route, WebSocketRoute):

            async def guarded_ws(ws: WebSocket, inner: Any = inner) -> None:
                refused = check_apikey(ws, api_keys)  # type: ignore[arg-type]
                if refused is not None:
                    await ws.send_denial_response(refused)
                    return
                await inner(ws)

            routes.append(WebSocketRoute(route.path, guarded_ws))
        else:

            async def guarded(request: Request, inner: Any = inner) -> Response:
                return check_apikey(request, api_keys) or await inner(request)

            routes.append(Route(route.path, guarded, methods=sorted(route.methods or [])))
    return routes


class RestProxy:
    """``/rest/v1/*`` -> PostgREST, with Supabase's apikey rules."""

    def __init__(self, postgrest_url: str, api_keys: set[str]) -> None:
        self.api_keys = api_keys
        self.client = httpx.AsyncClient(
            base_url=postgrest_url,
            timeout=httpx.Timeout(60.0, connect=5.0),
            limits=httpx.Limits(max_connections=200, max_keepalive_connections=50),
        )

    async def handle(self, request: Request) -> Response:
        refused = check_apikey(request, self.api_keys)
        if refused is not None:
            return refused
        apikey = request.headers.get("apikey") or request.query_params.get("apikey", "")
        headers = [
            (k, v)
            for k, v in request.headers.items()
            if k.lower() not in NOT_FORWARDED and k.lower() not in EDGE_HEADERS
        ]
        # What the hosted edge sets and a client cannot: the connecting address
        # (Cloudflare's cf-connecting-ip) and the request id (Supabase's sb-request-id).
        # The audit trail trusts only these; a client's copies are dropped.
        headers.append(("cf-connecting-ip", request.client.host if request.client else ""))
        headers.append(("sb-request-id", str(uuid.uuid4())))
        if "authorization" not in request.headers:
            headers.append(("authorization", f"Bearer {apikey}"))
        upstream = self.client.build_request(
            request.method,
            _upstream_url(request),
            headers=headers,
            content=await request.body(),
        )
        try:
            response = await self.client.send(upstream, stream=True)
        except httpx.HTTPError as exc:
            log.warning("PostgREST unreachable: %s", exc)
            refused = _error(503, "PostgREST is not reachable", str(exc))
            refused.headers["Retry-After"] = "2"
            return refused
        proxied = StreamingResponse(
            response.aiter_raw(),
            status_code=response.status_code,
            background=BackgroundTask(response.aclose),
        )
        # Raw bytes pass through untouched, so upstream's content-length stays right.
        proxied.raw_headers = [
            (k.lower(), v) for k, v in response.headers.raw if k.decode().lower() not in HOP_BY_HOP
        ]
        return proxied


def _upstream_url(request: Request) -> httpx.URL:
    """Path and query exactly as the client sent them (no re-encoding: a ``+`` in a filter
    stays a ``+``), minus the ``/rest/v1`` prefix and the ``apikey`` parameter."""
    raw_path = request.scope.get("raw_path") or request.url.path.encode()
    path = raw_path.split(b"?", 1)[0][len(REST_PREFIX) :] or b"/"
    query = b"&".join(
        part
        for part in request.scope.get("query_string", b"").split(b"&")
        if part and part.split(b"=", 1)[0] != b"apikey"
    )
    return httpx.URL(path.decode("latin-1")).copy_with(query=query or None)


class Gateway:
    """Dispatches ``/functions/v1/<name>`` to the function pool, everything else to ``rest``."""

    def __init__(self, rest_app: ASGIApp, functions: FunctionPool) -> None:
        self.rest_app = rest_app
        self.functions = functions

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] in ("http", "websocket") and path.startswith(FUNCTIONS_PREFIX):
            name, _, rest = path[len(FUNCTIONS_PREFIX) :].partition("/")
            if name not in self.functions.names:
                response = JSONResponse(
                    {"code": "NOT_FOUND", "message": "Requested function was not found"},
                    status_code=404,
                )
                await response(scope, receive, send)
                return
            mount = FUNCTIONS_PREFIX + name
            child = dict(scope)
            child["root_path"] = scope.get("root_path", "") + mount
            child["path"] = mount + "/" + rest
            child["raw_path"] = child["path"].encode()
            await self.functions(name, child, receive, send)
            return
        await self.rest_app(scope, receive, send)


def create_app(
    env: dict[str, str],
    functions_dir: Path,
    config_toml: Path | None = None,
    *,
    function_workers: int = 4,
    function_timeout_seconds: float = 60,
) -> ASGIApp:
    """The gateway app. Sets the functions' settings in os.environ before importing them."""
    os.environ.update(function_env(env))
    api_keys = {env["ANON_KEY"], env["SERVICE_ROLE_KEY"]}
    proxy = RestProxy(env["POSTGREST_URL"], api_keys)
    config_toml = config_toml or functions_dir.parent / "supabase" / "config.toml"
    functions = FunctionPool(functions_dir, size=function_workers, timeout=function_timeout_seconds)

    realtime = realtime_server(env)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        task: asyncio.Task[Any] | None = None
        await functions.start()
        await realtime.start()
        if importlib.util.find_spec("devstack.events") is not None:
            events = importlib.import_module("devstack.events")
            result = events.run(env)
            if inspect.isawaitable(result):
                task = asyncio.ensure_future(result)
        try:
            yield
        finally:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            await proxy.client.aclose()
            await realtime.stop()
            await functions.stop()

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok", "functions": functions.names})

    async def not_found(request: Request) -> Response:
        return _error(404, "no Route matched with those values")

    rest = Starlette(
        routes=[
            Route("/health", health),
            Route("/rest/v1", proxy.handle, methods=["GET", "HEAD", "OPTIONS"]),
            Route(
                "/rest/v1/{path:path}",
                proxy.handle,
                methods=["GET", "HEAD", "POST", "PATCH", "PUT", "DELETE", "OPTIONS"],
            ),
            *auth_routes(env, config_toml, api_keys),
            *realtime_routes(realtime, api_keys),
            Route("/{path:path}", not_found),
        ],
        lifespan=lifespan,
    )
    gateway = Gateway(rest, functions)
    return CORSMiddleware(
        gateway,
        allow_origins=["*"],
        allow_methods=["*"],
        allow_headers=["*"],
        expose_headers=[
            "Content-Range",
            "Content-Location",
            "Preference-Applied",
            "X-Request-Id",
            # Auth: admin paging and error codes
            "Link",
            "X-Total-Count",
            "X-Supabase-Api-Version",
            "x-sb-error-code",
        ],
    )


def main() -> None:
    import uvicorn

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    # One INFO line per proxied request would drown the functions' own logs.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    cfg = Config()
    env = cfg.current_env()
    app = create_app(
        env,
        cfg.functions_dir,
        function_workers=cfg.function_workers,
        function_timeout_seconds=cfg.function_timeout_seconds,
    )
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=cfg.api_port,
        log_level="info",
        access_log=os.environ.get("GATEWAY_ACCESS_LOG") == "1",
        lifespan="on",
        timeout_graceful_shutdown=5,
        # the gateway is the edge: its peer is the client, whatever X-Forwarded-For says
        proxy_headers=False,
        # Realtime's sockets are not compressed (Phoenix's default, as hosted); deflating each
        # fan-out frame once per socket was a sixth of the gateway's time in a 1,000-socket
        # broadcast (bench/README.md)
        ws_per_message_deflate=False,
    )


if __name__ == "__main__":
    main()
