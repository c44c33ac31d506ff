"""functions/core: settings, JSON errors, one log line per request, rate limits, Mangum."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from typing import Any

import jwt
import pytest
from starlette.requests import Request
from starlette.responses import Response
from starlette.testclient import TestClient

from tests.functions.conftest import FUNCTIONS_DIR, Team, log_records, upload_request
from tests.support import Stack

# API Gateway HTTP API (payload format 2.0) -> Lambda, as AWS sends it.
HTTP_API_SAMPLE: dict[str, Any] = {
    "version": "2.0",
    "routeKey": "GET /functions/v1/health",
    "rawPath": "/functions/v1/health",
    "rawQueryString": "",
    "headers": {
        "accept": "application/json",
        "host": "abc123.execute-api.us-east-1.amazonaws.com",
        "user-agent": "curl/8.4.0",
        "x-forwarded-for": "203.0.113.7",
        "x-forwarded-port": "443",
        "x-forwarded-proto": "https",
    },
    "requestContext": {
        "accountId": "123456789012",
        "apiId": "abc123",
        "domainName": "abc123.execute-api.us-east-1.amazonaws.com",
        "domainPrefix": "abc123",
        "http": {
            "method": "GET",
            "path": "/functions/v1/health",
            "protocol": "HTTP/1.1",
            "sourceIp": "203.0.113.7",
            "userAgent": "curl/8.4.0",
        },
        "requestId": "JKJaXmPLvHcESHA=",
        "routeKey": "GET /functions/v1/health",
        "stage": "$default",
        "time": "23/Nov/2026:16:00:00 +0000",
        "timeEpoch": 1795449600000,
    },
    "isBase64Encoded": False,
}


class _Ctx:
    aws_request_id = "c6af9ac6-7b61-11e6-9a41-93e812345678"
    function_name = "health"


def test_missing_setting_fails_at_start_naming_it(functions_env: dict[str, str]) -> None:
    env = {k: v for k, v in functions_env.items() if k != "FILES_BUCKET"}
    result = subprocess.run(
        [sys.executable, "-c", "import files.handler"],
        cwd=FUNCTIONS_DIR,
        env={**env, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "missing setting FILES_BUCKET" in result.stderr


def test_no_way_to_verify_tokens_is_a_named_error(functions_env: dict[str, str]) -> None:
    from core.settings import SettingsError, build_settings

    with pytest.raises(SettingsError, match="SUPABASE_JWT_SECRET or SUPABASE_JWKS_URL"):
        build_settings(supabase_jwt_secret=None, supabase_jwks_url=None)


@pytest.fixture
def crashing_app(make_settings: Callable[..., Any]) -> TestClient:
    from core.http import FunctionApp

    api = FunctionApp("crash", "crash")

    @api.route("GET", "/boom", summary="always fails")
    async def boom(request: Request) -> Response:
        raise RuntimeError("secret internals: password=hunter2")

    return TestClient(api.build(), raise_server_exceptions=False)


def test_unexpected_exception_is_500_without_internals_and_logged(
    crashing_app: TestClient, log_lines: io.StringIO
) -> None:
    response = crashing_app.get("/boom", headers={"x-request-id": "req-123"})
    assert response.status_code == 500
    assert response.json() == {
        "error": "internal_error",
        "message": "internal error",
        "request_id": "req-123",
    }
    assert "hunter2" not in response.text
    lines = log_records(log_lines)
    error = next(line for line in lines if line["level"] == "ERROR" and "traceback" in line)
    assert error["request_id"] == "req-123" and "hunter2" in error["traceback"]
    request = [line for line in lines if line["message"] == "request"]
    assert len(request) == 1
    assert request[0]["status"] == 500 and request[0]["outcome"] == "error"


def test_unknown_route_is_json_404(crashing_app: TestClient) -> None:
    response = crashing_app.get("/nope")
    assert response.status_code == 404
    assert set(response.json()) == {"error", "message", "request_id"}
    assert response.json()["request_id"] == response.headers["x-request-id"]


def test_one_log_line_per_request_with_user_and_duration(
    stack: Stack, team: Team, make_settings: Callable[..., Any], log_lines: io.StringIO
) -> None:
    from files.app import create_app

    editor = team.members["editor"]
    with TestClient(create_app(make_settings())) as client:
        client.post(
            "/uploads",
            json=upload_request(team.project_id, b"x"),
            headers={"Authorization": f"Bearer {editor.token}"},
        )
    (line,) = [entry for entry in log_records(log_lines) if entry["message"] == "request"]
    assert line["function"] == "files"
    assert line["user_id"] == editor.id
    assert line["status"] == 201 and line["outcome"] == "ok"
    assert line["request_id"] and isinstance(line["duration_ms"], float)
    assert line["path"] == "/uploads"


def test_rate_limit_answers_429_with_retry_after(
    stack: Stack, team: Team, make_settings: Callable[..., Any]
) -> None:
    from files.app import create_app

    editor = team.members["editor"]
    headers = {"Authorization": f"Bearer {editor.token}"}
    # The window is the clock's minute: three requests straddling a minute boundary would land
    # in two windows, so start early in a minute (waiting for the next one if need be).
    if time.time() % 60 > 45:
        time.sleep(60.5 - time.time() % 60)
    minute = int(time.time() // 60)
    with TestClient(create_app(make_settings(rate_limit_per_minute=2))) as client:
        statuses = [
            client.post("/uploads", json=upload_request(team.project_id, b"x"), headers=headers)
            for _ in range(3)
        ]
    assert int(time.time() // 60) == minute, "the three requests took longer than a window"
    assert [r.status_code for r in statuses] == [201, 201, 429]
    limited = statuses[-1]
    assert 1 <= int(limited.headers["retry-after"]) <= 60
    assert limited.json()["error"] == "rate_limited"


def test_rate_limit_counters_are_not_reachable_by_clients(stack: Stack, team: Team) -> None:
    editor = team.members["editor"]
    with stack.http(editor.token) as http:
        response = http.post(
            "/rest/v1/rpc/consume_rate_limit",
            json={"p_user_id": editor.id, "p_key": "x", "p_limit": 1, "p_window_seconds": 1},
        )
    # refused by privilege (the function exists: not PostgREST's 404 PGRST202)
    assert response.status_code == 403, response.text
    body = response.json()
    assert (body["code"], body["message"]) == (
        "42501",
        "permission denied for function consume_rate_limit",
    )


def test_api_gateway_v2_event_through_mangum(functions_env: dict[str, str]) -> None:
    from health.handler import handler

    response = handler(HTTP_API_SAMPLE, _Ctx())
    assert response["statusCode"] == 200, response
    body = json.loads(response["body"])
    assert body["status"] == "ok" and body["failing"] == []
    assert body["request_id"] == _Ctx.aws_request_id
    assert response["headers"]["content-type"] == "application/json"


def test_files_routes_through_mangum_are_json(functions_env: dict[str, str]) -> None:
    from files.handler import handler

    event = json.loads(json.dumps(HTTP_API_SAMPLE))
    path = f"/functions/v1/files/{uuid.uuid4()}/download"
    event["rawPath"] = event["requestContext"]["http"]["path"] = path
    event["routeKey"] = "GET /functions/v1/files/{id}/download"
    response = handler(event, _Ctx())
    assert response["statusCode"] == 401
    assert json.loads(response["body"])["request_id"] == _Ctx.aws_request_id


def test_health_names_the_failing_part(make_settings: Callable[..., Any]) -> None:
    from health.app import create_app

    broken = make_settings(files_bucket="no-such-bucket-" + uuid.uuid4().hex[:8])
    with TestClient(create_app(broken)) as client:
        response = client.get("/")
    assert response.status_code == 503
    body = response.json()
    assert body["failing"] == ["s3"] and body["error"] == "unhealthy"
    assert body["checks"]["database"]["ok"] and body["checks"]["postgrest"]["ok"]


def test_health_reports_postgrest_down(make_settings: Callable[..., Any]) -> None:
    from health.app import create_app

    with TestClient(create_app(make_settings(supabase_url="http://127.0.0.1:9"))) as client:
        body = client.get("/").json()
    assert set(body["failing"]) == {"database", "postgrest"}


def test_health_through_the_gateway(stack: Stack) -> None:
    response = stack.http().get("/functions/v1/health")
    assert response.status_code == 200
    assert response.json()["failing"] == []


def test_file_limits_match_the_database_constraints(stack: Stack) -> None:
    from core.limits import ALLOWED_MIME_TYPES, MAX_FILE_BYTES

    definitions = {
        row["conname"]: row["def"]
        for row in stack.sql(
            "select conname, pg_get_constraintdef(oid) as def from pg_constraint"
            " where conrelid = 'public.files'::regclass and contype = 'c'"
        )
    }
    assert f"<= {MAX_FILE_BYTES}" in definitions["files_size_within_limit"]
    for mime in ALLOWED_MIME_TYPES:
        assert f"'{mime}'::text" in definitions["files_mime_type_allowed"]
    assert definitions["files_mime_type_allowed"].count("::text") == len(ALLOWED_MIME_TYPES)


def test_tokens_for_other_projects_secret_are_refused(make_settings: Callable[..., Any]) -> None:
    from core.auth import TokenVerifier
    from core.errors import ApiError

    verifier = TokenVerifier(make_settings())
    token = jwt.encode(
        {"sub": str(uuid.uuid4()), "aud": "authenticated", "exp": 9999999999},
        "x" * 40,
        algorithm="HS256",
    )
    with pytest.raises(ApiError) as refused:
        verifier.caller(f"Bearer {token}")
    assert refused.value.status == 401
