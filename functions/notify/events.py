"""Lambda entry points of the notify function for non-HTTP events (``notify/events.<name>``):

* ``process_deliveries``: SQS batches of deliveries through the job pipeline (``core.jobs``:
  claim, retries, partial batch failures, DLQ);
* ``dispatch_deliveries``: the every-minute schedule that sends queued deliveries (written by
  triggers, so no endpoint sends them) and re-queues stuck ones;
* ``queue_digests``: the 15-minute schedule that queues the daily digests due (the same
  queue and worker as the deliveries);
* ``process_ses_events``: SES bounce and complaint notifications (SES -> SNS -> SQS), which
  suppress their addresses (``notify.ses_events``).

Kept apart from ``notify.handler`` so these Lambdas never build the HTTP app.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from core import jobs, log
from core.batch import context_request_id, process_sqs_batch
from core.events import ScheduledEvent
from notify import FUNCTION, REQUIRED, service, ses_events
from notify.kinds import DELIVERIES, DIGESTS
from notify.settings import load_notify_settings

settings = load_notify_settings(*REQUIRED)


def handle_delivery(job: jobs.Job) -> Mapping[str, Any] | None:
    return service.deliver(settings, job)


def handle_digest(job: jobs.Job) -> Mapping[str, Any] | None:
    return service.send_digest(settings, job)


def process_deliveries(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """SQS: send each delivery (and digest) at most once; report only the failed records."""
    return jobs.run_sqs_batch(
        event,
        context,
        {
            DELIVERIES.name: (DELIVERIES, handle_delivery),
            DIGESTS.name: (DIGESTS, handle_digest),
        },
        function=f"{FUNCTION}.process_deliveries",
        settings=settings,
    )


def dispatch_deliveries(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Schedule (every minute): no delivery stays queued, none stays stuck sending."""
    return jobs.run_schedule(
        event,
        context,
        [DELIVERIES, DIGESTS],
        function=f"{FUNCTION}.dispatch_deliveries",
        settings=settings,
    )


def queue_digests(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Schedule (every 15 minutes): queue the daily digests due now (each person's
    digest_hour in their time_zone; one per person and local date) and send them."""
    scheduled = ScheduledEvent.model_validate(event)
    ctx = log.LogContext(
        function=f"{FUNCTION}.queue_digests",
        request_id=context_request_id(context),
        extra={"event_id": scheduled.id},
    )
    with log.bind(ctx):
        ids = service.queue_digests(settings)
        sent = 0
        for digest_id in ids:
            try:
                jobs.send(settings, DIGESTS, digest_id)
                sent += 1
            except Exception as exc:  # the dispatcher sends it after redispatch_after_s
                log.exception("digest send", exc, digest_id=digest_id)
        log.info("schedule", outcome="ok", queued=len(ids), sent=sent)
    return {"queued": len(ids), "sent": sent}


def process_ses_events(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """SQS (SES -> SNS): bounces and complaints suppress their addresses."""
    return process_sqs_batch(
        event,
        context,
        lambda record: ses_events.handle_record(settings, record),
        function=f"{FUNCTION}.process_ses_events",
    )
