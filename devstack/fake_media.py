"""Fake Meshy (3D) and fake Luma Dream Machine (video): real HTTP servers, their wire formats.

One process (``python -m devstack.fake_media``) serves two ports:

* Meshy on ``FAKE_MESHY_PORT`` (54353), as ``https://api.meshy.ai``:
  ``POST /openapi/v2/text-to-3d`` (``{"mode": "preview", "prompt", "art_style", ...}``) and
  ``POST /openapi/v1/image-to-3d`` (``{"image_url", ...}``) answer ``{"result": "<task id>"}``;
  ``GET`` of ``<same path>/{id}`` answers the task object (``id``, ``type``, ``status``
  ``PENDING | IN_PROGRESS | SUCCEEDED | FAILED | CANCELED``, ``progress`` 0-100,
  ``model_urls`` ``{glb, usdz}``, ``thumbnail_url``, ``task_error {message}``, times in ms);
  ``DELETE`` removes the task. Errors are ``{"message": ...}`` (401 without ``Authorization:
  Bearer``, 400, 404, 429, 500). Meshy's webhooks are configured in its dashboard, not per
  task: ``POST /_fake/webhook {"url"}`` sets the one the fake POSTs each task object to when
  its status changes (unsigned, as Meshy's).
* Luma on ``FAKE_VIDEO_PORT`` (54354), as ``https://api.lumalabs.ai``:
  ``POST /dream-machine/v1/generations`` (``{"prompt", "model", "aspect_ratio",
  "duration": "5s", "keyframes": {"frame0": {"type": "image", "url"}}, "callback_url"}``)
  answers ``201`` with the generation (``id``, ``state`` ``queued | dreaming | completed |
  failed``, ``failure_reason``, ``assets {video, image}``, ``created_at``); ``GET`` /
  ``DELETE .../generations/{id}``. Errors are ``{"detail": ...}``. A ``callback_url`` gets
  the generation POSTed on every state change (unsigned, as Luma's).

The artefacts are made in code (``devstack/media.py``): a glTF binary, a USDZ, a PNG
thumbnail / poster, an MP4, served at ``/_files/{id}/...``. An image-to-3D task or a video
with a keyframe fetches its image URL first and fails (as the real ones do) when it cannot.

Switches, matched against the prompt (a test puts its own token in it; ``"*"`` = any):
``POST /_fake/modes {"match", "mode", "times": n|null, "retry_after": s, "duration": s}``,
``DELETE /_fake/modes``. Modes: ``ok`` (done after ``duration``, default 1 s), ``slow`` (the
same, default 30 s), ``fail`` (the task fails), ``never_finish``, ``rate_limit`` (the create
answers 429 with ``Retry-After``), ``server_error`` (500 on create), ``garbage`` (the task
answers a body that is not JSON), ``incomplete`` (succeeds with no artefact URLs),
``oversize`` (the model / video is declared 50 MiB + 1 byte). ``times`` applies to that many
creates (create-time modes) or tasks. ``GET /_fake/tasks?match=`` lists the tasks made.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from devstack import media, procs
from devstack.config import Config

NAME = "fake-media"
MARKER = "devstack.fake_media"
DEFAULT_MESHY_PORT = 54353
DEFAULT_VIDEO_PORT = 54354
MODES = ("ok", "slow", "fail", "never_finish", "rate_limit", "server_error", "garbage",
         "incomplete", "oversize")  # fmt: skip
CREATE_MODES = ("rate_limit", "server_error")
OVERSIZE = 50 * 1024 * 1024 + 1
IMAGE_MAGIC = (b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"RIFF")


@dataclass
class Mode:
    mode: str = "ok"
    times: int | None = None
    retry_after: int = 2
    duration: float = 1.0


@dataclass
class Task:
    id: str
    provider: str  # meshy | luma
    kind: str  # text-to-3d | image-to-3d | video
    prompt: str
    body: dict[str, Any]
    mode: Mode
    created: float = field(default_factory=time.time)
    failure: str | None = None  # set at create (the image could not be read)
    canceled: bool = False
    deleted: bool = False
    last_notified: str | None = None

    def phase(self, now: float | None = None) -> tuple[str, int]:
        """(pending | running | succeeded | failed | canceled, progress 0-100)."""
        if self.canceled:
            return "canceled", 0
        elapsed = (now or time.time()) - self.created
        if self.failure:
            return "failed", 0
        if elapsed < min(0.1, self.mode.duration / 4):
            return "pending", 0
        if self.mode.mode == "never_finish":
            return "running", min(95, int(elapsed * 5) + 5)
        if elapsed < self.mode.duration:
            return "running", max(1, min(99, int(100 * elapsed / self.mode.duration)))
        if self.mode.mode == "fail":
            return "failed", 0
        return "succeeded", 100


class State:
    def __init__(self) -> None:
        self.modes: dict[str, Mode] = {}
        self.tasks: dict[str, Task] = {}
        self.meshy_webhook: str | None = None
        self.lock = threading.Lock()

    def mode_for(self, prompt: str, at_create: bool) -> Mode:
        with self.lock:
            for key in [k for k in self.modes if k != "*" and k in prompt] + ["*"]:
                mode = self.modes.get(key)
                if mode is None or (mode.mode in CREATE_MODES) != at_create:
                    continue
                if mode.times is not None:
                    mode.times -= 1
                    if mode.times <= 0:
                        del self.modes[key]
                return Mode(mode.mode, None, mode.retry_after, mode.duration)
        return Mode(duration=float(os.environ.get("FAKE_MEDIA_DURATION") or 1.0))


def _ms(ts: float) -> int:
    return int(ts * 1000)


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")


async def _image_ok(url: str) -> bool:
    """Fetch the source image as the providers do; True when it is an image."""
    try:
        async with httpx.AsyncClient(timeout=5.0) as client:
            response = await client.get(url)
    except httpx.HTTPError:
        return False
    return response.status_code == 200 and response.content.startswith(IMAGE_MAGIC)


# --- the apps ------------------------------------------------------------------------------
def _apps(state: State, meshy_base: str, luma_base: str) -> tuple[Any, Any, Any, Any]:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
    from starlette.routing import Route

    def authorized(request: Request) -> bool:
        value = request.headers.get("authorization", "")
        return value.startswith("Bearer ") and len(value) > len("Bearer ") + 3

    async def json_body(request: Request) -> dict[str, Any] | None:
        try:
            body = await request.json()
        except ValueError:
            return None
        return body if isinstance(body, dict) else None

    def task_of(request: Request, provider: str) -> Task | None:
        task = state.tasks.get(request.path_params["id"])
        if task is None or task.deleted or task.provider != provider:
            return None
        return task

    # -- Meshy --------------------------------------------------------------------------
    def meshy_error(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
        return JSONResponse({"message": message}, status_code=status, headers=headers)

    def meshy_task(task: Task) -> dict[str, Any]:
        phase, progress = task.phase()
        status = {"pending": "PENDING", "running": "IN_PROGRESS", "succeeded": "SUCCEEDED",
                  "failed": "FAILED", "canceled": "CANCELED"}[phase]  # fmt: skip
        done = phase in ("succeeded", "failed", "canceled")
        files = f"{meshy_base}/_files/{task.id}"
        sign = f"?Expires={int(task.created) + 259200}&Signature=fake"
        urls = {"glb": f"{files}/model.glb{sign}", "usdz": f"{files}/model.usdz{sign}"}
        succeeded = phase == "succeeded" and task.mode.mode != "incomplete"
        return {
            "id": task.id,
            "type": "text-to-3d-preview" if task.kind == "text-to-3d" else "image-to-3d",
            "mode": "preview",
            "prompt": task.prompt,
            "art_style": task.body.get("art_style", "realistic"),
            "model_urls": urls if succeeded else {},
            "thumbnail_url": f"{files}/preview.png{sign}" if succeeded else "",
            "texture_urls": [],
            "progress": progress,
            "preceding_tasks": 0,
            "created_at": _ms(task.created),
            "started_at": _ms(task.created + 0.1) if phase != "pending" else 0,
            "finished_at": _ms(time.time()) if done else 0,
            "status": status,
            "task_error": {"message": task.failure or ("generation failed" if phase == "failed"
                                                       else "")},
        }  # fmt: skip

    async def meshy_create(request: Request) -> Response:
        if not authorized(request):
            return meshy_error(401, "Invalid API key")
        body = await json_body(request)
        if body is None:
            return meshy_error(400, "Invalid JSON body")
        kind = "image-to-3d" if request.url.path.endswith("image-to-3d") else "text-to-3d"
        prompt = str(body.get("prompt") or body.get("texture_prompt") or "")
        if kind == "text-to-3d" and (body.get("mode") != "preview" or not prompt):
            return meshy_error(400, "mode must be 'preview' and prompt is required")
        if kind == "text-to-3d" and len(prompt) > 600:
            return meshy_error(400, "prompt must be at most 600 characters")
        if kind == "image-to-3d" and not body.get("image_url"):
            return meshy_error(400, "image_url is required")
        create = state.mode_for(prompt, at_create=True)
        if create.mode == "rate_limit":
            return meshy_error(429, "Too Many Requests", {"Retry-After": str(create.retry_after)})
        if create.mode == "server_error":
            return meshy_error(500, "Internal Server Error")
        task = Task(str(uuid.uuid4()), "meshy", kind, prompt, body,
                    state.mode_for(prompt, at_create=False))  # fmt: skip
        if kind == "image-to-3d" and not await _image_ok(str(body["image_url"])):
            task.failure = "Failed to download the image from image_url"
        state.tasks[task.id] = task
        return JSONResponse({"result": task.id}, status_code=202)

    async def meshy_get(request: Request) -> Response:
        if not authorized(request):
            return meshy_error(401, "Invalid API key")
        task = task_of(request, "meshy")
        if task is None:
            return meshy_error(404, "Task not found")
        if task.mode.mode == "garbage":
            return PlainTextResponse("<html>upstream hiccup</html>", 200)
        if request.method == "DELETE":
            task.deleted = True
            task.canceled = True
            return Response(status_code=200)
        return JSONResponse(meshy_task(task))

    # -- Luma ---------------------------------------------------------------------------
    def luma_error(status: int, detail: str, headers: dict[str, str] | None = None) -> Response:
        return JSONResponse({"detail": detail}, status_code=status, headers=headers)

    def luma_generation(task: Task) -> dict[str, Any]:
        phase, _ = task.phase()
        stage = {"pending": "queued", "running": "dreaming", "succeeded": "completed",
                 "failed": "failed", "canceled": "failed"}[phase]  # fmt: skip
        files = f"{luma_base}/_files/{task.id}"
        assets = None
        if phase == "succeeded" and task.mode.mode != "incomplete":
            assets = {"video": f"{files}/video.mp4", "image": f"{files}/poster.png"}
        failure = None
        if phase == "failed":
            failure = task.failure or "The generation failed"
        elif phase == "canceled":
            failure = "Generation was cancelled"
        return {
            "id": task.id,
            "generation_type": "video",
            "state": stage,
            "failure_reason": failure,
            "created_at": _iso(task.created),
            "assets": assets,
            "model": task.body.get("model", "ray-2"),
            "request": {k: v for k, v in task.body.items() if k != "callback_url"},
        }

    async def luma_create(request: Request) -> Response:
        if not authorized(request):
            return luma_error(401, "Invalid API key")
        body = await json_body(request)
        if body is None:
            return luma_error(400, "Invalid JSON body")
        prompt = str(body.get("prompt") or "")
        if not prompt or len(prompt) > 5000:
            return luma_error(400, "prompt is required (at most 5000 characters)")
        if body.get("duration", "5s") not in ("5s", "9s"):
            return luma_error(400, "duration must be 5s or 9s")
        create = state.mode_for(prompt, at_create=True)
        if create.mode == "rate_limit":
            return luma_error(429, "Too many requests", {"Retry-After": str(create.retry_after)})
        if create.mode == "server_error":
            return luma_error(500, "Internal server error")
        task = Task(str(uuid.uuid4()), "luma", "video", prompt, body,
                    state.mode_for(prompt, at_create=False))  # fmt: skip
        frame0 = (body.get("keyframes") or {}).get("frame0") or {}
        if frame0.get("url") and not await _image_ok(str(frame0["url"])):
            task.failure = "Could not download the keyframe image"
        state.tasks[task.id] = task
        return JSONResponse(luma_generation(task), status_code=201)

    async def luma_get(request: Request) -> Response:
        if not authorized(request):
            return luma_error(401, "Invalid API key")
        task = task_of(request, "luma")
        if task is None:
            return luma_error(404, "Generation not found")
        if request.method == "DELETE":
            task.deleted = True
            task.canceled = True
            return Response(status_code=204)
        if task.mode.mode == "garbage":
            return PlainTextResponse('{"id": "trunc', 200)
        return JSONResponse(luma_generation(task))

    # -- shared: artefacts and switches ---------------------------------------------------
    async def artefact(request: Request) -> Response:
        task = state.tasks.get(request.path_params["id"])
        name = request.path_params["name"]
        if task is None or task.phase()[0] != "succeeded":
            return PlainTextResponse("NoSuchKey", 404)
        if task.mode.mode == "oversize" and name in ("model.glb", "video.mp4"):

            async def zeros() -> Any:
                sent = 0
                while sent < OVERSIZE:
                    piece = min(1 << 20, OVERSIZE - sent)
                    sent += piece
                    yield b"\x00" * piece

            return StreamingResponse(
                zeros(), media_type="application/octet-stream",
                headers={"Content-Length": str(OVERSIZE)},
            )  # fmt: skip
        makers = {
            "model.glb": (lambda: media.glb(task.prompt), "model/gltf-binary"),
            "model.usdz": (lambda: media.usdz(task.prompt), "model/vnd.usdz+zip"),
            "preview.png": (lambda: media.png(), "image/png"),
            "poster.png": (lambda: media.png(64, 36), "image/png"),
            "video.mp4": (lambda: media.mp4(), "video/mp4"),
        }
        if name not in makers:
            return PlainTextResponse("NoSuchKey", 404)
        make, content_type = makers[name]
        return Response(make(), media_type=content_type)

    async def modes(request: Request) -> Response:
        if request.method == "DELETE":
            with state.lock:
                state.modes.clear()
            return JSONResponse({"ok": True})
        body = await json_body(request) or {}
        if body.get("mode") not in MODES:
            return JSONResponse({"error": f"mode must be one of {MODES}"}, status_code=422)
        with state.lock:
            state.modes[str(body.get("match") or "*")] = Mode(
                mode=body["mode"],
                times=body.get("times"),
                retry_after=int(body.get("retry_after", 2)),
                duration=float(body.get("duration", 30.0 if body["mode"] == "slow" else 1.0)),
            )
        return JSONResponse({"ok": True})

    async def tasks(request: Request) -> Response:
        match = request.query_params.get("match", "")
        rows = [
            {"id": t.id, "provider": t.provider, "kind": t.kind, "prompt": t.prompt,
             "phase": t.phase()[0], "deleted": t.deleted, "body": t.body}
            for t in list(state.tasks.values()) if match in t.prompt
        ]  # fmt: skip
        return JSONResponse(rows)

    async def webhook(request: Request) -> Response:
        body = await json_body(request) or {}
        state.meshy_webhook = body.get("url") or None
        return JSONResponse({"url": state.meshy_webhook})

    async def health(request: Request) -> Response:
        return JSONResponse({"ok": True})

    shared = [
        Route("/_files/{id}/{name}", artefact),
        Route("/_fake/modes", modes, methods=["POST", "DELETE"]),
        Route("/_fake/tasks", tasks),
        Route("/health", health),
    ]
    meshy = Starlette(routes=[
        Route("/openapi/v2/text-to-3d", meshy_create, methods=["POST"]),
        Route("/openapi/v1/image-to-3d", meshy_create, methods=["POST"]),
        Route("/openapi/v2/text-to-3d/{id}", meshy_get, methods=["GET", "DELETE"]),
        Route("/openapi/v1/image-to-3d/{id}", meshy_get, methods=["GET", "DELETE"]),
        Route("/_fake/webhook", webhook, methods=["POST"]),
        *shared,
    ])  # fmt: skip
    luma = Starlette(routes=[
        Route("/dream-machine/v1/generations", luma_create, methods=["POST"]),
        Route("/dream-machine/v1/generations/{id}", luma_get, methods=["GET", "DELETE"]),
        *shared,
    ])  # fmt: skip
    return meshy, luma, meshy_task, luma_generation


async def _notify(state: State, meshy_task: Any, luma_generation: Any) -> None:
    """Webhooks / callbacks: POST a task whenever its status changed (unsigned, as theirs)."""
    async with httpx.AsyncClient(timeout=5.0) as client:
        while True:
            await asyncio.sleep(0.2)
            for task in list(state.tasks.values()):
                phase = task.phase()[0]
                if phase == task.last_notified or task.deleted:
                    continue
                task.last_notified = phase
                if task.provider == "meshy" and state.meshy_webhook:
                    url, body = state.meshy_webhook, meshy_task(task)
                elif task.provider == "luma" and task.body.get("callback_url"):
                    url, body = str(task.body["callback_url"]), luma_generation(task)
                else:
                    continue
                with contextlib.suppress(httpx.HTTPError):
                    await client.post(url, json=body)


async def serve(meshy_port: int, video_port: int) -> None:
    import uvicorn

    state = State()
    meshy, luma, meshy_task, luma_generation = _apps(
        state, f"http://127.0.0.1:{meshy_port}", f"http://127.0.0.1:{video_port}"
    )
    servers = [
        uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
        )
        for app, port in ((meshy, meshy_port), (luma, video_port))
    ]
    notifier = asyncio.create_task(_notify(state, meshy_task, luma_generation))
    try:
        await asyncio.gather(*(s.serve() for s in servers))
    finally:
        notifier.cancel()


# -- process management (make up / make down) -------------------------------------------------
def log_file(cfg: Config) -> Path:
    return cfg.logs / "fake-media.log"


def running_pid(cfg: Config) -> int | None:
    return procs.read_pid(cfg.pids, NAME, MARKER)


def ready(cfg: Config) -> bool:
    try:
        return all(
            httpx.get(f"{url}/health", timeout=1.0).status_code == 200
            for url in (cfg.fake_meshy_url, cfg.fake_video_url)
        )
    except httpx.HTTPError:
        return False


def stale(cfg: Config) -> bool:
    """True when this file or media.py changed since the process started."""
    pid_path = procs.pid_file(cfg.pids, NAME)
    sources = [cfg.root / "devstack" / "fake_media.py", cfg.root / "devstack" / "media.py"]
    return pid_path.exists() and any(s.stat().st_mtime > pid_path.stat().st_mtime for s in sources)


def start(cfg: Config) -> None:
    pid = running_pid(cfg)
    if pid is not None and not stale(cfg):
        return
    if pid is not None:
        print("fake-media: code changed since it started, restarting", file=sys.stderr)
        stop(cfg)
    for port, var in ((cfg.fake_meshy_port, "FAKE_MESHY_PORT"),
                      (cfg.fake_video_port, "FAKE_VIDEO_PORT")):  # fmt: skip
        if procs.port_open(port):
            raise procs.StackError(f"fake-media: port {port} is already in use (set {var})")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(cfg.root), env.get("PYTHONPATH", "")) if p)
    env["FAKE_MESHY_PORT"] = str(cfg.fake_meshy_port)
    env["FAKE_VIDEO_PORT"] = str(cfg.fake_video_port)
    pid = procs.spawn(NAME, [sys.executable, "-m", MARKER], pids_dir=cfg.pids,
                      log_file=log_file(cfg), env=env, cwd=cfg.root)  # fmt: skip
    procs.wait_until(lambda: ready(cfg), part=NAME, log_file=log_file(cfg), timeout=30, pid=pid)


def stop(cfg: Config) -> None:
    procs.stop_named(cfg.pids, NAME, MARKER)


def main() -> None:
    meshy_port = int(os.environ.get("FAKE_MESHY_PORT") or DEFAULT_MESHY_PORT)
    video_port = int(os.environ.get("FAKE_VIDEO_PORT") or DEFAULT_VIDEO_PORT)
    asyncio.run(serve(meshy_port, video_port))


if __name__ == "__main__":
    main()
