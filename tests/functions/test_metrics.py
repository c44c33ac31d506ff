"""Metrics: CloudWatch Embedded Metric Format lines from functions/core/metrics.py.

The job pipeline, SQS batches, the documents provider chain and the webhooks write them; a
test reads them from the log stream as CloudWatch would read them from stdout.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.functions import test_jobs_pipeline as pipeline
from tests.functions.conftest import Team
from tests.functions.test_jobs_pipeline import TestQueue, deliver, make_kind, new_job
from tests.support import Stack

# the pipeline tests' fixtures: a queue of the test's own, settings, leftover jobs failed
job_queue = pipeline.queue
job_settings = pipeline.settings
finish_leftover_jobs = pipeline._finish_leftover_jobs

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def lines(functions_env: dict[str, str]) -> Iterator[io.StringIO]:
    from core import log

    stream = io.StringIO()
    saved = log._stream[0]
    log.set_stream(stream)
    yield stream
    log.set_stream(saved)


def emf(stream: io.StringIO, name: str | None = None) -> list[dict[str, Any]]:
    """The EMF objects written, checked for the shape CloudWatch requires."""
    found = []
    for line in stream.getvalue().splitlines():
        entry = json.loads(line)
        if "_aws" not in entry:
            continue
        [directive] = entry["_aws"]["CloudWatchMetrics"]
        assert isinstance(entry["_aws"]["Timestamp"], int)
        assert directive["Namespace"] == "collab"
        for dimension_set in directive["Dimensions"]:
            assert "function" in dimension_set
            for key in dimension_set:
                assert isinstance(entry[key], str), key
        for metric in directive["Metrics"]:
            assert isinstance(entry[metric["Name"]], int | float), metric
            assert metric["Unit"] in {"Count", "Milliseconds", "None"}
        if name is None or any(m["Name"] == name for m in directive["Metrics"]):
            found.append(entry)
    return found


def test_a_count_is_one_emf_line(lines: io.StringIO):
    from core import log, metrics

    with log.bind(log.LogContext(function="tests.metrics", request_id="r-1")):
        metrics.count(metrics.WEBHOOKS_ACCEPTED, provider="github")
    [entry] = emf(lines)
    assert entry["WebhooksAccepted"] == 1
    assert (entry["function"], entry["provider"], entry["request_id"]) == (
        "tests.metrics",
        "github",
        "r-1",
    )
    assert entry["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["function", "provider"]]


def test_mail_and_push_counters_are_an_api(lines: io.StringIO):
    from core import metrics

    metrics.mail_sent("invitation")
    metrics.mail_bounced("complaint")
    metrics.push_sent(3)
    metrics.push_failed("gone")
    names = [m["Name"] for e in emf(lines) for m in e["_aws"]["CloudWatchMetrics"][0]["Metrics"]]
    assert names == ["MailSent", "MailBounced", "PushSent", "PushFailed"]


def test_metrics_import_nothing_heavy(functions_env: dict[str, str]):
    heavy = "{'boto3', 'botocore', 'pydantic', 'httpx', 'aws_lambda_powertools'}"
    code = f"import sys, core.metrics; print(sorted({{*sys.modules}} & {heavy}))"
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT / "functions",
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert out.stdout.strip() == "[]"


def test_a_job_that_succeeds_counts_processed_and_its_queue_age(
    stack: Stack, team: Team, job_queue: TestQueue, job_settings: Any, lines: io.StringIO
):
    from core.jobs import send

    kind = make_kind(job_queue)
    job_id = new_job(stack, team)
    send(job_settings, kind, job_id)
    deliver(job_queue, {kind.name: (kind, lambda job: None)}, {job_id})
    [processed] = emf(lines, "JobsProcessed")
    assert (processed["kind"], processed["function"]) == (kind.name, "tests.jobs")
    ages = emf(lines, "QueueAgeMs")
    assert ages and ages[0]["queue"] == job_queue.url.rsplit("/", 1)[-1]
    assert ages[0]["QueueAgeMs"] >= 0
    assert not emf(lines, "JobsFailed")


def test_a_retried_then_given_up_job_counts_retries_failure_and_dead_letter(
    stack: Stack, team: Team, job_queue: TestQueue, job_settings: Any, lines: io.StringIO
):
    from core.jobs import RetryableJobError, send

    kind = make_kind(job_queue, max_attempts=2)
    job_id = new_job(stack, team)

    def handler(job: Any) -> None:
        raise RetryableJobError("the provider is busy")

    send(job_settings, kind, job_id)
    deliver(job_queue, {kind.name: (kind, handler)}, {job_id}, rounds=3, wait=2)
    assert [e["kind"] for e in emf(lines, "JobsRetried")] == [kind.name]
    [gave_up] = emf(lines, "JobsDeadLettered")
    assert gave_up["JobsFailed"] == 1 and gave_up["kind"] == kind.name
    assert len(emf(lines, "JobsFailed")) == 1, "a given-up job is one failure, however redelivered"
    assert {e["outcome"] for e in emf(lines, "RecordsFailed")} <= {"rejected", "error"}
    assert emf(lines, "RecordsFailed")


def test_a_failing_provider_counts_a_fallback(functions_env: dict[str, str], lines: io.StringIO):
    from dataclasses import dataclass

    from core.rest import as_service
    from core.settings import build_settings
    from documents.context import GenerationContext
    from documents.providers import Circuits, ProviderCallError, TemplateProvider, write_document

    @dataclass
    class Broken(TemplateProvider):
        name: str = f"broken-{uuid.uuid4().hex[:8]}"

        def write(self, ctx: GenerationContext) -> str:
            raise ProviderCallError("down", retryable=False)

    cfg = build_settings()
    ctx = GenerationContext(
        project_id=str(uuid.uuid4()), project_name="P", description="", product_type=None,
        project_status=None, document_type="prd", title="PRD", document_id=None,
        instructions=None,
    )  # fmt: skip
    broken = Broken()
    circuits = Circuits(as_service(cfg), threshold=5, open_seconds=60)
    written = write_document(cfg, [broken, TemplateProvider()], circuits, ctx)
    assert [p["outcome"] for p in written.providers] == ["failed", "used"]
    [fallback] = emf(lines, "ProviderFallbacks")
    assert (fallback["provider"], fallback["reason"]) == (broken.name, "failed")


def test_webhooks_accepted_and_refused_are_counted(stack: Stack, lines: io.StringIO):
    # the files function's database webhook, in-process so its lines land in this stream
    from starlette.testclient import TestClient

    from core.settings import build_settings
    from files.app import create_app

    secret = "s3cret-" + uuid.uuid4().hex
    app = create_app(build_settings(webhook_secret=secret))
    hook = {"type": "INSERT", "table": "projects", "schema": "public", "record": {}}
    with TestClient(app) as client:
        refused = client.post("/webhooks/database", headers={"x-webhook-secret": "no"}, json=hook)
        accepted = client.post(
            "/webhooks/database", headers={"x-webhook-secret": secret}, json=hook
        )
    assert refused.status_code == 401 and accepted.status_code < 300, accepted.text
    [entry] = emf(lines, "WebhooksRefused")
    assert (entry["provider"], entry["reason"]) == ("database", "unauthorized")
    [entry] = emf(lines, "WebhooksAccepted")
    assert entry["provider"] == "database"
