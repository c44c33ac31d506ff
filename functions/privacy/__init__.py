"""The privacy function: GDPR/CCPA export and erasure, the 30-day purge and audit retention.

HTTP API in ``privacy.app`` (Lambda entry ``privacy/handler.handler``); the queue worker,
its dispatcher and the schedules in ``privacy.events`` (which does not import the HTTP app).
"""

FUNCTION = "privacy"
# Settings every privacy Lambda needs at cold start (serverless.yml gives each of them).
REQUIRED = ("supabase_service_role_key", "privacy_exports_bucket", "privacy_queue_url")
