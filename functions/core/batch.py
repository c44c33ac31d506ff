"""SQS batches with partial failures, and per-record logging.

A record handler raises to fail *its own* record; the batch answers
``{"batchItemFailures": [{"itemIdentifier": <messageId>}, ...]}`` so only those are
redelivered (the event source mapping needs ``functionResponseType: ReportBatchItemFailures``).
The same shape as aws-lambda-powertools' ``BatchProcessor`` without its import cost.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from core import log, metrics
from core.events import SqsEvent, SqsRecord


class PermanentRecordError(Exception):
    """A record that will never succeed (bad payload). Still reported as failed so it reaches
    the dead-letter queue after the configured receive count, where a person can see it.
    Only this is logged as ``rejected``; any other exception (a bug, an outage) as ``error``."""


def context_request_id(context: Any) -> str:
    return str(getattr(context, "aws_request_id", None) or "local")


def process_sqs_batch(
    event: dict[str, Any],
    context: Any,
    record_handler: Callable[[SqsRecord], None],
    *,
    function: str,
) -> dict[str, list[dict[str, str]]]:
    """Run ``record_handler`` on each record; report the ones that raised."""
    parsed = SqsEvent.model_validate(event)
    failures: list[dict[str, str]] = []
    for record in parsed.records:
        ctx = log.LogContext(
            function=function,
            request_id=context_request_id(context),
            extra={"message_id": record.message_id, "receive_count": record.receive_count},
        )
        with log.bind(ctx):
            _queue_age(record)
            try:
                record_handler(record)
            except PermanentRecordError as exc:
                failures.append({"itemIdentifier": record.message_id})
                metrics.count(metrics.RECORDS_FAILED, queue=_queue(record), outcome="rejected")
                log.warning(
                    "record",
                    outcome="rejected",
                    reason=str(exc)[:500],
                    duration_ms=ctx.elapsed_ms(),
                )
            except Exception as exc:
                failures.append({"itemIdentifier": record.message_id})
                metrics.count(metrics.RECORDS_FAILED, queue=_queue(record), outcome="error")
                log.exception("record", exc, outcome="error", duration_ms=ctx.elapsed_ms())
            else:
                log.info("record", outcome="ok", duration_ms=ctx.elapsed_ms())
    return {"batchItemFailures": failures}


def _queue(record: SqsRecord) -> str:
    """The queue's name, from its ARN (arn:aws:sqs:<region>:<account>:<name>)."""
    return record.event_source_arn.rsplit(":", 1)[-1]


def _queue_age(record: SqsRecord) -> None:
    """How long the message waited: SQS's SentTimestamp (ms) to now."""
    sent = record.attributes.get("SentTimestamp")
    try:
        age = max(0.0, time.time() * 1000 - float(sent))
    except (TypeError, ValueError):
        return
    metrics.value(metrics.QUEUE_AGE_MS, round(age, 1), "Milliseconds", queue=_queue(record))
