"""Function requests in worker processes, off the gateway's event loop (issue 16 item 8).

Lambda runs each request of a function in an execution environment of its own: a slow or
CPU-bound request holds that environment and nothing else. The gateway used to run the
function apps in its own process, so one such request (a DOCX export at 100 % CPU, holding the
GIL) slowed every other request it served, PostgREST's and Auth's included. Here each worker
is a separate Python process that serves one request at a time (warm between requests, as a
Lambda environment is); the gateway hands a request to an idle worker and waits for its answer
in a thread of its own, so its event loop stays free. At most ``FUNCTION_WORKERS`` (default 4)
function requests run at once; more wait for a free worker. A request that runs past
``FUNCTION_TIMEOUT_SECONDS`` (default 60) gets a 504 and its worker is replaced, as Lambda ends
a timed-out invocation; a worker that dies gets a 502 and is replaced.

The wire between the two is length-prefixed pickles over the worker's stdin/stdout; the
worker's own stdout (the functions' JSON logs) goes to the gateway's log.

Run by the gateway: ``python -m devstack.function_pool <functions dir>``.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import json
import logging
import os
import pickle
import select
import struct
import subprocess
import sys
import traceback
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, BinaryIO

from starlette.types import Receive, Scope, Send

log = logging.getLogger("devstack.function_pool")

ROOT = str(Path(__file__).resolve().parent.parent)  # where devstack/ is importable from
MAX_BODY_BYTES = 6 * 1024 * 1024  # Lambda's synchronous payload limit
# the parts of an ASGI scope a function app reads (uvicorn's own entries stay behind)
SCOPE_KEYS = (
    "type", "asgi", "http_version", "method", "scheme", "path", "raw_path", "root_path",
    "query_string", "headers", "client", "server",
)  # fmt: skip
_LENGTH = struct.Struct(">I")


class WorkerLostError(Exception):
    """The worker died or timed out; it is replaced."""


def _write(stream: BinaryIO, value: Any) -> None:
    data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_LENGTH.pack(len(data)) + data)
    stream.flush()


def _read_exactly(stream: BinaryIO, size: int) -> bytes:
    chunks, left = [], size
    while left:
        chunk = stream.read(left)
        if not chunk:
            raise EOFError("the worker's pipe closed")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _read(stream: BinaryIO) -> Any:
    return pickle.loads(_read_exactly(stream, _LENGTH.unpack(_read_exactly(stream, 4))[0]))


def function_names(functions_dir: Path) -> list[str]:
    """Every ``functions/<name>/`` with an ``app.py`` (not core)."""
    if not functions_dir.is_dir():
        return []
    return sorted(
        folder.name
        for folder in functions_dir.iterdir()
        if folder.name != "core"
        and not folder.name.startswith((".", "_"))
        and (folder / "app.py").is_file()
    )


def _json(status: int, body: dict[str, str]) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    return status, [(b"content-type", b"application/json")], json.dumps(body).encode()


class Worker:
    """One worker process, serving one request at a time."""

    def __init__(self, functions_dir: Path) -> None:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (ROOT, env.get("PYTHONPATH")) if p)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "devstack.function_pool", str(functions_dir)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
        )

    def call(self, request: tuple[str, dict[str, Any], bytes], timeout: float) -> Any:
        """Send one request and wait for its answer (in a thread: this blocks)."""
        assert self.process.stdin is not None and self.process.stdout is not None
        try:
            _write(self.process.stdin, request)
            ready, _, _ = select.select([self.process.stdout], [], [], timeout)
            if not ready:
                raise WorkerLostError("timeout")
            return _read(self.process.stdout)
        except (OSError, EOFError, pickle.UnpicklingError, struct.error) as exc:
            raise WorkerLostError(f"the worker died: {exc}") from None

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            self.process.kill()
        with contextlib.suppress(Exception):
            self.process.wait(timeout=5)


class FunctionPool:
    """At most ``size`` function requests at once, each in a worker process of its own."""

    def __init__(self, functions_dir: Path, size: int, timeout: float) -> None:
        self.functions_dir = functions_dir
        self.size = size
        self.timeout = timeout
        self.names = function_names(functions_dir)
        self.threads = ThreadPoolExecutor(max_workers=size, thread_name_prefix="function")
        self.idle: asyncio.Queue[Worker] | None = None
        self.workers: set[Worker] = set()

    def _spawn(self) -> Worker:
        worker = Worker(self.functions_dir)
        self.workers.add(worker)
        return worker

    async def start(self) -> None:
        self.idle = asyncio.Queue()
        for _ in range(self.size):
            self.idle.put_nowait(self._spawn())

    async def stop(self) -> None:
        for worker in list(self.workers):
            worker.stop()
        self.workers.clear()
        self.threads.shutdown(wait=False, cancel_futures=True)

    async def __call__(self, name: str, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # no function serves WebSockets
            await send({"type": "websocket.close", "code": 1000})
            return
        status, headers, body = await self._answer(name, scope, receive)
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def _answer(
        self, name: str, scope: Scope, receive: Receive
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return _json(499, {"error": "client_closed", "message": "client went away"})
            size += len(message.get("body", b""))
            if size > MAX_BODY_BYTES:
                message_ = f"request body exceeds {MAX_BODY_BYTES} bytes"
                return _json(413, {"error": "body_too_large", "message": message_})
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        request = (name, {k: scope[k] for k in SCOPE_KEYS if k in scope}, b"".join(chunks))
        assert self.idle is not None, "the pool was not started"
        worker = await self.idle.get()
        loop = asyncio.get_running_loop()
        if worker.process.poll() is not None:  # died while idle: a fresh one takes the request
            self.workers.discard(worker)
            worker = self._spawn()
        try:
            answer = await loop.run_in_executor(self.threads, worker.call, request, self.timeout)
        except WorkerLostError as exc:
            log.warning("function %s: %s; replacing its worker", name, exc)
            self.workers.discard(worker)
            await loop.run_in_executor(None, worker.stop)
            self.idle.put_nowait(self._spawn())
            if str(exc) == "timeout":
                return _json(504, {"error": "function_timeout",
                                   "message": f"{name} ran past {self.timeout:g} s"})  # fmt: skip
            return _json(502, {"error": "function_crashed", "message": f"{name}: {exc}"})
        except BaseException:  # cancelled mid-call: the worker's state is unknown
            self.workers.discard(worker)
            worker.stop()
            self.idle.put_nowait(self._spawn())
            raise
        self.idle.put_nowait(worker)
        return answer


# --- the worker process --------------------------------------------------------------------------
async def _run(app: Any, scope: dict[str, Any], body: bytes) -> Any:
    answer: dict[str, Any] = {"status": 500, "headers": [], "body": []}
    delivered = False

    async def receive() -> dict[str, Any]:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.Event().wait()  # the client stays connected until the answer is sent
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            answer["status"] = message["status"]
            answer["headers"] = [(bytes(k), bytes(v)) for k, v in message.get("headers", [])]
        elif message["type"] == "http.response.body":
            answer["body"].append(bytes(message.get("body", b"")))

    try:
        await app(scope, receive, send)
    except Exception:
        traceback.print_exc()
        return _json(500, {"error": "internal_error", "message": "the function failed"})
    return answer["status"], answer["headers"], b"".join(answer["body"])


def _load(name: str, apps: dict[str, Any]) -> Any:
    if name not in apps:
        try:
            apps[name] = importlib.import_module(f"{name}.app").app
        except Exception as exc:
            traceback.print_exc()
            apps[name] = exc
    return apps[name]


def main(argv: list[str]) -> None:
    functions_dir = Path(argv[0])
    # the protocol keeps the real stdout; what the functions print goes to the gateway's log
    wire_out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    sys.stdout = os.fdopen(1, "w", buffering=1)
    wire_in = sys.stdin.buffer
    sys.path.insert(0, str(functions_dir))
    apps: dict[str, Any] = {}
    for name in function_names(functions_dir):  # warm, as the gateway's own import was
        _load(name, apps)
    loop = asyncio.new_event_loop()
    while True:
        try:
            name, scope, body = _read(wire_in)
        except EOFError:
            return
        app = _load(name, apps)
        if isinstance(app, Exception):
            answer = _json(500, {"error": "function_import_failed", "message": f"{name}: {app!r}"})
        else:
            answer = loop.run_until_complete(_run(app, scope, body))
        _write(wire_out, answer)


if __name__ == "__main__":
    main(sys.argv[1:])
