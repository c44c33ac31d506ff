"""Health function: ``GET /functions/v1/health`` checks every part the functions use.

Needed parts (a request cannot be served without them): the database (through PostgREST),
PostgREST, S3, SQS. Degradable parts (requests still succeed; work waits or falls back):
the LLM provider chain (its circuit breakers; the embedded template writer always works)
and mail (the SMTP relay, or SES's account sending status). 200 ``ok`` when all answer, 200
``degraded`` naming a degradable part that does not, 503 ``unavailable`` naming the needed
parts that do not. Each check reports its latency. No authentication, no internals: each
check says only ``ok`` or what kind of failure it saw.
"""

from __future__ import annotations

import asyncio
import os
import smtplib
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
RETRY_AFTER_S = 5  # a 503's Retry-After: parts restart within seconds


class Check(BaseModel):
    ok: bool
    detail: str
    duration_ms: float
    needed: bool = True


class HealthReport(BaseModel):
    status: Literal["ok", "degraded", "unavailable"]
    checks: dict[str, Check]
    failing: list[str]  # needed parts down: 503
    degraded: list[str] = []  # degradable parts down: still 200
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


def _queue_urls() -> dict[str, str]:
    """The queues this deployment gives the function: every ``*_QUEUE_URL`` setting."""
    return {
        name.removesuffix("_QUEUE_URL").lower(): url
        for name, url in sorted(os.environ.items())
        if name.endswith("_QUEUE_URL") and url
    }


def check_sqs(settings: Settings) -> tuple[bool, str]:
    urls = _queue_urls()
    if not urls:
        return True, "no queues configured"
    client = aws.sqs(settings)
    depths = []
    for name, url in urls.items():
        try:
            attributes = client.get_queue_attributes(
                QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"]
            )["Attributes"]
        except Exception as exc:
            return False, f"queue {name} not reachable ({type(exc).__name__})"
        depths.append(f"{name}={attributes.get('ApproximateNumberOfMessages', '?')}")
    return True, "ok; waiting: " + ", ".join(depths)


def check_llm(settings: Settings) -> tuple[bool, str]:
    """The documents chain's circuit breakers (``provider_circuit_open_until``, service
    role; no row is a closed circuit). Open circuits degrade generation (the next provider,
    at worst the template, writes); they never make the API unavailable."""
    names = [n.strip() for n in settings.document_providers.split(",") if n.strip()]
    models = {"openai": settings.openai_model, "anthropic": settings.anthropic_model}
    states, open_ = [], []
    for name in names:
        if name not in models:
            states.append(f"{name}=ready")
            continue
        if settings.supabase_service_role_key is None:
            return False, "breaker state unknown (no service role key)"
        try:
            until = Rest(settings, settings.supabase_service_role_key.get_secret_value()).rpc(
                "provider_circuit_open_until", {"p_key": f"{name}:{models[name]}"}
            )
        except ApiError as exc:
            return False, f"breaker state unknown ({exc.code})"
        if until:
            open_.append(name)
            states.append(f"{name}=open until {until}")
        else:
            states.append(f"{name}=closed")
    summary = ", ".join(states) or "no providers"
    return (not open_), ("ok; " if not open_ else "circuit open; ") + summary


def check_mail(settings: Settings) -> tuple[bool, str]:
    """The SMTP relay at ``SMTP_HOST:SMTP_PORT`` answers NOOP (locally the inbox; in AWS,
    SES's SMTP endpoint, so the check needs no IAM permission)."""
    host = os.environ.get("SMTP_HOST")
    if not host:
        return True, "not configured"
    port = int(os.environ.get("SMTP_PORT") or 25)
    try:
        with smtplib.SMTP(host, port, timeout=CHECK_TIMEOUT) as smtp:
            code, _ = smtp.noop()
    except (OSError, smtplib.SMTPException) as exc:
        return False, f"smtp not reachable ({type(exc).__name__})"
    return code == 250, "ok" if code == 250 else f"smtp answered {code}"


CHECKS = {
    "database": check_database,
    "postgrest": check_postgrest,
    "s3": check_s3,
    "sqs": check_sqs,
    "llm": check_llm,
    "mail": check_mail,
}
# parts whose loss degrades work (it waits, or falls back) without failing requests
DEGRADABLE = frozenset({"llm", "mail"})


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
        return name, Check(ok=ok, detail=detail, duration_ms=elapsed, needed=name not in DEGRADABLE)

    @api.route(
        "GET",
        "/",
        summary="Check the database, PostgREST, S3, SQS, the LLM chain and mail",
        responses={
            200: (
                "Every needed part answers (`degraded` names a degradable one that does not)",
                HealthReport,
            ),
            503: ("A needed part does not; `failing` names it", HealthReport),
        },
    )
    async def health(request: Request) -> Response:
        checks = dict(await asyncio.gather(*(run(name) for name in CHECKS)))
        failing = [name for name, check in checks.items() if not check.ok and check.needed]
        degraded = [name for name, check in checks.items() if not check.ok and not check.needed]
        report = HealthReport(
            status="unavailable" if failing else "degraded" if degraded else "ok",
            checks=checks,
            failing=failing,
            degraded=degraded,
            request_id=current_request_id(),
        )
        if failing:
            report.error = "unhealthy"
            report.message = "failing: " + ", ".join(failing)
        elif degraded:
            report.message = "degraded: " + ", ".join(degraded)
        headers = {"Cache-Control": "no-store"}
        if failing:
            headers["Retry-After"] = str(RETRY_AFTER_S)
        return json_response(report, 503 if failing else 200, headers)

    return api.build()


settings = load_settings(*REQUIRED)
app = create_app(settings)
