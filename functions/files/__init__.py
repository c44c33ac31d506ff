"""The files function: HTTP API in ``files.app`` (Lambda entry ``files/handler.handler``),
S3, SQS and schedule handlers in ``files.events`` (which does not import the HTTP app)."""

FUNCTION = "files"
# Settings every files Lambda needs at cold start (serverless.yml gives each of them).
REQUIRED = ("files_bucket", "supabase_service_role_key", "files_cleanup_queue_url")
