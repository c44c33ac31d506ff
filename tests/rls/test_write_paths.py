"""Writes an attacker would send that the filtered matrix never tried (issue 8, sections 1,
2 and 5's forged metadata), as stories over PostgREST with real tokens, each checked in SQL.

An unfiltered ``PATCH``/``DELETE`` with ``Prefer: return=minimal`` reads no column, so
PostgreSQL applies no SELECT policy to it: only the update/delete policies and the triggers
stand between it and every row. Each test here makes its own people (an unfiltered write
reaches every row its sender may touch, so it must not share the session's world).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.rls.world import World
from tests.support import Stack

MINIMAL = {"Prefer": "return=minimal"}
REPRESENTATION = {"Prefer": "return=representation"}
LONG_AGO = "2000-01-01T00:00:00Z"


@dataclass
class Team:
    """A fresh project R: owner, admin, editor, viewer, each with a client."""

    project: str
    ids: dict[str, str]
    http: dict[str, httpx.Client]


@pytest.fixture
def team(stack: Stack, world: World) -> Iterator[Team]:
    users = {role: stack.new_user() for role in ("owner", "admin", "editor", "viewer")}
    project = world.project(
        users["owner"].id,
        {users[r].id: r for r in ("admin", "editor", "viewer")},
    )
    clients = {
        role: httpx.Client(
            base_url=f"{stack.env['API_URL']}/rest/v1",
            headers={"apikey": stack.env["ANON_KEY"], "Authorization": f"Bearer {user.token}"},
            timeout=30.0,
        )
        for role, user in users.items()
    }
    yield Team(project, {role: user.id for role, user in users.items()}, clients)
    for client in clients.values():
        client.close()


def refused(response: httpx.Response) -> None:
    """The database refused it (42501), not a gateway, a token check or a validation."""
    assert response.status_code in (401, 403), response.text
    assert response.json().get("code") == "42501", response.text


def deleted_at(world: World, table: str, row_id: str) -> Any:
    return world.one(f"select deleted_at from public.{table} where id = %s", (row_id,))


# -- 1. soft delete and restore ---------------------------------------------------------------


def test_a_project_admin_cannot_soft_delete_the_owners_project_with_an_unfiltered_patch(
    world: World, team: Team
) -> None:
    response = team.http["admin"].patch("/projects", json={"deleted_at": LONG_AGO}, headers=MINIMAL)
    refused(response)
    assert deleted_at(world, "projects", team.project) is None


def test_only_the_owner_deletes_a_project_even_unfiltered(world: World, team: Team) -> None:
    for role in ("admin", "editor", "viewer"):
        response = team.http[role].delete("/projects", headers=MINIMAL)
        assert response.status_code == 204, response.text
        assert deleted_at(world, "projects", team.project) is None, role
    assert team.http["owner"].delete("/projects", headers=MINIMAL).status_code == 204
    assert world.one(
        "select deleted_at between now() - interval '1 minute' and now()"
        " from public.projects where id = %s",
        (team.project,),
    )


def test_a_second_unfiltered_delete_deletes_nothing_for_real(world: World, team: Team) -> None:
    task = world.task(team.project)
    document = world.document(team.project)
    world.sql(
        "insert into public.document_versions (document_id, project_id, content, author_id)"
        " values (%s, %s, '# v1', %s)",
        (document, team.project, team.ids["owner"]),
    )
    file = world.file(team.project, team.ids["editor"])
    world.sql("update public.files set status = 'ready' where id = %s", (file,))

    for table in ("tasks", "documents", "files", "tasks", "documents", "files"):
        response = team.http["editor"].delete(f"/{table}", headers=MINIMAL)
        assert response.status_code == 204, response.text

    for table, row in (("tasks", task), ("documents", document), ("files", file)):
        assert deleted_at(world, table, row) is not None, f"{table} row was hard-deleted"
    assert (
        world.one(
            "select count(*) from public.document_versions where document_id = %s", (document,)
        )
        == 1
    )


def test_a_client_delete_of_an_already_deleted_row_keeps_its_deletion_time(
    world: World, team: Team
) -> None:
    task = world.task(team.project)
    world.sql(
        "update public.tasks set deleted_at = now() - interval '2 days' where id = %s", (task,)
    )
    before = deleted_at(world, "tasks", task)
    for params in ({}, {"id": f"eq.{task}"}):
        response = team.http["owner"].delete("/tasks", params=params, headers=MINIMAL)
        assert response.status_code == 204
        assert deleted_at(world, "tasks", task) == before


def test_an_editor_cannot_undelete_with_a_patch(world: World, team: Team) -> None:
    task = world.task(team.project)
    assert team.http["editor"].delete("/tasks", params={"id": f"eq.{task}"}).status_code == 204
    assert deleted_at(world, "tasks", task) is not None
    for params in ({}, {"id": f"eq.{task}"}):
        response = team.http["editor"].patch(
            "/tasks", params=params, json={"deleted_at": None}, headers=MINIMAL
        )
        # unfiltered, the live tasks refuse the column; filtered, the policy hides the row
        assert response.status_code in (204, 403), response.text
        assert deleted_at(world, "tasks", task) is not None


@pytest.mark.parametrize("table", ["projects", "tasks", "files", "messages", "documents"])
def test_clients_never_write_deleted_at(world: World, team: Team, table: str) -> None:
    """Neither on insert nor on update, however the request is shaped."""
    conversation = world.conversation(team.ids["owner"], [team.ids["admin"]], team.project)
    live = {
        "projects": lambda: team.project,
        "tasks": lambda: world.task(team.project),
        "files": lambda: world.file(team.project, team.ids["owner"]),
        "messages": lambda: world.message(conversation, team.ids["owner"]),
        "documents": lambda: world.document(team.project),
    }[table]()
    body = {
        "projects": {"name": "backdated", "owner_id": team.ids["owner"]},
        "tasks": {"project_id": team.project, "title": "t", "created_by": team.ids["owner"]},
        "files": {
            "project_id": team.project,
            "name": "a.txt",
            "mime_type": "text/plain",
            "size_bytes": 1,
            "checksum_sha256": "a" * 64,
            "bucket": "test",
            "uploaded_by": team.ids["owner"],
        },
        "messages": {"conversation_id": conversation, "content": "hi"},
        "documents": {"project_id": team.project, "title": "d", "created_by": team.ids["owner"]},
    }[table]
    count = world.one(f"select count(*) from public.{table}")
    inserted = team.http["owner"].post(
        f"/{table}", json={**body, "deleted_at": LONG_AGO}, headers=MINIMAL
    )
    refused(inserted)
    assert world.one(f"select count(*) from public.{table}") == count

    for params in ({}, {"id": f"eq.{live}"}):
        patched = team.http["owner"].patch(
            f"/{table}", params=params, json={"deleted_at": LONG_AGO}, headers=MINIMAL
        )
        refused(patched)
        assert deleted_at(world, table, live) is None


# -- 2. rows keep their project -----------------------------------------------------------------


def test_an_editor_cannot_move_a_task_into_their_own_project(world: World, team: Team) -> None:
    task = world.task(team.project)
    own = world.project(team.ids["editor"])
    response = team.http["editor"].patch(
        "/tasks", params={"id": f"eq.{task}"}, json={"project_id": own}, headers=MINIMAL
    )
    refused(response)
    assert world.one("select project_id::text from public.tasks where id = %s", (task,)) == (
        team.project
    )


# -- 5. metadata the database sets on insert ----------------------------------------------------


def test_a_new_message_is_not_edited_whatever_the_client_says(world: World, team: Team) -> None:
    conversation = world.conversation(team.ids["owner"], [team.ids["editor"]], team.project)
    response = team.http["editor"].post(
        "/messages",
        json={"conversation_id": conversation, "content": "hi", "edited_at": LONG_AGO},
        headers=REPRESENTATION,
    )
    assert response.status_code == 201, response.text
    assert response.json()[0]["edited_at"] is None


def test_a_new_document_starts_at_version_0_and_its_first_version_is_1(
    world: World, team: Team
) -> None:
    response = team.http["editor"].post(
        "/documents",
        json={"project_id": team.project, "title": "PRD", "current_version": 41},
        headers=REPRESENTATION,
    )
    assert response.status_code == 201, response.text
    document = response.json()[0]
    assert document["current_version"] == 0
    version = team.http["editor"].post(
        "/document_versions",
        json={"document_id": document["id"], "project_id": team.project, "content": "# v"},
        headers=REPRESENTATION,
    )
    assert version.status_code == 201, version.text
    assert version.json()[0]["version"] == 1


def test_a_version_cannot_claim_to_restore_what_it_does_not(world: World, team: Team) -> None:
    document = world.document(team.project)
    first = team.http["editor"].post(
        "/document_versions",
        json={"document_id": document, "project_id": team.project, "content": "# one"},
        headers=REPRESENTATION,
    )
    assert first.status_code == 201, first.text
    forged = team.http["editor"].post(
        "/document_versions",
        json={
            "document_id": document,
            "project_id": team.project,
            "content": "# something else",
            "restored_from_version": 1,
        },
        headers=MINIMAL,
    )
    assert forged.status_code == 400, forged.text
    assert forged.json()["code"] == "22023"
    # the real restore still records where it came from
    restored = team.http["editor"].post(
        "/rpc/restore_document_version", json={"document_id": document, "version": 1}
    )
    assert restored.status_code == 200, restored.text
    assert restored.json()["restored_from_version"] == 1
    assert restored.json()["version"] == 2


def test_a_manual_activity_event_is_the_callers_and_happens_now(world: World, team: Team) -> None:
    response = team.http["editor"].post(
        "/activity_events",
        json={
            "project_id": team.project,
            "source": "manual",
            "kind": "note.added",
            "actor_id": team.ids["editor"],
            "actor": "The CEO",
            "occurred_at": LONG_AGO,
        },
        headers=MINIMAL,
    )
    assert response.status_code == 201, response.text
    row = world.sql(
        "select actor, actor_id::text, occurred_at > now() - interval '1 minute' as now"
        " from public.activity_events where project_id = %s",
        (team.project,),
    )
    assert row == [{"actor": None, "actor_id": team.ids["editor"], "now": True}]


def test_the_organiser_cannot_answer_for_an_attendee(world: World, team: Team) -> None:
    event = world.event(team.ids["owner"], team.project)
    response = team.http["owner"].post(
        "/calendar_event_attendees",
        json={"event_id": event, "user_id": team.ids["viewer"], "response": "accepted"},
        headers=MINIMAL,
    )
    assert response.status_code == 201, response.text
    assert (
        world.one(
            "select response::text from public.calendar_event_attendees where event_id = %s",
            (event,),
        )
        == "pending"
    )
    # the attendee answers
    answered = team.http["viewer"].patch(
        "/calendar_event_attendees",
        params={"event_id": f"eq.{event}"},
        json={"response": "declined"},
        headers=REPRESENTATION,
    )
    assert [row["response"] for row in answered.json()] == ["declined"]


def test_the_service_role_still_ingests_events_with_their_own_time_and_actor(
    stack: Stack, world: World, team: Team
) -> None:
    external = uuid.uuid4().hex
    stack.service_rest().table("activity_events").insert(
        {
            "project_id": team.project,
            "source": "github",
            "kind": "push",
            "external_id": external,
            "actor": "octocat",
            "occurred_at": LONG_AGO,
        }
    ).execute()
    row = world.sql(
        "select actor, occurred_at = %s::timestamptz as kept from public.activity_events"
        " where external_id = %s",
        (LONG_AGO, external),
    )
    assert row == [{"actor": "octocat", "kept": True}]
