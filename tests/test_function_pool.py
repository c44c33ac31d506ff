"""The gateway runs function requests in a bounded pool of worker processes (issue 16 item 8):
one slow or CPU-bound function request holds its own worker, never the gateway's event loop.

No test measures time. The first ones drive ``devstack.function_pool.FunctionPool`` with
function apps written for the test, whose requests the test holds and releases (a file it
creates); the last one holds a real function request through the gateway (the fake GitHub
made slow) and shows another function request and a PostgREST request answered meanwhile.
"""

from __future__ import annotations

import asyncio
import textwrap
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from devstack.function_pool import FunctionPool

# A function whose request spins the CPU (holding its process's GIL) until the test creates
# the file named in the query; one that answers at once; one whose process dies.
APPS = {
    "spin": """
        import json, os, urllib.parse

        async def app(scope, receive, send):
            await receive()
            release = urllib.parse.parse_qs(scope["query_string"].decode())["release"][0]
            open(release + ".started", "w").close()
            n = 0
            while not os.path.exists(release):
                n += 1  # busy: no await, no sleep
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-type", b"application/json")]})
            await send({"type": "http.response.body", "body": json.dumps({"spun": n > 0}).encode()})
    """,
    "fast": """
        async def app(scope, receive, send):
            body = (await receive())["body"]
            await send({"type": "http.response.start", "status": 201, "headers": []})
            await send({"type": "http.response.body", "body": b"echo:" + body})
    """,
    "crash": """
        import os

        async def app(scope, receive, send):
            os._exit(3)
    """,
}


@pytest.fixture
def functions_dir(tmp_path: Path) -> Path:
    for name, source in APPS.items():
        (tmp_path / name).mkdir()
        (tmp_path / name / "app.py").write_text(textwrap.dedent(source))
    return tmp_path


def scope(path: str, query: str = "") -> dict[str, Any]:
    return {"type": "http", "method": "POST", "path": path, "raw_path": path.encode(),
            "root_path": "", "query_string": query.encode(), "headers": [],
            "http_version": "1.1", "scheme": "http", "asgi": {"version": "3.0"}}  # fmt: skip


async def call(pool: FunctionPool, name: str, query: str = "", body: bytes = b"") -> Any:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await pool(name, scope(f"/{name}", query), receive, send)
    return sent[0]["status"], sent[1]["body"]


async def wait_for(path: Path) -> None:
    while not path.exists():
        await asyncio.sleep(0.05)


@pytest.fixture
def run() -> Iterator[Any]:
    loop = asyncio.new_event_loop()
    yield loop.run_until_complete
    loop.close()


def test_a_spinning_function_request_does_not_hold_the_others(
    functions_dir: Path, tmp_path: Path, run: Any
) -> None:
    release = tmp_path / "release"

    async def scenario() -> None:
        pool = FunctionPool(functions_dir, size=2, timeout=600)
        await pool.start()
        try:
            held = asyncio.ensure_future(call(pool, "spin", f"release={release}"))
            await wait_for(Path(f"{release}.started"))  # it is running, spinning the CPU
            assert await call(pool, "fast", body=b"hi") == (201, b"echo:hi")
            assert await call(pool, "fast", body=b"again") == (201, b"echo:again")
            assert not held.done(), "the spinning request is still held"
            release.touch()
            assert await held == (200, b'{"spun": true}')
        finally:
            await pool.stop()

    run(scenario())


def test_requests_beyond_the_bound_wait_for_a_free_worker(
    functions_dir: Path, tmp_path: Path, run: Any
) -> None:
    release = tmp_path / "release"

    async def scenario() -> None:
        pool = FunctionPool(functions_dir, size=1, timeout=600)
        await pool.start()
        try:
            held = asyncio.ensure_future(call(pool, "spin", f"release={release}"))
            await wait_for(Path(f"{release}.started"))
            waiting = asyncio.ensure_future(call(pool, "fast", body=b"later"))
            for _ in range(20):  # give it every chance to run; it cannot: one worker, busy
                await asyncio.sleep(0.05)
            assert not waiting.done()
            release.touch()
            assert await held == (200, b'{"spun": true}')
            assert await waiting == (201, b"echo:later")
        finally:
            await pool.stop()

    run(scenario())


def test_a_function_past_its_timeout_gets_504_and_its_worker_is_replaced(
    functions_dir: Path, tmp_path: Path, run: Any
) -> None:
    async def scenario() -> None:
        pool = FunctionPool(functions_dir, size=1, timeout=1)
        await pool.start()
        try:
            status, body = await call(pool, "spin", f"release={tmp_path / 'never'}")
            assert status == 504 and b"function_timeout" in body
            assert await call(pool, "fast", body=b"next") == (201, b"echo:next")
        finally:
            await pool.stop()

    run(scenario())


def test_a_function_whose_process_dies_gets_502_and_the_next_request_is_served(
    functions_dir: Path, run: Any
) -> None:
    async def scenario() -> None:
        pool = FunctionPool(functions_dir, size=1, timeout=600)
        await pool.start()
        try:
            status, body = await call(pool, "crash")
            assert status == 502 and b"function_crashed" in body
            assert await call(pool, "fast", body=b"ok") == (201, b"echo:ok")
        finally:
            await pool.stop()

    run(scenario())


def test_through_the_gateway_a_held_function_request_holds_no_one_else(stack: Any) -> None:
    """A GitHub call held by the fake (delay) keeps one integrations request in flight; a
    request to another function and one to PostgREST are answered while it is."""
    from tests.functions.integrations_support import (
        BASE,
        connect,
        fail_next,
        fake_state,
        github,
        new_login,
        seed_github,
    )  # fmt: skip

    user = stack.new_user()
    login = new_login()
    seed_github(stack, login, {"octo/app": {"commits": 1}})
    integration_id = connect(stack, user, login, "github")
    counted = fake_state(github(stack), login)["counters"].get("requests", 0)
    fail_next(github(stack), login, delay=60)  # every call of this account now waits 60 s
    try:
        with ThreadPoolExecutor(1) as threads:
            held = threads.submit(
                lambda: stack.http(user.token).get(f"{BASE}/{integration_id}/remote-items")
            )
            for _ in range(400):  # until the fake has the function's call
                if fake_state(github(stack), login)["counters"].get("requests", 0) > counted:
                    break
                time.sleep(0.05)
            else:
                raise AssertionError("the held request never reached the fake GitHub")
            health = stack.http().get("/functions/v1/health/")
            with stack.http(user.token) as http:
                rows = http.get("/rest/v1/projects", params={"select": "id"})
            assert health.status_code == 200, health.text
            assert rows.status_code == 200, rows.text
            assert not held.done(), "the held request is still in flight"
            fail_next(github(stack), login, delay=0)
            assert held.result().status_code < 500 or held.result().json()["error"]
    finally:
        fail_next(github(stack), login, delay=0)
