"""Metrics as CloudWatch Embedded Metric Format (EMF): one JSON line per data point.

Lambda sends stdout to CloudWatch Logs, and CloudWatch turns every log line that carries an
``_aws`` block into metrics: no client, no network call, no agent, no import beyond the
standard library (the cold path pays nothing; aws-lambda-powertools' Metrics does the same
with more machinery). The line is written to the same stream as :mod:`core.log` and, like
its lines, carries ``level`` and ``message`` (``"metric"``), so tests and log queries read
or skip metrics the way they read logs.

    metrics.count("JobsProcessed", kind="document_generation")
    metrics.value("QueueAgeMs", 1234.0, "Milliseconds", queue="document-jobs")

Every data point has the dimensions ``function`` (the log context's function, else
``POWERTOOLS_SERVICE_NAME`` / ``AWS_LAMBDA_FUNCTION_NAME``) plus the ones given; the
namespace is ``METRICS_NAMESPACE`` (default ``collab``). The names the alarms and
dashboards use are constants below; mail and push are an API for their senders to call.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

from core import log

# the names (alarms in serverless.yml refer to them)
JOBS_PROCESSED = "JobsProcessed"  # a job ran to success
JOBS_FAILED = "JobsFailed"  # a job failed for good (permanent error, or attempts used up)
JOBS_RETRIED = "JobsRetried"  # an attempt failed and the job goes back to the queue
JOBS_DEAD_LETTERED = "JobsDeadLettered"  # a record given up on: SQS moves it to the DLQ
RECORDS_FAILED = "RecordsFailed"  # an SQS record reported in batchItemFailures
QUEUE_AGE_MS = "QueueAgeMs"  # sent -> handled, per record
PROVIDER_FALLBACKS = "ProviderFallbacks"  # a provider failed or was skipped; the next one tried
WEBHOOKS_ACCEPTED = "WebhooksAccepted"
WEBHOOKS_REFUSED = "WebhooksRefused"
MAIL_SENT = "MailSent"
MAIL_BOUNCED = "MailBounced"
PUSH_SENT = "PushSent"
PUSH_FAILED = "PushFailed"

NAMESPACE_ENV = "METRICS_NAMESPACE"
DEFAULT_NAMESPACE = "collab"


def _function() -> str:
    ctx = log.current()
    if ctx is not None:
        return ctx.function
    return (
        os.environ.get("POWERTOOLS_SERVICE_NAME")
        or os.environ.get("AWS_LAMBDA_FUNCTION_NAME")
        or "local"
    )


def emit(
    values: dict[str, tuple[float, str]],
    dimensions: dict[str, str] | None = None,
    **properties: Any,
) -> dict[str, Any]:
    """Write one EMF line: ``values`` maps a metric name to (value, unit); ``dimensions``
    (plus ``function``) name the series; ``properties`` are searchable but not dimensions.
    Returns the object written."""
    dims = {"function": _function(), **{k: str(v) for k, v in (dimensions or {}).items()}}
    ctx = log.current()
    entry: dict[str, Any] = {
        "_aws": {
            "Timestamp": int(time.time() * 1000),
            "CloudWatchMetrics": [
                {
                    "Namespace": os.environ.get(NAMESPACE_ENV) or DEFAULT_NAMESPACE,
                    "Dimensions": [sorted(dims)],
                    "Metrics": [{"Name": name, "Unit": unit} for name, (_, unit) in values.items()],
                }
            ],
        },
        # like every log line: a level and a message, so log readers can skip it
        "level": "INFO",
        "message": "metric",
        **properties,
        **dims,
        **{name: value for name, (value, _) in values.items()},
    }
    if ctx is not None:
        entry.setdefault("request_id", ctx.request_id)
    stream = log._stream[0]
    stream.write(json.dumps(entry, default=str, separators=(",", ":")) + "\n")
    stream.flush()
    return entry


def count(name: str, value: float = 1, **dimensions: str) -> dict[str, Any]:
    """A count (unit ``Count``) with the given dimensions."""
    return emit({name: (value, "Count")}, dimensions)


def value(name: str, amount: float, unit: str = "None", **dimensions: str) -> dict[str, Any]:
    return emit({name: (amount, unit)}, dimensions)


# -- for the senders of mail and push (their code calls these) --------------------------------
def mail_sent(template: str, count_: int = 1) -> dict[str, Any]:
    return count(MAIL_SENT, count_, template=template)


def mail_bounced(kind: str = "bounce") -> dict[str, Any]:
    """``kind``: bounce or complaint (SES notifications)."""
    return count(MAIL_BOUNCED, kind=kind)


def push_sent(count_: int = 1) -> dict[str, Any]:
    return count(PUSH_SENT, count_)


def push_failed(reason: str) -> dict[str, Any]:
    return count(PUSH_FAILED, reason=reason)
