"""The documents function: HTTP API in ``documents.app`` (generate, export; Lambda entry
``documents/handler.handler``), the job worker and its dispatcher in ``documents.events``."""

from core.jobs import JobKind

FUNCTION = "documents"
# Settings every documents Lambda needs at cold start (serverless.yml gives each of them).
REQUIRED = ("supabase_service_role_key", "document_jobs_queue_url")

# One generation job = one row of public.document_jobs (the pipeline: core/jobs.py).
DOCUMENT_JOBS = JobKind(
    name="document_generation",
    table="document_jobs",
    queue_url_setting="DOCUMENT_JOBS_QUEUE_URL",
    max_attempts=3,
    running_timeout_s=600,  # > the worker's Lambda timeout (300 s)
    redispatch_after_s=60,
    select="id,project_id,document_id,document_type,requested_by,instructions,status,attempts",
    unexpected_error="document generation failed unexpectedly",
)
