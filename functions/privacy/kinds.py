"""The privacy job kind of the job pipeline (``core.jobs``), used by the HTTP app (send) and
the worker and dispatcher (``privacy.events``)."""

from __future__ import annotations

from core.jobs import JobKind

# Exports and erasures are rows of one table, so they are one job kind (the dispatcher scans
# the table by status); the worker looks at the row's `kind`.
PRIVACY_REQUESTS = JobKind(
    name="privacy_request",
    table="privacy_requests",
    queue_url_setting="PRIVACY_QUEUE_URL",
    queued="pending",
    running="processing",
    succeeded="completed",
    failed="failed",
    max_attempts=3,
    # the worker Lambda's timeout is 900 s; past that, its run is dead
    running_timeout_s=960,
    redispatch_after_s=60,
    finished_at_column="completed_at",
    select="id,user_id,kind,status,attempts,error,result_location,expires_at",
    unexpected_error="the request failed unexpectedly; it will be tried again",
)
EXPORT = ERASURE = PRIVACY_REQUESTS
