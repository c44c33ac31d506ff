"""The delivery job kind of the job pipeline (``core.jobs``), used by the worker and the
dispatcher (``notify.events``)."""

from __future__ import annotations

from core.jobs import JobKind

# Delivery rows are written by triggers (the fan-out of a notification, the invite RPC), so
# no endpoint sends them: the every-minute dispatcher does, after redispatch_after_s.
DELIVERIES = JobKind(
    name="notification_delivery",
    table="notification_deliveries",
    queue_url_setting="NOTIFY_QUEUE_URL",
    queued="queued",
    running="sending",
    succeeded="sent",
    failed="failed",
    max_attempts=5,
    # the worker Lambda's timeout is 60 s
    running_timeout_s=120,
    redispatch_after_s=20,
    select="id,notification_id,invitation_id,user_id,channel,status,attempts,error,"
    "provider_message_id",
    unexpected_error="the message could not be sent; it will be tried again",
)

# Daily digests share the deliveries' queue and worker (the message's kind tells them apart).
DIGESTS = JobKind(
    name="notification_digest",
    table="notification_digests",
    queue_url_setting="NOTIFY_QUEUE_URL",
    queued="queued",
    running="sending",
    succeeded="sent",
    failed="failed",
    max_attempts=5,
    running_timeout_s=120,
    redispatch_after_s=20,
    select="id,user_id,digest_date,status,attempts,error,provider_message_id",
    unexpected_error="the digest could not be sent; it will be tried again",
)
