"""Lambda entry points of the files function for non-HTTP events (``files/events.<name>``):

* ``object_created``: S3 ``ObjectCreated`` notifications for the files bucket;
* ``cleanup_objects``: SQS batches of object removals (partial batch failures);
* ``expire_pending_uploads``: the EventBridge schedule.

Kept apart from ``files.handler`` so these Lambdas never build the HTTP app (Starlette,
Mangum, ``core.http``) on a cold start.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from core import log
from core.batch import PermanentRecordError, context_request_id, process_sqs_batch
from core.events import S3Event, S3TestEvent, ScheduledEvent, SqsRecord
from core.settings import load_settings
from files import FUNCTION, REQUIRED, service
from files.models import ObjectCleanup

settings = load_settings(*REQUIRED)


def object_created(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Verify each uploaded object; raise if any record failed so Lambda retries the event
    (processing is idempotent: rows no longer pending are skipped)."""
    request_id = context_request_id(context)
    if "Event" in event:
        S3TestEvent.model_validate(event)
        return {"records": 0}
    parsed = S3Event.model_validate(event)
    failed = 0
    for record in parsed.records:
        ctx = log.LogContext(
            function=f"{FUNCTION}.object_created",
            request_id=request_id,
            extra={"bucket": record.s3.bucket.name, "key": record.object_key},
        )
        with log.bind(ctx):
            if not record.is_object_created:
                log.info("record", outcome="ignored", event_name=record.event_name)
                continue
            try:
                outcome = service.verify_uploaded_object(
                    settings, record.s3.bucket.name, record.object_key
                )
            except Exception as exc:
                failed += 1
                log.exception("record", exc, outcome="error", duration_ms=ctx.elapsed_ms())
            else:
                log.info("record", outcome=outcome, duration_ms=ctx.elapsed_ms())
    if failed:
        raise RuntimeError(f"{failed} of {len(parsed.records)} records failed; retrying the event")
    return {"records": len(parsed.records)}


def _cleanup_record(record: SqsRecord) -> None:
    try:
        message = ObjectCleanup.model_validate_json(record.body)
    except ValidationError as exc:
        raise PermanentRecordError(
            f"not an object cleanup message: {exc.error_count()} errors"
        ) from None
    if message.bucket != settings.files_bucket:
        raise PermanentRecordError(f"bucket {message.bucket!r} is not this function's bucket")
    service.delete_object(settings, message)


def cleanup_objects(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Remove objects named by SQS messages; report only the failed records."""
    return process_sqs_batch(
        event, context, _cleanup_record, function=f"{FUNCTION}.cleanup_objects"
    )


def expire_pending_uploads(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Scheduled: queue removal of uploads that never arrived, then fail their rows."""
    scheduled = ScheduledEvent.model_validate(event)
    ctx = log.LogContext(
        function=f"{FUNCTION}.expire_pending_uploads",
        request_id=context_request_id(context),
        extra={"event_id": scheduled.id},
    )
    with log.bind(ctx):
        try:
            expired = service.expire_pending_uploads(settings, now=scheduled.time)
        except Exception as exc:
            log.exception("schedule", exc, outcome="error", duration_ms=ctx.elapsed_ms())
            raise
        log.info("schedule", outcome="ok", expired=expired, duration_ms=ctx.elapsed_ms())
    return {"expired": expired}
