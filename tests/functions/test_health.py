"""GET /functions/v1/health: every dependency with its latency; 503 (with Retry-After) when a
needed one is down, 200 "degraded" when only a degradable one (LLM breakers, mail) is."""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from starlette.testclient import TestClient

from devstack import postgrest
from tests.support import Stack

ROOT = Path(__file__).resolve().parents[2]
PARTS = {"database", "postgrest", "s3", "sqs", "llm", "mail"}


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _health(settings: Any) -> tuple[int, dict[str, Any], Any]:
    from health.app import create_app

    with TestClient(create_app(settings)) as client:
        response = client.get("/")
    return response.status_code, response.json(), response.headers


def test_every_part_is_reported_with_its_latency(stack: Stack):
    response = stack.http().get("/functions/v1/health")
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body["checks"]) == PARTS
    assert body["status"] == "ok" and body["failing"] == [] and body["degraded"] == []
    for name, check in body["checks"].items():
        assert check["ok"] and check["duration_ms"] >= 0, name
        assert check["needed"] == (name not in {"llm", "mail"}), name
    assert "document_jobs=" in body["checks"]["sqs"]["detail"]


def test_mail_down_is_degraded_not_unavailable(
    make_settings: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("SMTP_PORT", str(_closed_port()))
    status, body, _ = _health(make_settings())
    assert status == 200, body
    assert (body["status"], body["failing"], body["degraded"]) == ("degraded", [], ["mail"])
    assert body["checks"]["mail"]["detail"].startswith("smtp not reachable")


def test_an_open_llm_breaker_is_degraded(make_settings: Callable[..., Any]):
    from core.rest import as_service

    model = f"health-{uuid.uuid4().hex[:10]}"
    settings = make_settings(document_providers="openai,template", openai_model=model)
    closed, body, _ = _health(settings)
    assert closed == 200 and body["checks"]["llm"]["detail"] == "ok; openai=closed, template=ready"
    as_service(settings).rpc(
        "record_provider_outcome",
        {"p_key": f"openai:{model}", "p_ok": False, "p_threshold": 1, "p_open_seconds": 60,
         "p_error": "test"},
    )  # fmt: skip
    status, body, _ = _health(settings)
    assert status == 200, body
    assert body["degraded"] == ["llm"] and body["failing"] == []
    assert "openai=open until" in body["checks"]["llm"]["detail"]


def test_aws_down_is_a_503_naming_s3_and_sqs(make_settings: Callable[..., Any]):
    status, body, headers = _health(
        make_settings(aws_endpoint_url=f"http://127.0.0.1:{_closed_port()}")
    )
    assert status == 503, body
    assert set(body["failing"]) == {"s3", "sqs"}
    assert body["error"] == "unhealthy" and headers["retry-after"].isdigit()


def test_postgrest_stopped_is_a_503_and_recovers(stack: Stack):
    """The stack's own PostgREST stopped for real, then started again."""
    postgrest.stop(stack.cfg)
    try:
        response = stack.http().get("/functions/v1/health")
        assert response.status_code == 503, response.text
        assert {"database", "postgrest"} <= set(response.json()["failing"])
        assert response.headers["retry-after"].isdigit()
    finally:
        postgrest.start(stack.cfg)
    for _ in range(60):
        response = stack.http().get("/functions/v1/health")
        if response.status_code == 200:
            break
        time.sleep(0.5)
    assert response.status_code == 200, response.text


def test_health_is_given_every_queue_a_worker_reads():
    config = yaml.safe_load((ROOT / "serverless.yml").read_text())
    consumed = {
        event["sqs"]["arn"]["Fn::GetAtt"][0]
        for function in config["functions"].values()
        for event in function.get("events", [])
        if "sqs" in event
    }
    environment = config["functions"]["health"]["environment"]
    given = {v["Ref"] for k, v in environment.items() if k.endswith("_QUEUE_URL")}
    assert given == consumed
