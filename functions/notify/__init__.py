"""The notify function: e-mail (and push) of notifications and invitations, one-click
unsubscribe.

HTTP API in ``notify.app`` (Lambda entry ``notify/handler.handler``: the unsubscribe route,
no session); the delivery worker and its dispatcher in ``notify.events`` (which does not import
the HTTP app). Deliveries are jobs of ``core.jobs`` (kind in ``notify.kinds``).
"""

FUNCTION = "notify"
# Settings every notify Lambda needs at cold start (serverless.yml gives each of them).
REQUIRED = ("supabase_service_role_key", "notify_queue_url", "notify_signing_secret")
