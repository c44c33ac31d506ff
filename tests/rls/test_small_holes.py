"""Smaller holes of issue 8 (section 5): conversations soft-delete, notification previews
follow their message, the audit trail's origin comes from the edge and is private, errors
do not tell what exists, and sizes are bounded. Every request goes through PostgREST."""

from __future__ import annotations

import json
import uuid
from typing import Any

from tests.rls.world import World
from tests.support import REPRESENTATION, Stack

MINIMAL = {"Prefer": "return=minimal"}


def previews(world: World, message_id: str) -> list[dict[str, Any]]:
    return [
        r["payload"]
        for r in world.sql(
            "select payload from public.notifications where type = 'message'"
            " and payload ->> 'message_id' = %s",
            (message_id,),
        )
    ]


# -- conversations soft-delete, by their admin only ------------------------------------------


def test_deleting_a_group_soft_deletes_it_and_keeps_everyones_messages(world: World) -> None:
    conversation = world.member_conversation()
    message = world.message(conversation, world.uid("viewer"))
    # a member who is not the group's admin deletes nothing
    by_member = world.client("editor").delete(
        "/conversations", params={"id": f"eq.{conversation}"}, headers=REPRESENTATION
    )
    assert (by_member.status_code, by_member.json()) == (200, [])
    deleted = world.client("owner").delete("/conversations", params={"id": f"eq.{conversation}"})
    assert deleted.status_code == 204, deleted.text
    assert world.one(
        "select deleted_at is not null from public.conversations where id = %s", (conversation,)
    )
    # the messages are all still there (hidden with their conversation), none deleted
    assert (
        world.one(
            "select count(*) from public.messages where id = %s and deleted_at is null", (message,)
        )
        == 1
    )
    for role in ("owner", "viewer"):
        http = world.client(role)
        assert http.get("/conversations", params={"id": f"eq.{conversation}"}).json() == []
        assert http.get("/messages", params={"conversation_id": f"eq.{conversation}"}).json() == []
        post = http.post("/messages", json={"conversation_id": conversation, "content": "hi"})
        assert post.status_code == 403, post.text
    # the admin brings it back within 30 days, and everything with it
    refused = world.client("viewer").post(
        "/rpc/restore_deleted", json={"target_table": "conversations", "target_id": conversation}
    )
    assert refused.status_code == 403, refused.text
    restored = world.client("owner").post(
        "/rpc/restore_deleted", json={"target_table": "conversations", "target_id": conversation}
    )
    assert restored.status_code in (200, 204), restored.text
    seen = world.client("viewer").get("/messages", params={"conversation_id": f"eq.{conversation}"})
    assert [m["id"] for m in seen.json()] == [message]


def test_a_deleted_conversation_is_the_databases_to_write_and_the_purge_removes_it(
    stack: Stack, world: World
) -> None:
    conversation = world.member_conversation()
    message = world.message(conversation, world.uid("viewer"))
    # its admin cannot write deleted_at (guard_deleted_at): DELETE and restore_deleted do
    patched = world.client("owner").patch(
        "/conversations",
        params={"id": f"eq.{conversation}"},
        json={"deleted_at": "2000-01-01T00:00:00+00:00"},
    )
    assert (patched.status_code, patched.json()["code"]) == (403, "42501"), patched.text
    assert "deleted_at cannot be written" in patched.json()["message"], patched.text
    assert world.one(
        "select deleted_at is null from public.conversations where id = %s", (conversation,)
    )
    # deleted more than 30 days ago: the purge removes it, its messages with it
    world.sql(
        "update public.conversations set deleted_at = now() - interval '31 days' where id = %s",
        (conversation,),
    )
    stack.service_rest().rpc("purge_soft_deleted", {}).execute()
    assert (
        world.one("select count(*) from public.conversations where id = %s", (conversation,)) == 0
    )
    assert world.one("select count(*) from public.messages where id = %s", (message,)) == 0


def test_a_deleted_conversations_realtime_topic_is_closed(world: World) -> None:
    conversation = world.member_conversation()
    world.sql("update public.conversations set deleted_at = now() where id = %s", (conversation,))
    joined = world.one(
        "select private.can_join_conversation_topic(%s)"
        " from (select set_config('request.jwt.claims', %s, true)) s",
        (f"conversation:{conversation}", json.dumps({"sub": world.uid("owner")})),
    )
    assert joined is False


# -- notification previews ---------------------------------------------------------------------


def test_editing_a_message_updates_and_deleting_clears_its_notification_previews(
    world: World,
) -> None:
    conversation = world.member_conversation()
    posted = world.client("editor").post(
        "/messages",
        json={"conversation_id": conversation, "content": "the launch code is 1234"},
        headers=REPRESENTATION,
    )
    assert posted.status_code == 201, posted.text
    message = posted.json()[0]["id"]
    before = previews(world, message)
    assert before and all(p["preview"] == "the launch code is 1234" for p in before)

    edited = world.client("editor").patch(
        "/messages", params={"id": f"eq.{message}"}, json={"content": "ask me for the code"}
    )
    assert edited.status_code == 204, edited.text
    after_edit = previews(world, message)
    assert len(after_edit) == len(before)
    assert all(p["preview"] == "ask me for the code" and p["edited"] for p in after_edit)

    deleted = world.client("editor").delete("/messages", params={"id": f"eq.{message}"})
    assert deleted.status_code == 204, deleted.text
    after_delete = previews(world, message)
    assert len(after_delete) == len(before)
    assert all("preview" not in p and p["deleted"] is True for p in after_delete)
    # what a recipient reads
    mine = (
        world.client("viewer")
        .get(
            "/notifications", params={"payload->>message_id": f"eq.{message}", "select": "payload"}
        )
        .json()
    )
    assert mine and all("code" not in json.dumps(n["payload"]) for n in mine)


# -- the audit trail's origin ------------------------------------------------------------------


def test_audit_ip_and_request_id_come_from_the_edge_not_the_client(world: World) -> None:
    forged = f"forged-{uuid.uuid4().hex}"
    response = world.client("editor").post(
        "/tasks",
        json={"project_id": world.project_p, "title": "traced"},
        headers={
            **REPRESENTATION,
            "X-Forwarded-For": "198.51.100.9, 10.0.0.1",
            "X-Real-IP": "198.51.100.10",
            "CF-Connecting-IP": "198.51.100.11",
            "X-Request-Id": forged,
            "sb-request-id": forged,
            "User-Agent": "probe/1.0",
        },
    )
    assert response.status_code == 201, response.text
    task = response.json()[0]["id"]
    entry = world.sql(
        "select a.request_id, host(o.ip) as ip, o.user_agent from public.audit_logs a"
        " join public.audit_log_origins o on o.audit_log_id = a.id"
        " where a.table_name = 'tasks' and a.target_id = %s and a.action = 'insert'",
        (task,),
    )
    assert len(entry) == 1
    assert entry[0]["ip"] == "127.0.0.1"  # the connecting address the (local) edge saw
    assert entry[0]["request_id"] != forged and uuid.UUID(entry[0]["request_id"])
    assert entry[0]["user_agent"] == "probe/1.0"  # declared by the client, kept as declared


def test_only_the_person_and_platform_admins_read_where_someone_acted_from(
    world: World,
) -> None:
    response = world.client("editor").post(
        "/tasks", json={"project_id": world.project_p, "title": "seen"}, headers=REPRESENTATION
    )
    task = response.json()[0]["id"]
    where = {"table_name": "eq.tasks", "target_id": f"eq.{task}"}
    entry = world.client("owner").get("/audit_logs", params=where).json()
    assert len(entry) == 1, "the project's admins read the entry"
    assert "ip" not in entry[0] and "user_agent" not in entry[0]
    origin = {"audit_log_id": f"eq.{entry[0]['id']}", "select": "ip,user_agent"}
    assert world.client("owner").get("/audit_log_origins", params=origin).json() == []
    assert world.client("project_admin").get("/audit_log_origins", params=origin).json() == []
    assert len(world.client("editor").get("/audit_log_origins", params=origin).json()) == 1
    assert len(world.client("platform_admin").get("/audit_log_origins", params=origin).json()) == 1


# -- answers that tell what exists -------------------------------------------------------------


def test_an_upsert_on_another_projects_task_id_answers_like_an_unknown_id(world: World) -> None:
    theirs = world.task(world.project_q)
    answers = []
    for task_id in (theirs, str(uuid.uuid4())):
        response = world.client("editor").post(
            "/tasks",
            params={"on_conflict": "id"},
            json={"id": task_id, "project_id": world.project_p, "title": "mine now"},
            headers={"Prefer": "resolution=merge-duplicates,return=minimal"},
        )
        answers.append(response.status_code)
    assert answers == [201, 201]
    row = world.sql("select project_id::text, title from public.tasks where id = %s", (theirs,))
    assert row == [{"project_id": world.project_q, "title": "task"}]
    # upserting one's own row by id still updates it
    mine = world.task(world.project_p)
    own = world.client("editor").post(
        "/tasks",
        params={"on_conflict": "id"},
        json={"id": mine, "project_id": world.project_p, "title": "renamed"},
        headers={"Prefer": "resolution=merge-duplicates,return=representation"},
    )
    assert own.status_code in (200, 201), own.text
    assert own.json()[0]["id"] == mine
    assert world.one("select title from public.tasks where id = %s", (mine,)) == "renamed"


def test_a_version_of_a_document_the_caller_cannot_see_answers_like_a_missing_one(
    world: World,
) -> None:
    theirs = world.document(world.project_q)
    current = world.one("select current_version from public.documents where id = %s", (theirs,))
    answers = []
    for document in (theirs, str(uuid.uuid4())):
        response = world.client("editor").post(
            "/document_versions",
            json={"document_id": document, "project_id": world.project_p, "content": "# mine"},
            headers=MINIMAL,
        )
        answers.append((response.status_code, response.json()))
    assert answers[0] == answers[1]
    assert answers[0][0] == 403
    assert (
        world.one("select current_version from public.documents where id = %s", (theirs,))
        == current
    )


# -- sizes -------------------------------------------------------------------------------------


def _nested(depth: int) -> str:
    """A JSON text nested ``depth`` levels deep (objects and arrays in turn), built as text:
    Python's json module cannot encode (or decode) such depth."""
    opens = "".join('{"a":' if i % 2 == 0 else "[" for i in range(depth))
    closes = "".join("}" if i % 2 == 0 else "]" for i in reversed(range(depth)))
    return '{"layout":' + opens + "1" + closes + "}"


def test_json_columns_are_bounded_in_size_and_depth(world: World) -> None:
    owner = world.client("owner")
    project = world.member_project()
    where = {"id": f"eq.{project}"}
    huge = owner.patch("/projects", params=where, json={"settings": {"blob": "x" * 400_000}})
    assert (huge.status_code, huge.json()["code"]) == (400, "23514"), huge.text
    assert "projects_settings_size" in huge.json()["message"]
    dashboard = world.dashboard(world.uid("owner"), project)
    json_body = {"Content-Type": "application/json"}
    deep = owner.patch(
        "/dashboards", params={"id": f"eq.{dashboard}"}, content=_nested(10_000), headers=json_body
    )
    assert (deep.status_code, deep.json()["code"]) == (400, "23514"), deep.text[:300]
    assert "dashboards_layout_depth" in deep.json()["message"]
    fine = owner.patch(
        "/dashboards", params={"id": f"eq.{dashboard}"}, content=_nested(20), headers=json_body
    )
    assert fine.status_code == 204, fine.text
    depth_of_stored = world.one(
        "select private.jsonb_depth_below(layout, 32) from public.dashboards where id = %s",
        (dashboard,),
    )
    assert depth_of_stored is True


def test_a_bulk_insert_over_1000_rows_is_refused_with_413(stack: Stack, world: World) -> None:
    project = world.member_project()
    rows = [{"project_id": project, "title": f"t{i}"} for i in range(1001)]
    response = world.client("editor").post("/tasks", json=rows, headers=MINIMAL)
    assert response.status_code == 413, response.text[:300]
    assert response.json()["code"] == "bulk_insert_too_large"
    assert world.one("select count(*) from public.tasks where project_id = %s", (project,)) == 0
    ok = world.client("editor").post("/tasks", json=rows[:1000], headers=MINIMAL)
    assert ok.status_code == 201, ok.text[:300]


def test_every_table_clients_insert_into_bounds_bulk_inserts_and_hides_unseen_ids(
    stack: Stack,
) -> None:
    missing = stack.sql(
        """
        select c.relname as name,
               exists (select 1 from pg_trigger tg where tg.tgrelid = c.oid
                        and tg.tgname = c.relname || '_limit_bulk_insert') as bounded,
               exists (select 1 from pg_trigger tg where tg.tgrelid = c.oid
                        and tg.tgname = c.relname || '_fresh_id_for_unseen_row') as fresh_ids,
               exists (select 1 from information_schema.columns col
                        where col.table_schema = 'public' and col.table_name = c.relname
                          and col.column_name = 'id' and col.data_type = 'uuid'
                          and col.column_default like 'gen_random_uuid()%%') as generated_id
          from pg_class c join pg_namespace n on n.oid = c.relnamespace
         where n.nspname = 'public' and c.relkind = 'r'
           and has_table_privilege('authenticated', c.oid, 'insert')
        """
    )
    assert missing, "no table clients insert into?"
    unbounded = [r["name"] for r in missing if not r["bounded"]]
    assert not unbounded, f"add a <table>_limit_bulk_insert trigger to: {unbounded}"
    exposed_ids = [r["name"] for r in missing if r["generated_id"] and not r["fresh_ids"]]
    assert not exposed_ids, f"add a <table>_fresh_id_for_unseen_row trigger to: {exposed_ids}"
