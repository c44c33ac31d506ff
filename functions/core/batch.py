"""SQS batches with partial failures, and per-record logging.

A record handler raises to fail *its own* record; the batch answers
``{"batchItemFailures": [{"itemIdentifier": <messageId>}, ...]}`` so only those are
redelivered (the event source mapping needs ``functionResponseType: ReportBatchItemFailures``).
The same shape as aws-lambda-powertools' ``BatchProcessor`` without its import cost.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from core import log
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
            try:
                record_handler(record)
            except PermanentRecordError as exc:
                failures.append({"itemIdentifier": record.message_id})
                log.warning(
                    "record",
                    outcome="rejected",
                    reason=str(exc)[:500],
                    duration_ms=ctx.elapsed_ms(),
                )
            except Exception as exc:
                failures.append({"itemIdentifier": record.message_id})
                log.exception("record", exc, outcome="error", duration_ms=ctx.elapsed_ms())
            else:
                log.info("record", outcome="ok", duration_ms=ctx.elapsed_ms())
    return {"batchItemFailures": failures}
