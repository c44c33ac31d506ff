"""Lambda entry points of the privacy function for non-HTTP events (``privacy/events.<name>``):

* ``process_requests``: SQS batches of privacy jobs (export, erasure) through the job
  pipeline (``core.jobs``: claim, retries, partial batch failures, DLQ);
* ``dispatch_requests``: the every-minute schedule that (re)sends pending requests and
  re-queues stuck ones;
* ``purge_soft_deleted``: the daily 30-day purge, with the purged files' S3 objects;
* ``archive_audit_logs``: the daily audit retention (archive to S3, then delete).

Kept apart from ``privacy.handler`` so these Lambdas never build the HTTP app.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from core import jobs, log
from core.batch import context_request_id
from core.events import ScheduledEvent
from privacy import FUNCTION, REQUIRED, service
from privacy.kinds import PRIVACY_REQUESTS
from privacy.settings import load_privacy_settings

settings = load_privacy_settings(*REQUIRED)


def handle_request(job: jobs.Job) -> Mapping[str, Any] | None:
    """One privacy request: the row's kind says which."""
    work = {"export": service.run_export, "erasure": service.run_erasure}.get(job.row["kind"])
    if work is None:
        raise jobs.PermanentJobError(f"unknown request kind {job.row['kind']!r}")
    try:
        return work(settings, job.row)
    except service.PrivacyJobError as exc:
        if exc.permanent:
            raise jobs.PermanentJobError(exc.message) from exc
        raise jobs.RetryableJobError(exc.message) from exc


def process_requests(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """SQS: run each privacy job once; report only the failed records."""
    return jobs.run_sqs_batch(
        event,
        context,
        {PRIVACY_REQUESTS.name: (PRIVACY_REQUESTS, handle_request)},
        function=f"{FUNCTION}.process_requests",
        settings=settings,
    )


def dispatch_requests(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Schedule (every minute): no request stays pending, none stays stuck processing."""
    return jobs.run_schedule(
        event,
        context,
        [PRIVACY_REQUESTS],
        function=f"{FUNCTION}.dispatch_requests",
        settings=settings,
    )


def _schedule(
    name: str, event: dict[str, Any], context: Any, work: Callable[[], dict[str, Any]]
) -> dict[str, Any]:
    scheduled = ScheduledEvent.model_validate(event)
    ctx = log.LogContext(
        function=f"{FUNCTION}.{name}",
        request_id=context_request_id(context),
        extra={"event_id": scheduled.id},
    )
    with log.bind(ctx):
        try:
            result = work()
        except Exception as exc:
            log.exception("schedule", exc, outcome="error", duration_ms=ctx.elapsed_ms())
            raise
        log.info("schedule", outcome="ok", duration_ms=ctx.elapsed_ms(), **result)
    return result


def purge_soft_deleted(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Schedule (daily): rows soft-deleted more than 30 days ago go, with their objects."""
    return _schedule(
        "purge_soft_deleted", event, context, lambda: service.purge_soft_deleted(settings)
    )


def archive_audit_logs(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Schedule (daily): audit entries past the retention go to S3, then out of the table."""
    return _schedule(
        "archive_audit_logs", event, context, lambda: service.archive_audit_logs(settings)
    )
