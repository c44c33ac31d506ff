"""Health against a data API that answers wrongly: a real HTTP server standing in for
PostgREST, so each check meets a bad answer, a non-JSON answer or a slow one, and the report
is always a 503 naming the database (never a 500, never a wait for the 10 s HTTP timeout)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from starlette.testclient import TestClient


class _FakeRest(BaseHTTPRequestHandler):
    rpc_body = b"true"
    rpc_delay = 0.0

    def do_GET(self) -> None:
        if self.path.startswith("/rest/v1/rpc/health_check"):
            time.sleep(self.rpc_delay)
            body = self.rpc_body
        else:
            body = b"{}"
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def fake_rest() -> Iterator[tuple[str, type[_FakeRest]]]:
    handler = type("Handler", (_FakeRest,), {})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", handler
    server.shutdown()
    server.server_close()


def _health(make_settings: Callable[..., Any], url: str) -> tuple[int, dict[str, Any]]:
    from health.app import create_app

    with TestClient(create_app(make_settings(supabase_url=url))) as client:
        response = client.get("/")
    return response.status_code, response.json()


@pytest.mark.parametrize("answer", [b"false", b"null", b"<html>not json</html>"])
def test_a_wrong_database_answer_is_a_failing_check(
    make_settings: Callable[..., Any], fake_rest: tuple[str, type[_FakeRest]], answer: bytes
) -> None:
    url, handler = fake_rest
    handler.rpc_body = answer
    status, body = _health(make_settings, url)
    assert status == 503, body
    assert body["failing"] == ["database"]
    assert body["checks"]["database"]["detail"] == "unexpected answer"
    assert body["checks"]["postgrest"]["ok"] and body["checks"]["s3"]["ok"]


def test_an_exception_in_a_check_is_reported_not_a_500(
    make_settings: Callable[..., Any],
    fake_rest: tuple[str, type[_FakeRest]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import health.app

    def broken(settings: Any) -> tuple[bool, str]:
        raise KeyError("bug")

    monkeypatch.setitem(health.app.CHECKS, "s3", broken)
    status, body = _health(make_settings, fake_rest[0])
    assert status == 503, body
    assert body["failing"] == ["s3"]
    assert body["checks"]["s3"]["detail"] == "check failed (KeyError)"


def test_a_slow_database_fails_within_the_check_timeout(
    make_settings: Callable[..., Any], fake_rest: tuple[str, type[_FakeRest]]
) -> None:
    from health.app import CHECK_TIMEOUT

    url, handler = fake_rest
    handler.rpc_delay = CHECK_TIMEOUT + 3
    status, body = _health(make_settings, url)
    assert status == 503, body
    database = body["checks"]["database"]
    # The request's own timeout (CHECK_TIMEOUT) fired, not the outer wait_for (CHECK_TIMEOUT
    # + 1), which says "timed out": the detail tells which, no wall-clock assertion needed.
    assert database["detail"] == "query failed (data_api_unavailable)"
