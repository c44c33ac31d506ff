"""Lambda entry points of the assets function for non-HTTP events (``assets/events.<name>``):

* ``process_jobs``: the SQS worker (core.jobs pipeline): creates each job's provider task;
* ``dispatch_jobs``: every minute, sends jobs nobody sent and re-queues stuck submissions;
* ``poll_jobs``: every minute, advances processing jobs (progress; artefacts into files;
  fallback on a failed or timed-out task).

Kept apart from ``assets.handler`` so these Lambdas never build the HTTP app.
"""

from __future__ import annotations

from typing import Any

from assets import ASSET_JOBS, FUNCTION, REQUIRED
from assets.settings import load_asset_settings
from core import log
from core.batch import context_request_id
from core.events import ScheduledEvent
from core.jobs import run_schedule, run_sqs_batch

settings = load_asset_settings(*REQUIRED)


def _submit(job: Any) -> Any:
    from assets.service import submit  # the providers: only when a job runs

    return submit(job)


def process_jobs(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Create the provider tasks of the jobs named by the SQS messages (partial failures)."""
    return run_sqs_batch(
        event,
        context,
        {ASSET_JOBS.name: (ASSET_JOBS, _submit)},
        function=f"{FUNCTION}.process_jobs",
        settings=settings,
    )


def dispatch_jobs(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Scheduled: send queued jobs nobody sent; re-queue or fail submissions stuck running."""
    return run_schedule(
        event, context, [ASSET_JOBS], function=f"{FUNCTION}.dispatch_jobs", settings=settings
    )


def poll_jobs(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Scheduled: look at every processing job's task at its provider."""
    from assets.service import poll

    scheduled = ScheduledEvent.model_validate(event)
    ctx = log.LogContext(
        function=f"{FUNCTION}.poll_jobs",
        request_id=context_request_id(context),
        extra={"event_id": scheduled.id},
    )
    with log.bind(ctx):
        outcomes = poll(settings)
        log.info("poll", outcome="ok", **outcomes)
    return outcomes
