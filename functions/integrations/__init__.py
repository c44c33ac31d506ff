"""The integrations function: OAuth connect (GitHub, Google Docs), envelope-encrypted
tokens, sync jobs and signed webhooks. HTTP API in ``integrations.app`` (Lambda entry
``integrations/handler.handler``); the sync worker and the schedules in
``integrations.events`` (which does not import the HTTP app)."""

FUNCTION = "integrations"
# Settings every integrations Lambda needs at cold start (serverless.yml gives each of them).
REQUIRED = (
    "supabase_service_role_key",
    "integrations_kms_key_id",
    "integrations_sync_queue_url",
)
