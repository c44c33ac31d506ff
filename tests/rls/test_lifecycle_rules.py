"""Rules about a row's life after it was written: erasing its author, soft-deleting its
parent, the service role's share of a row (integration sync state)."""

from __future__ import annotations

import uuid
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
    assert world.one(
        "select deleted_at is not null from public.documents where id = %s", (document,)
    )
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
    assert world.one("select deleted_at is not null from public.messages where id = %s", (message,))
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


# -- integrations' sync state ---------------------------------------------------------------


def test_clients_cannot_set_an_integrations_sync_status(stack: Stack, world: World) -> None:
    integration = world.integration(world.uid("editor"))
    editor = world.client("editor")
    where = {"id": f"eq.{integration}"}
    for status in ("connected", "syncing", "error"):
        refused = editor.patch("/integrations", params=where, json={"status": status})
        assert refused.status_code == 403, refused.text
        assert refused.json()["message"] == "integrations.status can only be changed to revoked"
    assert world.one(
        "select status::text from public.integrations where id = %s", (integration,)
    ) == ("pending")

    # the service role runs the sync
    stack.service_rest().table("integrations").update(
        {"status": "error", "last_error": "token expired"}
    ).eq("id", integration).execute()

    # the user still renames and revokes
    renamed = editor.patch(
        "/integrations", params=where, json={"external_account_name": "me"}, headers=REPRESENTATION
    )
    assert renamed.status_code == 200, renamed.text
    assert renamed.json()[0]["status"] == "error"
    revoked = editor.patch(
        "/integrations", params=where, json={"status": "revoked"}, headers=REPRESENTATION
    )
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()[0]["status"] == "revoked"
    again = editor.patch("/integrations", params=where, json={"status": "pending"})
    assert again.status_code == 403


def test_an_integrations_sync_columns_start_empty_whatever_the_client_sends(
    world: World,
) -> None:
    created = world.client("editor").post(
        "/integrations",
        json={
            "provider": "gitlab",
            "external_account_id": uuid.uuid4().hex,
            "last_synced_at": "2030-01-01T00:00:00Z",
            "last_error": "made up",
        },
        headers=REPRESENTATION,
    )
    assert created.status_code == 201, created.text
    row = created.json()[0]
    assert (row["status"], row["last_synced_at"], row["last_error"]) == ("pending", None, None)

    connected = world.client("editor").post(
        "/integrations",
        json={"provider": "gitlab", "external_account_id": uuid.uuid4().hex, "status": "connected"},
    )
    assert connected.status_code == 403


def test_the_service_role_writes_an_integrations_sync_state(stack: Stack, world: World) -> None:
    service = stack.service_rest()
    row = (
        service.table("integrations")
        .insert(
            {
                "user_id": world.uid("editor"),
                "provider": "jira",
                "external_account_id": uuid.uuid4().hex,
                "status": "connected",
                "last_synced_at": "2030-01-01T00:00:00+00:00",
            }
        )
        .execute()
        .data[0]
    )
    assert row["status"] == "connected"
    assert row["last_synced_at"].startswith("2030-01-01")
    service.table("integrations").update({"status": "syncing"}).eq("id", row["id"]).execute()
    assert (
        world.one("select status::text from public.integrations where id = %s", (row["id"],))
        == "syncing"
    )


# -- project members ------------------------------------------------------------------------


def test_admins_invite_and_re_role_members_up_to_admin_never_owner(
    stack: Stack, world: World
) -> None:
    project = world.member_project()
    admin = world.client("project_admin")
    newcomer = stack.new_user()
    invited = admin.post(
        "/rpc/invite_project_member",
        json={"project_id": project, "user_id": newcomer.id, "role": "admin"},
    )
    assert invited.status_code == 200, invited.text
    accepted = stack.http(newcomer.token).post(
        "/rest/v1/rpc/accept_project_invitation", json={"invitation_id": invited.json()["id"]}
    )
    assert accepted.status_code == 200, accepted.text
    where = {"project_id": f"eq.{project}", "user_id": f"eq.{newcomer.id}"}
    to_owner = admin.patch("/project_members", params=where, json={"role": "owner"})
    assert to_owner.status_code == 403
    as_owner = admin.post(
        "/rpc/invite_project_member",
        json={"project_id": project, "user_id": stack.new_user().id, "role": "owner"},
    )
    assert as_owner.status_code == 403
    by_editor = world.client("editor").post(
        "/rpc/invite_project_member",
        json={"project_id": project, "user_id": stack.new_user().id, "role": "viewer"},
    )
    assert by_editor.status_code == 403
    demoted = admin.patch(
        "/project_members", params=where, json={"role": "viewer"}, headers=REPRESENTATION
    )
    assert demoted.json()[0]["role"] == "viewer"
    # an admin removes a member; a viewer leaves; nobody removes the owner
    removed = admin.delete("/project_members", params=where, headers=REPRESENTATION)
    assert len(removed.json()) == 1
    left = world.client("viewer").delete(
        "/project_members",
        params={"project_id": f"eq.{project}", "user_id": f"eq.{world.uid('viewer')}"},
        headers=REPRESENTATION,
    )
    assert len(left.json()) == 1
    owner_row = admin.delete(
        "/project_members",
        params={"project_id": f"eq.{project}", "user_id": f"eq.{world.uid('owner')}"},
        headers=REPRESENTATION,
    )
    assert owner_row.json() == []
