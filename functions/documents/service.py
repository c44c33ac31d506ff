"""What the documents function does, independent of how it is invoked (HTTP or event)."""

from __future__ import annotations

from typing import Any

from core import jobs, log
from core.auth import Caller
from core.docsections import TITLES, change_summary
from core.errors import ApiError, forbidden, not_found
from core.jobs import Job, PermanentJobError, RetryableJobError
from core.rest import Rest, as_caller, as_service
from core.settings import Settings
from documents import DOCUMENT_JOBS, export
from documents.context import load_context
from documents.models import GenerateAccepted, GenerateRequest
from documents.providers import AllProvidersFailedError, Circuits, build_chain, write_document


# --- generate (as the caller) -----------------------------------------------------------------
def request_generation(
    settings: Settings, caller: Caller, req: GenerateRequest
) -> GenerateAccepted:
    """Queue the job as the caller (the database decides who may), then send it."""
    rest = as_caller(settings, caller.token)
    if not rest.select("projects", {"id": f"eq.{req.project_id}", "select": "id"}):
        raise not_found("project not found")
    try:
        job_id = rest.rpc(
            "request_document_generation",
            {
                "project_id": str(req.project_id),
                "document_type": req.document_type,
                "document_id": str(req.document_id) if req.document_id else None,
                "instructions": req.instructions,
            },
        )
    except ApiError as exc:
        if exc.status == 403:
            raise forbidden("only project editors can generate documents") from None
        if exc.status == 400 and req.document_id:
            raise not_found("document not found in this project") from None
        raise
    try:
        jobs.send(settings, DOCUMENT_JOBS, job_id)
    except Exception as exc:  # the dispatcher sends it within a minute or two
        log.exception("send", exc, job_id=job_id, outcome="deferred_to_dispatcher")
    return GenerateAccepted(job_id=job_id)


# --- export (as the caller) ---------------------------------------------------------------------
def export_document(
    settings: Settings, caller: Caller, document_id: str, fmt: str, version: int | None
) -> tuple[bytes, str, str]:
    """(content, media type, file name) of a version the caller can read; 404 otherwise."""
    rest = as_caller(settings, caller.token)
    docs = rest.select(
        "documents",
        {"id": f"eq.{document_id}", "deleted_at": "is.null", "select": "id,title,current_version"},
    )
    if not docs:
        raise not_found("document not found")
    doc = docs[0]
    number = version or doc["current_version"]
    rows = rest.select(
        "document_versions",
        {
            "document_id": f"eq.{document_id}",
            "version": f"eq.{number}",
            "select": "content,version",
        },
    )
    if not rows:
        raise not_found("the document has no such version" if version else "no version yet")
    body = export.render(rows[0]["content"], fmt, doc["title"])
    # ASCII only: a header is latin-1, and some titles are not
    stem = "".join(c if c.isascii() and (c.isalnum() or c in "-_") else "-" for c in doc["title"])
    stem = stem[:80].strip("-")
    return body, export.MEDIA_TYPES[fmt], f"{stem or 'document'}-v{rows[0]['version']}.{fmt}"


# --- the worker (service role, scoped to the job's project) -----------------------------------
def _document_for(rest: Rest, job: Job, title_hint: str) -> dict[str, Any]:
    """The job's document; a new one (named on the job at once, so a re-run reuses it)."""
    row = job.row
    if row.get("document_id"):
        docs = rest.select(
            "documents",
            {
                "id": f"eq.{row['document_id']}",
                "project_id": f"eq.{row['project_id']}",
                "deleted_at": "is.null",
                "select": "id,title,type,current_version",
            },
        )
        if not docs:
            raise PermanentJobError("the document was deleted before it could be generated")
        return docs[0]
    doc = rest.insert(
        "documents",
        {
            "project_id": row["project_id"],
            "type": row["document_type"],
            "title": title_hint,
            "created_by": row.get("requested_by"),
        },
        {"select": "id,title,type,current_version"},
    )
    rest.update(
        DOCUMENT_JOBS.table,
        {"id": f"eq.{job.id}", "attempts": f"eq.{job.attempt}", "select": "id"},
        {"document_id": doc["id"]},
    )
    return doc


def generate(job: Job) -> dict[str, Any]:
    """The job handler: write the document with the provider chain, add it as a version."""
    settings = job.settings
    rest = as_service(settings)
    row = job.row
    existing = rest.select(
        "document_versions", {"job_id": f"eq.{job.id}", "select": "document_id,version"}
    )
    if existing:  # written by an earlier run of this job that died before finishing
        return {"document_id": existing[0]["document_id"], "version": existing[0]["version"]}
    projects = rest.select(
        "projects",
        {
            "id": f"eq.{row['project_id']}",
            "deleted_at": "is.null",
            "select": "id,name,description,product_type,status",
        },
    )
    if not projects:
        raise PermanentJobError("the project was deleted")
    doc = _document_for(
        rest, job, f"{projects[0]['name']} {TITLES.get(row['document_type'], 'Document')}"
    )
    previous = None
    if doc["current_version"]:
        prev = rest.select(
            "document_versions",
            {
                "document_id": f"eq.{doc['id']}",
                "version": f"eq.{doc['current_version']}",
                "select": "content",
            },
        )
        previous = prev[0]["content"] if prev else None
    ctx = load_context(rest, projects[0], row["document_type"], doc, row.get("instructions"),
                       previous)  # fmt: skip
    circuits = Circuits(rest, settings.circuit_failure_threshold, settings.circuit_open_seconds)
    try:
        written = write_document(settings, build_chain(settings), circuits, ctx)
    except AllProvidersFailedError as exc:
        raise RetryableJobError(
            "no writer could produce the document (providers: "
            + ", ".join(f"{p['provider']} {p['outcome']}" for p in exc.providers)
            + ")",
            fields={"providers": exc.providers, "document_id": doc["id"]},
        ) from None
    try:
        version = rest.insert(
            "document_versions",
            {
                "document_id": doc["id"],
                "content": written.text,
                "change_summary": change_summary(previous, written.text),
                "generated_by": written.generated_by[:200],
                "job_id": job.id,
            },
            {"select": "version"},
        )
    except ApiError as exc:
        if exc.status == 409:  # a concurrent run of this job wrote it first
            again = rest.select(
                "document_versions", {"job_id": f"eq.{job.id}", "select": "version"}
            )
            return {"document_id": doc["id"], "version": again[0]["version"],
                    "providers": written.providers}  # fmt: skip
        raise
    log.info("generated", job_id=job.id, document_id=doc["id"], version=version["version"],
             generated_by=written.generated_by)  # fmt: skip
    return {"document_id": doc["id"], "version": version["version"], "providers": written.providers}
