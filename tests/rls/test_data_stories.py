"""The rest of the data model as stories: chat, realtime channels, notifications,
documents, soft delete, audit trail, integrations' secrets, activity and privacy."""

from __future__ import annotations

import json
import uuid
from typing import Any

import psycopg
import pytest

from tests.rls.world import World
from tests.support import REPRESENTATION, Stack


def rpc(world: World, role: str, name: str, **args: Any) -> Any:
    response = world.client(role).post(f"/rpc/{name}", json=args)
    assert response.status_code in (200, 204), f"{name}: {response.text}"
    return response.json() if response.content else None


# -- chat ---------------------------------------------------------------------------------


def test_a_direct_conversation_between_two_people_is_created_once(world: World) -> None:
    first = rpc(
        world, "editor", "get_or_create_direct_conversation", other_user_id=world.uid("viewer")
    )
    again = rpc(
        world, "editor", "get_or_create_direct_conversation", other_user_id=world.uid("viewer")
    )
    reverse = rpc(
        world, "viewer", "get_or_create_direct_conversation", other_user_id=world.uid("editor")
    )
    assert first == again == reverse
    members = world.sql(
        "select user_id::text from public.conversation_members where conversation_id = %s",
        (first,),
    )
    assert {m["user_id"] for m in members} == {world.uid("editor"), world.uid("viewer")}


def test_a_direct_conversation_needs_a_shared_project(world: World) -> None:
    response = world.client("outsider").post(
        "/rpc/get_or_create_direct_conversation", json={"other_user_id": world.uid("editor")}
    )
    assert response.status_code == 403


def test_only_members_read_or_post_and_only_the_author_edits(world: World) -> None:
    conversation = rpc(
        world,
        "owner",
        "create_group_conversation",
        title="launch",
        member_ids=[world.uid("editor")],
        project_id=world.project_p,
    )
    posted = world.client("editor").post(
        "/messages",
        json={"conversation_id": conversation, "content": "ready?"},
        headers=REPRESENTATION,
    )
    assert posted.status_code == 201, posted.text
    message = posted.json()[0]
    assert message["author_id"] == world.uid("editor")
    assert message["edited_at"] is None

    viewer = world.client("viewer")  # in the project, not in this conversation
    assert viewer.get("/messages", params={"conversation_id": f"eq.{conversation}"}).json() == []
    assert (
        viewer.post("/messages", json={"conversation_id": conversation, "content": "x"}).status_code
        == 403
    )

    by_owner = world.client("owner").patch(
        "/messages",
        params={"id": f"eq.{message['id']}"},
        json={"content": "hijack"},
        headers=REPRESENTATION,
    )
    assert by_owner.json() == []
    edited = world.client("editor").patch(
        "/messages",
        params={"id": f"eq.{message['id']}"},
        json={"content": "ready!"},
        headers=REPRESENTATION,
    )
    assert edited.json()[0]["content"] == "ready!"
    assert edited.json()[0]["edited_at"] is not None


def test_message_search_returns_only_messages_the_caller_may_read(world: World) -> None:
    word = f"zebra{uuid.uuid4().hex[:6]}"
    world.message(world.conversation_c, world.uid("owner"))
    mine = world.one(
        "insert into public.messages (conversation_id, author_id, content) values (%s, %s, %s)"
        " returning id::text",
        (world.conversation_c, world.uid("owner"), f"the {word} release"),
    )
    world.sql(
        "insert into public.messages (conversation_id, author_id, content) values (%s, %s, %s)",
        (world.conversation_d, world.uid("stranger"), f"secret {word} plan"),
    )
    found = rpc(world, "viewer", "search_messages", query=word)
    assert [m["id"] for m in found] == [mine]
    assert rpc(world, "outsider", "search_messages", query=word) == []
    assert rpc(world, "disabled", "search_messages", query=word) == []


def test_read_receipts_are_the_members_own_last_read_at(world: World) -> None:
    response = world.client("viewer").patch(
        "/conversation_members",
        params={
            "conversation_id": f"eq.{world.conversation_c}",
            "user_id": f"eq.{world.uid('viewer')}",
        },
        json={"last_read_at": "2030-01-01T00:00:00Z"},
        headers=REPRESENTATION,
    )
    assert response.status_code == 200 and len(response.json()) == 1
    others = world.client("viewer").get(
        "/conversation_members",
        params={"conversation_id": f"eq.{world.conversation_c}", "select": "user_id,last_read_at"},
    )
    # everyone's receipts are visible to the members: exactly the conversation's members
    assert others.status_code == 200, others.text
    members = world.sql(
        "select user_id::text from public.conversation_members where conversation_id = %s",
        (world.conversation_c,),
    )
    seen = [row["user_id"] for row in others.json()]
    assert sorted(seen) == sorted(row["user_id"] for row in members)


# -- realtime -----------------------------------------------------------------------------


def realtime_can(stack: Stack, user_id: str, topic: str, extension: str, action: str) -> bool:
    """What Realtime asks the database when a client joins a private channel, one question
    at a time, as the user with the topic set, rolled back: ``read`` (SELECT on
    realtime.messages: may they receive? a message is put there first, as the superuser) or
    ``send`` (INSERT: may they broadcast / track presence?)."""
    claims = json.dumps({"sub": user_id, "role": "authenticated"})
    with psycopg.connect(stack.env["DB_URL"]) as conn:
        conn.execute("begin")
        if action == "read":
            conn.execute(
                "insert into realtime.messages (topic, extension, event, payload, private)"
                " values (%s, %s, 'typing', '{}', true)",
                (topic, extension),
            )
        conn.execute("set local role authenticated")
        conn.execute("select set_config('request.jwt.claims', %s, true)", (claims,))
        conn.execute("select set_config('realtime.topic', %s, true)", (topic,))
        try:
            if action == "read":
                row = conn.execute(
                    "select count(*) from realtime.messages where topic = %s", (topic,)
                ).fetchone()
                allowed = bool(row and row[0])
            else:
                conn.execute(
                    "insert into realtime.messages (topic, extension, event, payload, private)"
                    " values (%s, %s, 'typing', '{}', true)",
                    (topic, extension),
                )
                allowed = True
        except psycopg.errors.InsufficientPrivilege:
            allowed = False
        conn.rollback()
    return allowed


@pytest.mark.parametrize("action", ["read", "send"])
@pytest.mark.parametrize("extension", ["broadcast", "presence"])
def test_only_a_conversations_members_read_and_send_on_its_private_channel(
    stack: Stack, world: World, extension: str, action: str
) -> None:
    topic = f"conversation:{world.conversation_c}"
    for role in ("guest", "viewer", "editor", "project_admin", "owner"):
        assert realtime_can(stack, world.uid(role), topic, extension, action), role
    for role in ("outsider", "platform_admin", "disabled"):
        assert not realtime_can(stack, world.uid(role), topic, extension, action), role
    for elsewhere in (
        f"conversation:{world.conversation_d}",
        "conversation:not-a-uuid",
        f"user:{world.uid('editor')}",
    ):
        assert not realtime_can(stack, world.uid("viewer"), elsewhere, extension, action)


@pytest.mark.parametrize("extension", ["broadcast", "presence"])
def test_a_projects_members_receive_its_channel_and_nobody_sends_on_it(
    stack: Stack, world: World, extension: str
) -> None:
    """``project:<id>`` carries tasks, files, activity and documents (postgres_changes):
    members join it; no client may broadcast or track on it (a forged "task changed")."""
    topic = f"project:{world.project_p}"
    for role in ("guest", "viewer", "editor", "project_admin", "owner"):
        assert realtime_can(stack, world.uid(role), topic, extension, "read"), role
        assert not realtime_can(stack, world.uid(role), topic, extension, "send"), role
    for role in ("outsider", "platform_admin", "disabled"):
        assert not realtime_can(stack, world.uid(role), topic, extension, "read"), role
    for elsewhere in (f"project:{world.project_p}x", "project:", f"Project:{world.project_p}"):
        assert not realtime_can(stack, world.uid("owner"), elsewhere, extension, "read")


@pytest.mark.parametrize("extension", ["broadcast", "presence"])
def test_a_persons_own_channel_is_theirs_alone_and_read_only(
    stack: Stack, world: World, extension: str
) -> None:
    """``user:<uid>`` carries a person's notifications, jobs and requests."""
    for role in ("guest", "viewer", "owner", "outsider", "platform_admin"):
        mine = f"user:{world.uid(role)}"
        assert realtime_can(stack, world.uid(role), mine, extension, "read"), role
        assert not realtime_can(stack, world.uid(role), mine, extension, "send"), role
        assert not realtime_can(stack, world.uid("editor"), mine, extension, "read"), role
    disabled = world.uid("disabled")
    assert not realtime_can(stack, disabled, f"user:{disabled}", extension, "read")


def test_messages_notifications_and_tasks_are_published_to_realtime(stack: Stack) -> None:
    rows = stack.sql(
        "select tablename from pg_publication_tables where pubname = 'supabase_realtime'"
        " and schemaname = 'public' order by 1"
    )
    assert {"messages", "notifications", "tasks"} <= {r["tablename"] for r in rows}


# -- notifications ------------------------------------------------------------------------


def test_a_new_message_notifies_every_member_but_its_author(world: World) -> None:
    conversation = rpc(
        world,
        "owner",
        "create_group_conversation",
        title="notify",
        member_ids=[world.uid("editor"), world.uid("viewer")],
    )
    world.client("editor").post(
        "/messages", json={"conversation_id": conversation, "content": "ping"}
    )
    rows = world.sql(
        "select user_id::text from public.notifications where type = 'message'"
        " and payload ->> 'conversation_id' = %s",
        (conversation,),
    )
    assert sorted(r["user_id"] for r in rows) == sorted([world.uid("owner"), world.uid("viewer")])


def test_assigning_a_task_and_inviting_a_member_notify_that_person(
    stack: Stack, world: World
) -> None:
    newcomer = stack.new_user()
    project = world.member_project()
    invited = world.client("owner").post(
        "/rpc/invite_project_member",
        json={"project_id": project, "user_id": newcomer.id, "role": "editor"},
    )
    assert invited.status_code == 200, invited.text
    accepted = stack.http(newcomer.token).post(
        "/rest/v1/rpc/accept_project_invitation", json={"invitation_id": invited.json()["id"]}
    )
    assert accepted.status_code == 200, accepted.text
    world.client("editor").post(
        "/tasks", json={"project_id": project, "title": "first", "assignee_id": newcomer.id}
    )
    mine = stack.rest(newcomer.token).table("notifications").select("type,payload").execute().data
    # joining by accepting is their own act: no "member added" notification for it
    assert sorted(n["type"] for n in mine) == ["project_invitation", "task_assigned"]
    assert all(n["payload"]["project_id"] == project for n in mine)

    marked = (
        stack.rest(newcomer.token)
        .table("notifications")
        .update({"read_at": "2030-01-01T00:00:00Z"})
        .eq("user_id", newcomer.id)
        .execute()
    )
    assert len(marked.data) == 2
    forged = stack.rest(newcomer.token).table("notifications").update({"payload": {"x": 1}})
    with pytest.raises(Exception, match="cannot be changed"):
        forged.eq("user_id", newcomer.id).execute()


# -- documents ----------------------------------------------------------------------------


def test_every_edit_is_a_new_numbered_version_and_restoring_adds_one(world: World) -> None:
    editor = world.client("editor")
    doc = editor.post(
        "/documents",
        json={"project_id": world.project_p, "type": "prd", "title": "PRD"},
        headers=REPRESENTATION,
    ).json()[0]
    for text in ("# one", "# two"):
        added = editor.post(
            "/document_versions",
            json={
                "document_id": doc["id"],
                "project_id": world.project_p,
                "content": text,
                "version": 99,
            },
            headers=REPRESENTATION,
        )
        assert added.status_code == 201, added.text
    restored = rpc(world, "editor", "restore_document_version", document_id=doc["id"], version=1)
    assert restored["version"] == 3
    assert restored["content"] == "# one"
    assert restored["change_summary"] == "Restored version 1"
    versions = editor.get(
        "/document_versions",
        params={
            "document_id": f"eq.{doc['id']}",
            "select": "version,author_id",
            "order": "version",
        },
    ).json()
    assert versions == [{"version": v, "author_id": world.uid("editor")} for v in (1, 2, 3)]
    current = world.one("select current_version from public.documents where id = %s", (doc["id"],))
    assert current == 3

    missing = world.client("editor").post(
        "/rpc/restore_document_version", json={"document_id": doc["id"], "version": 42}
    )
    assert missing.status_code == 400
    assert "not found" in missing.json()["message"]
    by_viewer = world.client("viewer").post(
        "/rpc/restore_document_version", json={"document_id": doc["id"], "version": 1}
    )
    assert by_viewer.status_code == 403


def test_versions_are_append_only_even_for_the_service_role(stack: Stack, world: World) -> None:
    version = world.version(world.project_p)
    service = stack.service_rest()
    with pytest.raises(Exception, match="permission denied"):
        service.table("document_versions").update({"content": "rewritten"}).eq(
            "id", version
        ).execute()
    with pytest.raises(Exception, match="permission denied"):
        service.table("document_versions").delete().eq("id", version).execute()
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
        stack.sql("update public.document_versions set content = 'x' where id = %s", (version,))


def test_editors_queue_generation_jobs_that_only_the_service_role_writes(
    stack: Stack, world: World
) -> None:
    job = rpc(
        world,
        "editor",
        "request_document_generation",
        project_id=world.project_p,
        document_type="tech_spec",
    )
    seen = world.client("viewer").get(
        "/document_jobs", params={"id": f"eq.{job}", "select": "status,requested_by"}
    )
    assert seen.json() == [{"status": "queued", "requested_by": world.uid("editor")}]
    refused = world.client("viewer").post(
        "/rpc/request_document_generation",
        json={"project_id": world.project_p, "document_type": "prd"},
    )
    assert refused.status_code == 403
    stack.service_rest().table("document_jobs").update({"status": "succeeded"}).eq(
        "id", job
    ).execute()
    ready = world.sql(
        "select count(*) as n from public.notifications where user_id = %s"
        " and type = 'document_ready' and payload ->> 'job_id' = %s",
        (world.uid("editor"), job),
    )
    assert ready[0]["n"] == 1


# -- soft delete --------------------------------------------------------------------------


def test_a_deleted_task_vanishes_and_an_admin_restores_it_within_30_days(world: World) -> None:
    task = world.task(world.project_p)
    deleted = world.client("editor").delete("/tasks", params={"id": f"eq.{task}"})
    assert deleted.status_code == 204
    assert world.client("editor").get("/tasks", params={"id": f"eq.{task}"}).json() == []
    assert world.one("select deleted_at is not null from public.tasks where id = %s", (task,))

    by_editor = world.client("editor").post(
        "/rpc/restore_deleted", json={"target_table": "tasks", "target_id": task}
    )
    assert by_editor.status_code == 403
    rpc(world, "project_admin", "restore_deleted", target_table="tasks", target_id=task)
    assert len(world.client("viewer").get("/tasks", params={"id": f"eq.{task}"}).json()) == 1


def test_a_row_deleted_more_than_30_days_ago_cannot_be_restored_and_is_purged(
    stack: Stack, world: World
) -> None:
    old, recent = world.task(world.project_p), world.task(world.project_p)
    world.sql(
        "update public.tasks set deleted_at = now() - interval '31 days' where id = %s", (old,)
    )
    world.sql(
        "update public.tasks set deleted_at = now() - interval '29 days' where id = %s", (recent,)
    )
    late = world.client("owner").post(
        "/rpc/restore_deleted", json={"target_table": "tasks", "target_id": old}
    )
    assert late.status_code == 400
    assert "more than 30 days" in late.json()["message"]

    purged = stack.service_rest().rpc("purge_soft_deleted", {}).execute().data
    assert {row["table_name"] for row in purged} == {
        "messages",
        "conversations",
        "tasks",
        "files",
        "documents",
        "projects",
    }
    assert world.one("select count(*) from public.tasks where id = %s", (old,)) == 0
    assert world.one("select count(*) from public.tasks where id = %s", (recent,)) == 1


def test_the_owner_deletes_and_restores_a_project(world: World) -> None:
    project = world.member_project()
    assert (
        world.client("project_admin")
        .delete("/projects", params={"id": f"eq.{project}"})
        .status_code
        == 204
    )
    assert world.one("select deleted_at from public.projects where id = %s", (project,)) is None
    assert (
        world.client("owner").delete("/projects", params={"id": f"eq.{project}"}).status_code == 204
    )
    assert world.one("select deleted_at is not null from public.projects where id = %s", (project,))
    assert world.client("owner").get("/projects", params={"id": f"eq.{project}"}).json() == []
    # its tasks vanish with it
    task = world.task(project)
    assert world.client("editor").get("/tasks", params={"id": f"eq.{task}"}).json() == []
    rpc(world, "owner", "restore_deleted", target_table="projects", target_id=project)
    assert world.one("select deleted_at from public.projects where id = %s", (project,)) is None
    assert len(world.client("viewer").get("/tasks", params={"id": f"eq.{task}"}).json()) == 1


# -- audit trail --------------------------------------------------------------------------


def test_changes_are_audited_with_actor_ip_and_user_agent(world: World) -> None:
    task = world.task(world.project_p)
    response = world.client("editor").patch(
        "/tasks",
        params={"id": f"eq.{task}"},
        json={"status": "done"},
        headers={"User-Agent": "audit-test/1.0"},
    )
    assert response.status_code == 204
    # the IP is the connecting address the edge saw (cf-connecting-ip; locally the gateway)
    rows = world.sql(
        "select a.actor_id::text, a.action::text, a.table_name, a.project_id::text,"
        " a.changed_columns, host(o.ip) as ip, o.user_agent from public.audit_logs a"
        " join public.audit_log_origins o on o.audit_log_id = a.id"
        " where a.target_id = %s and a.action = 'update'",
        (task,),
    )
    assert rows == [
        {
            "actor_id": world.uid("editor"),
            "action": "update",
            "table_name": "tasks",
            "project_id": world.project_p,
            "changed_columns": ["status"],
            "ip": "127.0.0.1",
            "user_agent": "audit-test/1.0",
        }
    ]
    # the project's admins read it, its viewers do not
    where = {"target_id": f"eq.{task}", "action": "eq.update", "select": "id"}
    assert len(world.client("project_admin").get("/audit_logs", params=where).json()) == 1
    assert world.client("viewer").get("/audit_logs", params=where).json() == []


def test_platform_admins_page_through_the_whole_audit_trail(world: World) -> None:
    entry = world.audit(world.uid("stranger"), world.project_q, world.uid("stranger"))
    page = rpc(world, "platform_admin", "list_audit_logs", max_rows=1000)
    assert entry in {str(row["id"]) for row in page}
    ids = [row["id"] for row in page]
    assert ids == sorted(ids, reverse=True)
    older = rpc(world, "platform_admin", "list_audit_logs", before_id=ids[0], max_rows=5)
    assert [row["id"] for row in older] == ids[1:6]
    refused = world.client("project_admin").post("/rpc/list_audit_logs", json={})
    assert refused.status_code == 403
    bad = world.client("platform_admin").post("/rpc/list_audit_logs", json={"max_rows": 0})
    assert bad.status_code == 400


def test_audit_logs_are_append_only_for_everyone_the_service_role_included(
    stack: Stack, world: World
) -> None:
    entry = world.audit(world.uid("editor"), world.project_p, world.uid("editor"))
    service = stack.service_rest()
    with pytest.raises(Exception, match="permission denied"):
        service.table("audit_logs").update({"table_name": "x"}).eq("id", entry).execute()
    with pytest.raises(Exception, match="permission denied"):
        service.table("audit_logs").delete().eq("id", entry).execute()
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
        stack.sql("delete from public.audit_logs where id = %s", (entry,))
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
        stack.sql("truncate public.audit_logs")


# -- integrations -------------------------------------------------------------------------


def test_integration_tokens_are_unreachable_through_postgrest(stack: Stack, world: World) -> None:
    integration = (
        world.client("editor")
        .post(
            "/integrations",
            json={"provider": "github", "external_account_id": uuid.uuid4().hex},
            headers=REPRESENTATION,
        )
        .json()[0]
    )
    service = stack.service_rest()
    service.rpc(
        "save_integration_credentials",
        {
            "integration_id": integration["id"],
            "access_token_ciphertext": "c2VjcmV0LWFjY2Vzcw==",
            "refresh_token_ciphertext": "c2VjcmV0LXJlZnJlc2g=",
            "data_key_ciphertext": "ZGF0YS1rZXk=",
            "key_id": "alias/integrations",
            "expires_at": None,
        },
    ).execute()
    stored = service.rpc(
        "get_integration_credentials", {"integration_id": integration["id"]}
    ).execute()
    assert stored.data[0]["access_token_ciphertext"] == "c2VjcmV0LWFjY2Vzcw=="

    # the owner reads the row, without token columns; others (a platform admin too) see none
    for role, visible, refused_with in (
        ("editor", 1, 403),
        ("anon", 0, 401),
        ("platform_admin", 0, 403),
    ):
        http = world.client(role)
        listed = http.get("/integrations", params={"id": f"eq.{integration['id']}"})
        assert listed.status_code == 200, listed.text
        rows = listed.json()
        assert len(rows) == visible, (role, rows)
        for row in rows:
            assert row["id"] == integration["id"]
            assert not [key for key in row if "token" in key or "ciphertext" in key], row
        assert http.get("/integration_credentials").status_code == 404
        private = http.get("/integration_credentials", headers={"Accept-Profile": "private"})
        assert private.status_code == 406
        embedded = http.get("/integrations", params={"select": "*,integration_credentials(*)"})
        assert embedded.status_code == 400
        secret = http.post(
            "/rpc/get_integration_credentials", json={"integration_id": integration["id"]}
        )
        assert secret.status_code == refused_with, (role, secret.text)
        assert secret.json()["code"] == "42501", secret.text
        assert secret.json()["message"] == (
            "permission denied for function get_integration_credentials"
        )
    grants = stack.sql(
        "select has_table_privilege('authenticated', 'private.integration_credentials', 'select')"
        " or has_table_privilege('anon', 'private.integration_credentials', 'select') as readable"
    )
    assert grants == [{"readable": False}]


def test_clients_cannot_fake_an_integrations_sync_state(world: World) -> None:
    integration = world.integration(world.uid("editor"))
    response = world.client("editor").patch(
        "/integrations",
        params={"id": f"eq.{integration}"},
        json={"last_synced_at": "2030-01-01T00:00:00Z"},
    )
    assert response.status_code == 403
    assert response.json()["message"] == "integrations.last_synced_at cannot be changed"


# -- activity -----------------------------------------------------------------------------


def test_weekly_activity_puts_technical_and_business_events_side_by_side(world: World) -> None:
    project = world.member_project()
    for source in ("github", "github", "jira", "hubspot"):
        world.sql(
            "insert into public.activity_events (project_id, source, kind, external_id)"
            " values (%s, %s, 'event', %s)",
            (project, source, uuid.uuid4().hex),
        )
    rows = rpc(world, "viewer", "project_activity_by_week", project_id=project, weeks=1)
    assert {(r["source"], r["category"], r["events"]) for r in rows} == {
        ("github", "technical", 2),
        ("jira", "technical", 1),
        ("hubspot", "business", 1),
    }
    assert len({r["week_start"] for r in rows}) == 1
    bad = world.client("viewer").post(
        "/rpc/project_activity_by_week", json={"project_id": project, "weeks": 0}
    )
    assert bad.status_code == 400
    assert bad.json()["message"] == "weeks must be between 1 and 104"


def test_an_external_event_is_ingested_once_per_source(stack: Stack, world: World) -> None:
    body = {
        "project_id": world.project_p,
        "source": "github",
        "kind": "push",
        "external_id": uuid.uuid4().hex,
    }
    service = stack.service_rest()
    service.table("activity_events").insert(body).execute()
    # the service role's own HTTP session, for the status postgrest-py's APIError drops
    duplicate = service.session.post("/activity_events", json=body)
    assert duplicate.status_code == 409, duplicate.text
    assert duplicate.json()["code"] == "23505"  # unique_violation
    assert "activity_events_external_id_unique_per_source" in duplicate.json()["message"]
    rows = stack.sql(
        "select count(*) as n from public.activity_events where source = 'github'"
        " and external_id = %s",
        (body["external_id"],),
    )
    assert rows == [{"n": 1}]


# -- privacy ------------------------------------------------------------------------------


def test_a_person_files_one_open_request_per_kind_and_cannot_mark_it_done(stack: Stack) -> None:
    user = stack.new_user()
    http = stack.http(user.token)
    first = http.post(
        "/rest/v1/privacy_requests",
        json={"kind": "export", "status": "completed", "result_location": "s3://x"},
        headers=REPRESENTATION,
    )
    assert first.status_code == 201, first.text
    assert first.json()[0]["status"] == "pending"
    assert first.json()[0]["result_location"] is None
    second = http.post("/rest/v1/privacy_requests", json={"kind": "export"})
    assert second.status_code == 409
    assert "privacy_requests_one_open_per_kind" in second.json()["message"]
    done = http.patch(
        "/rest/v1/privacy_requests",
        params={"user_id": f"eq.{user.id}"},
        json={"status": "completed"},
    )
    assert done.status_code == 403


def test_export_pages_a_persons_data_and_erasure_hands_their_projects_on(
    stack: Stack, world: World
) -> None:
    person = stack.new_user()
    heir = stack.new_user()
    project = world.project(person.id, {heir.id: "admin"})
    solo = world.project(person.id)
    world.message(world.conversation_c, person.id)
    by_address = world.invitation(world.project_p, email=person.email.lower())
    by_id = world.invitation(world.member_project(), invitee=person.id)
    renamed = stack.http(person.token).patch(
        "/rest/v1/profiles", params={"id": f"eq.{person.id}"}, json={"full_name": "Pat"}
    )
    assert renamed.status_code == 204, renamed.text
    service = stack.service_rest()

    def page(table: str) -> list[dict[str, Any]]:
        args = {"user_id": person.id, "table_schema": "public", "table_name": table}
        return service.rpc("privacy_export_page", args).execute().data["rows"]

    assert [p["id"] for p in page("profiles")] == [person.id]
    assert {p["id"] for p in page("projects")} == {project, solo}
    assert len(page("messages")) == 1
    # theirs: the invitation to their id; not the one to their address, unanswered (holding
    # an address proves nothing until its link's token is used)
    assert {i["id"] for i in page("project_invitations")} == {by_id} != {by_address}
    assert [o["ip"] for o in page("audit_log_origins")] == ["127.0.0.1"]

    service.rpc("erase_user", {"user_id": person.id}).execute()
    assert (
        stack.sql("select count(*) as n from auth.users where id = %s", (person.id,))[0]["n"] == 0
    )
    owner = stack.sql("select owner_id::text from public.projects where id = %s", (project,))
    assert owner == [{"owner_id": heir.id}]
    assert (
        stack.sql("select count(*) as n from public.projects where id = %s", (solo,))[0]["n"] == 0
    )
    messages = stack.sql(
        "select count(*) as n from public.messages where author_id = %s", (person.id,)
    )
    assert messages[0]["n"] == 0
    invitations = stack.sql(
        "select count(*) as n from public.project_invitations where id in (%s, %s)",
        (by_address, by_id),
    )
    assert invitations[0]["n"] == 0
