"""The AWS resources the functions expect, created in moto after it starts.

``ensure_resources`` is idempotent (moto keeps state in memory, so it runs on every ``up``).
Extend it with queues and S3 -> SQS notifications; return any new settings (for example queue
URLs) and they are added to ``.devstack/env`` and to the functions' environment.
"""

from __future__ import annotations

from typing import Any


def _client(service: str, env: dict[str, str]) -> Any:
    import boto3  # lazily: the other devstack commands stay quick to start

    return boto3.client(
        service,
        endpoint_url=env["AWS_ENDPOINT_URL"],
        region_name=env.get("AWS_DEFAULT_REGION", "us-east-1"),
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


def ensure_resources(env: dict[str, str]) -> dict[str, str]:
    """Create what is missing; return extra ``NAME: value`` settings for the env file."""
    s3 = _client("s3", env)
    bucket = env["FILES_BUCKET"]
    existing = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
    if bucket not in existing:
        s3.create_bucket(Bucket=bucket)
    # Queues, dead-letter queues and the bucket's S3 -> SQS notification (devstack/events.py).
    from devstack.events import ensure_queues

    return ensure_queues(env)
