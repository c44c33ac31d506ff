"""Rules about a row's life after it was written: erasing its author, soft-deleting its
parent, the service role's share of a row (integration sync state)."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from tests.rls.world import World
from tests.support import Stack

REPRESENTATION = {"Prefer": "return=representation"}


def rpc(world: World, role: str, name: str, **args: Any) -> Any:
    response = world.client(role).post(f"/rpc/{name}", json=args)
    assert response.status_code in (200, 204), f"{name}: {response.text}"
    return response.json() if response.content else None


# -- erasure ------------------------------------------------------------------------------


def test_erasing_a_person_keeps_the_versions_they_wrote_without_their_name(
    stack: Stack, world: World
) -> None:
    person = stack.new_user()
    project = world.project(
        world.uid("owner"), {person.id: "editor", world.uid("viewer"): "viewer"}
    )
    document = world.document(project)
    written = stack.http(person.token).post(
        "/rest/v1/document_versions",
        json={"document_id": document, "project_id": project, "content": "# by the person"},
        headers=REPRESENTATION,
    )
    assert written.status_code == 201, written.text
    version = written.json()[0]
    assert version["author_id"] == person.id

    # the privacy erasure job's call (service role)
    stack.service_rest().rpc("erase_user", {"user_id": person.id}).execute()

    assert world.one("select count(*) from auth.users where id = %s", (person.id,)) == 0
    kept = world.client("viewer").get(
        "/document_versions",
        params={"id": f"eq.{version['id']}", "select": "content,author_id,generated_by,version"},
    )
    assert kept.json() == [
        {
            "content": "# by the person",
            "author_id": None,
            "generated_by": "erased user",
            "version": version["version"],
        }
    ]


def test_only_the_erasure_cascade_may_empty_a_versions_author(stack: Stack, world: World) -> None:
    version = world.version(world.project_p)
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
        stack.sql("update public.document_versions set author_id = null where id = %s", (version,))
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
        stack.sql(
            "update public.document_versions set author_id = null, content = 'x' where id = %s",
            (version,),
        )


# -- soft-deleted parents -------------------------------------------------------------------


def test_a_deleted_documents_versions_vanish_and_come_back_with_it(world: World) -> None:
    version = world.version(world.project_p)
    document = world.one(
        "select document_id::text from public.document_versions where id = %s", (version,)
    )
    where = {"id": f"eq.{version}", "select": "id"}
    assert world.client("viewer").get("/document_versions", params=where).json() == [
        {"id": version}
    ]

    deleted = world.client("editor").delete("/documents", params={"id": f"eq.{document}"})
    assert deleted.status_code == 204
    for role in ("viewer", "editor", "project_admin", "owner"):
        assert world.client(role).get("/document_versions", params=where).json() == [], role
    by_document = world.client("viewer").get(
        "/document_versions", params={"document_id": f"eq.{document}"}
    )
    assert by_document.json() == []

    rpc(world, "project_admin", "restore_deleted", target_table="documents", target_id=document)
    assert world.client("viewer").get("/document_versions", params=where).json() == [
        {"id": version}
    ]


def test_a_deleted_messages_attachments_vanish_and_come_back_with_it(world: World) -> None:
    attachment = world.attachment(world.conversation_c, world.uid("editor"))
    message = world.one(
        "select message_id::text from public.message_attachments where id = %s", (attachment,)
    )
    other = world.attachment(world.conversation_c, world.uid("editor"))  # stays visible
    where = {"id": f"in.({attachment},{other})", "select": "id"}
    assert {
        r["id"] for r in world.client("viewer").get("/message_attachments", params=where).json()
    } == {
        attachment,
        other,
    }

    deleted = world.client("editor").delete("/messages", params={"id": f"eq.{message}"})
    assert deleted.status_code == 204
    for role in ("viewer", "editor", "owner"):
        seen = world.client(role).get("/message_attachments", params=where).json()
        assert seen == [{"id": other}], role

    rpc(world, "editor", "restore_deleted", target_table="messages", target_id=message)
    assert {
        r["id"] for r in world.client("viewer").get("/message_attachments", params=where).json()
    } == {
        attachment,
        other,
    }
