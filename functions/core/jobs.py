"""The one job pipeline: a job is a row in a domain table, its work runs from an SQS queue.

How a job kind uses it:

* A job row (``document_jobs``, ``privacy_requests``, ...) is written in the caller's
  transaction (an RPC or an insert as the caller), members read it through RLS, and the
  worker's columns (status, attempts, dispatched_at, started_at, finished_at, error) are
  the service role's (trigger ``private.guard_job_columns``).
* :func:`send` puts ``{"kind": <name>, "job_id": <id>}`` on the kind's queue; an HTTP
  endpoint calls it right after the caller's RPC. Sending twice is harmless.
* :func:`dispatch` (a schedule, every minute) sends jobs still queued that nobody sent
  recently, and re-queues (or fails, when their attempts are used up) jobs stuck running.
  No job stays queued forever, even one created straight from supabase-js.
* :func:`run_sqs_batch` runs the handlers with partial batch failures. Each record *claims*
  its job by a conditional update through PostgREST as the service role (``status = queued
  and attempts = <read>`` -> running, attempts + 1), so a duplicated or redelivered message
  never runs a job twice at once, and never runs a finished one again.

Standard library, pydantic and httpx only at import; boto3 is imported by :func:`send`.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, ValidationError

from core import aws, log, metrics
from core.batch import PermanentRecordError, context_request_id, process_sqs_batch
from core.errors import ApiError
from core.events import ScheduledEvent, SqsRecord
from core.rest import Rest, as_service
from core.settings import Settings, SettingsError, load_settings

__all__ = [
    "DispatchResult",
    "Job",
    "JobError",
    "JobHandler",
    "JobKind",
    "JobMessage",
    "PermanentJobError",
    "RetryableJobError",
    "dispatch",
    "run_schedule",
    "run_sqs_batch",
    "send",
]


# --- declaring a kind ---------------------------------------------------------------------------
@dataclass(frozen=True)
class JobKind:
    """One kind of job: its table, its queue and its rules. Declare it once, at module level,
    in the domain's package (``documents/__init__.py``), and use the same object in the HTTP
    app (:func:`send`), the worker (:func:`run_sqs_batch`) and the schedule (:func:`dispatch`).
    """

    name: str  # the "kind" in the message, unique across the system: "document_generation"
    table: str  # the job table in public: "document_jobs"
    queue_url_setting: str  # env/settings name of the queue URL: "DOCUMENT_JOBS_QUEUE_URL"
    # the table's four status values
    queued: str = "queued"
    running: str = "running"
    succeeded: str = "succeeded"
    failed: str = "failed"
    max_attempts: int = 3
    running_timeout_s: int = 300  # running longer than this = its worker died: re-queue
    redispatch_after_s: int = 60  # queued this long without a send = (re)send it
    # column names
    id_column: str = "id"
    status_column: str = "status"
    attempts_column: str = "attempts"
    dispatched_at_column: str = "dispatched_at"
    started_at_column: str = "started_at"
    finished_at_column: str = "finished_at"
    error_column: str = "error"
    created_at_column: str = "created_at"
    # what the handler receives in Job.row (must include status and attempts)
    select: str = "*"
    # the member-readable message when a job fails for a reason we do not tell members
    unexpected_error: str = "the job failed unexpectedly"

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.running_timeout_s < 1 or self.redispatch_after_s < 1:
            raise ValueError("running_timeout_s and redispatch_after_s must be positive")

    def queue_url(self, settings: Settings) -> str:
        """The queue URL: a Settings field of that name, else the environment variable."""
        value = getattr(settings, self.queue_url_setting.lower(), None) or os.environ.get(
            self.queue_url_setting.upper()
        )
        if not value:
            raise SettingsError(f"missing setting {self.queue_url_setting.upper()}")
        return str(value)


class JobMessage(BaseModel):
    """The body of every job message."""

    model_config = ConfigDict(extra="ignore", frozen=True, defer_build=True)

    kind: str
    job_id: UUID


@dataclass(frozen=True)
class Job:
    """What a handler gets: the claimed row (status running, attempts already counted)."""

    kind: JobKind
    id: str
    row: dict[str, Any]
    attempt: int  # 1 on the first run
    settings: Settings
    message_id: str | None = None

    @property
    def is_last_attempt(self) -> bool:
        return self.attempt >= self.kind.max_attempts


# A handler returns the extra column values to write with "succeeded" (or None).
JobHandler = Callable[[Job], Mapping[str, Any] | None]


class JobError(Exception):
    """A failure the handler explains. ``message`` is shown to members (the error column);
    ``fields`` are extra column values written with the failure (e.g. providers tried)."""

    def __init__(self, message: str, *, fields: Mapping[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fields = dict(fields or {})


class RetryableJobError(JobError):
    """Try again later (provider down, rate limited): back to queued while attempts remain."""


class PermanentJobError(JobError):
    """Will never succeed (the document was deleted, bad input): failed at once."""


# --- helpers ----------------------------------------------------------------------------------
def _now() -> datetime:
    return datetime.now(UTC)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def _short(text: str, limit: int = 1000) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# While PostgREST or Postgres restarts, the data API answers 503 for a second or two: the
# bookkeeping of a job (its result, its retry) is retried over that window rather than lost,
# so a job whose work is done is not left "running" until the dispatcher's timeout.
SETTLE_BACKOFF_S = (0.25, 0.5, 1.0, 2.0, 2.0, 2.0)


def _unavailable(exc: BaseException) -> bool:
    """The data API is down (not: the request was wrong)."""
    return isinstance(exc, ApiError) and exc.status == 503


def _update(
    rest: Rest, kind: JobKind, job_id: str, where: Mapping[str, str], values: Mapping[str, Any]
) -> bool:
    """A conditional update of one job; True when the row matched (and was written).
    Retried while the data API is unavailable (the update is conditional, so a retry of one
    that did land matches nothing and answers False)."""
    params = {kind.id_column: f"eq.{job_id}", "select": kind.id_column, **where}
    for pause in (*SETTLE_BACKOFF_S, None):
        try:
            return bool(rest.update(kind.table, params, dict(values)))
        except ApiError as exc:
            if pause is None or not _unavailable(exc):
                raise
            log.warning("job update", job_id=job_id, kind=kind.name, outcome="retrying",
                        reason=exc.code)  # fmt: skip
            time.sleep(pause)
    raise AssertionError("unreachable")


# --- send ------------------------------------------------------------------------------------
def send(settings: Settings, kind: JobKind, job_id: str | UUID, *, delay_seconds: int = 0) -> str:
    """Put the job on its queue; returns the SQS message id. Harmless to repeat."""
    body = json.dumps({"kind": kind.name, "job_id": str(job_id)})
    answer = aws.sqs(settings).send_message(
        QueueUrl=kind.queue_url(settings), MessageBody=body, DelaySeconds=delay_seconds
    )
    return str(answer["MessageId"])


# --- dispatch -------------------------------------------------------------------------------
@dataclass
class DispatchResult:
    sent: list[str] = field(default_factory=list)  # queued jobs (re)sent
    requeued: list[str] = field(default_factory=list)  # stuck running -> queued, sent
    failed: list[str] = field(default_factory=list)  # stuck running, attempts used up
    errors: int = 0  # sends that failed (retried on the next run)

    def as_dict(self) -> dict[str, Any]:
        return {
            "sent": len(self.sent),
            "requeued": len(self.requeued),
            "failed": len(self.failed),
            "errors": self.errors,
        }


def dispatch(
    settings: Settings, kind: JobKind, *, now: datetime | None = None, limit: int = 200
) -> DispatchResult:
    """Send never-sent (or long unsent) queued jobs; re-queue or fail jobs stuck running.

    Service role. Queued jobs younger than ``redispatch_after_s`` are left alone (their
    endpoint sent them); so are jobs dispatched less than ``redispatch_after_s`` ago.
    """
    now = now or _now()
    rest = as_service(settings)
    result = DispatchResult()
    k = kind

    # 1. stuck running: the worker died (or timed out) mid-job
    stuck_before = _iso(now - timedelta(seconds=k.running_timeout_s))
    stuck = rest.select(
        k.table,
        {
            "select": f"{k.id_column},{k.attempts_column}",
            k.status_column: f"eq.{k.running}",
            k.started_at_column: f"lt.{stuck_before}",
            "order": f"{k.started_at_column}.asc",
            "limit": str(limit),
        },
    )
    for row in stuck:
        job_id, attempts = str(row[k.id_column]), int(row[k.attempts_column])
        where = {
            k.status_column: f"eq.{k.running}",
            k.attempts_column: f"eq.{attempts}",
        }
        if attempts >= k.max_attempts:
            values = {
                k.status_column: k.failed,
                k.finished_at_column: _iso(now),
                k.error_column: f"timed out; gave up after {attempts} attempts",
            }
            if _update(rest, k, job_id, where, values):
                result.failed.append(job_id)
            continue
        values = {
            k.status_column: k.queued,
            k.dispatched_at_column: _iso(now),
            k.error_column: f"attempt {attempts} timed out; retrying",
        }
        if _update(rest, k, job_id, where, values):
            try:
                send(settings, k, job_id)
            except Exception as exc:  # the next run sends it (dispatched_at ages)
                result.errors += 1
                log.exception("dispatch send", exc, job_id=job_id, kind=k.name)
            else:
                result.requeued.append(job_id)

    # 2. queued and not sent recently (or never: created by an RPC from supabase-js)
    cutoff = _iso(now - timedelta(seconds=k.redispatch_after_s))
    waiting = rest.select(
        k.table,
        {
            "select": k.id_column,
            k.status_column: f"eq.{k.queued}",
            k.created_at_column: f"lt.{cutoff}",
            "or": f"({k.dispatched_at_column}.is.null,{k.dispatched_at_column}.lt.{cutoff})",
            "order": f"{k.created_at_column}.asc",
            "limit": str(limit),
        },
    )
    for row in waiting:
        job_id = str(row[k.id_column])
        # Stamp before sending: a worker may claim the job the moment it is sent, and a
        # stamp written after that would miss (the row is no longer queued). The stamp is
        # also the claim of this dispatcher run, so two overlapping runs send it once. If
        # the send fails, the stamp ages and the next run after redispatch_after_s retries.
        if not _update(
            rest,
            k,
            job_id,
            {k.status_column: f"eq.{k.queued}"},
            {k.dispatched_at_column: _iso(now)},
        ):
            continue
        try:
            send(settings, k, job_id)
        except Exception as exc:
            result.errors += 1
            log.exception("dispatch send", exc, job_id=job_id, kind=k.name)
            continue
        result.sent.append(job_id)
    return result


def run_schedule(
    event: dict[str, Any],
    context: Any,
    kinds: list[JobKind] | tuple[JobKind, ...],
    *,
    function: str,
    settings: Settings | None = None,
) -> dict[str, Any]:
    """The body of a dispatcher Lambda (EventBridge schedule): :func:`dispatch` each kind."""
    scheduled = ScheduledEvent.model_validate(event)
    settings = settings or load_settings("supabase_service_role_key")
    ctx = log.LogContext(
        function=function,
        request_id=context_request_id(context),
        extra={"event_id": scheduled.id},
    )
    answer: dict[str, Any] = {}
    with log.bind(ctx):
        for kind in kinds:
            try:
                outcome = dispatch(settings, kind)
            except Exception as exc:
                log.exception("dispatch", exc, kind=kind.name, outcome="error")
                raise
            answer[kind.name] = outcome.as_dict()
            log.info("dispatch", kind=kind.name, outcome="ok", **outcome.as_dict())
    return answer


# --- the worker -------------------------------------------------------------------------------
def _run_record(
    settings: Settings,
    handlers: Mapping[str, tuple[JobKind, JobHandler]],
    record: SqsRecord,
) -> None:
    try:
        message = JobMessage.model_validate_json(record.body)
    except ValidationError as exc:
        raise PermanentRecordError(f"not a job message: {exc.error_count()} errors") from None
    if message.kind not in handlers:
        raise PermanentRecordError(f"no handler for job kind {message.kind!r}")
    kind, handler = handlers[message.kind]
    k = kind
    job_id = str(message.job_id)
    rest = as_service(settings)

    rows = rest.select(k.table, {k.id_column: f"eq.{job_id}", "select": k.select})
    if not rows:
        log.info("job", job_id=job_id, kind=k.name, outcome="gone")
        return
    row = rows[0]
    status, attempts = row[k.status_column], int(row[k.attempts_column])
    if status == k.failed and attempts >= k.max_attempts:
        # Its last attempt failed: keep failing the record so SQS moves it to the DLQ.
        raise PermanentRecordError(f"job {job_id} failed after {attempts} attempts")
    if status != k.queued:
        # succeeded, failed for good, or running elsewhere (the dispatcher re-queues it if
        # that worker died): acknowledge without running it again
        log.info("job", job_id=job_id, kind=k.name, outcome="skipped", status=status)
        return
    if attempts >= k.max_attempts:
        _update(
            rest,
            k,
            job_id,
            {k.status_column: f"eq.{k.queued}", k.attempts_column: f"eq.{attempts}"},
            {
                k.status_column: k.failed,
                k.finished_at_column: _iso(_now()),
                k.error_column: row.get(k.error_column) or f"gave up after {attempts} attempts",
            },
        )
        _gave_up(k)
        raise PermanentRecordError(f"job {job_id} failed after {attempts} attempts")

    # claim: only one delivery moves queued/attempts=N to running/attempts=N+1
    attempt = attempts + 1
    started = _now()
    claimed = rest.update(
        k.table,
        {
            k.id_column: f"eq.{job_id}",
            k.status_column: f"eq.{k.queued}",
            k.attempts_column: f"eq.{attempts}",
            "select": k.select,
        },
        {
            k.status_column: k.running,
            k.attempts_column: attempt,
            k.started_at_column: _iso(started),
            k.finished_at_column: None,
        },
    )
    if not claimed:
        log.info("job", job_id=job_id, kind=k.name, outcome="claimed_elsewhere")
        return

    job = Job(kind=k, id=job_id, row=claimed[0], attempt=attempt, settings=settings,
              message_id=record.message_id)  # fmt: skip
    # a late finish still counts if the dispatcher re-queued the job meanwhile (same attempt)
    mine = {
        k.attempts_column: f"eq.{attempt}",
        k.status_column: f"in.({k.running},{k.queued})",
    }
    try:
        result = handler(job)
    except PermanentJobError as exc:
        _update(
            rest,
            k,
            job_id,
            mine,
            {
                **exc.fields,
                k.status_column: k.failed,
                k.finished_at_column: _iso(max(_now(), started)),
                k.error_column: _short(exc.message),
            },
        )
        log.warning("job", job_id=job_id, kind=k.name, attempt=attempt, outcome="failed",
                    reason=_short(exc.message, 300))  # fmt: skip
        metrics.count(metrics.JOBS_FAILED, kind=k.name)
        return
    except Exception as exc:
        retryable = isinstance(exc, JobError)
        reason = exc.message if isinstance(exc, JobError) else k.unexpected_error
        fields = exc.fields if isinstance(exc, JobError) else {}
        if _unavailable(exc):
            # our own data API was down mid-job (a restart): not the job's fault, so the
            # attempt is given back; SQS redelivers the record after its visibility timeout
            _update(
                rest,
                k,
                job_id,
                mine,
                {
                    k.status_column: k.queued,
                    k.attempts_column: attempt - 1,
                    k.dispatched_at_column: _iso(_now()),
                    k.error_column: "the data API was unavailable; retrying",
                },
            )
            metrics.count(metrics.JOBS_RETRIED, kind=k.name)
            raise
        if not retryable:
            log.exception("job handler", exc, job_id=job_id, kind=k.name, attempt=attempt)
        if attempt < k.max_attempts:
            _update(
                rest,
                k,
                job_id,
                mine,
                {
                    **fields,
                    k.status_column: k.queued,
                    # counts as sent: SQS redelivers this message after its visibility timeout,
                    # so the dispatcher waits redispatch_after_s before sending another copy
                    k.dispatched_at_column: _iso(_now()),
                    k.error_column: _short(f"attempt {attempt} failed: {reason}; retrying"),
                },
            )
            metrics.count(metrics.JOBS_RETRIED, kind=k.name)
            raise  # SQS delivers it again after the visibility timeout
        _update(
            rest,
            k,
            job_id,
            mine,
            {
                **fields,
                k.status_column: k.failed,
                k.finished_at_column: _iso(max(_now(), started)),
                k.error_column: _short(f"{reason} (gave up after {attempt} attempts)"),
            },
        )
        _gave_up(k)
        raise PermanentRecordError(f"job {job_id} failed after {attempt} attempts") from exc

    values = {
        **dict(result or {}),
        k.status_column: k.succeeded,
        k.finished_at_column: _iso(max(_now(), started)),
        k.error_column: None,
    }
    if not _update(rest, k, job_id, mine, values):
        log.warning("job", job_id=job_id, kind=k.name, attempt=attempt, outcome="superseded")
        return
    log.info("job", job_id=job_id, kind=k.name, attempt=attempt, outcome="succeeded")
    metrics.count(metrics.JOBS_PROCESSED, kind=k.name)


def _gave_up(kind: JobKind) -> None:
    """Attempts used up: the job is failed and its record heads for the DLQ (counted once,
    here; the record's later receives until maxReceiveCount are not new failures)."""
    metrics.emit(
        {metrics.JOBS_FAILED: (1, "Count"), metrics.JOBS_DEAD_LETTERED: (1, "Count")},
        {"kind": kind.name},
    )


def run_sqs_batch(
    event: dict[str, Any],
    context: Any,
    handlers: Mapping[str, tuple[JobKind, JobHandler]],
    *,
    function: str,
    settings: Settings | None = None,
) -> dict[str, list[dict[str, str]]]:
    """The body of a job worker Lambda (SQS, ``ReportBatchItemFailures``).

    ``handlers`` maps a kind's name to ``(kind, handler)``. Records whose job ran, was
    already done, or is someone else's are acknowledged; records that failed (retry, or
    attempts used up: the DLQ) are reported in ``batchItemFailures``.
    """
    settings = settings or load_settings("supabase_service_role_key")
    return process_sqs_batch(
        event,
        context,
        lambda record: _run_record(settings, handlers, record),
        function=function,
    )
