"""Projects, members and tasks: the rules that are stories rather than matrix cells, and
the tricky paths (embedded resources, RPCs by outsiders, moving rows between projects,
inserting with someone else's id). Every request goes through PostgREST."""

from __future__ import annotations

from tests.rls.world import World
from tests.support import REPRESENTATION, Stack


def members_of(w: World, project_id: str) -> dict[str, str]:
    rows = w.sql(
        "select user_id::text, role::text from public.project_members where project_id = %s",
        (project_id,),
    )
    return {row["user_id"]: row["role"] for row in rows}


def test_anon_gets_an_empty_list_of_projects(stack: Stack) -> None:
    response = stack.http().get("/rest/v1/projects", headers={"apikey": stack.env["ANON_KEY"]})
    assert response.status_code == 200
    assert response.json() == []


def test_a_user_sees_their_own_projects_only(stack: Stack) -> None:
    alice, bob = stack.new_user(), stack.new_user()
    mine = stack.rest(alice.token).table("projects").insert({"name": "alice's"}).execute()
    stack.rest(bob.token).table("projects").insert({"name": "bob's"}).execute()
    seen = stack.rest(alice.token).table("projects").select("id,name").execute().data
    assert seen == [{"id": mine.data[0]["id"], "name": "alice's"}]


def test_creating_a_project_makes_the_creator_its_owner_member(world: World) -> None:
    response = world.client("editor").post(
        "/projects", json={"name": "launch"}, headers=REPRESENTATION
    )
    assert response.status_code == 201, response.text
    project = response.json()[0]
    assert project["owner_id"] == world.uid("editor")
    assert members_of(world, project["id"]) == {world.uid("editor"): "owner"}


def test_a_user_cannot_add_themself_to_someone_elses_project(world: World) -> None:
    response = world.client("outsider").post(
        "/project_members",
        json={"project_id": world.project_p, "user_id": world.uid("outsider"), "role": "viewer"},
    )
    assert response.status_code == 403
    assert world.uid("outsider") not in members_of(world, world.project_p)


def test_a_member_cannot_raise_their_own_role(world: World) -> None:
    project = world.member_project()
    # viewers and editors may not update memberships at all: the update finds no row; an
    # admin may update members' rows, but not into a role above their own (the check fails)
    for role, higher, status, body in (
        ("viewer", "editor", 200, []),
        ("editor", "admin", 200, []),
        (
            "project_admin",
            "owner",
            403,
            {
                "code": "42501",
                "details": None,
                "hint": None,
                "message": 'new row violates row-level security policy for table "project_members"',
            },
        ),
    ):
        response = world.client(role).patch(
            "/project_members",
            params={"project_id": f"eq.{project}", "user_id": f"eq.{world.uid(role)}"},
            json={"role": higher},
            headers=REPRESENTATION,
        )
        assert (response.status_code, response.json()) == (status, body), (role, response.text)
    roles = members_of(world, project)
    assert roles[world.uid("viewer")] == "viewer"
    assert roles[world.uid("editor")] == "editor"
    assert roles[world.uid("project_admin")] == "admin"


def test_an_admin_cannot_invite_or_promote_anyone_above_their_own_role(world: World) -> None:
    project = world.member_project()
    newcomer = world.new_person()
    admin = world.client("project_admin")
    as_owner = admin.post(
        "/rpc/invite_project_member",
        json={"project_id": project, "user_id": newcomer, "role": "owner"},
    )
    assert as_owner.status_code == 403
    promoted = admin.patch(
        "/project_members",
        params={"project_id": f"eq.{project}", "user_id": f"eq.{world.uid('viewer')}"},
        json={"role": "owner"},
    )
    assert promoted.status_code == 403
    as_admin = admin.post(
        "/rpc/invite_project_member",
        json={"project_id": project, "user_id": newcomer, "role": "admin"},
    )
    assert as_admin.status_code == 200, as_admin.text
    assert as_admin.json()["role"] == "admin"


def test_an_admin_cannot_remove_or_demote_the_owner(world: World) -> None:
    project = world.member_project()
    where = {"project_id": f"eq.{project}", "user_id": f"eq.{world.uid('owner')}"}
    admin = world.client("project_admin")
    # RLS leaves the owner's row out of the admin's update and delete: nothing changes
    demoted = admin.patch(
        "/project_members", params=where, json={"role": "viewer"}, headers=REPRESENTATION
    )
    assert (demoted.status_code, demoted.json()) == (200, []), demoted.text
    removed = admin.delete("/project_members", params=where, headers=REPRESENTATION)
    assert (removed.status_code, removed.json()) == (200, []), removed.text
    assert members_of(world, project)[world.uid("owner")] == "owner"


def test_nobody_changes_a_projects_owner_by_updating_it(world: World) -> None:
    project = world.member_project()
    response = world.client("owner").patch(
        "/projects", params={"id": f"eq.{project}"}, json={"owner_id": world.uid("editor")}
    )
    assert response.status_code == 403
    body = response.json()
    assert body["message"] == "projects.owner_id cannot be changed"
    assert "transfer_project_ownership" in body["hint"]


def test_only_the_owner_transfers_ownership_and_only_to_a_member(world: World) -> None:
    project = world.member_project()
    args = {"project_id": project, "new_owner_id": world.uid("editor")}
    by_admin = world.client("project_admin").post("/rpc/transfer_project_ownership", json=args)
    assert by_admin.status_code == 403
    by_outsider = world.client("outsider").post("/rpc/transfer_project_ownership", json=args)
    assert by_outsider.status_code == 403
    to_stranger = world.client("owner").post(
        "/rpc/transfer_project_ownership",
        json={"project_id": project, "new_owner_id": world.uid("outsider")},
    )
    assert to_stranger.status_code == 400
    assert to_stranger.json()["message"] == "new owner is not a member of this project"

    done = world.client("owner").post("/rpc/transfer_project_ownership", json=args)
    assert done.status_code in (200, 204), done.text
    roles = members_of(world, project)
    assert roles[world.uid("editor")] == "owner"
    assert roles[world.uid("owner")] == "admin"
    assert world.one("select owner_id::text from public.projects where id = %s", (project,)) == (
        world.uid("editor")
    )


def test_a_task_cannot_be_assigned_to_a_non_member(world: World) -> None:
    response = world.client("editor").post(
        "/tasks",
        json={"project_id": world.project_p, "title": "ship", "assignee_id": world.uid("outsider")},
    )
    assert response.status_code == 409
    assert "tasks_assignee_is_project_member" in response.json()["message"]


def test_removing_a_member_unassigns_their_tasks(world: World) -> None:
    project = world.member_project()
    task = world.client("editor").post(
        "/tasks",
        json={"project_id": project, "title": "review", "assignee_id": world.uid("viewer")},
        headers=REPRESENTATION,
    )
    assert task.status_code == 201, task.text
    removed = world.client("owner").delete(
        "/project_members",
        params={"project_id": f"eq.{project}", "user_id": f"eq.{world.uid('viewer')}"},
    )
    assert removed.status_code == 204
    task_id = task.json()[0]["id"]
    assert world.one("select assignee_id from public.tasks where id = %s", (task_id,)) is None


def test_an_editor_cannot_move_a_task_into_a_project_they_do_not_edit(world: World) -> None:
    task = world.task(world.project_p)
    viewer_only = world.project(world.uid("owner"), {world.uid("editor"): "viewer"})
    for target in (world.project_q, viewer_only):
        response = world.client("editor").patch(
            "/tasks", params={"id": f"eq.{task}"}, json={"project_id": target}
        )
        assert response.status_code == 403, response.text
    assert str(world.one("select project_id from public.tasks where id = %s", (task,))) == (
        world.project_p
    )


def test_inserting_with_someone_elses_id_is_refused(world: World) -> None:
    editor = world.client("editor")
    cases = [
        ("/tasks", {"project_id": world.project_p, "title": "x", "created_by": world.uid("owner")}),
        (
            "/messages",
            {
                "conversation_id": world.conversation_c,
                "content": "x",
                "author_id": world.uid("owner"),
            },
        ),
        ("/projects", {"name": "x", "owner_id": world.uid("owner")}),
        ("/integrations", {"provider": "github", "user_id": world.uid("owner")}),
        ("/privacy_requests", {"kind": "erasure", "user_id": world.uid("owner")}),
        (
            "/calendar_events",
            {
                "title": "x",
                "owner_id": world.uid("owner"),
                "starts_at": "2030-01-01T10:00:00Z",
                "ends_at": "2030-01-01T11:00:00Z",
            },
        ),
    ]
    for path, body in cases:
        response = editor.post(path, json=body)
        assert response.status_code == 403, f"{path}: {response.status_code} {response.text}"


def test_embedding_does_not_reach_rows_the_caller_cannot_read(world: World) -> None:
    # the viewer attends an event in project Q, which they are not a member of
    event = world.event(world.uid("stranger"), world.project_q, attendee=world.uid("viewer"))
    rows = (
        world.client("viewer")
        .get(
            "/calendar_events",
            params={"id": f"eq.{event}", "select": "id,projects(id,name),profiles(id,email)"},
        )
        .json()
    )
    assert rows == [{"id": event, "projects": None, "profiles": None}]

    # an outsider's own profile embeds only their own (no) memberships; a fresh one, as the
    # session's outsider creates projects of their own in the matrix
    outsider = world.stack.new_user()
    with world.stack.http(outsider.token) as http:
        own = http.get(
            "/rest/v1/profiles",
            params={"select": "id,project_members!project_members_user_id_fkey(project_id)"},
        ).json()
    assert own == [{"id": outsider.id, "project_members": []}]

    # a project's embedded tasks leave out soft-deleted ones
    task = world.task(world.project_p)
    world.client("editor").delete("/tasks", params={"id": f"eq.{task}"})
    project = (
        world.client("viewer")
        .get("/projects", params={"id": f"eq.{world.project_p}", "select": "id,tasks(id)"})
        .json()
    )
    assert task not in {t["id"] for t in project[0]["tasks"]}


def test_inner_join_filters_do_not_leak_through_an_unreadable_parent(world: World) -> None:
    # the outsider attends an event in project Q: the event is readable, Q is not
    event = world.event(world.uid("stranger"), world.project_q, attendee=world.uid("outsider"))
    name = world.one("select name from public.projects where id = %s", (world.project_q,))
    outsider = world.client("outsider")
    seen = outsider.get("/calendar_events", params={"id": f"eq.{event}", "select": "id"})
    assert seen.json() == [{"id": event}]
    # filtering on the parent's columns through an inner join would confirm Q's name
    probed = outsider.get(
        "/calendar_events",
        params={
            "id": f"eq.{event}",
            "select": "id,projects!inner(id)",
            "projects.name": f"eq.{name}",
        },
    )
    assert probed.status_code == 200, probed.text
    assert probed.json() == []


def test_rpcs_called_by_outsiders_are_refused(world: World) -> None:
    outsider = world.client("outsider")
    refused = {
        "transfer_project_ownership": {
            "project_id": world.project_p,
            "new_owner_id": world.uid("outsider"),
        },
        "project_activity_by_week": {"project_id": world.project_p},
        "request_document_generation": {"project_id": world.project_p, "document_type": "prd"},
        "create_group_conversation": {
            "title": "sneak",
            "member_ids": [world.uid("owner")],
            "project_id": world.project_p,
        },
        "get_or_create_direct_conversation": {"other_user_id": world.uid("owner")},
        "restore_deleted": {"target_table": "tasks", "target_id": world.task(world.project_p)},
        "purge_soft_deleted": {},
        "privacy_export_page": {
            "user_id": world.uid("owner"),
            "table_schema": "public",
            "table_name": "profiles",
        },
        "privacy_export_batch": {"user_id": world.uid("owner")},
        "erase_user": {"user_id": world.uid("owner")},
        "erase_person": {"user_id": world.uid("owner"), "email": "owner@example.test"},
        "delete_auth_user": {"user_id": world.uid("owner")},
        "get_integration_credentials": {"integration_id": world.integration(world.uid("owner"))},
        "get_integration_webhook_secret": {"integration_id": world.integration(world.uid("owner"))},
        "delete_integration_credentials": {"integration_id": world.integration(world.uid("owner"))},
        "ingest_activity": {
            "integration_id": world.integration(world.uid("owner"), world.project_p),
            "delivery_id": None,
            "events": [],
        },
        # granted to members, but only the integration's owner may (42501 for the rest)
        "queue_integration_sync": {
            "integration_id": world.integration(world.uid("owner"), world.project_p)
        },
        "link_integration_item": {
            "integration_id": world.integration(world.uid("owner"), world.project_p),
            "kind": "repository",
            "external_id": "octo/app",
        },
        "list_audit_logs": {},
        "invite_project_member": {
            "project_id": world.project_p,
            "role": "viewer",
            "user_id": world.new_person(),
        },
        "accept_project_invitation": {
            "invitation_id": world.invitation(world.project_p, invitee=world.new_person())
        },
        "decline_project_invitation": {
            "invitation_id": world.invitation(world.project_p, invitee=world.new_person())
        },
        "revoke_project_invitation": {
            "invitation_id": world.invitation(world.project_p, invitee=world.new_person())
        },
        "expire_project_invitations": {},
        "custom_access_token_hook": {"event": {"user_id": world.uid("outsider"), "claims": {}}},
    }
    for name, args in refused.items():
        response = outsider.post(f"/rpc/{name}", json=args)
        assert response.status_code == 403, f"{name}: {response.status_code} {response.text}"

    found = outsider.post("/rpc/search_messages", json={"query": "hello"})
    assert found.status_code == 200
    assert found.json() == []


def test_anon_calls_no_rpc(world: World) -> None:
    anon = world.client("anon")
    for name, args in {
        "search_messages": {"query": "hello"},
        "get_or_create_direct_conversation": {"other_user_id": world.uid("owner")},
        "project_activity_by_week": {"project_id": world.project_p},
    }.items():
        response = anon.post(f"/rpc/{name}", json=args)
        assert response.status_code == 401, f"{name}: {response.status_code} {response.text}"


def test_bad_input_gets_a_readable_4xx(world: World) -> None:
    editor = world.client("editor")
    cases: list[tuple[str, dict[str, object], int, str]] = [
        (
            "/calendar_events",
            {"title": "x", "starts_at": "2030-01-01T11:00:00Z", "ends_at": "2030-01-01T10:00:00Z"},
            400,
            "calendar_events_ends_after_starts",
        ),
        ("/tasks", {"project_id": world.project_p, "title": "   "}, 400, "tasks_title_length"),
        (
            "/tasks",
            {"project_id": world.project_p, "title": "x", "status": "later"},
            400,
            "task_status",
        ),
        ("/projects", {"name": "x", "settings": []}, 400, "projects_settings_is_object"),
        ("/tasks", {"project_id": "not-a-uuid", "title": "x"}, 400, "uuid"),
    ]
    for path, body, status, words in cases:
        response = editor.post(path, json=body)
        assert response.status_code == status, f"{path} {body}: {response.text}"
        assert words in response.json()["message"], response.text

    profile = editor.patch(
        "/profiles", params={"id": f"eq.{world.uid('editor')}"}, json={"username": "No Spaces!"}
    )
    assert profile.status_code == 400
    assert "profiles_username_format" in profile.json()["message"]

    bad_rpc = editor.post("/rpc/search_messages", json={"query": ""})
    assert bad_rpc.status_code == 400
    assert bad_rpc.json()["message"] == "query must be 1 to 200 characters"


def test_a_username_is_unique(stack: Stack) -> None:
    a, b = stack.new_user(), stack.new_user()
    name = f"u{a.id[:8]}"
    first = stack.rest(a.token).table("profiles").update({"username": name}).eq("id", a.id)
    assert first.execute().data[0]["username"] == name
    with stack.http(b.token) as http:
        second = http.patch(
            "/rest/v1/profiles", params={"id": f"eq.{b.id}"}, json={"username": name}
        )
    assert second.status_code == 409
    assert "profiles_username_key" in second.json()["message"]
