"""Someone who may no longer write into a project (removed, or demoted below editor) stops
feeding it through every path at once: the membership change unlinks their integrations
(last_error says why, one notification), and the transaction that writes webhook or sync rows
re-checks the rule itself (rpc ingest_activity), so a change that slipped past the trigger, or
raced it, writes nothing either. Over HTTP with real JWTs: the owner removes or demotes the
member through PostgREST, the provider delivers signed webhooks, the schedule runs."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import pytest

from tests.functions.conftest import Team, add_member
from tests.functions.integrations_support import (
    BASE,
    connect,
    events_of,
    new_login,
    seed_github,
    seed_google,
    wait_job,
)
from tests.functions.test_integrations_webhooks import (
    deliver,
    hook_url,
    make_integration,
    payload,
    signed,
)
from tests.support import Stack, TestUser


def jira_delivery(stack: Stack, integration_id: str, secret: str) -> Any:
    body = json.dumps(payload("jira") | {"issue": {"id": uuid.uuid4().hex[:8], "key": "P-1"}})
    raw = body.encode()
    url = hook_url(stack, "jira", integration_id)
    return deliver(
        stack, "jira", integration_id, raw, signed("jira", secret, raw, url, str(uuid.uuid4()))
    )


def integration(stack: Stack, integration_id: str) -> dict[str, Any]:
    return stack.sql("select * from public.integrations where id = %s", (integration_id,))[0]


def unlinked_notices(stack: Stack, user: TestUser, integration_id: str) -> list[dict[str, Any]]:
    return stack.sql(
        "select * from public.notifications where user_id = %s"
        " and payload->>'kind' = 'integration_unlinked' and payload->>'integration_id' = %s",
        (user.id, integration_id),
    )


def lose_the_right(stack: Stack, team: Team, member: TestUser, how: str) -> None:
    """The project's owner removes the member or demotes them, through PostgREST."""
    table = stack.rest(team.members["owner"].token).table("project_members")
    match = {"project_id": team.project_id, "user_id": member.id}
    if how == "removed":
        table.delete().match(match).execute()
    else:
        table.update({"role": "viewer"}).match(match).execute()
    role = stack.sql(
        "select role from public.project_members where project_id = %s and user_id = %s",
        (team.project_id, member.id),
    )
    assert role == ([] if how == "removed" else [{"role": "viewer"}])


def remove_unseen(stack: Stack, team: Team, member: TestUser) -> None:
    """Delete the membership with triggers off (as a restore, or rows older than the trigger)."""
    import psycopg

    with psycopg.connect(stack.env["DB_URL"], autocommit=True) as conn:
        conn.execute("set session_replication_role = replica")
        conn.execute(
            "delete from public.project_members where project_id = %s and user_id = %s",
            (team.project_id, member.id),
        )


def assert_unlinked_with_reason(
    stack: Stack, team: Team, member: TestUser, integration_id: str
) -> None:
    row = integration(stack, integration_id)
    assert row["project_id"] is None, "the integration must be unlinked from the project"
    assert "no longer" in (row["last_error"] or "") and "editor" in row["last_error"], row
    notices = unlinked_notices(stack, member, integration_id)
    assert len(notices) == 1, "the owner is told once"
    assert notices[0]["payload"]["project_id"] == team.project_id
    assert notices[0]["payload"]["message"] == row["last_error"]
    links = stack.sql(
        "select 1 from public.integration_links where integration_id = %s and project_id = %s",
        (integration_id, team.project_id),
    )
    assert links == []


# --- webhooks -------------------------------------------------------------------------------------
@pytest.mark.parametrize("how", ["removed", "demoted"])
def test_a_removed_admins_signed_jira_webhook_no_longer_lands_in_the_project(
    stack: Stack, team: Team, how: str
) -> None:
    admin = team.members["admin"]
    integration_id, secret = make_integration(stack, team, "jira")
    assert jira_delivery(stack, integration_id, secret).status_code == 202
    assert len(events_of(stack, team.project_id)) == 1

    lose_the_right(stack, team, admin, how)
    answer = jira_delivery(stack, integration_id, secret)
    assert answer.status_code == 409, answer.text
    assert answer.json()["error"] == "not_linked"
    assert len(events_of(stack, team.project_id)) == 1, "nothing more lands in the stream"
    assert_unlinked_with_reason(stack, team, admin, integration_id)
    # the owner cannot put it back while not an admin of the project
    relink = (
        stack.rest(admin.token)
        .table("integrations")
        .update({"project_id": team.project_id}, returning="minimal")
        .eq("id", integration_id)
    )
    with pytest.raises(Exception):  # noqa: B017 - postgrest's APIError: the policy refuses
        relink.execute()
    assert integration(stack, integration_id)["project_id"] is None


def test_a_still_editors_webhook_still_lands(stack: Stack, team: Team) -> None:
    admin = team.members["admin"]
    integration_id, secret = make_integration(stack, team, "jira")
    stack.rest(team.members["owner"].token).table("project_members").update(
        {"role": "editor"}
    ).match({"project_id": team.project_id, "user_id": admin.id}).execute()
    answer = jira_delivery(stack, integration_id, secret)
    assert answer.status_code == 202, answer.text
    assert len(events_of(stack, team.project_id)) == 1
    row = integration(stack, integration_id)
    assert str(row["project_id"]) == team.project_id and row["last_error"] is None
    assert unlinked_notices(stack, admin, integration_id) == []


def test_the_writing_transaction_rechecks_the_rule_without_the_trigger(
    stack: Stack, team: Team
) -> None:
    """A membership lost where no trigger saw it (rows from before it existed; a restore):
    ingest_activity finds the owner is not an editor in the transaction that would write,
    writes nothing, and unlinks the integration with its reason."""
    admin = team.members["admin"]
    integration_id, secret = make_integration(stack, team, "jira")
    remove_unseen(stack, team, admin)
    assert str(integration(stack, integration_id)["project_id"]) == team.project_id
    answer = jira_delivery(stack, integration_id, secret)
    assert answer.status_code == 409, answer.text
    assert events_of(stack, team.project_id) == []
    assert_unlinked_with_reason(stack, team, admin, integration_id)


def test_a_removal_racing_a_delivery_is_seen_by_the_writing_transaction(
    stack: Stack, team: Team
) -> None:
    """The removal is made but not yet committed when a delivery arrives: the delivery's
    transaction waits on the membership row it locks, then sees the removal and writes
    nothing (it cannot write into the project after the person has left it)."""
    from concurrent.futures import ThreadPoolExecutor

    import psycopg

    admin = team.members["admin"]
    integration_id, secret = make_integration(stack, team, "jira")
    with psycopg.connect(stack.env["DB_URL"]) as removal, ThreadPoolExecutor(1) as pool:
        removal.execute(
            "delete from public.project_members where project_id = %s and user_id = %s",
            (team.project_id, admin.id),
        )
        delivery = pool.submit(jira_delivery, stack, integration_id, secret)
        for _ in range(400):  # until the delivery's transaction waits for the removal's locks
            waiting = stack.sql(
                "select 1 from pg_stat_activity where wait_event_type = 'Lock'"
                " and query ilike '%%ingest_activity%%'"
            )
            if waiting or delivery.done():
                break
            time.sleep(0.05)
        assert waiting and not delivery.done(), "the delivery should wait for the removal"
        removal.commit()
        answer = delivery.result(timeout=120)
    assert answer.status_code == 409, answer.text
    assert events_of(stack, team.project_id) == []
    assert_unlinked_with_reason(stack, team, admin, integration_id)


# --- scheduled syncs ------------------------------------------------------------------------------
def _linked_repo(stack: Stack, team: Team, member: TestUser) -> tuple[str, str]:
    login = new_login()
    seed_github(stack, login, {"app": {"commits": 2}})
    integration_id = connect(stack, member, login, "github", team.project_id)
    with stack.http(member.token) as http:
        answer = http.post(f"{BASE}/{integration_id}/links", json={"external_id": f"{login}/app"})
    assert answer.status_code == 201, answer.text
    assert wait_job(stack, answer.json()["sync"]["id"])["status"] == "succeeded"
    seed_github(stack, login, {"app": {"commits": 3}})  # more to import on the next sync
    return login, integration_id


def _schedule(functions_env: dict[str, str]) -> dict[str, Any]:
    from devstack.events import scheduled_event
    from integrations import events

    return events.schedule_syncs(scheduled_event("integrations-schedule-syncs"), None)


def _scheduled_jobs(stack: Stack, integration_id: str) -> list[dict[str, Any]]:
    return stack.sql(
        "select * from public.integration_syncs where integration_id = %s and reason = 'schedule'",
        (integration_id,),
    )


def test_a_scheduled_sync_of_a_removed_members_repository_imports_nothing(
    stack: Stack, team: Team, functions_env: dict[str, str]
) -> None:
    member = stack.new_user()
    add_member(stack, team.project_id, member, "admin")
    _login, integration_id = _linked_repo(stack, team, member)
    before = len(events_of(stack, team.project_id))
    assert before == 2

    lose_the_right(stack, team, member, "removed")
    _schedule(functions_env)
    assert _scheduled_jobs(stack, integration_id) == []
    assert len(events_of(stack, team.project_id)) == before
    assert_unlinked_with_reason(stack, team, member, integration_id)


def test_a_sync_that_slipped_past_the_trigger_writes_nothing_and_unlinks(
    stack: Stack, team: Team, functions_env: dict[str, str]
) -> None:
    """The membership goes without the trigger seeing it: the schedule still queues the
    linked integration, and the worker's first write is refused in its own transaction."""
    member = stack.new_user()
    add_member(stack, team.project_id, member, "admin")
    _login, integration_id = _linked_repo(stack, team, member)
    before = len(events_of(stack, team.project_id))
    remove_unseen(stack, team, member)
    _schedule(functions_env)
    jobs = _scheduled_jobs(stack, integration_id)
    assert len(jobs) == 1
    job = wait_job(stack, str(jobs[0]["id"]))
    assert job["status"] == "failed" and job["events_written"] == 0, job
    assert "no longer an editor" in job["error"], job
    assert len(events_of(stack, team.project_id)) == before
    assert_unlinked_with_reason(stack, team, member, integration_id)


def test_an_admin_demoted_to_editor_keeps_feeding_but_can_no_longer_link(
    stack: Stack, team: Team
) -> None:
    member = stack.new_user()
    add_member(stack, team.project_id, member, "admin")
    login, integration_id = _linked_repo(stack, team, member)
    seed_github(stack, login, {"other": {"commits": 1}})
    stack.rest(team.members["owner"].token).table("project_members").update(
        {"role": "editor"}
    ).match({"project_id": team.project_id, "user_id": member.id}).execute()
    assert str(integration(stack, integration_id)["project_id"]) == team.project_id
    with stack.http(member.token) as http:
        linked = http.post(f"{BASE}/{integration_id}/links", json={"external_id": f"{login}/other"})
        assert linked.status_code == 403, linked.text
        synced = http.post(f"{BASE}/{integration_id}/sync")
    assert synced.status_code == 202, synced.text
    assert wait_job(stack, synced.json()["id"])["status"] == "succeeded"
    assert len(events_of(stack, team.project_id)) == 5  # 2 at link time, 3 more now


def test_a_google_docs_sync_that_slipped_past_the_trigger_adds_no_version(
    stack: Stack, team: Team, functions_env: dict[str, str]
) -> None:
    member = stack.new_user()
    add_member(stack, team.project_id, member, "admin")
    email = f"{new_login()}@example.test"
    seed_google(stack, email, [{"id": "doc-1", "name": "Spec", "content": "# v1"}])
    integration_id = connect(stack, member, email, "google_docs", team.project_id)
    with stack.http(member.token) as http:
        answer = http.post(f"{BASE}/{integration_id}/links", json={"external_id": "doc-1"})
    assert answer.status_code == 201, answer.text
    document_id = answer.json()["link"]["document_id"]
    seed_google(stack, email, [{"id": "doc-1", "name": "Spec", "content": "# v2"}])
    remove_unseen(stack, team, member)
    _schedule(functions_env)
    jobs = _scheduled_jobs(stack, integration_id)
    assert len(jobs) == 1
    job = wait_job(stack, str(jobs[0]["id"]))
    assert job["status"] == "failed" and job["events_written"] == 0, job
    versions = stack.sql(
        "select version from public.document_versions where document_id = %s", (document_id,)
    )
    assert versions == [{"version": 1}], "the changed document is not synced into the project"
    assert_unlinked_with_reason(stack, team, member, integration_id)
