"""Platform roles: the custom access token hook, admins disabling and re-enabling people,
and guests."""

from __future__ import annotations

import json
from typing import Any

import psycopg
import pytest

from tests.rls.spec import SPEC
from tests.rls.world import World
from tests.support import REPRESENTATION, Stack


def hook_event(user_id: str) -> dict[str, Any]:
    """The event Supabase Auth gives the hook: the claims it is about to sign."""
    return {
        "user_id": user_id,
        "authentication_method": "password",
        "claims": {
            "aud": "authenticated",
            "exp": 1_900_000_000,
            "iat": 1_800_000_000,
            "sub": user_id,
            "role": "authenticated",
            "aal": "aal1",
            "session_id": "00000000-0000-0000-0000-000000000001",
            "email": "someone@example.test",
            "phone": "",
            "is_anonymous": False,
            "app_metadata": {"provider": "email"},
        },
    }


def call_hook(stack: Stack, user_id: str) -> dict[str, Any]:
    """Call the hook the way Supabase Auth does: as supabase_auth_admin, with an event."""
    event = hook_event(user_id)
    with psycopg.connect(stack.env["DB_URL"]) as conn:
        conn.execute("set role supabase_auth_admin")
        row = conn.execute(
            "select public.custom_access_token_hook(%s::jsonb)", (json.dumps(event),)
        ).fetchone()
    assert row is not None
    return row[0]


def test_the_access_token_hook_puts_the_platform_role_in_the_claims(stack: Stack) -> None:
    user = stack.new_user()
    result = call_hook(stack, user.id)
    claims = result["claims"]
    assert claims["user_role"] == "user"
    assert claims["app_metadata"] == {"provider": "email", "platform_role": "user"}
    # the claims Supabase requires are passed through untouched
    sent = hook_event(user.id)["claims"]
    for required in ("aud", "exp", "iat", "sub", "role", "aal", "session_id", "email", "phone"):
        assert claims[required] == sent[required], required
    # and nothing else changes: the hook only adds the platform role
    assert claims == {
        **sent,
        "user_role": "user",
        "app_metadata": {**sent["app_metadata"], "platform_role": "user"},
    }

    stack.sql("update public.user_roles set role = 'admin' where user_id = %s", (user.id,))
    assert call_hook(stack, user.id)["claims"]["user_role"] == "admin"


def test_the_access_token_hook_refuses_a_disabled_user(stack: Stack) -> None:
    user = stack.new_user()
    stack.sql("update public.user_roles set disabled_at = now() where user_id = %s", (user.id,))
    assert call_hook(stack, user.id) == {
        "error": {"http_code": 403, "message": "This account is disabled."}
    }


def test_only_supabase_auth_may_execute_the_hook(stack: Stack) -> None:
    rows = stack.sql(
        "select r as role, has_function_privilege(r, 'public.custom_access_token_hook(jsonb)',"
        " 'execute') as may from unnest(array['supabase_auth_admin', 'authenticated', 'anon',"
        " 'service_role']) r"
    )
    may = {row["role"]: row["may"] for row in rows}
    assert may == {
        "supabase_auth_admin": True,
        "authenticated": False,
        "anon": False,
        "service_role": False,
    }


def test_admins_list_every_profile_and_users_do_not(world: World) -> None:
    total = world.one("select count(*) from public.profiles")
    seen = world.client("platform_admin").head(
        "/profiles", params={"select": "id"}, headers={"Prefer": "count=exact"}
    )
    assert seen.headers["content-range"].endswith(f"/{total}")
    outsider_sees = world.client("outsider").get("/profiles", params={"select": "id"}).json()
    assert outsider_sees == [{"id": world.uid("outsider")}]


def test_a_token_claiming_admin_is_not_enough_without_the_stored_role(
    stack: Stack, world: World
) -> None:
    user = stack.new_user()
    forged = stack.token(user, user_role="admin")
    response = stack.rest(forged).table("profiles").select("id").execute()
    assert [row["id"] for row in response.data] == [user.id]


def test_a_demoted_admins_old_token_loses_admin_rights_at_once(stack: Stack) -> None:
    admin = stack.new_user()
    stack.sql("update public.user_roles set role = 'admin' where user_id = %s", (admin.id,))
    token = stack.token(admin, user_role="admin")
    assert len(stack.rest(token).table("profiles").select("id").execute().data) > 1
    stack.sql("update public.user_roles set role = 'user' where user_id = %s", (admin.id,))
    assert [r["id"] for r in stack.rest(token).table("profiles").select("id").execute().data] == [
        admin.id
    ]


def test_an_admin_disables_and_re_enables_a_user_whose_token_stops_working_at_once(
    stack: Stack, world: World
) -> None:
    victim = stack.new_user()
    created = stack.rest(victim.token).table("projects").insert({"name": "mine"}).execute()
    project_id = created.data[0]["id"]
    admin = world.client("platform_admin")

    disabled = admin.patch(
        "/user_roles",
        params={"user_id": f"eq.{victim.id}"},
        json={"disabled_at": "2026-01-01T00:00:00Z", "disabled_reason": "abuse"},
        headers=REPRESENTATION,
    )
    assert disabled.status_code == 200 and len(disabled.json()) == 1, disabled.text
    # the same, unexpired token now reaches nothing, anywhere
    for relation in SPEC:
        rows = stack.rest(victim.token).table(relation).select("*").execute().data
        assert rows == [], f"a disabled user still reads {relation}"
    refused = stack.http(victim.token).post("/rest/v1/projects", json={"name": "again"})
    assert refused.status_code == 403
    # and Supabase Auth will not refresh the session
    banned = stack.sql("select banned_until::text from auth.users where id = %s", (victim.id,))
    assert banned[0]["banned_until"] is not None

    enabled = admin.patch(
        "/user_roles",
        params={"user_id": f"eq.{victim.id}"},
        json={"disabled_at": None, "disabled_reason": None},
        headers=REPRESENTATION,
    )
    assert enabled.status_code == 200, enabled.text
    projects = stack.rest(victim.token).table("projects").select("id").execute().data
    assert projects == [{"id": project_id}]


def test_a_user_cannot_disable_anyone_or_promote_themself(stack: Stack, world: World) -> None:
    user = stack.new_user()
    for target in (world.uid("editor"), user.id):
        response = stack.http(user.token).patch(
            "/rest/v1/user_roles",
            params={"user_id": f"eq.{target}"},
            json={"role": "admin", "disabled_at": "2026-01-01T00:00:00Z"},
            headers=REPRESENTATION,
        )
        assert response.status_code == 200 and response.json() == [], response.text
    rows = stack.sql(
        "select count(*) as n from public.user_roles where user_id in (%s, %s)"
        " and (role = 'admin' or disabled_at is not null)",
        (world.uid("editor"), user.id),
    )
    assert rows[0]["n"] == 0


def test_an_admin_cannot_change_their_own_platform_role(world: World) -> None:
    response = world.client("platform_admin").patch(
        "/user_roles",
        params={"user_id": f"eq.{world.uid('platform_admin')}"},
        json={"role": "user"},
        headers=REPRESENTATION,
    )
    assert response.status_code == 200 and response.json() == []


@pytest.mark.parametrize("path", ["/tasks", "/messages", "/documents", "/calendar_events"])
def test_a_guest_who_is_a_project_editor_still_writes_nothing(world: World, path: str) -> None:
    bodies = {
        "/tasks": {"project_id": world.project_p, "title": "x"},
        "/messages": {"conversation_id": world.conversation_c, "content": "x"},
        "/documents": {"project_id": world.project_p, "type": "prd", "title": "x"},
        "/calendar_events": {
            "title": "x",
            "starts_at": "2030-01-01T10:00:00Z",
            "ends_at": "2030-01-01T11:00:00Z",
        },
    }
    response = world.client("guest").post(path, json=bodies[path])
    assert response.status_code == 403, response.text


def test_a_guest_reads_what_they_are_a_member_of_and_edits_their_own_profile(world: World) -> None:
    guest = world.client("guest")
    projects = guest.get("/projects", params={"id": f"eq.{world.project_p}", "select": "id"})
    assert projects.json() == [{"id": world.project_p}]
    profile = guest.patch(
        "/profiles",
        params={"id": f"eq.{world.uid('guest')}"},
        json={"full_name": "Guest Person"},
        headers=REPRESENTATION,
    )
    assert profile.status_code == 200 and profile.json()[0]["full_name"] == "Guest Person"
    refused = guest.post("/rpc/create_group_conversation", json={"title": "x", "member_ids": []})
    assert refused.status_code == 403
