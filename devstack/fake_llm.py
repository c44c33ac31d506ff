"""A fake LLM provider: an OpenAI-compatible and Anthropic-compatible HTTP server whose
failure modes tests switch on, per model name (so tests running at once do not meet).

    POST /v1/chat/completions         OpenAI chat completions (also /chat/completions)
    POST /v1/messages                 Anthropic Messages API
    POST /_control  {"model": "m"|"*", "mode": "...", "times": n|null, "retry_after": s, "delay": s}
    GET  /_control?model=m            the mode and the number of requests seen for that model
    DELETE /_control                  back to "ok" for every model

Modes: ``ok`` (a Markdown document with the sections the prompt asks for), ``rate_limit``
(429 with ``Retry-After``), ``server_error`` (500), ``slow`` (answers after ``delay`` s),
``malformed`` (200 with a body that is not JSON), ``overlong`` (200 with ~2 MB of text),
``empty`` (200 with an empty message). ``times`` applies the mode to that many requests,
then the model is back to ``ok``; null = until changed.

Started by ``make up`` on ``FAKE_LLM_PORT`` (default 54350); the env file names it
``FAKE_LLM_URL``. Run alone: ``python -m devstack.fake_llm --port 54350``.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from devstack import procs
from devstack.config import Config

NAME = "fake-llm"
DEFAULT_PORT = 54350
MODES = ("ok", "rate_limit", "server_error", "slow", "malformed", "overlong", "empty")


# -- the server --------------------------------------------------------------------------
@dataclass
class Mode:
    mode: str = "ok"
    times: int | None = None
    retry_after: int = 1
    delay: float = 5.0


class State:
    def __init__(self) -> None:
        self.modes: dict[str, Mode] = {}
        self.requests: dict[str, int] = {}
        self.lock = threading.Lock()

    def take(self, model: str) -> Mode:
        """The mode for this request (and count it down)."""
        with self.lock:
            self.requests[model] = self.requests.get(model, 0) + 1
            key = model if model in self.modes else "*"
            mode = self.modes.get(key)
            if mode is None:
                return Mode()
            if mode.times is not None:
                mode.times -= 1
                if mode.times <= 0:
                    del self.modes[key]
            return Mode(mode.mode, None, mode.retry_after, mode.delay)


def _sections(prompt: str) -> list[str]:
    """The section headings the prompt asks for ("Required sections:" then numbered lines)."""
    _, _, tail = prompt.partition("Required sections:")
    found = re.findall(r"^\s*(\d+\.\s+[^\n]+)$", tail, flags=re.MULTILINE)
    return [s.strip() for s in found] or ["1. Overview", "2. Details"]


def _document(prompt: str, model: str) -> str:
    title = "Generated document"
    match = re.search(r"^Title:\s*(.+)$", prompt, flags=re.MULTILINE)
    if match:
        title = match.group(1).strip()
    parts = [f"# {title}", "", f"Written by the fake provider ({model}).", ""]
    for section in _sections(prompt):
        parts += [
            f"## {section}",
            "",
            f"This section covers {section.split('.', 1)[-1].strip().lower()}.",
            "",
            "- first point",
            "- second point",
            "",
        ]
    parts += ["| item | value |", "| --- | --- |", "| model | " + model + " |", ""]
    return "\n".join(parts)


def create_app() -> Any:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, PlainTextResponse, Response
    from starlette.routing import Route

    state = State()

    async def answer(request: Request, flavour: str) -> Response:
        try:
            body = await request.json()
        except ValueError:
            return JSONResponse({"error": {"message": "invalid JSON"}}, status_code=400)
        model = str(body.get("model") or "unknown")
        if flavour == "openai":
            prompt = "\n".join(str(m.get("content", "")) for m in body.get("messages", []))
        else:
            prompt = (
                str(body.get("system", ""))
                + "\n"
                + "\n".join(str(m.get("content", "")) for m in body.get("messages", []))
            )
        mode = state.take(model)
        if mode.mode == "rate_limit":
            return JSONResponse(
                {"error": {"message": "rate limited", "type": "rate_limit_error"}},
                status_code=429,
                headers={"Retry-After": str(mode.retry_after)},
            )
        if mode.mode == "server_error":
            return JSONResponse({"error": {"message": "internal error"}}, status_code=500)
        if mode.mode == "slow":
            await asyncio.sleep(mode.delay)
        if mode.mode == "malformed":
            return PlainTextResponse('{"choices": [{"message": {"content": "# Trunc', 200)
        text = _document(prompt, model)
        if mode.mode == "overlong":
            text = text + ("lorem ipsum " * 180_000)
        if mode.mode == "empty":
            text = ""
        if flavour == "openai":
            return JSONResponse(
                {
                    "id": "chatcmpl-fake",
                    "object": "chat.completion",
                    "model": model,
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": text},
                            "finish_reason": "stop",
                        }
                    ],
                    "usage": {"prompt_tokens": len(prompt) // 4, "completion_tokens": 100},
                }
            )
        return JSONResponse(
            {
                "id": "msg_fake",
                "type": "message",
                "role": "assistant",
                "model": model,
                "content": [{"type": "text", "text": text}],
                "stop_reason": "end_turn",
            }
        )

    async def openai(request: Request) -> Response:
        return await answer(request, "openai")

    async def anthropic(request: Request) -> Response:
        return await answer(request, "anthropic")

    async def control(request: Request) -> Response:
        if request.method == "DELETE":
            with state.lock:
                state.modes.clear()
            return JSONResponse({"ok": True})
        if request.method == "GET":
            model = request.query_params.get("model", "*")
            with state.lock:
                mode = state.modes.get(model)
                return JSONResponse(
                    {
                        "model": model,
                        "mode": mode.mode if mode else "ok",
                        "requests": state.requests.get(model, 0),
                    }
                )
        body = await request.json()
        if body.get("mode") not in MODES:
            return JSONResponse({"error": f"mode must be one of {MODES}"}, status_code=422)
        with state.lock:
            state.modes[str(body.get("model") or "*")] = Mode(
                mode=body["mode"],
                times=body.get("times"),
                retry_after=int(body.get("retry_after", 1)),
                delay=float(body.get("delay", 5.0)),
            )
        return JSONResponse({"ok": True})

    async def health(request: Request) -> Response:
        return JSONResponse({"ok": True})

    return Starlette(
        routes=[
            Route("/v1/chat/completions", openai, methods=["POST"]),
            Route("/chat/completions", openai, methods=["POST"]),
            Route("/v1/messages", anthropic, methods=["POST"]),
            Route("/_control", control, methods=["GET", "POST", "DELETE"]),
            Route("/health", health),
        ]
    )


# -- process management (make up / make down) -------------------------------------------------
def port(cfg: Config) -> int:
    import os

    return int(os.environ.get("FAKE_LLM_PORT") or DEFAULT_PORT)


def url(cfg: Config) -> str:
    return f"http://127.0.0.1:{port(cfg)}"


def log_file(cfg: Config) -> Path:
    return cfg.logs / "fake-llm.log"


def running_pid(cfg: Config) -> int | None:
    return procs.read_pid(cfg.pids, NAME, "devstack.fake_llm")


def ready(cfg: Config) -> bool:
    try:
        return httpx.get(f"{url(cfg)}/health", timeout=1.0).status_code == 200
    except httpx.HTTPError:
        return False


def start(cfg: Config) -> None:
    if running_pid(cfg) is not None:
        return
    if procs.port_open(port(cfg)):
        raise procs.StackError(f"fake-llm: port {port(cfg)} is already in use (set FAKE_LLM_PORT)")
    procs.spawn(
        NAME,
        [sys.executable, "-m", "devstack.fake_llm", "--port", str(port(cfg))],
        pids_dir=cfg.pids,
        log_file=log_file(cfg),
        cwd=cfg.root,
    )
    procs.wait_until(
        lambda: ready(cfg), part=NAME, log_file=log_file(cfg), timeout=30, pid=running_pid(cfg)
    )


def stop(cfg: Config) -> None:
    procs.stop_named(cfg.pids, NAME, "devstack.fake_llm")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devstack.fake_llm")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    args = parser.parse_args(argv)
    import uvicorn

    uvicorn.run(create_app(), host="127.0.0.1", port=args.port, log_level="warning")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
