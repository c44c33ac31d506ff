"""The embedded ``template`` provider: complete documents from the project's data, no model.

PRD, tech spec and backend structure document in the structure of the seeds (numbered
``##`` sections, lists and tables, a "Document Details" block). Deterministic for the same
data, so regenerating an unchanged project changes only the details block.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from documents.context import GenerationContext

GENERATED_BY = "template/v1"

_STATUS = {"todo": "To do", "in_progress": "In progress", "done": "Done"}
_PRODUCT = {
    "software": "a software product",
    "physical_product": "a physical product",
    "service": "a service",
}


def _esc(text: str) -> str:
    """Table-cell safe text."""
    return " ".join(str(text).split()).replace("|", "\\|")


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    out += ["| " + " | ".join(_esc(c) for c in row) + " |" for row in rows]
    return out


def _members(ctx: GenerationContext) -> list[str]:
    if not ctx.members:
        return ["No members are listed yet."]
    return _table(["Member", "Project role"], [[m.name, m.role] for m in ctx.members])


def _tasks(ctx: GenerationContext, only_open: bool = False) -> list[str]:
    tasks = [t for t in ctx.tasks if not (only_open and t.status == "done")]
    if not tasks:
        return ["No tasks are recorded yet; add them to the project board to track the work."]
    rows = [
        [
            t.title,
            _STATUS.get(t.status, t.status),
            t.assignee or "unassigned",
            (t.due_date or "")[:10] + (" (overdue)" if t.overdue else ""),
        ]
        for t in tasks[:50]
    ]
    return _table(["Task", "Status", "Owner", "Due"], rows)


def _progress(ctx: GenerationContext) -> str:
    counts = Counter(t.status for t in ctx.tasks)
    total = len(ctx.tasks)
    if not total:
        return "No tasks have been recorded yet."
    overdue = sum(1 for t in ctx.tasks if t.overdue)
    text = (
        f"{total} tasks: {counts.get('done', 0)} done, {counts.get('in_progress', 0)} in "
        f"progress, {counts.get('todo', 0)} to do"
    )
    return text + (f"; {overdue} overdue." if overdue else ".")


def _intro(ctx: GenerationContext) -> str:
    product = _PRODUCT.get(ctx.product_type or "", "a product")
    desc = ctx.description.strip() or "No description has been written yet."
    return f"{ctx.project_name} is {product} (status: {ctx.project_status or 'draft'}). {desc}"


def _instructions(ctx: GenerationContext) -> list[str]:
    if not ctx.instructions:
        return []
    quoted = ["> " + line if line.strip() else ">" for line in ctx.instructions.splitlines()]
    return ["", "Notes from the requester:", "", *quoted]


def _roles(ctx: GenerationContext) -> list[str]:
    return [
        "- **Owner** and **admins** manage the project, its members and its settings.",
        "- **Editors** create and change tasks, files and documents.",
        "- **Viewers** read everything in the project and change nothing.",
    ]


# --- PRD -------------------------------------------------------------------------------------
def _prd(ctx: GenerationContext) -> dict[str, list[str]]:
    open_tasks = [t for t in ctx.tasks if t.status != "done"]
    return {
        "Overview": [
            f"This document states what {ctx.project_name} must do and why.",
            "",
            _intro(ctx),
            *_instructions(ctx),
        ],
        "Problem and Goals": [
            "**Problem.** " + (ctx.description.strip() or "To be described by the team."),
            "",
            "**Goals.**",
            "",
            f"- Deliver the first usable version of {ctx.project_name}.",
            "- Keep every requirement traceable to a task on the project board.",
            f"- Current progress: {_progress(ctx)}",
        ],
        "Target Users and Roles": [
            "The people working on the project and what they may do:",
            "",
            *_members(ctx),
            "",
            *_roles(ctx),
        ],
        "Scope and Features": [
            "In scope: the work recorded as tasks.",
            "",
            *(
                [f"- {t.title}" for t in ctx.tasks[:30]]
                or ["- To be defined: no tasks have been recorded yet."]
            ),
            "",
            "Out of scope: anything not listed above until it is added as a task.",
        ],
        "Requirements": [
            "Each open task is a requirement; it is met when the task is done.",
            "",
            *_table(
                ["#", "Requirement", "Acceptance"],
                [
                    [f"R{i}", t.title, (t.description or "Reviewed and marked done").strip()]
                    for i, t in enumerate(open_tasks[:40], start=1)
                ]
                or [["R1", "Define the first requirements", "Tasks exist on the board"]],
            ),
        ],
        "Non-functional Requirements": [
            "- **Security:** access follows project roles; data is visible to members only.",
            "- **Reliability:** work is saved as it happens; documents keep every version.",
            "- **Performance:** common pages answer within a second for typical projects.",
            "- **Privacy:** personal data can be exported and erased on request (GDPR/CCPA).",
        ],
        "Milestones and Timeline": _tasks(ctx, only_open=True),
        "Risks and Open Questions": [
            *(
                [f"- Overdue: {t.title}" for t in ctx.tasks if t.overdue][:10]
                or ["- No overdue work at the time of writing."]
            ),
            *(
                ["- Unassigned work: " + ", ".join(t.title for t in open_tasks if not t.assignee)]
                if any(not t.assignee for t in open_tasks)
                else []
            ),
            "- Which requirements are needed for the first release?",
        ],
        "Success Metrics": [
            "- All requirements above are done and accepted.",
            "- No task is overdue at release.",
            "- The team agrees the document matches what was built.",
        ],
    }


# --- tech spec -------------------------------------------------------------------------------
def _tech_spec(ctx: GenerationContext) -> dict[str, list[str]]:
    return {
        "Introduction": [
            f"The technical specification of {ctx.project_name}.",
            "",
            _intro(ctx),
            *_instructions(ctx),
        ],
        "Architecture Overview": [
            "- **Clients** use the Supabase SDK against PostgREST with the user's token.",
            "- **Authorization** lives in Postgres row-level-security policies.",
            "- **Background work** runs in small Python Lambda functions fed by SQS queues.",
            "- **Files** are stored in S3 through presigned URLs.",
        ],
        "Components": [
            *_table(
                ["Component", "Responsibility"],
                [
                    ["Database (Postgres)", "data, policies, RPCs for atomic changes"],
                    ["Data API (PostgREST)", "the HTTP API over the exposed schema"],
                    ["Functions (Lambda)", "document generation, integrations, privacy jobs"],
                    ["Queues (SQS)", "asynchronous jobs with retries and dead-letter queues"],
                ],
            ),
        ],
        "Data Model": [
            "Main records of the project and how they relate:",
            "",
            "```text",
            "projects 1─n project_members n─1 profiles",
            "projects 1─n tasks",
            "projects 1─n documents 1─n document_versions",
            "```",
        ],
        "API Design": [
            "- `GET /rest/v1/tasks?project_id=eq.<id>`: the project's tasks.",
            "- `POST /rest/v1/rpc/request_document_generation`: queue a document.",
            "- `POST /functions/v1/documents/generate`: queue and send a generation job.",
            "- `GET /functions/v1/documents/<id>/export?format=md|html|docx`: export a document.",
        ],
        "Security": [
            "- Every table has row-level security; members see only their projects.",
            "- Tokens are verified on every function call; the service role stays in workers.",
            *_roles(ctx),
        ],
        "Testing Strategy": [
            "- Policies are tested per table, operation and role over real HTTP.",
            "- Functions are tested end to end against the local stack.",
            f"- Work items to verify: {_progress(ctx)}",
        ],
        "Deployment and Operations": [
            "- Migrations are applied in order; policies are generated from readable sources.",
            "- Functions are deployed with the Serverless Framework; settings come from SSM.",
            "- Failed jobs end in a dead-letter queue with a message members can read.",
        ],
        "Open Issues": _tasks(ctx, only_open=True),
    }


# --- backend structure -------------------------------------------------------------------------
def _backend(ctx: GenerationContext) -> dict[str, list[str]]:
    return {
        "Backend Architecture": [
            f"This document explains the backend of {ctx.project_name} in everyday language.",
            "",
            _intro(ctx),
            *_instructions(ctx),
            "",
            "- **Serverless functions:** asynchronous work (document generation, integrations,"
            " privacy exports) runs in small functions triggered by queues and schedules.",
            "- **Postgres as the core:** data, authorization (row-level security) and atomic"
            " operations live in the database.",
            "- **Layered design:** authentication, data access, business rules and API routing"
            " are separate, so each can change on its own.",
        ],
        "Database Management": [
            "- **Database type:** SQL (PostgreSQL).",
            "- **Row-level security:** each user reaches only the projects they belong to.",
            "- **History:** documents keep every version; deletions are soft with a 30-day"
            " purge window.",
            "- **Backups:** regular backups with point-in-time recovery.",
        ],
        "Database Schema": [
            "**Human-readable overview:**",
            "",
            "- **Projects:** name, description, product type, status, owner.",
            "- **Project members:** who belongs to the project and with which role.",
            "- **Tasks:** title, description, status, assignee, due date.",
            "- **Documents and versions:** each generation or edit is a new version with a"
            " change summary.",
            "",
            "```sql",
            "create table projects (id uuid primary key, name text not null, status text);",
            "create table tasks (id uuid primary key, project_id uuid references projects,",
            "  title text not null, status text, assignee_id uuid, due_at timestamptz);",
            "```",
        ],
        "API Design and Endpoints": [
            "- **Data API:** PostgREST serves the tables the policies allow.",
            "- **/functions/v1/documents:** generation jobs and exports.",
            "- **/functions/v1/assistant:** suggestions, formatting, validation, task extraction.",
        ],
        "Hosting Solutions": [
            "- **Database and auth:** managed Supabase project.",
            "- **Functions:** AWS Lambda, deployed with the Serverless Framework.",
            "- **Files:** Amazon S3 with presigned uploads and downloads.",
        ],
        "Infrastructure Components": [
            *_table(
                ["Component", "Role"],
                [
                    ["SQS queues + DLQs", "asynchronous jobs, retries, dead letters"],
                    ["EventBridge schedules", "dispatchers and clean-up jobs"],
                    ["Realtime", "live job progress and notifications"],
                ],
            ),
        ],
        "Security Measures": [
            *_roles(ctx),
            "- Tokens verified on every call; secrets from the parameter store, never in code.",
            "- Audit trail of significant actions.",
        ],
        "Monitoring and Maintenance": [
            "- Structured logs with request ids; alarms on dead-letter queues.",
            f"- Work status: {_progress(ctx)}",
        ],
        "Conclusion and Overall Backend Summary": [
            f"The backend of {ctx.project_name} keeps authorization in the database, runs"
            " background work in small functions and scales with demand. The team:",
            "",
            *_members(ctx),
        ],
    }


def _custom(ctx: GenerationContext) -> dict[str, list[str]]:
    return {
        "Overview": [_intro(ctx), *_instructions(ctx)],
        "Team": _members(ctx),
        "Work": [_progress(ctx), "", *_tasks(ctx)],
    }


_BUILDERS: dict[str, Callable[[GenerationContext], dict[str, list[str]]]] = {
    "prd": _prd,
    "tech_spec": _tech_spec,
    "backend_structure": _backend,
    "custom": _custom,
}


def render(ctx: GenerationContext) -> str:
    """The whole document as Markdown."""
    sections = _BUILDERS.get(ctx.document_type, _custom)(ctx)
    lines = [f"# {ctx.title}", ""]
    for number, (name, body) in enumerate(sections.items(), start=1):
        lines += [f"## {number}. {name}", "", *body, ""]
    lines += [
        "## Document Details",
        "",
        f"- **Project ID**: {ctx.project_id}",
        f"- **Document ID**: {ctx.document_id or 'new'}",
        f"- **Type**: {ctx.document_type}",
        "- **Status**: completed",
        f"- **Generated On**: {ctx.generated_on}",
        f"- **Generated By**: {GENERATED_BY}",
        "",
    ]
    return "\n".join(lines)
