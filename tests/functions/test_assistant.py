"""The assistant (/functions/v1/assistant) over the real stack, as the caller."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.functions.conftest import Team
from tests.support import Stack


def call(stack: Stack, token: str | None, path: str, body: Any) -> httpx.Response:
    with stack.http(token) if token else stack.http(headers={}) as http:
        return http.post(f"/functions/v1/assistant/{path}", json=body)


def name_members(stack: Stack, team: Team) -> None:
    for role, name in (("editor", "Alice Martin"), ("viewer", "Bob Stone"), ("admin", "Carol")):
        stack.sql(
            "update public.profiles set full_name = %s where id = %s",
            (name, team.members[role].id),
        )


# --- suggest ---------------------------------------------------------------------------------
def test_suggest_names_overdue_and_unassigned_work_and_missing_documents(stack: Stack, team: Team):
    editor = stack.rest(team.members["editor"].token)
    yesterday = (datetime.now(UTC) - timedelta(days=2)).isoformat()
    overdue = editor.table("tasks").insert(
        {"project_id": team.project_id, "title": "Ship the beta", "due_at": yesterday,
         "assignee_id": team.members["editor"].id}
    ).execute().data[0]  # fmt: skip
    editor.table("tasks").insert({"project_id": team.project_id, "title": "Write docs"}).execute()
    editor.table("documents").insert(
        {"project_id": team.project_id, "title": "PRD", "type": "prd",
         "created_by": team.members["editor"].id}
    ).execute()  # fmt: skip

    answer = call(stack, team.members["viewer"].token, "suggest", {"project_id": team.project_id})
    assert answer.status_code == 200, answer.text
    suggestions = answer.json()["suggestions"]
    kinds = [s["kind"] for s in suggestions]
    assert kinds[0] == "overdue_task" and suggestions[0]["target_id"] == overdue["id"]
    assert "unassigned_task" in kinds
    missing = {s["title"] for s in suggestions if s["kind"] == "missing_document"}
    assert missing == {
        "Generate the Technical Specification",
        "Generate the Backend Structure Document",
    }
    assert "empty_document" in kinds, "the PRD has no version yet"
    assert "no_tasks" not in kinds


def test_suggest_for_an_empty_project_says_to_make_tasks(stack: Stack, team: Team):
    answer = call(stack, team.members["owner"].token, "suggest", {"project_id": team.project_id})
    assert answer.json()["suggestions"][0]["kind"] == "no_tasks"


def test_suggest_is_404_for_an_outsider(stack: Stack, team: Team):
    answer = call(stack, team.outsider.token, "suggest", {"project_id": team.project_id})
    assert answer.status_code == 404


# --- format ----------------------------------------------------------------------------------
def test_format_normalises_markdown_deterministically(stack: Stack, team: Team):
    messy = "Title\n=====\n\n* one\n* two\n\n|a|b|\n|-|-|\n|1|2|\n\n\n\nend   \n"
    first = call(stack, team.members["viewer"].token, "format", {"markdown": messy})
    assert first.status_code == 200, first.text
    formatted = first.json()["markdown"]
    assert first.json()["changed"] is True
    assert formatted.startswith("# Title\n")
    assert "- one\n- two\n" in formatted
    assert "| a   | b   |\n| --- | --- |\n| 1   | 2   |\n" in formatted, "GitHub tables survive"
    again = call(stack, team.members["viewer"].token, "format", {"markdown": formatted})
    assert again.json() == {"markdown": formatted, "changed": False}


@pytest.mark.parametrize(
    ("body", "status"), [({}, 422), ({"markdown": 5}, 422), ({"markdown": "x" * 50_001}, 422)]
)
def test_format_rejects_bad_input(stack: Stack, team: Team, body: Any, status: int):
    assert call(stack, team.members["viewer"].token, "format", body).status_code == status


def test_the_assistant_needs_a_token(stack: Stack):
    answer = call(stack, None, "format", {"markdown": "# x"})
    assert answer.status_code == 401 and answer.json()["error"] == "unauthorized"


# --- validate --------------------------------------------------------------------------------
DRAFT = """# PRD

## 1. Overview

As a Growth Hacker, I want referral links, TODO decide rewards.

## 2. Problem and Goals

## 3. Target Users and Roles

- **Founder**: runs the company.

As a founder, I want a dashboard.

```text
TODO inside code is not a finding
```
"""


@pytest.fixture
def draft(stack: Stack, team: Team) -> str:
    editor = stack.rest(team.members["editor"].token)
    doc = editor.table("documents").insert(
        {"project_id": team.project_id, "title": "Draft PRD", "type": "prd",
         "created_by": team.members["editor"].id}
    ).execute().data[0]  # fmt: skip
    editor.table("document_versions").insert(
        {"document_id": doc["id"], "content": DRAFT, "author_id": team.members["editor"].id}
    ).execute()
    return doc["id"]


def test_validate_reports_missing_and_empty_sections_todos_and_undefined_roles(
    stack: Stack, team: Team, draft: str
):
    answer = call(
        stack,
        team.members["viewer"].token,
        "validate",
        {"project_id": team.project_id, "document_id": draft},
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["version"], body["document_type"]) == (1, "prd")
    by_rule: dict[str, list[dict[str, Any]]] = {}
    for finding in body["findings"]:
        by_rule.setdefault(finding["rule"], []).append(finding)
    missing = {f["message"] for f in by_rule["missing_section"]}
    assert "the Product Requirements Document has no 'Success Metrics' section" in missing
    assert len(missing) == 6
    (empty,) = by_rule["empty_section"]
    assert empty["location"] == {"line": 7, "section": "2. Problem and Goals"}
    (todo,) = by_rule["unresolved_todo"]
    assert todo["location"] == {"line": 5, "section": "1. Overview"}
    (role,) = by_rule["undefined_role"]
    assert role["message"] == "role 'Growth Hacker' is used but not defined in the document"
    assert role["location"]["line"] == 5


def test_validate_is_404_for_an_outsider_and_for_another_projects_id(
    stack: Stack, team: Team, draft: str
):
    body = {"project_id": team.project_id, "document_id": draft}
    assert call(stack, team.outsider.token, "validate", body).status_code == 404
    other = {"project_id": str(uuid.uuid4()), "document_id": draft}
    assert call(stack, team.members["viewer"].token, "validate", other).status_code == 404


# --- extract tasks ---------------------------------------------------------------------------
TRANSCRIPT = """Alice Martin: Thanks for joining. The app must support Google sign-in.
Carol: I will draft the onboarding emails by Friday.
Alice Martin: We need to set up error monitoring so that we see crashes before users do.
Bob Stone: Alice will review the pricing page.
Carol: Sounds good.
Dave: Action item: book the usability study.
"""


def extract(stack: Stack, token: str, project_id: str, create: bool) -> httpx.Response:
    body = {"project_id": project_id, "transcript": TRANSCRIPT, "create": create}
    return call(stack, token, "extract-tasks", body)


def test_extract_tasks_proposes_requirements_and_tasks_with_assignee_hints(
    stack: Stack, team: Team
):
    name_members(stack, team)
    answer = extract(stack, team.members["viewer"].token, team.project_id, create=False)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["requirements"] == ["The app must support Google sign-in."]
    tasks = {t["title"]: t for t in body["tasks"]}
    assert set(tasks) == {
        "Draft the onboarding emails",
        "Set up error monitoring",
        "Review the pricing page",
        "Book the usability study",
    }
    emails = tasks["Draft the onboarding emails"]
    assert (emails["assignee_hint"], emails["assignee_id"]) == ("Carol", team.members["admin"].id)
    assert "Finished by Friday" in emails["acceptance_criteria"]
    monitoring = tasks["Set up error monitoring"]
    assert "Done when we see crashes before users do" in monitoring["acceptance_criteria"]
    review = tasks["Review the pricing page"]
    assert review["assignee_id"] == team.members["editor"].id
    study = tasks["Book the usability study"]
    assert study["assignee_id"] is None, "Dave is not a member"
    assert body["created_task_ids"] == []
    rows = stack.sql("select 1 from public.tasks where project_id = %s", (team.project_id,))
    assert rows == [], "without create nothing is written"


def test_extract_tasks_with_create_creates_them_as_the_editor(stack: Stack, team: Team):
    name_members(stack, team)
    editor = team.members["editor"]
    answer = extract(stack, editor.token, team.project_id, create=True)
    assert answer.status_code == 201, answer.text
    created = answer.json()["created_task_ids"]
    assert len(created) == 4
    rows = stack.sql(
        "select title, created_by, assignee_id, description from public.tasks"
        " where project_id = %s order by title",
        (team.project_id,),
    )
    assert {r["created_by"] for r in rows} == {uuid.UUID(editor.id)}, "created as the caller"
    review = next(r for r in rows if r["title"] == "Review the pricing page")
    assert str(review["assignee_id"]) == editor.id
    assert "Acceptance criteria:" in review["description"]


def test_extract_tasks_with_create_is_403_for_a_viewer_and_writes_nothing(stack: Stack, team: Team):
    answer = extract(stack, team.members["viewer"].token, team.project_id, create=True)
    assert answer.status_code == 403 and answer.json()["error"] == "forbidden"
    rows = stack.sql("select 1 from public.tasks where project_id = %s", (team.project_id,))
    assert rows == []


def test_extract_tasks_is_404_for_an_outsider(stack: Stack, team: Team):
    assert extract(stack, team.outsider.token, team.project_id, create=False).status_code == 404


@pytest.mark.parametrize(
    "body",
    [
        {"transcript": "x"},
        {"project_id": "nope", "transcript": "x"},
        {"project_id": str(uuid.uuid4()), "transcript": ""},
        {"project_id": str(uuid.uuid4()), "transcript": "x" * 50_001},
        {"project_id": str(uuid.uuid4()), "transcript": "x", "create": "maybe"},
    ],
)
def test_extract_tasks_rejects_bad_input(stack: Stack, team: Team, body: dict[str, Any]):
    answer = call(stack, team.members["editor"].token, "extract-tasks", body)
    assert answer.status_code == 422, answer.text
