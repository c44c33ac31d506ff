"""What the assets function does, independent of how it is invoked (HTTP or event).

* :func:`request_generation` / :func:`cancel` run **as the caller** (the RPCs decide who may).
* :func:`submit` is the job handler: it creates the provider's task (falling back along the
  chain) and returns; the job becomes ``processing``.
* :func:`advance` reads a processing job's task at its provider (the poller every minute, a
  webhook at once): progress; on success every artefact is copied into the files bucket and
  becomes a ``files`` row of the project (folder ``/generated``), verified by the files
  function's own check; a failed or timed-out task falls back to the next provider.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from assets import ASSET_JOBS
from assets.models import CancelAnswer, GenerateRequest, JobAccepted
from assets.providers import Artefact, AssetProvider, build_chain, make_provider
from assets.settings import AssetSettings
from core import aws, jobs, log
from core.auth import Caller
from core.errors import ApiError, forbidden, not_found
from core.jobs import Job, RetryableJobError
from core.limits import MAX_FILE_BYTES, content_matches_type
from core.providers import Circuits, ProviderCallError, call_with_retries
from core.rest import Rest, as_caller, as_service

IMAGE_TYPES = ("image/png", "image/jpeg", "image/webp")
FOLDER = "/generated"
ACTIVE = ("queued", "submitting", "processing")
# two deliveries (the schedule and a webhook) advance a job at most once per this many s
CLAIM_SECONDS = 5


def _now() -> datetime:
    return datetime.now(UTC)


def _iso(moment: datetime) -> str:
    # "Z", not "+00:00": no "+" to be read as a space in a query string
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# --- generate / cancel (as the caller) ----------------------------------------------------
def request_generation(
    settings: AssetSettings, caller: Caller, req: GenerateRequest, idempotency_key: str | None
) -> JobAccepted:
    rest = as_caller(settings, caller.token)
    if not rest.select("projects", {"id": f"eq.{req.project_id}", "select": "id"}):
        raise not_found("project not found")
    options = req.parsed_options()
    if options.source_file_id:
        files = rest.select(
            "files",
            {
                "id": f"eq.{options.source_file_id}",
                "deleted_at": "is.null",
                "select": "id,project_id,mime_type,status",
            },
        )
        if not files or files[0]["project_id"] != str(req.project_id):
            raise ApiError(
                422, "validation_failed", "options.source_file_id: no such file in this project"
            )
        if files[0]["mime_type"] not in IMAGE_TYPES:
            raise ApiError(
                422,
                "validation_failed",
                "options.source_file_id: must be a PNG, JPEG or WebP image",
            )
        if files[0]["status"] != "ready":
            raise ApiError(409, "file_not_ready", "options.source_file_id: the file is not ready")
    try:
        job_id = rest.rpc(
            "request_asset_generation",
            {
                "project_id": str(req.project_id),
                "kind": req.kind,
                "prompt": req.prompt,
                "options": options.model_dump(mode="json", exclude={"source_file_id"}),
                "source_file_id": str(options.source_file_id) if options.source_file_id else None,
                "idempotency_key": idempotency_key,
            },
        )
    except ApiError as exc:
        if exc.status == 403:
            raise forbidden("only project editors can generate assets") from None
        if exc.status == 400:
            raise ApiError(422, "validation_failed", exc.message) from None
        raise
    rows = rest.select(ASSET_JOBS.table, {"id": f"eq.{job_id}", "select": "status"})
    status = rows[0]["status"] if rows else "queued"
    if status == "queued":
        try:
            jobs.send(settings, ASSET_JOBS, job_id)
        except Exception as exc:  # the dispatcher sends it within a minute or two
            log.exception("send", exc, job_id=job_id, outcome="deferred_to_dispatcher")
    return JobAccepted(job_id=job_id, status=status)


def cancel(settings: AssetSettings, caller: Caller, job_id: str) -> CancelAnswer:
    rest = as_caller(settings, caller.token)
    rows = rest.select(ASSET_JOBS.table, {"id": f"eq.{job_id}", "select": "id"})
    if not rows:
        raise not_found("asset job not found")
    try:
        status = rest.rpc("cancel_asset_job", {"job_id": job_id})
    except ApiError as exc:
        if exc.status == 403:
            raise forbidden("only the requester or a project admin can cancel it") from None
        if exc.status == 400:
            raise not_found("asset job not found") from None
        raise
    if status == "canceled":
        job = as_service(settings).select(
            ASSET_JOBS.table, {"id": f"eq.{job_id}", "select": "provider,provider_task_id"}
        )
        if job and job[0]["provider"] and job[0]["provider_task_id"]:
            _cancel_task(settings, job[0]["provider"], job[0]["provider_task_id"])
    return CancelAnswer(job_id=job_id, status=status)


def _cancel_task(settings: AssetSettings, provider: str, task_id: str) -> None:
    try:
        make_provider(settings, provider).cancel(task_id)
    except (ProviderCallError, ValueError) as exc:  # the task then finishes unused
        log.warning("provider cancel", provider=provider, outcome="failed", reason=str(exc))


# --- the worker: create the provider's task ----------------------------------------------
def _source_url(settings: AssetSettings, rest: Rest, row: dict[str, Any]) -> str | None:
    if not row.get("source_file_id"):
        return None
    files = rest.select(
        "files",
        {
            "id": f"eq.{row['source_file_id']}",
            "project_id": f"eq.{row['project_id']}",
            "status": "eq.ready",
            "deleted_at": "is.null",
            "select": "bucket,object_key",
        },
    )
    if not files:
        raise jobs.PermanentJobError("the source image was deleted")
    return str(
        aws.s3(settings).generate_presigned_url(
            "get_object",
            Params={"Bucket": files[0]["bucket"], "Key": files[0]["object_key"]},
            ExpiresIn=settings.asset_source_url_expires_seconds,
        )
    )


def _callback(settings: AssetSettings, provider: str) -> str | None:
    if not (settings.assets_public_url and settings.asset_webhook_token):
        return None
    token = settings.asset_webhook_token.get_secret_value()
    return f"{settings.assets_public_url.rstrip('/')}/assets/webhooks/{provider}?token={token}"


def submit(job: Job, chain: list[AssetProvider] | None = None) -> dict[str, Any]:
    """The job handler: the first provider of the chain that takes the task wins. Providers
    that already failed this job (its task failed or timed out) are not asked again."""
    settings: AssetSettings = job.settings  # type: ignore[assignment]
    rest = as_service(settings)
    row = job.row
    chain = chain if chain is not None else build_chain(settings, row["kind"])
    circuits = Circuits(rest, settings.circuit_failure_threshold, settings.circuit_open_seconds)
    earlier = [p for p in (row.get("providers") or []) if p.get("phase") == "task"]
    spent = {p["provider"] for p in earlier}
    image_url = _source_url(settings, rest, row)
    record: list[dict[str, Any]] = list(earlier)
    for provider in chain:
        entry: dict[str, Any] = {"provider": provider.name, "phase": "create"}
        if provider.name in spent:
            continue
        record.append(entry)
        why_not = provider.unavailable()
        if why_not:
            entry.update(outcome="skipped", reason=why_not)
            continue
        key = f"asset:{provider.name}"
        until = circuits.open_until(key)
        if until:
            entry.update(outcome="skipped", reason=f"circuit open until {until}")
            continue
        try:
            task_id = call_with_retries(
                settings,
                entry,
                lambda p=provider: p.create(
                    row["prompt"], row.get("options") or {}, image_url, _callback(settings, p.name)
                ),
            )
        except ProviderCallError as exc:
            entry.update(outcome="failed", reason=exc.reason)
            circuits.record(key, False, exc.reason)
            continue
        circuits.record(key, True)
        entry.update(outcome="used")
        # named on the job at once: a cancel that came meanwhile stops the provider's task
        written = rest.update(
            ASSET_JOBS.table,
            {
                "id": f"eq.{job.id}",
                "status": "eq.submitting",
                "attempts": f"eq.{job.attempt}",
                "select": "id",
            },
            {"provider": provider.name, "provider_task_id": task_id},
        )
        if not written:
            _cancel_task(settings, provider.name, task_id)
        log.info("asset task created", job_id=job.id, provider=provider.name)
        return {
            "provider": provider.name,
            "provider_task_id": task_id,
            "providers": record,
            "progress": 0,
            "submitted_at": _iso(_now()),
        }
    raise RetryableJobError(
        "no provider took the task ("
        + ", ".join(f"{p['provider']} {p.get('outcome')}" for p in record if "outcome" in p)
        + ")",
        fields={"providers": record},
    )


# --- the poller and the webhooks: advance a processing job -----------------------------------
SELECT = (
    "id,project_id,requested_by,kind,prompt,options,status,attempts,provider,provider_task_id,"
    "providers,submitted_at,polled_at,file_ids"
)


def poll(settings: AssetSettings) -> dict[str, int]:
    """Every processing job, least recently looked at first."""
    rows = as_service(settings).select(
        ASSET_JOBS.table,
        {
            "status": "eq.processing",
            "select": "id",
            "order": "polled_at.asc.nullsfirst",
            "limit": str(settings.asset_poll_batch),
        },
    )
    outcomes: dict[str, int] = {}
    for row in rows:
        try:
            outcome = advance(settings, row["id"])
        except Exception as exc:  # one job's trouble never stops the others
            log.exception("advance", exc, job_id=row["id"])
            outcome = "error"
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    return outcomes


def job_for_task(settings: AssetSettings, provider: str, task_id: str) -> str | None:
    """The job a webhook's task id belongs to (Meshy's ids are kept with their endpoint)."""
    if not re.fullmatch(r"[A-Za-z0-9._-]{1,100}", task_id):
        return None
    ids = [task_id] if provider != "meshy" else [f"text-to-3d:{task_id}", f"image-to-3d:{task_id}"]
    rows = as_service(settings).select(
        ASSET_JOBS.table,
        {
            "provider": f"eq.{provider}",
            "provider_task_id": "in.(" + ",".join(f'"{i}"' for i in ids) + ")",
            "select": "id",
        },
    )
    return rows[0]["id"] if rows else None


def advance(
    settings: AssetSettings,
    job_id: str,
    *,
    now: datetime | None = None,
    claim_seconds: int = CLAIM_SECONDS,
) -> str:
    """Look at one processing job's task; returns the outcome for the log line. A webhook
    passes ``claim_seconds=0``: the provider says something changed, so look now."""
    now = now or _now()
    rest = as_service(settings)
    # claim: the schedule and a webhook do not both work on it within CLAIM_SECONDS. Read,
    # then a conditional update on the polled_at read (PostgREST 12 answered an or=() filter
    # on polled_at in this PATCH with "column asset_jobs.polled_at does not exist").
    seen = rest.select(ASSET_JOBS.table, {"id": f"eq.{job_id}", "select": "status,polled_at"})
    if not seen or seen[0]["status"] != "processing":
        return "not_processing"
    last = seen[0]["polled_at"]
    if last and datetime.fromisoformat(last) > now - timedelta(seconds=claim_seconds):
        return "not_claimed"
    claimed = rest.update(
        ASSET_JOBS.table,
        {
            "id": f"eq.{job_id}",
            "status": "eq.processing",
            "polled_at": "is.null" if last is None else f"eq.{last}",
            "select": SELECT,
        },
        {"polled_at": _iso(now)},
    )
    if not claimed:
        return "not_claimed"
    row = claimed[0]
    try:
        provider = make_provider(settings, row["provider"])
        status = provider.status(row["provider_task_id"], row.get("options") or {})
    except ProviderCallError as exc:
        if exc.retryable:
            return _unless_timed_out(settings, rest, row, now, f"status: {exc.reason}")
        return _fall_back(settings, rest, row, f"{row['provider']} answered a {exc.reason}")
    except ValueError as exc:  # a provider no longer configured
        return _finish(rest, row, "failed", error=str(exc))
    if status.state in ("pending", "running"):
        if status.progress is not None and status.progress != row.get("progress"):
            _set(rest, row, {"progress": status.progress})
        return _unless_timed_out(settings, rest, row, now, "still running")
    if status.state in ("failed", "canceled"):
        return _fall_back(settings, rest, row, status.error or f"the task {status.state}")
    try:
        file_ids = collect(settings, rest, row, status.artefacts)
    except CollectError as exc:
        return _finish(rest, row, "failed", error=exc.message)
    except (httpx.HTTPError, ProviderCallError) as exc:  # the download broke: next poll
        log.warning("collect", job_id=row["id"], outcome="retry", reason=str(exc))
        return _unless_timed_out(settings, rest, row, now, "downloading the artefacts failed")
    return _finish(rest, row, "succeeded", progress=100, file_ids=file_ids)


def _set(rest: Rest, row: dict[str, Any], values: dict[str, Any]) -> bool:
    return bool(
        rest.update(
            ASSET_JOBS.table,
            {
                "id": f"eq.{row['id']}",
                "status": "eq.processing",
                "attempts": f"eq.{row['attempts']}",
                "select": "id",
            },
            values,
        )
    )


def _finish(rest: Rest, row: dict[str, Any], status: str, **values: Any) -> str:
    if "error" in values:
        values["error"] = str(values["error"])[:2000]
    ok = _set(rest, row, {"status": status, "finished_at": _iso(_now()), **values})
    log.info("asset job", job_id=row["id"], outcome=status if ok else "superseded")
    return status if ok else "superseded"


def _unless_timed_out(
    settings: AssetSettings, rest: Rest, row: dict[str, Any], now: datetime, why: str
) -> str:
    submitted = datetime.fromisoformat(row["submitted_at"]) if row.get("submitted_at") else now
    if (now - submitted).total_seconds() <= settings.asset_task_timeout_seconds:
        return "waiting"
    _cancel_task(settings, row["provider"], row["provider_task_id"])
    return _fall_back(
        settings,
        rest,
        row,
        f"{row['provider']} did not finish within {settings.asset_task_timeout_seconds} s ({why})",
    )


def _fall_back(settings: AssetSettings, rest: Rest, row: dict[str, Any], reason: str) -> str:
    """The provider's task failed: record it, then the next provider of the chain gets the
    job (queued again, on the pipeline), or the job fails when none is left."""
    providers = list(row.get("providers") or [])
    providers.append(
        {"provider": row["provider"], "phase": "task", "outcome": "failed", "reason": reason[:500]}
    )
    spent = {p["provider"] for p in providers if p.get("phase") == "task"}
    left = [p for p in build_chain(settings, row["kind"]) if p.name not in spent]
    if not left or row["attempts"] >= ASSET_JOBS.max_attempts:
        return _finish(rest, row, "failed", error=reason, providers=providers)
    moved = _set(
        rest,
        row,
        {
            "status": "queued",
            "providers": providers,
            "provider": None,
            "provider_task_id": None,
            "progress": None,
            "dispatched_at": _iso(_now()),
            "error": f"{reason}; trying {left[0].name}",
        },
    )
    if moved:
        try:
            jobs.send(settings, ASSET_JOBS, row["id"])
        except Exception as exc:  # the dispatcher sends it
            log.exception("send", exc, job_id=row["id"], outcome="deferred_to_dispatcher")
    return "fell_back" if moved else "superseded"


# --- copying the artefacts into project files ----------------------------------------------
class CollectError(Exception):
    """The artefacts cannot become files (too large, not what they claim): the job fails."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


IMAGE_MAGIC = {b"\x89PNG": ("image/png", "png"), b"\xff\xd8\xff": ("image/jpeg", "jpg")}


def _image_type(artefact: Artefact, data: bytes) -> Artefact:
    """Thumbnails and posters: the type their bytes say (Luma's poster is a JPEG, Meshy's
    thumbnail a PNG), with the matching extension."""
    if not artefact.content_type.startswith("image/"):
        return artefact
    for magic, (content_type, ext) in IMAGE_MAGIC.items():
        if data.startswith(magic):
            stem = artefact.name.rsplit(".", 1)[0]
            return Artefact(f"{stem}.{ext}", artefact.url, content_type)
    return artefact


def _looks_like(content_type: str, data: bytes) -> bool:
    if content_type == "video/mp4":
        return data[4:8] == b"ftyp"
    return content_matches_type(content_type, data[:16])


def _download(settings: AssetSettings, artefact: Artefact) -> bytes:
    """The artefact's bytes, refused past the file size limit without reading them all."""
    timeout = httpx.Timeout(settings.asset_download_timeout_seconds, connect=5.0)
    with httpx.stream("GET", artefact.url, timeout=timeout, follow_redirects=True) as response:
        if response.status_code != 200:
            raise ProviderCallError(
                f"{artefact.name}: download answered {response.status_code}", retryable=True
            )
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > MAX_FILE_BYTES:
            raise CollectError(
                f"the provider's {artefact.name} is {int(declared)} bytes, over the file "
                f"limit of {MAX_FILE_BYTES} bytes; nothing was stored"
            )
        data = bytearray()
        for chunk in response.iter_bytes():
            data += chunk
            if len(data) > MAX_FILE_BYTES:
                raise CollectError(
                    f"the provider's {artefact.name} is over the file limit of "
                    f"{MAX_FILE_BYTES} bytes; nothing was stored"
                )
    if not data:
        raise CollectError(f"the provider's {artefact.name} is empty; nothing was stored")
    if not _looks_like(_image_type(artefact, bytes(data[:16])).content_type, bytes(data[:16])):
        raise CollectError(
            f"the provider's {artefact.name} is not {artefact.content_type}; nothing was stored"
        )
    return bytes(data)


def _stem(prompt: str) -> str:
    words = re.sub(r"[^A-Za-z0-9]+", "-", prompt).strip("-").lower()
    return words[:60].strip("-") or "asset"


def collect(
    settings: AssetSettings, rest: Rest, row: dict[str, Any], artefacts: list[Artefact]
) -> list[str]:
    """Download every artefact (all or nothing), then store each as a ready project file.

    File ids are derived from the job and the artefact (uuid5), so a second run of the same
    job finds the rows it wrote instead of adding copies."""
    if not row.get("requested_by"):
        raise CollectError("the person who asked for it no longer exists; nothing was stored")
    if not artefacts:
        raise CollectError("the provider returned no artefacts")
    blobs = []
    for artefact in artefacts:  # every download and check before any write
        data = _download(settings, artefact)
        blobs.append((_image_type(artefact, data), data))
    from files.service import verify_uploaded_object  # the files function's own check

    s3 = aws.s3(settings)
    stem = f"{_stem(row['prompt'])}-{str(row['id'])[:8]}"
    ids: list[str] = []
    for artefact, data in blobs:
        file_id = str(uuid.uuid5(uuid.UUID(str(row["id"])), artefact.name))
        values = {
            "id": file_id,
            "project_id": row["project_id"],
            "folder": FOLDER,
            "name": f"{stem}-{artefact.name.replace('.', '-', artefact.name.count('.') - 1)}",
            "mime_type": artefact.content_type,
            "size_bytes": len(data),
            "checksum_sha256": hashlib.sha256(data).hexdigest(),
            "bucket": settings.files_bucket,
            "uploaded_by": row["requested_by"],
        }
        existing = rest.select("files", {"id": f"eq.{file_id}", "select": "status,object_key"})
        if existing and existing[0]["status"] == "ready":
            ids.append(file_id)
            continue
        if existing:
            key = existing[0]["object_key"]
        else:
            try:
                key = rest.insert("files", values, {"select": "object_key"})["object_key"]
            except ApiError as exc:
                if exc.status != 409:  # a concurrent advance of this job wrote it first
                    raise
                again = rest.select("files", {"id": f"eq.{file_id}", "select": "object_key"})
                key = again[0]["object_key"]
        s3.put_object(
            Bucket=settings.files_bucket, Key=key, Body=data, ContentType=artefact.content_type
        )
        outcome = verify_uploaded_object(settings, str(settings.files_bucket), key)
        if outcome not in ("ready", "already_ready"):
            # the bucket's own object-created event may have marked it ready meanwhile
            now_row = rest.select("files", {"id": f"eq.{file_id}", "select": "status"})
            if not now_row or now_row[0]["status"] != "ready":
                raise CollectError(f"{artefact.name} failed the file checks ({outcome})")
        ids.append(file_id)
    return ids
