"""The assistant function (the seeds' ``/ai``): suggestions, formatting, validation, and
turning a transcript into requirements and tasks. HTTP only (``assistant/handler.handler``);
everything runs as the caller. Deterministic: no model is called, so answers are
reproducible and free."""

FUNCTION = "assistant"
# Settings the assistant needs at cold start (the service role counts rate limits).
REQUIRED = ("supabase_service_role_key",)
