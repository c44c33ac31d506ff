"""What the files function does, independent of how it is invoked (HTTP or event)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

from core import aws, log
from core.auth import Caller
from core.errors import ApiError, forbidden, not_found
from core.limits import MAX_FILE_BYTES, content_matches_type
from core.rest import as_caller, as_service
from core.settings import Settings
from files.models import (
    FILE_COLUMNS,
    DownloadResponse,
    FileOut,
    ObjectCleanup,
    PresignedPost,
    UploadRequest,
    UploadResponse,
)


def _now() -> datetime:
    return datetime.now(UTC)


# --- upload signing (as the caller) ---------------------------------------------------------
def sign_upload(settings: Settings, caller: Caller, req: UploadRequest) -> UploadResponse:
    """Insert the pending row as the caller (RLS decides), then presign a POST for it."""
    row: dict[str, Any] = {
        "project_id": str(req.project_id) if req.project_id else None,
        "message_id": str(req.message_id) if req.message_id else None,
        "folder": req.folder,
        "name": req.name,
        "mime_type": req.content_type,
        "size_bytes": req.size_bytes,
        "checksum_sha256": req.checksum_sha256,
        "bucket": settings.files_bucket,
    }
    try:
        created = as_caller(settings, caller.token).insert("files", row, {"select": FILE_COLUMNS})
    except ApiError as exc:
        if exc.status == 403:
            raise forbidden(
                "you may not upload files there"
                " (a project: editors and above; a message: its author)"
            ) from None
        raise
    expires = settings.upload_url_expires_seconds
    key = created["object_key"]
    post = aws.s3(settings).generate_presigned_post(
        Bucket=settings.files_bucket,
        Key=key,
        Fields={"Content-Type": req.content_type},
        Conditions=[
            {"Content-Type": req.content_type},
            ["content-length-range", req.size_bytes, req.size_bytes],
        ],
        ExpiresIn=expires,
    )
    return UploadResponse(
        file=FileOut.model_validate(created),
        upload=PresignedPost(
            url=post["url"],
            fields=post["fields"],
            expires_at=_now() + timedelta(seconds=expires),
            max_bytes=req.size_bytes,
        ),
    )


# --- download signing (as the caller) -------------------------------------------------------
def sign_download(settings: Settings, caller: Caller, file_id: str) -> DownloadResponse:
    """A presigned GET for a ready file the caller can read; 404 for anyone who cannot."""
    rows = as_caller(settings, caller.token).select(
        "files", {"id": f"eq.{file_id}", "deleted_at": "is.null", "select": FILE_COLUMNS}
    )
    if not rows or rows[0]["bucket"] != settings.files_bucket:
        raise not_found("file not found")
    row = rows[0]
    if row["status"] != "ready":
        raise ApiError(409, "file_not_ready", f"file is {row['status']}, not ready")
    expires = settings.download_url_expires_seconds
    url = aws.s3(settings).generate_presigned_url(
        "get_object",
        Params={
            "Bucket": row["bucket"],
            "Key": row["object_key"],
            "ResponseContentType": row["mime_type"],
            "ResponseContentDisposition": "attachment; filename*=UTF-8''"
            + quote(row["name"], safe=""),
        },
        ExpiresIn=expires,
    )
    return DownloadResponse(
        file=FileOut.model_validate(row), url=url, expires_at=_now() + timedelta(seconds=expires)
    )


# --- object-created events (service role) -----------------------------------------------------
def _is_missing(exc: Exception) -> bool:
    response = getattr(exc, "response", None) or {}
    code = str((response.get("Error") or {}).get("Code", ""))
    return code in ("404", "NoSuchKey", "NotFound")


def _mark(
    settings: Settings, file_id: str, status_now: str, values: dict[str, Any], **filters: str
) -> bool:
    """Move a row on from ``status_now`` (and ``filters``); False when it was not there."""
    updated = as_service(settings).update(
        "files",
        {"id": f"eq.{file_id}", "status": f"eq.{status_now}", "select": "id", **filters},
        values,
    )
    return bool(updated)


def _problems(
    s3: Any, bucket: str, key: str, row: dict[str, Any], head: dict[str, Any]
) -> list[str]:
    """What is wrong with the stored object compared with the row (empty list: nothing)."""
    problems: list[str] = []
    size = int(head["ContentLength"])
    if size > MAX_FILE_BYTES:
        problems.append(f"size {size} exceeds the limit of {MAX_FILE_BYTES} bytes")
    if size != row["size_bytes"]:
        problems.append(f"size {size} differs from the declared {row['size_bytes']} bytes")
    content_type = head.get("ContentType", "")
    if content_type != row["mime_type"]:
        problems.append(f"type {content_type!r} differs from the declared {row['mime_type']!r}")
    if problems:
        return problems  # never read an object of the wrong size
    body = s3.get_object(Bucket=bucket, Key=key)["Body"]
    digest = hashlib.sha256()
    first = b""
    for chunk in body.iter_chunks(chunk_size=1024 * 1024):
        if len(first) < 16:
            first += chunk[:16]
        digest.update(chunk)
    if digest.hexdigest() != row["checksum_sha256"]:
        problems.append("checksum differs from the declared SHA-256")
    if not content_matches_type(row["mime_type"], first):
        problems.append(f"content is not {row['mime_type']}")
    return problems


def verify_uploaded_object(settings: Settings, bucket: str, key: str) -> str:
    """Check an uploaded object against its row; mark it ready, or delete it and mark failed.

    Safe to repeat: a pending row moves on once; a ready row is re-checked, so an object
    replaced after verification (a second upload with a still-valid URL) is removed and the
    row failed; an object arriving for a failed or unknown row is removed. Returns the outcome
    for the log line.
    """
    if bucket != settings.files_bucket:
        return "ignored_other_bucket"
    rows = as_service(settings).select("files", {"object_key": f"eq.{key}", "select": FILE_COLUMNS})
    s3 = aws.s3(settings)
    if not rows or rows[0]["status"] == "failed":
        if key.startswith("files/"):
            s3.delete_object(Bucket=bucket, Key=key)
            return "unexpected_object_deleted"
        return "ignored_untracked"
    row = rows[0]
    try:
        head = s3.head_object(Bucket=bucket, Key=key)
    except Exception as exc:
        if _is_missing(exc):
            return "object_gone"
        raise
    problems = _problems(s3, bucket, key, row, head)
    if not problems:
        if row["status"] == "ready":
            return "already_ready"
        # Never once past the TTL: the expiry may already have queued the object's removal
        # (it then fails the row). Not marked: another delivery did it, or too late.
        cutoff = _now() - timedelta(seconds=settings.pending_upload_ttl_seconds)
        if _mark(
            settings,
            row["id"],
            "pending",
            {"status": "ready"},
            created_at=f"gte.{cutoff.isoformat()}",
        ):
            return "ready"
        return "not_marked"
    s3.delete_object(Bucket=bucket, Key=key)
    reason = "; ".join(problems)
    _mark(settings, row["id"], row["status"], {"status": "failed", "failure_reason": reason})
    log.warning("upload rejected", file_id=row["id"], reason=reason)
    return "failed"


# --- cleanup queue (service role) ---------------------------------------------------------------
def enqueue_cleanup(settings: Settings, messages: list[ObjectCleanup]) -> int:
    """Queue the removals, ten to a batch; raise unless SQS took every message. SQS reports
    refused entries in ``Failed`` without raising, so they are checked here: the webhook then
    answers 503 (Supabase retries it) and the schedule fails visibly. A retry may queue a
    removal twice, which is harmless."""
    sqs = aws.sqs(settings)
    for i in range(0, len(messages), 10):
        chunk = messages[i : i + 10]
        answer = sqs.send_message_batch(
            QueueUrl=settings.files_cleanup_queue_url,
            Entries=[
                {"Id": str(n), "MessageBody": m.model_dump_json()} for n, m in enumerate(chunk)
            ],
        )
        if failed := answer.get("Failed"):
            log.warning(
                "cleanup messages refused",
                refused=[{k: f.get(k) for k in ("Code", "Message", "SenderFault")} for f in failed],
            )
            raise ApiError(
                503,
                "queue_unavailable",
                f"the cleanup queue refused {len(failed)} of {len(chunk)} messages",
            )
    return len(messages)


def delete_object(settings: Settings, message: ObjectCleanup) -> None:
    aws.s3(settings).delete_object(Bucket=message.bucket, Key=message.key)


# --- schedule (service role) ---------------------------------------------------------------
EXPIRE_BATCH = 100


def expire_pending_uploads(settings: Settings, now: datetime | None = None) -> int:
    """Fail uploads still pending after the TTL, after queueing their objects' removal.

    Queue first, then mark: if queueing fails, the rows stay pending and the next run queues
    them again (removal is idempotent). The mark is conditional on ``pending``, and a row past
    the TTL can no longer become ready (:func:`verify_uploaded_object`), so no ready file's
    object is ever queued for removal.
    """
    cutoff = (now or _now()) - timedelta(seconds=settings.pending_upload_ttl_seconds)
    svc = as_service(settings)
    expired = 0
    while True:
        rows = svc.select(
            "files",
            {
                "status": "eq.pending",
                "created_at": f"lt.{cutoff.isoformat()}",
                "select": "id,bucket,object_key",
                "order": "created_at",
                "limit": str(EXPIRE_BATCH),
            },
        )
        enqueue_cleanup(
            settings,
            [
                ObjectCleanup(
                    bucket=r["bucket"], key=r["object_key"], file_id=r["id"], reason="expired"
                )
                for r in rows
            ],
        )
        if rows:
            marked = svc.update(
                "files",
                {
                    "id": f"in.({','.join(r['id'] for r in rows)})",
                    "status": "eq.pending",
                    "select": "id",
                },
                {"status": "failed", "failure_reason": "upload not completed in time"},
            )
            expired += len(marked)
        if len(rows) < EXPIRE_BATCH:
            return expired
