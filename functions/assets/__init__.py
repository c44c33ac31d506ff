"""The assets function: 3D models and videos generated from a prompt by outside providers
(Meshy, Luma Dream Machine), landing as project files.

HTTP API in ``assets.app`` (generate, cancel, the providers' webhooks; Lambda entry
``assets/handler.handler``); the job worker, its dispatcher and the poller in
``assets.events``.
"""

from core.jobs import JobKind

FUNCTION = "assets"
# Settings every assets Lambda needs at cold start (serverless.yml gives each of them).
REQUIRED = ("supabase_service_role_key", "asset_jobs_queue_url", "files_bucket")

# One generation = one row of public.asset_jobs on the pipeline (core/jobs.py). The pipeline's
# run is the *submission*: the worker creates the provider's task and returns, so its
# "succeeded" is our "processing"; the poller (and the webhooks) take it from there.
ASSET_JOBS = JobKind(
    name="asset_generation",
    table="asset_jobs",
    queue_url_setting="ASSET_JOBS_QUEUE_URL",
    queued="queued",
    running="submitting",
    succeeded="processing",
    failed="failed",
    max_attempts=3,
    running_timeout_s=300,  # > the worker's Lambda timeout (60 s)
    redispatch_after_s=60,
    select=(
        "id,project_id,requested_by,kind,prompt,options,source_file_id,status,attempts,"
        "providers,provider,provider_task_id"
    ),
    unexpected_error="asset generation failed unexpectedly",
)
