"""Health function: ``GET /functions/v1/health`` checks the database, PostgREST and S3.

200 when all answer; 503 naming the parts that did not. No authentication, no internals:
each check says only ``ok`` or what kind of failure it saw.
"""

from __future__ import annotations

import asyncio
import time
from typing import Literal

import httpx
from pydantic import BaseModel
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from core import aws, log
from core.errors import ApiError
from core.http import FunctionApp, current_request_id, json_response
from core.rest import Rest, http_client
from core.settings import Settings, load_settings

FUNCTION = "health"
REQUIRED = ("files_bucket",)
CHECK_TIMEOUT = 3.0


class Check(BaseModel):
    ok: bool
    detail: str
    duration_ms: float


class HealthReport(BaseModel):
    status: Literal["ok", "unavailable"]
    checks: dict[str, Check]
    failing: list[str]
    error: str | None = None
    message: str | None = None
    request_id: str


def check_postgrest(settings: Settings) -> tuple[bool, str]:
    try:
        response = http_client(settings.http_timeout_seconds).get(
            settings.rest_url + "/",
            headers={"apikey": settings.supabase_anon_key.get_secret_value()},
            timeout=CHECK_TIMEOUT,
        )
    except httpx.HTTPError as exc:
        return False, f"unreachable ({type(exc).__name__})"
    if response.status_code >= 500:
        return False, f"answered {response.status_code}"
    return True, "ok"


def check_database(settings: Settings) -> tuple[bool, str]:
    """``public.health_check()`` through PostgREST with the anon key: PostgREST answers 503
    when it cannot reach Postgres, which separates 'database down' from 'PostgREST down'."""
    try:
        answer = Rest(settings, settings.supabase_anon_key.get_secret_value()).request(
            "GET", "rpc/health_check", headers={"Accept": "application/json"}, timeout=CHECK_TIMEOUT
        )
    except ApiError as exc:
        return False, f"query failed ({exc.code})"
    if answer.content.strip() != b"true":
        return False, "unexpected answer"
    return True, "ok"


def check_s3(settings: Settings) -> tuple[bool, str]:
    try:
        aws.s3(settings).head_bucket(Bucket=settings.files_bucket)
    except Exception as exc:
        return False, f"bucket not reachable ({type(exc).__name__})"
    return True, "ok"


CHECKS = {"database": check_database, "postgrest": check_postgrest, "s3": check_s3}


def create_app(settings: Settings) -> Starlette:
    settings.require(*REQUIRED)
    api = FunctionApp(FUNCTION, "health", description="Liveness of the parts the functions need.")

    async def run(name: str) -> tuple[str, Check]:
        started = time.perf_counter()
        try:
            ok, detail = await asyncio.wait_for(
                run_in_threadpool(CHECKS[name], settings), timeout=CHECK_TIMEOUT + 1
            )
        except TimeoutError:
            ok, detail = False, "timed out"
        except Exception as exc:  # a failing check is a failing part, never a 500
            log.exception("health check failed", exc, check=name)
            ok, detail = False, f"check failed ({type(exc).__name__})"
        elapsed = round((time.perf_counter() - started) * 1000, 2)
        return name, Check(ok=ok, detail=detail, duration_ms=elapsed)

    @api.route(
        "GET",
        "/",
        summary="Check the database, PostgREST and S3",
        responses={
            200: ("Every part answers", HealthReport),
            503: ("Some part does not; `failing` names it", HealthReport),
        },
    )
    async def health(request: Request) -> Response:
        checks = dict(await asyncio.gather(*(run(name) for name in CHECKS)))
        failing = [name for name, check in checks.items() if not check.ok]
        report = HealthReport(
            status="unavailable" if failing else "ok",
            checks=checks,
            failing=failing,
            request_id=current_request_id(),
        )
        if failing:
            report.error = "unhealthy"
            report.message = "failing: " + ", ".join(failing)
        return json_response(report, 503 if failing else 200, {"Cache-Control": "no-store"})

    return api.build()


settings = load_settings(*REQUIRED)
app = create_app(settings)
