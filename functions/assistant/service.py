"""What the assistant does. Everything reads and writes as the caller (RLS decides)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from assistant.models import (
    ExtractRequest,
    ExtractResponse,
    Finding,
    FormatResponse,
    Location,
    ProposedTask,
    Suggestion,
    SuggestResponse,
    ValidateRequest,
    ValidateResponse,
)
from core import mdlimits
from core.auth import Caller
from core.docsections import SECTIONS, TITLES, normalise_title, split_sections
from core.errors import ApiError, forbidden, not_found
from core.mdlimits import Budget
from core.rest import Rest, as_caller
from core.settings import Settings

STALE_AFTER = timedelta(days=7)
_PRIORITY = {"high": 0, "medium": 1, "low": 2}


def _project(rest: Rest, project_id: Any) -> dict[str, Any]:
    rows = rest.select(
        "projects", {"id": f"eq.{project_id}", "deleted_at": "is.null", "select": "id,name"}
    )
    if not rows:
        raise not_found("project not found")
    return rows[0]


def _parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


# --- suggest ---------------------------------------------------------------------------------
def suggest(settings: Settings, caller: Caller, project_id: Any) -> SuggestResponse:
    rest = as_caller(settings, caller.token)
    _project(rest, project_id)
    now = datetime.now(UTC)
    tasks = rest.select(
        "tasks",
        {
            "project_id": f"eq.{project_id}",
            "deleted_at": "is.null",
            "status": "neq.done",
            "select": "id,title,status,due_at,assignee_id",
            "order": "due_at.asc.nullslast",
            "limit": "500",
        },
    )
    all_tasks = rest.request(
        "HEAD",
        "tasks",
        params={"project_id": f"eq.{project_id}", "deleted_at": "is.null", "select": "id"},
        prefer="count=exact",
    )
    total = int(all_tasks.headers.get("content-range", "*/0").rpartition("/")[2] or 0)
    out: list[Suggestion] = []
    if total == 0:
        out.append(
            Suggestion(
                kind="no_tasks",
                priority="high",
                title="Break the project into tasks",
                detail="The project has no tasks yet; extract them from a call transcript or "
                "add the first ones to the board.",
            )
        )
    for task in tasks:
        due = _parse_time(task.get("due_at"))
        if due and due < now:
            days = (now - due).days
            out.append(
                Suggestion(
                    kind="overdue_task",
                    priority="high",
                    title=f"Follow up on overdue task: {task['title']}",
                    detail=f"It was due {days} day(s) ago and is {task['status']}.",
                    target_id=task["id"],
                )
            )
    unassigned = [t for t in tasks if not t.get("assignee_id")]
    for task in unassigned[:5]:
        out.append(
            Suggestion(
                kind="unassigned_task",
                priority="medium",
                title=f"Assign an owner to: {task['title']}",
                detail="Open work without an owner tends to stall.",
                target_id=task["id"],
            )
        )
    in_progress = [t for t in tasks if t["status"] == "in_progress"]
    if len(in_progress) > 3:
        out.append(
            Suggestion(
                kind="finish_in_progress",
                priority="low",
                title="Finish work in progress before starting more",
                detail=f"{len(in_progress)} tasks are in progress at once.",
            )
        )
    documents = rest.select(
        "documents",
        {"project_id": f"eq.{project_id}", "deleted_at": "is.null",
         "select": "id,title,type,current_version"},
    )  # fmt: skip
    present = {d["type"] for d in documents}
    for kind in ("prd", "tech_spec", "backend_structure"):
        if kind not in present:
            out.append(
                Suggestion(
                    kind="missing_document",
                    priority="medium",
                    title=f"Generate the {TITLES[kind]}",
                    detail="POST /functions/v1/documents/generate with document_type "
                    f"{kind!r} writes it from the project's data.",
                )
            )
    for doc in documents:
        if not doc["current_version"]:
            out.append(
                Suggestion(
                    kind="empty_document",
                    priority="low",
                    title=f"Write or generate: {doc['title']}",
                    detail="The document has no version yet.",
                    target_id=doc["id"],
                )
            )
    integrations = rest.select(
        "integrations",
        {"project_id": f"eq.{project_id}", "select": "id,provider,status,last_synced_at"},
    )
    for item in integrations:
        synced = _parse_time(item.get("last_synced_at"))
        if item["status"] == "error":
            out.append(
                Suggestion(
                    kind="failed_integration",
                    priority="high",
                    title=f"Fix the {item['provider']} integration",
                    detail="Its last sync failed; reconnect it or check its permissions.",
                    target_id=item["id"],
                )
            )
        elif item["status"] == "connected" and (synced is None or now - synced > STALE_AFTER):
            out.append(
                Suggestion(
                    kind="stale_integration",
                    priority="medium",
                    title=f"Sync the {item['provider']} integration",
                    detail="It has not synced for more than 7 days.",
                    target_id=item["id"],
                )
            )
    out.sort(key=lambda s: _PRIORITY[s.priority])
    return SuggestResponse(project_id=project_id, suggestions=out)


# --- format ----------------------------------------------------------------------------------
def format_markdown(markdown: str) -> FormatResponse:
    """mdformat's answer, once the Markdown is measured within ``core.mdlimits`` (mdformat
    has no bounds of its own, and drops what lies deeper than its parser's nesting limit)."""
    import mdformat  # only on this path

    budget = Budget("formatting")
    mdlimits.parse(markdown, budget)
    try:
        formatted = mdformat.text(markdown, extensions={"gfm"}, options={"number": True})
    except Exception as exc:  # mdformat refuses what it cannot render the same
        raise ApiError(422, "unformattable", f"markdown could not be formatted: {exc}") from None
    budget.check()
    return FormatResponse(markdown=formatted, changed=formatted != markdown)


# --- validate --------------------------------------------------------------------------------
_TODO = re.compile(r"\b(TODO|TBD|FIXME|XXX)\b|\?\?\?|\bto be (?:defined|decided|determined)\b")
_STORY_ROLE = re.compile(r"\bAs an? ([A-Za-z][A-Za-z -]{1,40}?)\s*,", re.IGNORECASE)
_NAMED_ROLE = re.compile(r"\b(?:the\s+)?([A-Z][a-z]+(?: [A-Z][a-z]+)?) role\b")
_BOLD = re.compile(r"\*\*([^*]{1,60})\*\*")
KNOWN_ROLES = {
    "owner", "admin", "administrator", "editor", "viewer", "member", "user", "guest",
    "developer", "project admin", "team collaborator", "solo entrepreneur",
}  # fmt: skip


def _section_at(sections: list[Any], line: int) -> str | None:
    current = None
    for section in sections:
        if section.line and section.line <= line:
            current = section.title
    return current


def validate(settings: Settings, caller: Caller, req: ValidateRequest) -> ValidateResponse:
    rest = as_caller(settings, caller.token)
    docs = rest.select(
        "documents",
        {"id": f"eq.{req.document_id}", "project_id": f"eq.{req.project_id}",
         "deleted_at": "is.null", "select": "id,type,current_version"},
    )  # fmt: skip
    if not docs:
        raise not_found("document not found in this project")
    doc = docs[0]
    number = req.version or doc["current_version"]
    rows = rest.select(
        "document_versions",
        {"document_id": f"eq.{doc['id']}", "version": f"eq.{number}", "select": "content"},
    )
    if not rows:
        raise not_found("the document has no such version" if req.version else "no version yet")
    content: str = rows[0]["content"]
    budget = Budget("validation")
    lines = content.splitlines()
    sections = split_sections(content)
    titled = [s for s in sections if s.title]
    findings: list[Finding] = []

    present = {s.key for s in titled}
    for name in SECTIONS.get(doc["type"], ()):
        if name.lower() not in present:
            findings.append(
                Finding(
                    rule="missing_section",
                    severity="error",
                    message=f"the {TITLES[doc['type']]} has no '{name}' section",
                    location=Location(line=max(1, len(lines)), section=None),
                )
            )
    for section in titled:
        if not section.body.strip():
            findings.append(
                Finding(
                    rule="empty_section",
                    severity="warning",
                    message=f"section '{section.title}' is empty",
                    location=Location(line=section.line, section=section.title),
                )
            )
    defined = set(KNOWN_ROLES)
    for section in titled:
        if any(word in section.key for word in ("role", "user", "persona", "team")):
            defined |= {m.strip().lower() for m in _BOLD.findall(section.body)}
            for row in section.body.splitlines():
                if row.startswith("|"):
                    defined.add(row.strip("|").split("|")[0].strip().lower())
    in_fence = False
    for number_, line in enumerate(lines, start=1):
        if number_ % 1000 == 0:
            budget.check()
        if line.lstrip().startswith(("```", "~~~")):
            in_fence = not in_fence
            continue
        if in_fence:
            continue
        for match in _TODO.finditer(line):
            findings.append(
                Finding(
                    rule="unresolved_todo",
                    severity="warning",
                    message=f"unresolved marker '{match.group(0)}'",
                    location=Location(line=number_, section=_section_at(sections, number_)),
                )
            )
        roles = [m.group(1) for m in _STORY_ROLE.finditer(line)]
        roles += [m.group(1) for m in _NAMED_ROLE.finditer(line)]
        for role in roles:
            if role.strip().lower() not in defined and normalise_title(role) not in defined:
                findings.append(
                    Finding(
                        rule="undefined_role",
                        severity="warning",
                        message=f"role '{role.strip()}' is used but not defined in the document",
                        location=Location(line=number_, section=_section_at(sections, number_)),
                    )
                )
    findings.sort(key=lambda f: (f.location.line, f.rule))
    return ValidateResponse(
        document_id=doc["id"], version=number, document_type=doc["type"], findings=findings
    )


# --- extract tasks ---------------------------------------------------------------------------
_SPEAKER = re.compile(r"^\s*(?:\[[^\]]*\]\s*)?([A-Z][\w.' -]{0,40}?)\s*:\s+(.*)$")
_SENTENCE = re.compile(r"(?<=[.!?])\s+")
_CONTRACTIONS = {
    r"\bI'll\b": "I will", r"\bwe'll\b": "we will", r"\bWe'll\b": "We will",
    r"\byou'll\b": "you will", r"\bYou'll\b": "You will", r"\bLet's\b": "let us",
    r"\blet's\b": "let us",
}  # fmt: skip
_REQUIREMENT = re.compile(
    r"^(?:the\s+)?(?:system|app|application|platform|api|backend|service|product|users?|"
    r"customers?|admins?|it)\b.*\b(?:must|shall|should|has to|have to|needs? to)\b",
    re.IGNORECASE,
)
_TASK_PATTERNS = (
    re.compile(r"^(?:action item|todo|to do|next step)s?\s*[:\-]\s*(?P<what>.+)", re.IGNORECASE),
    re.compile(
        r"^(?P<who>[A-Z][a-z]+|I|we|We)\s+(?:will|shall|(?:is|am|are) going to|needs? to|"
        r"should|must|can)\s+(?P<what>.+)"
    ),
    re.compile(r"^(?:let us|please|can you|could you)\s+(?P<what>.+)", re.IGNORECASE),
    re.compile(r"\b(?:we need to|we have to|we should)\s+(?P<what>.+)", re.IGNORECASE),
)


def _members(rest: Rest, project_id: Any) -> list[dict[str, Any]]:
    rows = rest.select(
        "project_members",
        {"project_id": f"eq.{project_id}",
         "select": "user_id,profiles!project_members_user_id_fkey(full_name,username)"},
    )  # fmt: skip
    out = []
    for row in rows:
        profile = row.get("profiles") or {}
        names = {n.lower() for n in (profile.get("full_name"), profile.get("username")) if n}
        if profile.get("full_name"):
            names.add(profile["full_name"].split()[0].lower())
        out.append({"user_id": row["user_id"], "names": names})
    return out


def _match_member(members: list[dict[str, Any]], *candidates: str | None) -> tuple[str | None, Any]:
    for candidate in candidates:
        if not candidate:
            continue
        key = candidate.strip().lower()
        for member in members:
            if key in member["names"]:
                return candidate.strip(), member["user_id"]
    return None, None


def _mentioned(members: list[dict[str, Any]], sentence: str) -> tuple[str | None, Any]:
    words = re.findall(r"[A-Za-z][\w'-]*", sentence)
    return _match_member(members, *[w for w in words if w[0].isupper()])


def _title(what: str) -> tuple[str, list[str]]:
    # whitespace runs become one space first: the patterns below start with \s+, which
    # backtracks quadratically over a long run of spaces
    what = " ".join(what.split()).rstrip(".!?").strip()
    criteria = []
    so_that = re.split(r"\s+so that\s+", what, maxsplit=1, flags=re.IGNORECASE)
    if len(so_that) == 2:
        what = so_that[0]
        criteria.append(f"Done when {so_that[1].strip()}")
    by = re.split(
        r"\s+(?:by|before)\s+(?=(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday|"
        r"tomorrow|next|the end|end of|\d))",
        what,
        maxsplit=1,
        flags=re.IGNORECASE,
    )
    if len(by) == 2:
        what = by[0]
        criteria.append(f"Finished by {by[1].strip()}")
    what = re.sub(r",?\s+(?:please|okay|ok)$", "", what, flags=re.IGNORECASE)
    title = what[:1].upper() + what[1:]
    return title[:120], criteria


def extract_tasks(settings: Settings, caller: Caller, req: ExtractRequest) -> ExtractResponse:
    rest = as_caller(settings, caller.token)
    _project(rest, req.project_id)
    members = _members(rest, req.project_id)
    requirements: list[str] = []
    tasks: list[ProposedTask] = []
    seen: set[str] = set()
    budget = Budget("task extraction")
    for number, raw in enumerate(req.transcript.splitlines(), start=1):
        if number % 200 == 0:
            budget.check()
        match = _SPEAKER.match(raw)
        speaker, text = (match.group(1), match.group(2)) if match else (None, raw)
        for pattern, replacement in _CONTRACTIONS.items():
            text = re.sub(pattern, replacement, text)
        for sentence in _SENTENCE.split(text.strip()):
            sentence = sentence.strip()
            if len(sentence) < 8:
                continue
            if _REQUIREMENT.search(sentence):
                requirements.append(sentence.rstrip(".") + ".")
                continue
            for pattern in _TASK_PATTERNS:
                found = pattern.search(sentence)
                if not found:
                    continue
                who = found.groupdict().get("who")
                title, criteria = _title(found.group("what"))
                if len(title) < 4 or title.lower() in seen:
                    break
                seen.add(title.lower())
                if who == "I":
                    hint, member = _match_member(members, speaker)
                    hint = hint or speaker
                elif who and who.lower() != "we":
                    hint, member = _match_member(members, who)
                    hint = hint or who
                else:
                    hint, member = _mentioned(members, sentence)
                criteria.append(f"{title} is complete and reviewed by the team")
                source = f"line {number}" + (f", {speaker}" if speaker else "")
                tasks.append(
                    ProposedTask(
                        title=title,
                        description=f'From the transcript ({source}): "{sentence}"',
                        acceptance_criteria=criteria,
                        assignee_hint=hint,
                        assignee_id=member,
                        source_line=number,
                    )
                )
                break
    created: list[Any] = []
    if req.create and tasks:
        rows = [
            {
                "project_id": str(req.project_id),
                "title": t.title,
                "description": t.description
                + "\n\nAcceptance criteria:\n"
                + "\n".join(f"- {c}" for c in t.acceptance_criteria),
                "assignee_id": str(t.assignee_id) if t.assignee_id else None,
                "created_by": caller.user_id,
            }
            for t in tasks
        ]
        try:
            answer = rest.request(
                "POST", "tasks", params={"select": "id"}, json=rows,
                prefer="return=representation",
            )  # fmt: skip
        except ApiError as exc:
            if exc.status == 403:
                raise forbidden("only project editors can create tasks") from None
            raise
        created = [r["id"] for r in answer.json()]
    return ExtractResponse(requirements=requirements, tasks=tasks, created_task_ids=created)
