"""Sync: remote items, links, the sync job (queue -> worker -> activity_events), cursors,
token refresh, a revoked grant, provider storms (429, 5xx) and the Google Docs import."""

from __future__ import annotations

import json
import time
from typing import Any

import boto3
import pytest

from tests.functions.conftest import Team, add_member
from tests.functions.integrations_support import (
    BASE,
    connect,
    events_of,
    fail_next,
    fake_state,
    github,
    google,
    new_login,
    seed_github,
    seed_google,
    sync_now,
    wait_job,
)
from tests.support import Stack


def link(stack: Stack, token: str, integration_id: str, body: dict[str, Any]) -> Any:
    with stack.http(token) as http:
        return http.post(f"{BASE}/{integration_id}/links", json=body)


def linked_repo(stack: Stack, team: Team, repos: dict[str, dict[str, int]], **extra: Any):
    """An admin's GitHub integration on the team's project with its first repo linked and
    synced once; (login, integration id, link answer)."""
    login = new_login()
    seed_github(stack, login, repos, **extra)
    admin = team.members["admin"]
    integration_id = connect(stack, admin, login, "github", team.project_id)
    name = next(iter(repos))
    answer = link(stack, admin.token, integration_id, {"external_id": f"{login}/{name}"})
    assert answer.status_code == 201, answer.text
    return login, integration_id, answer.json()


def cursor_of(stack: Stack, link_id: str) -> dict[str, Any]:
    return stack.sql("select sync_cursor from public.integration_links where id = %s", (link_id,))[
        0
    ]["sync_cursor"]


# --- remote items ---------------------------------------------------------------------------------
def test_remote_items_are_paged_and_only_the_owner_sees_them(stack: Stack, team: Team) -> None:
    login = new_login()
    seed_github(stack, login, {"a": {}, "b": {}, "c": {}})
    owner = team.members["owner"]
    integration_id = connect(stack, owner, login, "github", team.project_id)
    with stack.http(owner.token) as http:
        first = http.get(f"{BASE}/{integration_id}/remote-items", params={"per_page": 2})
        assert first.status_code == 200, first.text
        assert [i["external_id"] for i in first.json()["items"]] == [f"{login}/a", f"{login}/b"]
        assert first.json()["next_page"] == "2"
        second = http.get(
            f"{BASE}/{integration_id}/remote-items", params={"per_page": 2, "page": "2"}
        )
        assert [i["external_id"] for i in second.json()["items"]] == [f"{login}/c"]
        assert second.json()["next_page"] is None
        for bad in (
            {"per_page": 0},
            {"per_page": 101},
            {"per_page": "x"},
            {"page": "x"},
            {"per_page": "²"},
            {"page": "²"},
        ):
            answer = http.get(f"{BASE}/{integration_id}/remote-items", params=bad)
            assert answer.status_code == 422, (bad, answer.text)
    for someone in (team.members["admin"], team.outsider):
        with stack.http(someone.token) as http:
            assert http.get(f"{BASE}/{integration_id}/remote-items").status_code == 404
    assert stack.http().get(f"{BASE}/{integration_id}/remote-items").status_code == 401


def test_google_remote_items_follow_next_page_tokens(stack: Stack) -> None:
    email = f"{new_login()}@example.test"
    seed_google(stack, email, [{"name": f"Doc {i}", "content": "x"} for i in range(3)])
    user = stack.new_user()
    integration_id = connect(stack, user, email, "google_docs")
    with stack.http(user.token) as http:
        first = http.get(f"{BASE}/{integration_id}/remote-items", params={"per_page": 2})
        assert first.status_code == 200, first.text
        assert len(first.json()["items"]) == 2 and first.json()["next_page"]
        rest = http.get(
            f"{BASE}/{integration_id}/remote-items",
            params={"per_page": 2, "page": first.json()["next_page"]},
        )
    assert [i["name"] for i in rest.json()["items"]] == ["Doc 2"]
    assert rest.json()["next_page"] is None


# --- links and the sync job -----------------------------------------------------------------------
def test_linking_a_repository_syncs_its_history_into_the_activity_stream(
    stack: Stack, team: Team
) -> None:
    spec = {"commits": 7, "pulls": 3, "issues": 2, "releases": 2}
    login, _integration_id, answer = linked_repo(stack, team, {"app": spec})
    job = wait_job(stack, answer["sync"]["id"])
    assert job["status"] == "succeeded", job
    assert job["events_written"] == 14 and job["attempts"] == 1
    rows = events_of(stack, team.project_id)
    kinds = sorted(r["kind"] for r in rows)
    assert kinds == sorted(
        ["commit"] * 7
        + ["pull_request.opened"] * 3
        + ["issue.opened"] * 2
        + ["release.published"] * 2
    )
    assert all(r["source"] == "github" and r["actor"] == login for r in rows)
    assert all(r["payload"]["url"].startswith("https://github.com/") for r in rows)
    # members read the stream, the link and the job; an outsider none of them
    viewer = team.members["viewer"]
    assert (
        len(
            stack.rest(viewer.token)
            .table("activity_events")
            .select("id")
            .eq("project_id", team.project_id)
            .execute()
            .data
        )
        == 14
    )
    assert (
        stack.rest(viewer.token)
        .table("integration_syncs")
        .select("id")
        .eq("id", job["id"])
        .execute()
        .data
    )
    assert (
        stack.rest(team.outsider.token)
        .table("integration_links")
        .select("id")
        .eq("project_id", team.project_id)
        .execute()
        .data
        == []
    )
    cursor = cursor_of(stack, answer["link"]["id"])
    assert set(cursor) == {"commits", "pulls", "issues", "releases"}
    assert all(c["etag"] for c in cursor.values())


def test_sync_follows_link_headers_across_pages(stack: Stack, team: Team) -> None:
    # 100 per page: commits take 3 pages, releases 2, pulls and issues 1 each
    login, _integration_id, answer = linked_repo(
        stack, team, {"app": {"commits": 250, "releases": 120}}
    )
    job = wait_job(stack, answer["sync"]["id"])
    assert job["status"] == "succeeded", job
    assert job["events_written"] == 370
    assert job["provider_requests"] == 7
    assert len(events_of(stack, team.project_id)) == 370
    assert login


def test_a_second_sync_is_incremental_and_idempotent(stack: Stack, team: Team) -> None:
    login, integration_id, answer = linked_repo(stack, team, {"app": {"commits": 3, "pulls": 1}})
    assert wait_job(stack, answer["sync"]["id"])["status"] == "succeeded"
    before = fake_state(github(stack), login)["counters"]
    owner_token = team.members["admin"].token
    # nothing new: the conditional requests answer 304 and nothing is written
    quiet = sync_now(stack, team.members["admin"], integration_id)
    assert quiet.status_code == 202, quiet.text
    job = wait_job(stack, quiet.json()["id"])
    assert job["status"] == "succeeded" and job["events_written"] == 0
    after = fake_state(github(stack), login)["counters"]
    assert after.get("not_modified", 0) - before.get("not_modified", 0) >= 2
    # two new commits: only they are written
    seed_github(stack, login, {"app": {"commits": 2}})
    more = wait_job(stack, sync_now(stack, team.members["admin"], integration_id).json()["id"])
    assert more["status"] == "succeeded" and more["events_written"] == 2, more
    assert len(events_of(stack, team.project_id)) == 3 + 1 + 2
    assert owner_token


def test_sync_now_bad_input_and_wrong_person(stack: Stack, team: Team) -> None:
    login = new_login()
    admin = team.members["admin"]
    integration_id = connect(stack, admin, login, "github", team.project_id)
    for someone in (team.members["owner"], team.outsider):
        assert sync_now(stack, someone, integration_id).status_code == 404
    with stack.http(admin.token) as http:
        assert http.post(f"{BASE}/not-a-uuid/sync").status_code == 422
    assert stack.http().post(f"{BASE}/{integration_id}/sync").status_code == 401
    # a second request while one waits returns the same job
    first = sync_now(stack, admin, integration_id).json()
    second = sync_now(stack, admin, integration_id).json()
    if second["id"] != first["id"]:  # only once the first one is done (the local worker is quick)
        [done] = stack.sql(
            "select status::text from public.integration_syncs where id = %s", (first["id"],)
        )
        assert done["status"] in ("succeeded", "failed"), (first, second, done)
    open_jobs = stack.sql(
        "select count(*) as n from public.integration_syncs"
        " where integration_id = %s and status in ('queued', 'running')",
        (integration_id,),
    )
    assert open_jobs[0]["n"] <= 1
    # not connected: a row made by the client stays pending
    pending = (
        stack.rest(admin.token)
        .table("integrations")
        .insert({"provider": "github", "external_account_id": new_login()})
        .execute()
        .data[0]
    )
    answer = sync_now(stack, admin, pending["id"])
    assert answer.status_code == 409 and answer.json()["error"] == "not_connected"
    assert first["status"] in ("queued", "running", "succeeded")


def test_sync_without_a_project_is_refused(stack: Stack) -> None:
    user = stack.new_user()
    integration_id = connect(stack, user, new_login())
    answer = sync_now(stack, user, integration_id)
    assert answer.status_code == 409, answer.text
    assert answer.json()["error"] == "not_linked"


def test_a_viewer_cannot_link_a_project(stack: Stack, team: Team) -> None:
    login = new_login()
    seed_github(stack, login, {"app": {"commits": 1}})
    someone = stack.new_user()
    add_member(stack, team.project_id, someone, "admin")
    integration_id = connect(stack, someone, login, "github", team.project_id)
    # demoted to viewer after connecting: the integration is unlinked, so nothing to link into
    stack.sql(
        "update public.project_members set role = 'viewer' where project_id = %s and user_id = %s",
        (team.project_id, someone.id),
    )
    answer = link(stack, someone.token, integration_id, {"external_id": f"{login}/app"})
    assert answer.status_code == 409, answer.text
    assert answer.json()["error"] == "not_linked" and "no longer" in answer.json()["message"]
    assert (
        stack.sql(
            "select 1 from public.integration_links where integration_id = %s", (integration_id,)
        )
        == []
    )
    # nor point the integration at the project through the data API
    viewer = team.members["viewer"]
    own = (
        stack.rest(viewer.token)
        .table("integrations")
        .insert({"provider": "github", "external_account_id": new_login()})
        .execute()
        .data[0]
    )
    with stack.http(viewer.token) as http:
        moved = http.patch(
            f"/rest/v1/integrations?id=eq.{own['id']}", json={"project_id": team.project_id}
        )
    assert moved.status_code == 403, moved.text
    assert (
        stack.sql("select project_id from public.integrations where id = %s", (own["id"],))[0][
            "project_id"
        ]
        is None
    )


@pytest.mark.parametrize(
    "body",
    [
        {"external_id": "../etc/passwd"},
        {"external_id": ""},
        {"external_id": "no-slash"},
        {"external_id": "a/b", "unexpected": 1},
        {"external_id": "a/b", "document_id": "00000000-0000-4000-8000-000000000000"},
    ],
)
def test_link_bad_input_is_422(stack: Stack, team: Team, body: dict[str, Any]) -> None:
    admin = team.members["admin"]
    integration_id = connect(stack, admin, new_login(), "github", team.project_id)
    answer = link(stack, admin.token, integration_id, body)
    assert answer.status_code == 422, answer.text


def test_link_wrong_person_and_unknown_repository(stack: Stack, team: Team) -> None:
    login = new_login()
    seed_github(stack, login, {"app": {}})
    admin = team.members["admin"]
    integration_id = connect(stack, admin, login, "github", team.project_id)
    assert (
        link(
            stack, team.members["owner"].token, integration_id, {"external_id": f"{login}/app"}
        ).status_code
        == 404
    )
    missing = link(stack, admin.token, integration_id, {"external_id": f"{login}/nope"})
    assert missing.status_code == 404, missing.text
    with stack.http(admin.token) as http:
        assert http.post(f"{BASE}/{integration_id}/links", content=b"{").status_code == 400


# --- tokens ---------------------------------------------------------------------------------------
def test_an_expiring_token_is_refreshed_before_the_sync(stack: Stack, team: Team) -> None:
    # the fake issues tokens that expire in 60 s: inside the 5 minute refresh margin
    login, _integration_id, answer = linked_repo(
        stack, team, {"app": {"commits": 2}}, token_expires_in=60
    )
    job = wait_job(stack, answer["sync"]["id"])
    assert job["status"] == "succeeded", job
    assert fake_state(github(stack), login)["counters"].get("refreshes", 0) >= 1


def test_a_revoked_grant_marks_the_integration_for_reconnection_and_notifies(
    stack: Stack, team: Team
) -> None:
    login, integration_id, answer = linked_repo(stack, team, {"app": {"commits": 1}})
    assert wait_job(stack, answer["sync"]["id"])["status"] == "succeeded"
    import httpx

    httpx.post(f"{github(stack)}/_fake/accounts/{login}/revoke").raise_for_status()
    admin = team.members["admin"]
    job = wait_job(stack, sync_now(stack, admin, integration_id).json()["id"])
    assert job["status"] == "failed" and job["attempts"] == 1, job
    assert "reconnect" in job["error"].lower()
    row = stack.sql(
        "select status, last_error from public.integrations where id = %s", (integration_id,)
    )[0]
    assert row["status"] == "error" and "reconnect" in row["last_error"].lower()
    notes = (
        stack.rest(admin.token)
        .table("notifications")
        .select("*")
        .eq("user_id", admin.id)
        .execute()
        .data
    )
    reconnect = [n for n in notes if n["payload"].get("kind") == "integration_reconnect"]
    assert len(reconnect) == 1
    assert reconnect[0]["payload"]["integration_id"] == integration_id
    # remote items now say so too, without a second notification
    with stack.http(admin.token) as http:
        items = http.get(f"{BASE}/{integration_id}/remote-items")
    assert items.status_code == 409 and items.json()["error"] == "reconnect_required"
    # reconnecting clears the error
    assert connect(stack, admin, login, "github", team.project_id) == integration_id
    again = stack.sql(
        "select status, last_error from public.integrations where id = %s", (integration_id,)
    )[0]
    assert again == {"status": "connected", "last_error": None}


# --- provider storms ------------------------------------------------------------------------------
def _dlq_bodies(stack: Stack) -> list[dict[str, Any]]:
    sqs = boto3.client(
        "sqs",
        endpoint_url=stack.env["AWS_ENDPOINT_URL"],
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    bodies: list[dict[str, Any]] = []
    for _ in range(5):
        got = sqs.receive_message(
            QueueUrl=stack.env["INTEGRATIONS_SYNC_QUEUE_DLQ_URL"],
            MaxNumberOfMessages=10,
            WaitTimeSeconds=1,
            VisibilityTimeout=1,
        ).get("Messages", [])
        bodies += [json.loads(m["Body"]) for m in got]
        if not got:
            break
    return bodies


def test_a_5xx_storm_is_retried_then_dead_lettered_with_nothing_lost(
    stack: Stack, team: Team
) -> None:
    login, integration_id, answer = linked_repo(stack, team, {"app": {"commits": 3}})
    assert wait_job(stack, answer["sync"]["id"])["status"] == "succeeded"
    cursor = cursor_of(stack, answer["link"]["id"])
    seed_github(stack, login, {"app": {"commits": 2}})
    fail_next(github(stack), login, status=503, count=1000)
    admin = team.members["admin"]
    job = wait_job(stack, sync_now(stack, admin, integration_id).json()["id"], tries=480)
    assert job["status"] == "failed", job
    assert job["attempts"] == 5  # integrations.jobs.SYNCS.max_attempts
    assert "unavailable" in job["error"] and "gave up after 5 attempts" in job["error"]
    row = stack.sql(
        "select status, last_error from public.integrations where id = %s", (integration_id,)
    )[0]
    assert row["status"] == "error" and "unavailable" in row["last_error"]
    assert cursor_of(stack, answer["link"]["id"]) == cursor  # the cursor did not move
    assert len(events_of(stack, team.project_id)) == 3
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if any(b.get("job_id") == str(job["id"]) for b in _dlq_bodies(stack)):
            break
        time.sleep(1)
    else:
        pytest.fail("the failed sync's message never reached the DLQ")
    # the provider is back: the next sync resumes from the cursor and loses nothing
    fail_next(github(stack), login, clear=True)
    resumed = wait_job(stack, sync_now(stack, admin, integration_id).json()["id"])
    assert resumed["status"] == "succeeded" and resumed["events_written"] == 2, resumed
    assert len(events_of(stack, team.project_id)) == 5
    row = stack.sql(
        "select status, last_error from public.integrations where id = %s", (integration_id,)
    )[0]
    assert row == {"status": "connected", "last_error": None}


def test_short_429s_are_waited_out_and_long_ones_retried_through_the_queue(
    stack: Stack, team: Team
) -> None:
    login, integration_id, answer = linked_repo(stack, team, {"app": {"commits": 1}})
    assert wait_job(stack, answer["sync"]["id"])["status"] == "succeeded"
    admin = team.members["admin"]
    seed_github(stack, login, {"app": {"commits": 1}})
    fail_next(github(stack), login, status=429, count=2, retry_after=1)
    short = wait_job(stack, sync_now(stack, admin, integration_id).json()["id"])
    assert short["status"] == "succeeded" and short["attempts"] == 1, short
    assert short["events_written"] == 1
    # a secondary rate limit asking for longer than the worker waits inline
    seed_github(stack, login, {"app": {"commits": 1}})
    fail_next(github(stack), login, status=403, count=1, retry_after=60)
    job_id = sync_now(stack, admin, integration_id).json()["id"]
    retried = wait_job(stack, job_id)
    assert retried["status"] == "succeeded", retried
    assert retried["attempts"] == 2 and retried["events_written"] == 1
    assert len(events_of(stack, team.project_id)) == 3


# --- Google Docs ----------------------------------------------------------------------------------
def test_google_doc_import_becomes_a_document_version_and_syncs_changes(
    stack: Stack, team: Team
) -> None:
    email = f"{new_login()}@example.test"
    # tokens that expire within the refresh margin: every use refreshes first
    seed_google(
        stack,
        email,
        [{"id": "doc-1", "name": "Product spec", "content": "# v1"}],
        token_expires_in=60,
    )
    owner = team.members["owner"]
    integration_id = connect(stack, owner, email, "google_docs", team.project_id)
    answer = link(stack, owner.token, integration_id, {"external_id": "doc-1"})
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert body["document_version"] == 1
    document_id = body["link"]["document_id"]
    versions = stack.sql(
        "select * from public.document_versions where document_id = %s", (document_id,)
    )
    assert versions[0]["content"] == "# v1" and str(versions[0]["author_id"]) == owner.id
    assert "Imported from Google Docs: Product spec" in versions[0]["change_summary"]
    # unchanged: the sync adds nothing; changed: a new version generated by the sync
    job = wait_job(stack, sync_now(stack, owner, integration_id).json()["id"])
    assert job["status"] == "succeeded" and job["events_written"] == 0, job
    seed_google(stack, email, [{"id": "doc-1", "name": "Product spec", "content": "# v2"}])
    job = wait_job(stack, sync_now(stack, owner, integration_id).json()["id"])
    assert job["status"] == "succeeded" and job["events_written"] == 1, job
    latest = stack.sql(
        "select * from public.document_versions where document_id = %s"
        " order by version desc limit 1",
        (document_id,),
    )[0]
    assert latest["version"] == 2 and latest["content"] == "# v2"
    assert latest["generated_by"] == "google_docs"
    assert "Synced from Google Docs" in latest["change_summary"]
    counters = fake_state(google(stack), email)["counters"]
    assert counters["requests"] >= 4 and counters["refreshes"] >= 1


def test_google_import_into_a_document_of_another_project_is_refused(
    stack: Stack, team: Team
) -> None:
    email = f"{new_login()}@example.test"
    seed_google(stack, email, [{"id": "doc-x", "name": "X", "content": "x"}])
    owner = team.members["owner"]
    integration_id = connect(stack, owner, email, "google_docs", team.project_id)
    other = stack.rest(owner.token).table("projects").insert({"name": "other"}).execute()
    doc = (
        stack.rest(owner.token)
        .table("documents")
        .insert({"project_id": other.data[0]["id"], "title": "elsewhere", "created_by": owner.id})
        .execute()
        .data[0]
    )
    answer = link(
        stack, owner.token, integration_id, {"external_id": "doc-x", "document_id": doc["id"]}
    )
    assert answer.status_code == 422, answer.text
    assert "not in this project" in answer.json()["message"]
    assert (
        stack.sql("select 1 from public.document_versions where document_id = %s", (doc["id"],))
        == []
    )


def test_the_schedule_queues_a_sync_of_each_linked_integration(
    stack: Stack, team: Team, functions_env: dict[str, str]
) -> None:
    from devstack.events import scheduled_event
    from integrations import events

    login, integration_id, answer = linked_repo(stack, team, {"app": {"commits": 1}})
    assert wait_job(stack, answer["sync"]["id"])["status"] == "succeeded"
    seed_github(stack, login, {"app": {"commits": 1}})
    result = events.schedule_syncs(scheduled_event("integrations-schedule-syncs"), None)
    assert result["queued"] >= 1
    rows = stack.sql(
        "select id from public.integration_syncs where integration_id = %s and reason = 'schedule'",
        (integration_id,),
    )
    assert len(rows) == 1
    job = wait_job(stack, str(rows[0]["id"]))
    assert job["status"] == "succeeded" and job["events_written"] == 1, job
    assert len(events_of(stack, team.project_id)) == 2


def test_a_used_up_primary_rate_limit_is_retried_through_the_queue(
    stack: Stack, team: Team
) -> None:
    login, integration_id, answer = linked_repo(stack, team, {"app": {"commits": 1}})
    assert wait_job(stack, answer["sync"]["id"])["status"] == "succeeded"
    seed_github(stack, login, {"app": {"commits": 1}})
    # 403 with X-RateLimit-Remaining: 0 and a reset at the next full hour, no Retry-After
    fail_next(github(stack), login, status=403, count=1)
    job = wait_job(stack, sync_now(stack, team.members["admin"], integration_id).json()["id"])
    assert job["status"] == "succeeded" and job["attempts"] == 2, job
    assert job["events_written"] == 1


def test_a_token_the_provider_expired_early_is_refreshed_on_401(stack: Stack, team: Team) -> None:
    login, integration_id, answer = linked_repo(stack, team, {"app": {"commits": 1}})
    assert wait_job(stack, answer["sync"]["id"])["status"] == "succeeded"
    import httpx

    httpx.post(f"{github(stack)}/_fake/accounts/{login}/expire").raise_for_status()
    seed_github(stack, login, {"app": {"commits": 1}})
    job = wait_job(stack, sync_now(stack, team.members["admin"], integration_id).json()["id"])
    assert job["status"] == "succeeded" and job["attempts"] == 1, job
    assert job["events_written"] == 1
    assert fake_state(github(stack), login)["counters"]["refreshes"] == 1
    row = stack.sql("select status from public.integrations where id = %s", (integration_id,))
    assert row[0]["status"] == "connected"


def test_a_member_demoted_to_viewer_can_no_longer_sync_into_the_project(
    stack: Stack, team: Team
) -> None:
    login = new_login()
    seed_github(stack, login, {"app": {"commits": 1}})
    someone = stack.new_user()
    add_member(stack, team.project_id, someone, "admin")
    integration_id = connect(stack, someone, login, "github", team.project_id)
    stack.sql(
        "update public.project_members set role = 'viewer' where project_id = %s and user_id = %s",
        (team.project_id, someone.id),
    )
    before = stack.sql(
        "select count(*) as n from public.integration_syncs where integration_id = %s",
        (integration_id,),
    )[0]["n"]
    answer = sync_now(stack, someone, integration_id)
    assert answer.status_code == 409, answer.text  # unlinked when demoted
    assert answer.json()["error"] == "not_linked" and "editor" in answer.json()["message"]
    after = stack.sql(
        "select count(*) as n from public.integration_syncs where integration_id = %s",
        (integration_id,),
    )[0]["n"]
    assert after == before
