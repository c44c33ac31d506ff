"""Lambda entry points of the documents function for non-HTTP events (``documents/events.<name>``):

* ``process_jobs``: the SQS worker of generation jobs (partial batch failures);
* ``dispatch_jobs``: the EventBridge schedule (every minute) that sends jobs nobody sent and
  re-queues jobs stuck running.

Kept apart from ``documents.handler`` so these Lambdas never build the HTTP app.
"""

from __future__ import annotations

from typing import Any

from core.jobs import run_schedule, run_sqs_batch
from core.settings import load_settings
from documents import DOCUMENT_JOBS, FUNCTION, REQUIRED

settings = load_settings(*REQUIRED)


def _generate(job: Any) -> Any:
    from documents.service import generate  # the provider chain: only when a job runs

    return generate(job)


def process_jobs(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Run the generation jobs named by the SQS messages; report only the failed records."""
    return run_sqs_batch(
        event,
        context,
        {DOCUMENT_JOBS.name: (DOCUMENT_JOBS, _generate)},
        function=f"{FUNCTION}.process_jobs",
        settings=settings,
    )


def dispatch_jobs(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Scheduled: send queued jobs nobody sent; re-queue or fail jobs stuck running."""
    return run_schedule(
        event, context, [DOCUMENT_JOBS], function=f"{FUNCTION}.dispatch_jobs", settings=settings
    )
