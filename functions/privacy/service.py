"""What the privacy function does, independent of how it is invoked (HTTP, queue, schedule).

* As the caller (HTTP): file an export or an erasure, presign the download of an export.
* As the service role (worker): build the export archive, carry out the erasure; run the
  30-day purge and the audit retention.
"""

from __future__ import annotations

import gzip
import json
import time
import zipfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol
from urllib.parse import quote

from core import aws, log
from core.auth import Caller
from core.errors import ApiError, not_found
from core.rest import Rest, as_caller, as_service, http_client
from privacy.archive import MultipartWriter
from privacy.models import REQUEST_COLUMNS, ErasureRequest, ExportDownload
from privacy.settings import PrivacySettings


def _now() -> datetime:
    return datetime.now(UTC)


class PrivacyJobError(Exception):
    """The request cannot be done (``permanent``) or not now; ``message`` is for the person."""

    def __init__(self, message: str, *, permanent: bool) -> None:
        super().__init__(message)
        self.message = message
        self.permanent = permanent


# --- filing requests (as the caller) ------------------------------------------------------------
def file_request(settings: PrivacySettings, caller: Caller, kind: str) -> dict[str, Any]:
    """Insert the request as the caller (RLS: for themselves); 409 while one is open."""
    try:
        return as_caller(settings, caller.token).insert(
            "privacy_requests", {"kind": kind}, {"select": REQUEST_COLUMNS}
        )
    except ApiError as exc:
        if exc.status == 409:
            raise ApiError(
                409, f"{kind}_already_open", f"an {kind} request of yours is still open"
            ) from None
        if exc.status == 403 and "reauthentication_required" in exc.message:
            raise reauthentication_required(settings) from None
        raise


def reauthentication_required(settings: PrivacySettings) -> ApiError:
    minutes = settings.privacy_reauth_seconds // 60
    return ApiError(
        403,
        "reauthentication_required",
        f"an erasure needs a sign-in in the last {minutes} minutes: sign in again",
    )


def last_authentication(claims: dict[str, Any]) -> float | None:
    """When the person last proved who they are: the newest ``amr`` timestamp (a refresh
    keeps them and mints only a new ``iat``); ``iat`` for a token without the claim."""
    amr = claims.get("amr")
    if isinstance(amr, list):
        times = [
            entry["timestamp"]
            for entry in amr
            if isinstance(entry, dict)
            and isinstance(entry.get("timestamp"), int)
            and not isinstance(entry.get("timestamp"), bool)
            and 0 <= entry["timestamp"] < 10**12
        ]
        return float(max(times)) if times else None
    issued = claims.get("iat")
    if isinstance(issued, int | float) and not isinstance(issued, bool):
        return float(issued)
    return None


def check_erasure(
    settings: PrivacySettings, caller: Caller, body: ErasureRequest, now: float | None = None
) -> None:
    """A recent sign-in, and the account's email typed again; ApiError otherwise."""
    now = time.time() if now is None else now
    authenticated_at = last_authentication(caller.claims)
    if authenticated_at is None or authenticated_at < now - settings.privacy_reauth_seconds:
        raise reauthentication_required(settings)
    rows = as_caller(settings, caller.token).select(
        "profiles", {"id": f"eq.{caller.user_id}", "select": "email"}
    )
    email = (rows[0].get("email") if rows else None) or caller.email or ""
    if not email or body.confirm.strip().casefold() != email.strip().casefold():
        raise ApiError(
            422, "confirmation_mismatch", "confirm: must be the email address of this account"
        )


# --- export download (as the caller) ------------------------------------------------------------
def _parse_location(location: str) -> tuple[str, str]:
    bucket, _, key = location.removeprefix("s3://").partition("/")
    return bucket, key


def sign_export_download(
    settings: PrivacySettings, caller: Caller, request_id: str
) -> ExportDownload:
    """A presigned GET of the caller's own completed export; 404 for anyone else."""
    rows = as_caller(settings, caller.token).select(
        "privacy_requests", {"id": f"eq.{request_id}", "select": REQUEST_COLUMNS}
    )
    if not rows or rows[0]["kind"] != "export" or rows[0]["user_id"] != caller.user_id:
        raise not_found("export not found")
    row = rows[0]
    if row["status"] != "completed":
        raise ApiError(409, "export_not_ready", f"the export is {row['status']}, not completed")
    archive_expires = datetime.fromisoformat(row["expires_at"]) if row["expires_at"] else None
    now = _now()
    if not row["result_location"] or archive_expires is None or archive_expires <= now:
        raise ApiError(410, "export_expired", "the export has expired; ask for a new one")
    bucket, key = _parse_location(row["result_location"])
    if bucket != settings.privacy_exports_bucket:
        raise not_found("export not found")
    expires = min(
        settings.download_url_expires_seconds, int((archive_expires - now).total_seconds())
    )
    url = aws.s3(settings).generate_presigned_url(
        "get_object",
        Params={
            "Bucket": bucket,
            "Key": key,
            "ResponseContentType": "application/zip",
            "ResponseContentDisposition": "attachment; filename*=UTF-8''"
            + quote(f"export-{request_id}.zip", safe=""),
        },
        ExpiresIn=max(expires, 1),
    )
    return ExportDownload(
        url=url,
        expires_at=now + timedelta(seconds=max(expires, 1)),
        archive_expires_at=archive_expires,
    )


# --- the export job (service role) --------------------------------------------------------------
def export_key(user_id: str, request_id: str) -> str:
    return f"exports/{user_id}/{request_id}.zip"


def export_pages(
    svc: Rest, user_id: str, schema: str, table: str, page_size: int
) -> Iterator[list[dict[str, Any]]]:
    """The rows of one table about the person, a keyset page at a time."""
    after: Any = None
    while True:
        page = svc.rpc(
            "privacy_export_page",
            {
                "user_id": user_id,
                "table_schema": schema,
                "table_name": table,
                "after_key": after,
                "page_size": page_size,
            },
        )
        rows = page.get("rows") or []
        if rows:
            yield rows
        if len(rows) < page_size:
            return
        after = page["last_key"]


@dataclass
class ExportSummary:
    tables: dict[str, int] = field(default_factory=dict)
    files: int = 0
    file_bytes: int = 0
    missing_files: list[str] = field(default_factory=list)
    size_bytes: int = 0
    peak_part_buffer: int = 0


_README = """\
Your data, as stored by the collaboration platform
==================================================

Request:   {request_id}
Person:    {user_id}
Exported:  {exported_at}
Expires:   {expires_at} (the archive is deleted then; ask for a new export any time)

What is in this archive
-----------------------

data/<schema>.<table>.json
    One JSON array per table: every row that refers to you, found through the
    database's own foreign keys to your account (auth.users / profiles) and the
    columns that name a person without a key (the audit trail's actor, subject
    and target, with the IP address and user agent it recorded). Each row is the
    table's columns as stored; timestamps are UTC (ISO 8601).
    data/auth.users.json is your sign-in account (email, phone, sign-up and
    sign-in times, metadata); passwords and tokens are never exported.

files/<file id>/<file name>
    The content of every file you uploaded (as listed in data/public.files.json).

README.txt
    This file.

Rows per table
--------------
{tables}

Files: {files} ({file_bytes} bytes){missing}

Not included: secrets held for you (integration access tokens, OAuth state),
which are never readable, and rate-limit counters.
"""


def _readme(request_id: str, user_id: str, expires_at: datetime, summary: ExportSummary) -> str:
    tables = "\n".join(f"  {name:<40} {count:>9}" for name, count in summary.tables.items())
    missing = (
        "\nFiles listed but no longer stored: " + ", ".join(summary.missing_files)
        if summary.missing_files
        else ""
    )
    return _README.format(
        request_id=request_id,
        user_id=user_id,
        exported_at=_now().isoformat(timespec="seconds"),
        expires_at=expires_at.isoformat(timespec="seconds"),
        tables=tables,
        files=summary.files,
        file_bytes=summary.file_bytes,
        missing=missing,
    )


def _is_missing(exc: Exception) -> bool:
    response = getattr(exc, "response", None) or {}
    code = str((response.get("Error") or {}).get("Code", ""))
    return code in ("404", "NoSuchKey", "NotFound")


def _write_files(
    zf: zipfile.ZipFile,
    settings: PrivacySettings,
    svc: Rest,
    user_id: str,
    summary: ExportSummary,
) -> None:
    s3 = aws.s3(settings)
    for rows in export_pages(svc, user_id, "public", "files", settings.privacy_export_page_size):
        for row in rows:
            if row.get("uploaded_by") != user_id or row.get("status") != "ready":
                continue
            if row.get("bucket") != settings.files_bucket:
                continue
            try:
                body = s3.get_object(Bucket=row["bucket"], Key=row["object_key"])["Body"]
            except Exception as exc:
                if _is_missing(exc):
                    summary.missing_files.append(str(row["id"]))
                    continue
                raise
            name = f"files/{row['id']}/{row['name']}"
            with zf.open(zipfile.ZipInfo(name, date_time=_zip_time()), "w") as out:
                for chunk in body.iter_chunks(chunk_size=1024 * 1024):
                    out.write(chunk)
                    summary.file_bytes += len(chunk)
            summary.files += 1


def _zip_time() -> tuple[int, int, int, int, int, int]:
    now = _now()
    return (now.year, now.month, now.day, now.hour, now.minute, now.second)


def parse_batch(body: bytes) -> tuple[dict[str, Any], list[tuple[str, int, memoryview]]]:
    """One ``rpc/privacy_export_batch`` answer: its header (``next_table``, ``next_key``,
    ``done``) and its segments as ``(table, rows, JSON text of the rows)``; the segments are
    views of the answer, not copies."""
    newline = body.index(b"\n")
    header = json.loads(body[:newline])
    view = memoryview(body)
    segments = []
    at = newline + 1
    for segment in header["segments"]:
        end = at + int(segment["bytes"])
        segments.append((str(segment["table"]), int(segment["count"]), view[at:end]))
        at = end
    if at != len(body):
        raise ValueError("the export batch is shorter or longer than its header says")
    return header, segments


def export_batches(
    settings: PrivacySettings, svc: Rest, user_id: str
) -> Iterator[tuple[str, int, memoryview]]:
    """The segments of the person's rows, table after table (``rpc/privacy_export_batch``):
    ``(table, rows, their JSON text)``, many tables and up to ``privacy_export_batch_rows``
    rows a round trip, as raw text (nothing escaped twice, no object per row). The next batch
    is asked for while the caller compresses and uploads this one (the database and the
    worker work at once); at most two batches are held."""

    def fetch(after_table: int, after_key: Any) -> tuple[dict[str, Any], Any]:
        body = svc.read_bytes(
            "POST",
            "rpc/privacy_export_batch",
            json={
                "user_id": user_id,
                "after_table": after_table,
                "after_key": after_key,
                "max_rows": settings.privacy_export_batch_rows,
            },
            headers={"Accept": "text/plain"},
            timeout=settings.privacy_bulk_rpc_timeout_seconds,
        )
        return parse_batch(body)

    with ThreadPoolExecutor(max_workers=1) as pool:
        header, segments = fetch(0, None)
        while True:
            ahead = (
                None
                if header["done"]
                else pool.submit(fetch, header["next_table"], header["next_key"])
            )
            yield from segments
            if ahead is None:
                return
            header, segments = ahead.result()


def _write_tables(
    zf: zipfile.ZipFile,
    settings: PrivacySettings,
    svc: Rest,
    user_id: str,
    summary: ExportSummary,
) -> None:
    """``data/<schema>.<table>.json`` for every table the catalog names, streamed: at most
    two batches of rows in memory at a time."""
    out: Any = None
    label = None
    try:
        for table, count, rows in export_batches(settings, svc, user_id):
            if table != label:
                if out is not None:
                    out.write(b"\n]\n" if summary.tables[label] else b"]\n")
                    out.close()
                label = table
                summary.tables[label] = 0
                info = zipfile.ZipInfo(f"data/{label}.json", date_time=_zip_time())
                info.compress_type = zipfile.ZIP_DEFLATED
                out = zf.open(info, "w", force_zip64=True)
                out.write(b"[")
            if count:
                out.write(b",\n" if summary.tables[label] else b"\n")
                out.write(rows)
                summary.tables[label] += count
        if out is not None:
            out.write(b"\n]\n" if summary.tables[label] else b"]\n")
    finally:
        if out is not None:
            out.close()


def run_export(settings: PrivacySettings, request: dict[str, Any]) -> dict[str, Any]:
    """Stream the person's archive to S3; the result columns of the completed request."""
    request_id = str(request["id"])
    user_id = request.get("user_id")
    if not user_id:
        raise PrivacyJobError("the account no longer exists", permanent=True)
    user_id = str(user_id)
    svc = as_service(settings)
    bucket = settings.privacy_exports_bucket
    assert bucket is not None
    key = export_key(user_id, request_id)
    expires_at = _now() + timedelta(days=settings.privacy_export_ttl_days)
    summary = ExportSummary()
    writer = MultipartWriter(
        aws.s3(settings), bucket, key, metadata={"privacy-request-id": request_id}
    )
    try:
        with zipfile.ZipFile(
            writer, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True, compresslevel=1
        ) as zf:
            _write_tables(zf, settings, svc, user_id, summary)
            _write_files(zf, settings, svc, user_id, summary)
            zf.writestr(
                zipfile.ZipInfo("README.txt", date_time=_zip_time()),
                _readme(request_id, user_id, expires_at, summary),
                compress_type=zipfile.ZIP_DEFLATED,
            )
        summary.size_bytes = writer.complete()
    except BaseException:
        try:
            writer.abort()
        except Exception as exc:  # the bucket's lifecycle rule removes the parts
            log.exception("abort multipart upload", exc, key=key)
        raise
    summary.peak_part_buffer = writer.peak_buffer
    if not svc.select("profiles", {"id": f"eq.{user_id}", "select": "id"}):
        # erased while the archive was being written: it must not outlive the person
        aws.s3(settings).delete_object(Bucket=bucket, Key=key)
        raise PrivacyJobError("the account was erased", permanent=True)
    log.info(
        "export written",
        request_id=request_id,
        rows=sum(summary.tables.values()),
        files=summary.files,
        size_bytes=summary.size_bytes,
    )
    return {
        "result_location": f"s3://{bucket}/{key}",
        "expires_at": expires_at.isoformat(),
    }


# --- the erasure job (service role) ----------------------------------------------------------
def bulk_rpc(settings: PrivacySettings, name: str, args: dict[str, Any]) -> Any:
    """An RPC that may do bulk work in one statement (an erasure's cascade, the purge): the
    HTTP timeout is the bulk one, not the default 10 s."""
    return (
        as_service(settings)
        .request(
            "POST", f"rpc/{name}", json=args, timeout=settings.privacy_bulk_rpc_timeout_seconds
        )
        .json()
    )


class AuthUsers(Protocol):
    """Deletes a sign-in account; False when it was already gone."""

    def delete(self, user_id: str) -> bool: ...


class AdminApiAuthUsers:
    """Supabase Auth's admin API: ``DELETE /auth/v1/admin/users/{id}`` with the service key."""

    def __init__(self, settings: PrivacySettings) -> None:
        self._base = settings.supabase_url.rstrip("/") + "/auth/v1"
        key = settings.supabase_service_role_key
        assert key is not None
        self._headers = {
            "apikey": key.get_secret_value(),
            "Authorization": f"Bearer {key.get_secret_value()}",
        }
        self._timeout = settings.privacy_bulk_rpc_timeout_seconds

    def delete(self, user_id: str) -> bool:
        response = http_client().delete(
            f"{self._base}/admin/users/{user_id}", headers=self._headers, timeout=self._timeout
        )
        if response.status_code == 404:
            return False
        if response.status_code >= 400:
            raise PrivacyJobError(
                f"the auth service answered {response.status_code} deleting the account",
                permanent=False,
            )
        return True


class RpcAuthUsers:
    """The local stand-in: ``rpc/delete_auth_user`` (service role only) deletes the row."""

    def __init__(self, settings: PrivacySettings) -> None:
        self._settings = settings

    def delete(self, user_id: str) -> bool:
        return bool(bulk_rpc(self._settings, "delete_auth_user", {"user_id": user_id}))


def auth_users(settings: PrivacySettings) -> AuthUsers:
    """The admin API when ``PRIVACY_AUTH_ADMIN_API`` is on, else the database stand-in."""
    if settings.privacy_auth_admin_api:
        return AdminApiAuthUsers(settings)
    return RpcAuthUsers(settings)


def delete_objects(s3: Any, bucket: str, keys: list[str]) -> int:
    """Delete keys (1000 to a request); raise if S3 refused any. Missing keys are fine."""
    for i in range(0, len(keys), 1000):
        chunk = keys[i : i + 1000]
        answer = s3.delete_objects(
            Bucket=bucket, Delete={"Objects": [{"Key": k} for k in chunk], "Quiet": True}
        )
        if errors := answer.get("Errors"):
            raise RuntimeError(
                f"S3 refused {len(errors)} deletions in {bucket}: {errors[0].get('Code')}"
            )
    return len(keys)


def delete_prefix(s3: Any, bucket: str, prefix: str) -> int:
    deleted = 0
    token: str | None = None
    while True:
        kwargs: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix}
        if token:
            kwargs["ContinuationToken"] = token
        page = s3.list_objects_v2(**kwargs)
        keys = [o["Key"] for o in page.get("Contents", [])]
        if keys:
            deleted += delete_objects(s3, bucket, keys)
        if not page.get("IsTruncated"):
            return deleted
        token = page.get("NextContinuationToken")


def run_erasure(settings: PrivacySettings, request: dict[str, Any]) -> dict[str, Any]:
    """Erase the person; every step is safe to repeat, so a retry finishes the job."""
    request_id = str(request["id"])
    svc = as_service(settings)
    subject = svc.rpc("begin_erasure", {"request_id": request_id})
    if not subject:
        log.info("erasure", request_id=request_id, outcome="nothing_left")
        return {}
    user_id, email = str(subject[0]["user_id"]), subject[0].get("email")
    objects = bulk_rpc(settings, "erase_person", {"user_id": user_id, "email": email}) or []
    s3 = aws.s3(settings)
    by_bucket: dict[str, list[str]] = {}
    for o in objects:
        by_bucket.setdefault(o["bucket"], []).append(o["object_key"])
    removed = 0
    for bucket, keys in by_bucket.items():
        if bucket != settings.files_bucket:
            log.warning("erasure skips a bucket that is not the files bucket", bucket=bucket)
            continue
        removed += delete_objects(s3, bucket, keys)
    assert settings.privacy_exports_bucket is not None
    removed += delete_prefix(s3, settings.privacy_exports_bucket, f"exports/{user_id}/")
    account_deleted = auth_users(settings).delete(user_id)
    redacted = bulk_rpc(settings, "finish_erasure", {"request_id": request_id})
    log.info(
        "erasure",
        request_id=request_id,
        outcome="erased",
        objects_deleted=removed,
        account_deleted=account_deleted,
        audit_entries_redacted=redacted,
    )
    return {}


# --- schedules (service role) --------------------------------------------------------------
def purge_soft_deleted(settings: PrivacySettings) -> dict[str, Any]:
    """Hard-delete rows soft-deleted more than 30 days ago, then their files' objects."""
    rows = bulk_rpc(settings, "purge_soft_deleted", {}) or []
    keys = [k for r in rows for k in (r.get("object_keys") or [])]
    purged = {r["table_name"]: r["purged"] for r in rows}
    if keys:
        assert settings.files_bucket is not None
        try:
            delete_objects(aws.s3(settings), settings.files_bucket, keys)
        except Exception:
            # the rows are gone: name the objects so a person can remove them
            log.error("purged files' objects not deleted", bucket=settings.files_bucket, keys=keys)
            raise
    return {"purged": purged, "objects_deleted": len(keys)}


AUDIT_PAGE = 1000
AUDIT_OBJECT_ROWS = 20_000


def _audit_origins(
    svc: Any, after: int, rows: list[dict[str, Any]], cutoff: datetime
) -> dict[int, dict[str, Any]]:
    """The IP and user agent (audit_log_origins) of a page of audit entries, by entry id: the
    retention deletes them with the entries (delete_archived_audit_logs), so they are
    archived with them, as ``ip`` and ``user_agent`` of the entry's line."""
    if not rows:
        return {}
    found = svc.select(
        "audit_log_origins",
        {
            "select": "audit_log_id,ip,user_agent",
            "and": f"(audit_log_id.gt.{after},audit_log_id.lte.{rows[-1]['id']})",
            "occurred_at": f"lt.{cutoff.isoformat()}",
            "order": "audit_log_id",
        },
    )
    return {o.pop("audit_log_id"): o for o in found}


def archive_audit_logs(settings: PrivacySettings, now: datetime | None = None) -> dict[str, Any]:
    """Audit entries older than the retention: to S3 as gzipped JSON Lines, then deleted.

    One object per run chunk (``audit/<cutoff date>/<first id>-<last id>.jsonl.gz``); the
    deletion names the last archived id, so an entry is deleted only once it is in S3.
    """
    bucket = settings.audit_archive_bucket
    if not bucket:
        raise RuntimeError("missing setting AUDIT_ARCHIVE_BUCKET")
    cutoff = (now or _now()) - timedelta(days=settings.audit_retention_days)
    svc = as_service(settings)
    s3 = aws.s3(settings)
    archived = deleted = 0
    after = 0
    objects: list[str] = []
    while True:
        lines: list[bytes] = []
        first = last = None
        while len(lines) < AUDIT_OBJECT_ROWS:
            rows = svc.select(
                "audit_logs",
                {
                    "occurred_at": f"lt.{cutoff.isoformat()}",
                    "id": f"gt.{after}",
                    "order": "id",
                    "limit": str(AUDIT_PAGE),
                },
            )
            origins = _audit_origins(svc, after, rows, cutoff)
            for row in rows:
                row.update(origins.get(row["id"], {}))
                lines.append(json.dumps(row, ensure_ascii=False).encode() + b"\n")
            if rows:
                first = first if first is not None else rows[0]["id"]
                last = after = rows[-1]["id"]
            if len(rows) < AUDIT_PAGE:
                break
        if not lines:
            break
        key = f"audit/{cutoff:%Y-%m-%d}/{first:012d}-{last:012d}.jsonl.gz"
        s3.put_object(
            Bucket=bucket,
            Key=key,
            Body=gzip.compress(b"".join(lines)),
            ContentType="application/x-ndjson",
            ContentEncoding="gzip",
            ServerSideEncryption="AES256",
        )
        objects.append(key)
        archived += len(lines)
        deleted += int(
            bulk_rpc(
                settings,
                "delete_archived_audit_logs",
                {"through_id": last, "older_than": cutoff.isoformat()},
            )
            or 0
        )
        if len(lines) < AUDIT_OBJECT_ROWS:
            break
    return {"archived": archived, "deleted": deleted, "objects": objects}
