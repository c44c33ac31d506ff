"""Lambda entry points of the integrations function for non-HTTP events
(``integrations/events.<name>``):

* ``process_syncs``: the sync queue (core.jobs.run_sqs_batch, partial batch failures);
* ``dispatch_syncs``: every minute, sends sync jobs nobody sent and re-queues stuck ones;
* ``schedule_syncs``: every 15 minutes, queues a sync of every connected GitHub / Google
  Docs integration that has links.

Never imports the HTTP app.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from core import log
from core.batch import context_request_id
from core.errors import ApiError
from core.events import ScheduledEvent
from core.rest import as_service
from integrations import FUNCTION, REQUIRED, config

if TYPE_CHECKING:  # pragma: no cover
    from core.jobs import Job

# The pipeline (core.jobs) and the sync (provider clients, KMS, AES-GCM) load on the first
# event, not on the cold import.
settings = config.load(*REQUIRED)


def _sync(job: Job) -> dict[str, Any]:
    from integrations import sync

    return sync.run(settings, job)


def process_syncs(event: dict[str, Any], context: Any) -> dict[str, Any]:
    from core.jobs import run_sqs_batch
    from integrations.jobs import SYNCS

    return run_sqs_batch(
        event,
        context,
        {SYNCS.name: (SYNCS, _sync)},
        function=f"{FUNCTION}.process_syncs",
        settings=settings,
    )


def dispatch_syncs(event: dict[str, Any], context: Any) -> dict[str, Any]:
    from core.jobs import run_schedule
    from integrations.jobs import SYNCS

    return run_schedule(
        event, context, [SYNCS], function=f"{FUNCTION}.dispatch_syncs", settings=settings
    )


def queue_scheduled_syncs() -> int:
    """One sync job per linked GitHub / Google Docs integration without one waiting."""
    from integrations.jobs import send_sync

    rest = as_service(settings)
    linked = rest.select("integration_links", {"select": "integration_id", "limit": "10000"})
    ids = sorted({str(r["integration_id"]) for r in linked})
    queued = 0
    for i in range(0, len(ids), 100):
        chunk = ids[i : i + 100]
        integrations = rest.select(
            "integrations",
            {
                "id": f"in.({','.join(chunk)})",
                "status": "in.(connected,error)",
                "provider": "in.(github,google_docs)",
                "project_id": "not.is.null",
                "select": "id,project_id,user_id",
            },
        )
        for integration in integrations:
            try:
                job = rest.insert(
                    "integration_syncs",
                    {
                        "integration_id": integration["id"],
                        "project_id": integration["project_id"],
                        "reason": "schedule",
                    },
                    {"select": "id"},
                )
            except ApiError as exc:
                if exc.status == 409:  # one is already waiting or running
                    continue
                raise
            send_sync(settings, str(job["id"]))
            queued += 1
    return queued


def schedule_syncs(event: dict[str, Any], context: Any) -> dict[str, Any]:
    scheduled = ScheduledEvent.model_validate(event)
    ctx = log.LogContext(
        function=f"{FUNCTION}.schedule_syncs",
        request_id=context_request_id(context),
        extra={"event_id": scheduled.id},
    )
    with log.bind(ctx):
        try:
            queued = queue_scheduled_syncs()
        except Exception as exc:
            log.exception("schedule", exc, outcome="error", duration_ms=ctx.elapsed_ms())
            raise
        log.info("schedule", outcome="ok", queued=queued, duration_ms=ctx.elapsed_ms())
    return {"queued": queued}
