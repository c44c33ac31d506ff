"""The AWS resources the functions expect, created in moto after it starts.

``ensure_resources`` is idempotent (moto keeps state in memory, so it runs on every ``up``).
Extend it with queues and S3 -> SQS notifications; return any new settings (for example queue
URLs) and they are added to ``.devstack/env`` and to the functions' environment.
"""

from __future__ import annotations

# The privacy exports bucket's lifecycle (serverless.yml says the same).
EXPORT_LIFECYCLE_RULES = [
    {
        "ID": "expire-exports-after-7-days",
        "Status": "Enabled",
        "Filter": {"Prefix": "exports/"},
        "Expiration": {"Days": 7},
        "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
    }
]


def ensure_resources(env: dict[str, str]) -> dict[str, str]:
    """Create what is missing; return extra ``NAME: value`` settings for the env file."""
    # Lazily: boto3 loads with devstack.events, and the other commands stay quick to start.
    from devstack.events import _client, ensure_queues

    s3 = _client("s3", env)
    existing = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
    for name in ("FILES_BUCKET", "PRIVACY_EXPORTS_BUCKET", "BACKUP_BUCKET"):
        bucket = env.get(name)
        if bucket and bucket not in existing:
            s3.create_bucket(Bucket=bucket)
    if env.get("PRIVACY_EXPORTS_BUCKET"):
        # as serverless.yml: exports are deleted after 7 days (moto stores the rule; AWS runs it)
        s3.put_bucket_lifecycle_configuration(
            Bucket=env["PRIVACY_EXPORTS_BUCKET"],
            LifecycleConfiguration={"Rules": EXPORT_LIFECYCLE_RULES},
        )
    ensure_kms_key(env)
    # Queues, dead-letter queues and the bucket's S3 -> SQS notification (devstack/events.py).
    return ensure_queues(env)


def ensure_kms_key(env: dict[str, str]) -> None:
    """The symmetric key whose data keys encrypt integration tokens, under its alias."""
    from devstack.events import _client

    alias = env.get("INTEGRATIONS_KMS_KEY_ID")
    if not alias:
        return
    kms = _client("kms", env)
    aliases = {a["AliasName"] for a in kms.list_aliases().get("Aliases", [])}
    if alias not in aliases:
        key_id = kms.create_key(Description="collab integrations tokens (local)")["KeyMetadata"][
            "KeyId"
        ]
        kms.create_alias(AliasName=alias, TargetKeyId=key_id)
