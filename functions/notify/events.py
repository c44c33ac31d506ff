"""Lambda entry points of the notify function for non-HTTP events (``notify/events.<name>``):

* ``process_deliveries``: SQS batches of deliveries through the job pipeline (``core.jobs``:
  claim, retries, partial batch failures, DLQ);
* ``dispatch_deliveries``: the every-minute schedule that sends queued deliveries (written by
  triggers, so no endpoint sends them) and re-queues stuck ones;
* ``process_ses_events``: SES bounce and complaint notifications (SES -> SNS -> SQS), which
  suppress their addresses (``notify.ses_events``).

Kept apart from ``notify.handler`` so these Lambdas never build the HTTP app.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from core import jobs
from core.batch import process_sqs_batch
from notify import FUNCTION, REQUIRED, service, ses_events
from notify.kinds import DELIVERIES
from notify.settings import load_notify_settings

settings = load_notify_settings(*REQUIRED)


def handle_delivery(job: jobs.Job) -> Mapping[str, Any] | None:
    return service.deliver(settings, job)


def process_deliveries(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """SQS: send each delivery at most once; report only the failed records."""
    return jobs.run_sqs_batch(
        event,
        context,
        {DELIVERIES.name: (DELIVERIES, handle_delivery)},
        function=f"{FUNCTION}.process_deliveries",
        settings=settings,
    )


def dispatch_deliveries(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Schedule (every minute): no delivery stays queued, none stays stuck sending."""
    return jobs.run_schedule(
        event,
        context,
        [DELIVERIES],
        function=f"{FUNCTION}.dispatch_deliveries",
        settings=settings,
    )


def process_ses_events(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """SQS (SES -> SNS): bounces and complaints suppress their addresses."""
    return process_sqs_batch(
        event,
        context,
        lambda record: ses_events.handle_record(settings, record),
        function=f"{FUNCTION}.process_ses_events",
    )
