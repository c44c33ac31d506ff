"""The example web page's server (``python -m devstack.web``) on WEB_PORT.

It serves ``examples/web/`` as static files, supabase-js's browser bundle from
``node_modules`` (the page loads nothing from the internet), and ``/config.js``: the two
values a frontend knows, ``API_URL`` and ``ANON_KEY``, read from the stack's env file.
The page is on another origin than the API (another port), so the browser goes through
the gateway's CORS rules as a deployed frontend does.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

from devstack import procs
from devstack.config import Config

if TYPE_CHECKING:  # the server's imports stay out of `make up`'s process
    from starlette.applications import Starlette

NAME = "web"
MARKER = "devstack.web"
PAGE_DIR = ("examples", "web")
# supabase-js's UMD bundle: `window.supabase.createClient`
BUNDLE = ("node_modules", "@supabase", "supabase-js", "dist", "umd", "supabase.js")


def log_file(cfg: Config) -> Path:
    return cfg.logs / "web.log"


def running_pid(cfg: Config) -> int | None:
    return procs.read_pid(cfg.pids, NAME, MARKER)


def ready(cfg: Config) -> bool:
    try:
        return httpx.get(f"{cfg.web_url}/config.js", timeout=1.0).status_code == 200
    except httpx.HTTPError:
        return False


def stale(cfg: Config) -> bool:
    """True when this module changed since the server started (the page's own files are
    read on every request, so editing them needs no restart)."""
    pid_path = procs.pid_file(cfg.pids, NAME)
    return pid_path.exists() and Path(__file__).stat().st_mtime > pid_path.stat().st_mtime


def start(cfg: Config) -> None:
    pid = running_pid(cfg)
    if pid is not None and not stale(cfg):
        return
    if pid is not None:
        print("web: code changed since it started, restarting", file=sys.stderr)
        stop(cfg)
    procs.ensure_port_free("web (example page)", cfg.web_port, "WEB_PORT", log_file(cfg))
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(cfg.root), env.get("PYTHONPATH", "")) if p)
    env["DEVSTACK_DIR"] = str(cfg.state_dir)
    env["WEB_PORT"] = str(cfg.web_port)
    pid = procs.spawn(
        NAME,
        [sys.executable, "-m", MARKER],
        pids_dir=cfg.pids,
        log_file=log_file(cfg),
        env=env,
        cwd=cfg.root,
    )
    procs.wait_until(lambda: ready(cfg), part="web", log_file=log_file(cfg), timeout=30, pid=pid)


def stop(cfg: Config) -> None:
    procs.stop_named(cfg.pids, NAME, MARKER)


# -- the server ---------------------------------------------------------------------------


def create_app(cfg: Config) -> Starlette:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import FileResponse, PlainTextResponse, Response
    from starlette.routing import Mount, Route
    from starlette.staticfiles import StaticFiles

    bundle = cfg.root.joinpath(*BUNDLE)
    no_cache = {"cache-control": "no-store"}

    async def config_js(request: Request) -> Response:
        env = cfg.current_env()
        public = {"url": env["API_URL"], "anonKey": env["ANON_KEY"]}
        return Response(
            f"window.CHAT_CONFIG = {json.dumps(public)};\n",
            media_type="text/javascript",
            headers=no_cache,
        )

    async def supabase_js(request: Request) -> Response:
        if not bundle.is_file():
            return PlainTextResponse(f"{bundle} is missing: run `make deps`", status_code=500)
        return FileResponse(bundle, media_type="text/javascript", headers=no_cache)

    return Starlette(
        routes=[
            Route("/config.js", config_js),
            Route("/vendor/supabase.js", supabase_js),
            Mount("/", StaticFiles(directory=cfg.root.joinpath(*PAGE_DIR), html=True)),
        ]
    )


def main() -> None:
    import uvicorn

    cfg = Config()
    uvicorn.run(
        create_app(cfg), host="127.0.0.1", port=cfg.web_port, log_level="warning", access_log=False
    )


if __name__ == "__main__":
    main()
