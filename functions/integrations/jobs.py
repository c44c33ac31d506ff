"""The sync job kind on the shared pipeline (functions/core/jobs.py)."""

from __future__ import annotations

from core import jobs as pipeline
from core.jobs import JobKind
from core.settings import Settings

SYNCS = JobKind(
    name="integration_sync",
    table="integration_syncs",
    queue_url_setting="INTEGRATIONS_SYNC_QUEUE_URL",
    max_attempts=5,
    # a large first sync pages through a lot; past this its worker is taken for dead
    running_timeout_s=900,
    redispatch_after_s=60,
    unexpected_error="the sync failed unexpectedly; it will be retried",
)


def send_sync(settings: Settings, job_id: str) -> str:
    return pipeline.send(settings, SYNCS, job_id)
