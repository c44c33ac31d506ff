"""functions/privacy: export and erasure over HTTP through the gateway, the worker on the
local queue, the 30-day purge and the audit retention on their schedules."""

from __future__ import annotations

import gzip
import json
import time
import uuid
from typing import Any

import httpx
import jwt
import pytest

from tests.auth.helpers import password_grant as auth_password_grant
from tests.auth.helpers import refresh as auth_refresh
from tests.auth.helpers import signup as auth_signup
from tests.functions.conftest import object_exists, s3_client
from tests.functions.privacy_support import (
    CLIENT_IP,
    EDGE_IP,
    USER_AGENT,
    archive,
    invite,
    new_project_with,
    person_with_data,
    traces,
    upload_ready_file,
    wait_for_request,
)
from tests.support import REPRESENTATION, Stack, TestUser


def _export(stack: Stack, user: TestUser, token: str | None = None) -> httpx.Response:
    with stack.http(token or user.token) as http:
        return http.post("/functions/v1/privacy/export")


def _erasure(stack: Stack, user: TestUser, body: Any, token: str | None = None) -> httpx.Response:
    with stack.http(token or user.token) as http:
        return http.post("/functions/v1/privacy/erasure", json=body)


def _download(stack: Stack, token: str, request_id: str) -> httpx.Response:
    with stack.http(token) as http:
        return http.get(f"/functions/v1/privacy/requests/{request_id}/download")


def _completed_export(stack: Stack, user: TestUser) -> dict[str, Any]:
    accepted = _export(stack, user)
    assert accepted.status_code == 202, accepted.text
    row = wait_for_request(stack, accepted.json()["request_id"])
    assert row["status"] == "completed", row
    return row


def _rows(zf: Any, table: str) -> list[dict[str, Any]]:
    return json.loads(zf.read(f"data/{table}.json"))


# -- export: filing ---------------------------------------------------------------------------
def test_export_is_accepted_pending_and_a_second_open_export_is_409(stack: Stack) -> None:
    user = stack.new_user()
    # a pending export nobody has sent yet (as if the queue were slow): the next one conflicts
    stack.sql(
        "insert into public.privacy_requests (user_id, kind) values (%s, 'export')", (user.id,)
    )
    second = _export(stack, user)
    assert second.status_code == 409, second.text
    assert second.json()["error"] == "export_already_open"
    assert second.json()["request_id"]

    other = stack.new_user()
    first = _export(stack, other)
    assert first.status_code == 202, first.text
    body = first.json()
    assert body["status"] == "pending"
    assert str(uuid.UUID(body["request_id"])) == body["request_id"]


def test_export_needs_a_signed_in_caller(stack: Stack) -> None:
    assert stack.http().post("/functions/v1/privacy/export").status_code == 401
    user = stack.new_user()
    expired = stack.token(user, exp=int(time.time()) - 60)
    assert _export(stack, user, expired).status_code == 401
    garbage = _export(stack, user, "not-a-jwt")
    assert garbage.status_code == 401
    assert garbage.json()["error"] == "unauthorized"


# -- export: contents -----------------------------------------------------------------------------
def test_export_holds_what_the_person_created_with_file_bytes_and_audit_ip(stack: Stack) -> None:
    person = person_with_data(stack)
    # invitations to them, by id and by address (as stored: lower case), and to someone else
    elsewhere = new_project_with(stack, person.teammate, {})
    by_id = invite(stack, person.teammate, elsewhere, user_id=person.user.id)
    other = stack.new_user()
    by_address = invite(stack, person.teammate, new_project_with(stack, person.teammate, {}),
                        email=person.user.email.upper())  # fmt: skip
    invite(stack, person.teammate, elsewhere, email=other.email)
    row = _completed_export(stack, person.user)
    assert row["user_id"] is not None and row["error"] is None
    assert row["expires_at"] is not None

    zf = archive(stack, row["result_location"])
    names = set(zf.namelist())
    assert "README.txt" in names
    readme = zf.read("README.txt").decode()
    assert "data/<schema>.<table>.json" in readme and "files/" in readme

    [profile] = _rows(zf, "public.profiles")
    assert profile["full_name"] == "Ada Person"
    [account] = _rows(zf, "auth.users")
    assert account["email"] == person.user.email
    assert "encrypted_password" not in account
    assert [p["id"] for p in _rows(zf, "public.projects")] == [person.project_id]
    assert person.task_id in {t["id"] for t in _rows(zf, "public.tasks")}
    messages = _rows(zf, "public.messages")
    assert [m["content"] for m in messages] == ["hello from Ada"]
    assert "search" not in messages[0]
    [file] = _rows(zf, "public.files")
    assert file["id"] == str(person.file["id"])
    assert zf.read(f"files/{file['id']}/notes.txt") == person.file_bytes
    audit = _rows(zf, "public.audit_logs")
    mine = [a for a in audit if a["actor_id"] == person.user.id and a["table_name"] == "projects"]
    assert mine and "ip" not in mine[0] and "user_agent" not in mine[0]
    # where they acted from is in audit_log_origins: the edge's address, not the claimed one
    origins = {o["audit_log_id"]: o for o in _rows(zf, "public.audit_log_origins")}
    assert origins and all(o["actor_id"] == person.user.id for o in origins.values())
    origin = origins[mine[0]["id"]]
    assert origin["ip"] == EDGE_IP != CLIENT_IP and origin["user_agent"] == USER_AGENT
    # the one to their id; not the one to their address, which they never answered with its
    # link's token (holding an address proves nothing)
    invitations = _rows(zf, "public.project_invitations")
    assert {i["id"] for i in invitations} == {by_id} and by_address != by_id
    # rows come along only when they refer to the person
    members = _rows(zf, "public.project_members")
    assert members and all(person.user.id in (m["user_id"], m["invited_by"]) for m in members)
    assert person.teammate.email not in zf.read("data/auth.users.json").decode()


def test_export_has_a_json_file_for_every_table_the_catalog_names(stack: Stack) -> None:
    user = stack.new_user()
    row = _completed_export(stack, user)
    zf = archive(stack, row["result_location"])
    tables = stack.sql("select table_schema || '.' || table_name as t from privacy_export_tables()")
    assert {f"data/{t['t']}.json" for t in tables} <= set(zf.namelist())


def test_export_archive_is_encrypted_and_expires_with_the_bucket_rule(stack: Stack) -> None:
    user = stack.new_user()
    row = _completed_export(stack, user)
    bucket, _, key = row["result_location"].removeprefix("s3://").partition("/")
    s3 = s3_client(stack.env)
    assert s3.head_object(Bucket=bucket, Key=key)["ServerSideEncryption"] == "AES256"
    assert key.startswith(f"exports/{user.id}/")
    rules = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    assert any(
        r["Status"] == "Enabled"
        and r["Filter"].get("Prefix") == "exports/"
        and r["Expiration"]["Days"] == 7
        for r in rules
    )
    days = (row["expires_at"] - row["completed_at"]).total_seconds() / 86400
    assert 6.99 < days <= 7.0


def test_the_person_is_notified_when_the_export_is_ready(stack: Stack) -> None:
    user = stack.new_user()
    row = _completed_export(stack, user)
    notes = stack.rest(user.token).table("notifications").select("type,payload").execute().data
    ready = [n["payload"] for n in notes if n["type"] == "privacy_request"]
    assert len(ready) == 1
    assert ready[0]["request_id"] == str(row["id"])
    assert (ready[0]["kind"], ready[0]["status"]) == ("export", "completed")
    assert ready[0]["expires_at"]


# -- export: download ---------------------------------------------------------------------------
def test_the_requester_downloads_the_archive(stack: Stack) -> None:
    user = stack.new_user()
    row = _completed_export(stack, user)
    answer = _download(stack, user.token, str(row["id"]))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert set(body) >= {"url", "expires_at", "archive_expires_at"}
    content = httpx.get(body["url"], timeout=30)
    assert content.status_code == 200
    assert content.content[:2] == b"PK"


def test_another_persons_export_is_404(stack: Stack) -> None:
    owner = stack.new_user()
    row = _completed_export(stack, owner)
    stranger = stack.new_user()
    answer = _download(stack, stranger.token, str(row["id"]))
    assert answer.status_code == 404, answer.text
    assert answer.json()["error"] == "not_found"
    # the same answer as for an id that does not exist
    assert _download(stack, stranger.token, str(uuid.uuid4())).status_code == 404


def test_download_refuses_bad_input_and_anonymous_callers(stack: Stack) -> None:
    user = stack.new_user()
    assert _download(stack, user.token, "not-a-uuid").status_code == 422
    anonymous = stack.http().get(f"/functions/v1/privacy/requests/{uuid.uuid4()}/download")
    assert anonymous.status_code == 401


def test_download_is_409_while_the_export_is_not_completed(stack: Stack) -> None:
    user = stack.new_user()
    request_id = stack.sql(
        "insert into public.privacy_requests (user_id, kind) values (%s, 'export') returning id",
        (user.id,),
    )[0]["id"]
    answer = _download(stack, user.token, str(request_id))
    assert answer.status_code == 409, answer.text
    assert answer.json()["error"] == "export_not_ready"


def test_an_erasure_request_has_no_download(stack: Stack) -> None:
    user = stack.new_user()
    request_id = stack.sql(
        "insert into public.privacy_requests (user_id, kind, status, completed_at)"
        " values (%s, 'erasure', 'failed', now()) returning id",
        (user.id,),
    )[0]["id"]
    assert _download(stack, user.token, str(request_id)).status_code == 404


def test_an_expired_export_is_410(stack: Stack) -> None:
    user = stack.new_user()
    row = _completed_export(stack, user)
    stack.sql(
        "update public.privacy_requests set expires_at = now() - interval '1 minute' where id = %s",
        (row["id"],),
    )
    answer = _download(stack, user.token, str(row["id"]))
    assert answer.status_code == 410, answer.text


# -- erasure: filing ------------------------------------------------------------------------------
def test_erasure_with_a_wrong_email_is_refused(stack: Stack) -> None:
    user = stack.new_user()
    answer = _erasure(stack, user, {"confirm": "someone-else@example.test"})
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"] == "confirmation_mismatch"
    assert stack.sql(
        "select count(*) as n from public.privacy_requests where user_id = %s", (user.id,)
    ) == [{"n": 0}]


def test_erasure_with_an_old_token_needs_reauthentication(stack: Stack) -> None:
    user = stack.new_user()
    signed_in = int(time.time()) - 11 * 60
    old = stack.token(user, iat=signed_in, amr=[{"method": "password", "timestamp": signed_in}])
    answer = _erasure(stack, user, {"confirm": user.email}, token=old)
    assert answer.status_code == 403, answer.text
    assert answer.json()["error"] == "reauthentication_required"
    # and straight through PostgREST, the database says the same
    with stack.http(old) as http:
        direct = http.post("/rest/v1/privacy_requests", json={"kind": "erasure"})
    assert direct.status_code == 403, direct.text
    assert "reauthentication_required" in direct.json()["message"]


def test_a_refreshed_token_of_an_old_sign_in_cannot_erase_the_account(stack: Stack) -> None:
    """A stolen refresh token mints tokens with a fresh iat; the sign-in they carry (amr)
    is still old, so an erasure needs the person to sign in again."""
    session = auth_signup(stack)
    claims = jwt.decode(session["access_token"], options={"verify_signature": False})
    stack.sql(  # the sign-in happened 11 minutes ago
        "update auth.mfa_amr_claims set created_at = now() - interval '11 minutes',"
        " updated_at = now() - interval '11 minutes' where session_id = %s",
        (claims["session_id"],),
    )
    refreshed = auth_refresh(stack, session["refresh_token"])
    assert refreshed.status_code == 200, refreshed.text
    token = refreshed.json()["access_token"]
    fresh = jwt.decode(token, options={"verify_signature": False})
    assert fresh["iat"] >= claims["iat"] and fresh["amr"][0]["timestamp"] < fresh["iat"] - 600
    email = session["user"]["email"]
    with stack.http(token) as http:
        answer = http.post("/functions/v1/privacy/erasure", json={"confirm": email})
        direct = http.post("/rest/v1/privacy_requests", json={"kind": "erasure"})
    assert answer.status_code == 403, answer.text
    assert answer.json()["error"] == "reauthentication_required"
    assert direct.status_code == 403, direct.text
    assert "reauthentication_required" in direct.json()["message"]
    # a real sign-in now passes the check (and then meets the confirmation rule)
    signed_in = auth_password_grant(stack, email)
    assert signed_in.status_code == 200, signed_in.text
    with stack.http(signed_in.json()["access_token"]) as http:
        mismatch = http.post("/functions/v1/privacy/erasure", json={"confirm": "x@example.test"})
    assert mismatch.status_code == 422, mismatch.text
    assert mismatch.json()["error"] == "confirmation_mismatch"


@pytest.mark.parametrize(
    "claims, expected",
    [
        ({"iat": 100, "amr": [{"method": "password", "timestamp": 50}]}, 50.0),
        ({"iat": 100, "amr": [{"timestamp": 10}, {"timestamp": 70}]}, 70.0),
        ({"iat": 100}, 100.0),  # a token without the claim: its iat
        ({"iat": 100, "amr": []}, None),
        ({"iat": 100, "amr": "password"}, 100.0),  # not a list: as if absent
        ({"iat": 100, "amr": [1, "x", None]}, None),
        ({"iat": 100, "amr": [{"timestamp": 1e20}]}, None),
        ({"iat": 100, "amr": [{"timestamp": "99"}]}, None),
        ({"iat": 100, "amr": [{"timestamp": True}]}, None),
        ({"iat": 100, "amr": [{"timestamp": 10**40}]}, None),
        ({"iat": "soon"}, None),
        ({"iat": True}, None),
        ({}, None),
    ],
)
def test_the_sign_in_time_is_read_only_from_well_formed_claims(
    functions_env: dict[str, str], claims: dict[str, Any], expected: float | None
) -> None:
    from privacy.service import last_authentication

    assert last_authentication(claims) == expected


def test_erasure_refuses_bad_bodies_and_anonymous_callers(stack: Stack) -> None:
    user = stack.new_user()
    for body in ({}, {"confirm": ""}, {"confirm": user.email, "extra": 1}, {"confirm": 5}, []):
        answer = _erasure(stack, user, body)
        assert answer.status_code == 422, (body, answer.text)
    with stack.http(user.token) as http:
        raw = http.post(
            "/functions/v1/privacy/erasure",
            content=b"{not json",
            headers={"Content-Type": "application/json"},
        )
    assert raw.status_code == 400
    anonymous = stack.http().post("/functions/v1/privacy/erasure", json={"confirm": "x@y.z"})
    assert anonymous.status_code == 401


def test_a_second_open_erasure_is_409(stack: Stack) -> None:
    user = stack.new_user()
    stack.sql(
        "insert into public.privacy_requests (user_id, kind) values (%s, 'erasure')", (user.id,)
    )
    answer = _erasure(stack, user, {"confirm": user.email.upper()})
    assert answer.status_code == 409, answer.text
    assert answer.json()["error"] == "erasure_already_open"


# -- erasure: the work ----------------------------------------------------------------------------
def _erase(stack: Stack, user: TestUser) -> dict[str, Any]:
    accepted = _erasure(stack, user, {"confirm": user.email})
    assert accepted.status_code == 202, accepted.text
    assert accepted.json()["status"] == "pending"
    row = wait_for_request(stack, accepted.json()["request_id"])
    assert row["status"] == "completed", row
    return row


def test_erasure_hands_owned_projects_to_the_longest_standing_admin(stack: Stack) -> None:
    person = stack.new_user()
    first_admin, later_admin, editor = stack.new_user(), stack.new_user(), stack.new_user()
    shared = new_project_with(stack, person, {"admin": first_admin})
    stack.sql(
        "insert into public.project_members (project_id, user_id, role) values (%s, %s, 'editor')",
        (shared, editor.id),
    )
    stack.sql(
        "insert into public.project_members (project_id, user_id, role) values (%s, %s, 'admin')",
        (shared, later_admin.id),
    )
    no_admin = new_project_with(stack, person, {"editor": editor})
    alone = new_project_with(stack, person, {})

    _erase(stack, person)

    owner = stack.sql("select owner_id::text from public.projects where id = %s", (shared,))
    assert owner == [{"owner_id": first_admin.id}]
    roles = stack.sql(
        "select user_id::text, role::text from public.project_members where project_id = %s",
        (shared,),
    )
    assert {(r["user_id"], r["role"]) for r in roles} == {
        (first_admin.id, "owner"),
        (later_admin.id, "admin"),
        (editor.id, "editor"),
    }
    gone = stack.sql(
        "select count(*) as n from public.projects where id = any(%s::uuid[])", ([no_admin, alone],)
    )
    assert gone == [{"n": 0}]


def test_after_erasure_no_row_anywhere_holds_the_person_and_no_object_remains(
    stack: Stack,
) -> None:
    person = person_with_data(stack)
    export = _completed_export(stack, person.user)
    export_key = export["result_location"].removeprefix("s3://").partition("/")[2]
    # an outside source named them by their address
    stack.sql(
        "insert into public.activity_events (project_id, source, kind, actor, external_id)"
        " values (%s, 'github', 'push', %s, %s)",
        (person.project_id, person.user.email, f"gh-{uuid.uuid4()}"),
    )
    # a file the teammate uploaded to the person's project, which goes with the project
    teammate_file = upload_ready_file(stack, person.teammate, person.project_id, b"team notes\n")
    # invitations to them by id and by address, in a project that stays
    elsewhere = new_project_with(stack, person.teammate, {})
    invite(stack, person.teammate, elsewhere, user_id=person.user.id)
    invite(stack, person.teammate, elsewhere, email=person.user.email)
    before = traces(stack, [person.user.id, person.user.email])
    assert {
        "auth.users", "public.profiles", "public.audit_logs", "public.audit_log_origins",
        "public.messages", "public.project_invitations",
    } <= set(before)  # fmt: skip

    request = _erase(stack, person.user)

    assert traces(stack, [person.user.id, person.user.email]) == {}
    assert not object_exists(stack.env, person.file["object_key"])
    assert not object_exists(stack.env, teammate_file["object_key"])
    s3 = s3_client(stack.env)
    listed = s3.list_objects_v2(
        Bucket=stack.env["PRIVACY_EXPORTS_BUCKET"], Prefix=f"exports/{person.user.id}/"
    )
    assert listed.get("KeyCount", 0) == 0, export_key
    # the request stays as the record, without the person
    kept = stack.sql("select * from public.privacy_requests where id = %s", (request["id"],))
    assert kept[0]["user_id"] is None and kept[0]["kind"] == "erasure"
    # the audit trail keeps the actions
    entries = stack.sql(
        "select count(*) as n from public.audit_logs"
        " where project_id = %s and table_name = 'tasks'",
        (person.project_id,),
    )
    assert entries[0]["n"] >= 2
    # the teammate's notification about the task they were given stays, without the person
    notes = stack.sql(
        "select payload from public.notifications where user_id = %s and type = 'task_assigned'",
        (person.teammate.id,),
    )
    assert notes and notes[0]["payload"]["assigned_by"] is None


def test_a_retried_erasure_finishes_what_an_interrupted_one_began(
    stack: Stack, functions_env: dict[str, str]
) -> None:
    person = person_with_data(stack)
    service = stack.service_rest()
    request_id = stack.sql(
        "insert into public.privacy_requests (user_id, kind) values (%s, 'erasure') returning id",
        (person.user.id,),
    )[0]["id"]
    # an attempt that died after deleting the account, before the audit trail was redacted
    subject = service.rpc("begin_erasure", {"request_id": str(request_id)}).execute().data
    assert subject == [{"user_id": person.user.id, "email": person.user.email}]
    service.rpc("erase_person", {"user_id": person.user.id, "email": person.user.email}).execute()
    assert service.rpc("delete_auth_user", {"user_id": person.user.id}).execute().data is True
    assert stack.sql(
        "select user_id from public.privacy_requests where id = %s", (request_id,)
    ) == [{"user_id": None}]

    from core import jobs
    from privacy.kinds import PRIVACY_REQUESTS

    jobs.send(_privacy_settings(), PRIVACY_REQUESTS, str(request_id))
    row = wait_for_request(stack, str(request_id))
    assert row["status"] == "completed", row
    assert traces(stack, [person.user.id, person.user.email]) == {}

    # once more from the top: nothing left, still completes
    stack.sql(
        "update public.privacy_requests set status = 'pending', completed_at = null where id = %s",
        (request_id,),
    )
    jobs.send(_privacy_settings(), PRIVACY_REQUESTS, str(request_id))
    assert wait_for_request(stack, str(request_id))["status"] == "completed"


def _privacy_settings() -> Any:
    from privacy.settings import build_privacy_settings

    return build_privacy_settings()


def test_a_poison_message_is_isolated_from_the_good_ones(
    stack: Stack, functions_env: dict[str, str]
) -> None:
    from devstack.events import sqs_event
    from privacy import events

    user = stack.new_user()
    request_id = stack.sql(
        "insert into public.privacy_requests (user_id, kind) values (%s, 'export') returning id",
        (user.id,),
    )[0]["id"]
    messages = [
        {"MessageId": "poison", "ReceiptHandle": "r1", "Body": "{not json"},
        {"MessageId": "unknown-kind", "ReceiptHandle": "r2",
         "Body": json.dumps({"kind": "nope", "job_id": str(uuid.uuid4())})},
        {"MessageId": "good", "ReceiptHandle": "r3",
         "Body": json.dumps({"kind": "privacy_request", "job_id": str(request_id)})},
    ]  # fmt: skip
    result = events.process_requests(
        sqs_event(messages, "arn:aws:sqs:us-east-1:123456789012:privacy", "us-east-1"), None
    )
    failed = {f["itemIdentifier"] for f in result["batchItemFailures"]}
    assert failed == {"poison", "unknown-kind"}
    row = wait_for_request(stack, str(request_id))
    assert row["status"] == "completed"


# -- the 30-day purge -----------------------------------------------------------------------------
def _purge(functions_env: dict[str, str]) -> dict[str, Any]:
    from devstack.events import scheduled_event
    from privacy import events

    return events.purge_soft_deleted(scheduled_event("privacy-purge-soft-deleted"), None)


def test_a_deleted_file_is_restorable_on_day_29_and_gone_with_its_object_after_day_31(
    stack: Stack, functions_env: dict[str, str]
) -> None:
    owner = stack.new_user()
    project_id = new_project_with(stack, owner, {})
    file = upload_ready_file(stack, owner, project_id, b"old draft\n")
    owner_rest = stack.rest(owner.token)
    owner_rest.table("files").delete().eq("id", file["id"]).execute()

    stack.sql(
        "update public.files set deleted_at = now() - interval '29 days' where id = %s",
        (file["id"],),
    )
    _purge(functions_env)
    assert object_exists(stack.env, file["object_key"])
    owner_rest.rpc("restore_deleted", {"target_table": "files", "target_id": file["id"]}).execute()
    assert stack.sql("select deleted_at from public.files where id = %s", (file["id"],)) == [
        {"deleted_at": None}
    ]

    owner_rest.table("files").delete().eq("id", file["id"]).execute()
    stack.sql(
        "update public.files set deleted_at = now() - interval '31 days' where id = %s",
        (file["id"],),
    )
    result = _purge(functions_env)
    assert result["purged"]["files"] >= 1
    assert stack.sql("select id from public.files where id = %s", (file["id"],)) == []
    assert not object_exists(stack.env, file["object_key"])


def test_purge_removes_the_objects_of_a_purged_project(
    stack: Stack, functions_env: dict[str, str]
) -> None:
    owner = stack.new_user()
    project_id = new_project_with(stack, owner, {})
    file = upload_ready_file(stack, owner, project_id, b"in a doomed project\n")
    stack.rest(owner.token).table("projects").delete().eq("id", project_id).execute()
    stack.sql(
        "update public.projects set deleted_at = now() - interval '31 days' where id = %s",
        (project_id,),
    )
    _purge(functions_env)
    assert stack.sql("select id from public.projects where id = %s", (project_id,)) == []
    assert not object_exists(stack.env, file["object_key"])


# -- audit retention ------------------------------------------------------------------------------
def test_audit_entries_past_the_retention_are_archived_then_deleted(
    stack: Stack, functions_env: dict[str, str]
) -> None:
    from devstack.events import scheduled_event
    from privacy import events

    marker = f"retention-{uuid.uuid4()}"
    old = stack.sql(
        "insert into public.audit_logs (occurred_at, action, table_name, request_id)"
        " select now() - interval '400 days', 'insert', 'tasks', %s from generate_series(1, 3)"
        " returning id",
        (marker,),
    )
    recent = stack.sql(
        "insert into public.audit_logs (occurred_at, action, table_name, request_id)"
        " values (now() - interval '10 days', 'insert', 'tasks', %s) returning id",
        (marker,),
    )
    # where the first one came from (audit_log_origins) goes with it, into the archive
    stack.sql(
        "insert into public.audit_log_origins (audit_log_id, occurred_at, ip, user_agent)"
        " values (%s, now() - interval '400 days', '198.51.100.9', 'old agent')",
        (old[0]["id"],),
    )
    result = events.archive_audit_logs(scheduled_event("privacy-archive-audit-logs"), None)
    assert result["archived"] >= 3 and result["deleted"] >= 3
    left = stack.sql("select id from public.audit_logs where request_id = %s", (marker,))
    assert left == recent
    assert (
        stack.sql("select * from public.audit_log_origins where audit_log_id = %s", (old[0]["id"],))
        == []
    )
    s3 = s3_client(stack.env)
    archived: list[dict[str, Any]] = []
    for key in result["objects"]:
        body = s3.get_object(Bucket=stack.env["AUDIT_ARCHIVE_BUCKET"], Key=key)["Body"].read()
        archived += [json.loads(line) for line in gzip.decompress(body).splitlines()]
    assert {r["id"] for r in old} <= {a["id"] for a in archived if a["request_id"] == marker}
    [first] = [a for a in archived if a["id"] == old[0]["id"]]
    assert (first["ip"], first["user_agent"]) == ("198.51.100.9", "old agent")


def test_the_audit_trail_stays_append_only_outside_redaction_and_retention(stack: Stack) -> None:
    import psycopg

    actor, someone = str(uuid.uuid4()), str(uuid.uuid4())
    entry = stack.sql(
        "insert into public.audit_logs (action, table_name, actor_id)"
        " values ('insert', 'tasks', %s) returning id",
        (actor,),
    )[0]["id"]
    stack.sql(
        "insert into public.audit_log_origins (audit_log_id, actor_id, ip, user_agent)"
        " values (%s, %s, '198.51.100.1', 'agent')",
        (entry, actor),
    )
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        stack.sql("update public.audit_logs set actor_id = null where id = %s", (entry,))
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        stack.sql("delete from public.audit_logs where id = %s", (entry,))
    # where they acted from (audit_log_origins) is just as fixed
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        stack.sql("update public.audit_log_origins set ip = null where audit_log_id = %s", (entry,))
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        stack.sql("delete from public.audit_log_origins where audit_log_id = %s", (entry,))
    with psycopg.connect(stack.env["DB_URL"]) as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("truncate public.audit_log_origins")
        conn.rollback()
    # a redaction changes only the person it names: their ids become null, their origins go
    with psycopg.connect(stack.env["DB_URL"]) as conn:
        conn.execute("select set_config('collab.audit_redact', %s, true)", (someone,))
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("delete from public.audit_log_origins where audit_log_id = %s", (entry,))
        conn.rollback()
        conn.execute("select set_config('collab.audit_redact', %s, true)", (actor,))
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(
                "update public.audit_logs set actor_id = null, table_name = 'x' where id = %s",
                (entry,),
            )
        conn.rollback()
    assert stack.sql("select private.redact_person_from_audit(%s) as n", (actor,)) == [{"n": 1}]
    assert stack.sql(
        "select actor_id, action::text, table_name from public.audit_logs where id = %s", (entry,)
    ) == [{"actor_id": None, "action": "insert", "table_name": "tasks"}]
    origin = "select * from public.audit_log_origins where audit_log_id = %s"
    assert stack.sql(origin, (entry,)) == []
    # retention never reaches entries younger than 30 days, whatever the caller asks
    with pytest.raises(psycopg.errors.InvalidParameterValue):
        stack.sql("select public.delete_archived_audit_logs(%s, now())", (entry,))


def test_clients_cannot_call_the_privacy_rpcs(stack: Stack) -> None:
    user = stack.new_user()
    with stack.http(user.token) as http:
        for name, body in {
            "privacy_export_tables": {},
            "privacy_export_page": {"user_id": user.id, "table_schema": "public",
                                    "table_name": "profiles"},
            "privacy_export_batch": {"user_id": user.id},
            "begin_erasure": {"request_id": str(uuid.uuid4())},
            "erase_person": {"user_id": user.id, "email": user.email},
            "delete_auth_user": {"user_id": user.id},
            "finish_erasure": {"request_id": str(uuid.uuid4())},
            "delete_archived_audit_logs": {"through_id": 1, "older_than": "2000-01-01"},
        }.items():  # fmt: skip
            answer = http.post(f"/rest/v1/rpc/{name}", json=body)
            assert answer.status_code == 403, (name, answer.text)
    assert stack.sql("select count(*) as n from auth.users where id = %s", (user.id,)) == [{"n": 1}]


@pytest.mark.parametrize(
    "body",
    [{"max_rows": 0}, {"max_rows": 20001}, {"after_table": -1}, {"max_rows": None}],
    ids=["zero_rows", "too_many_rows", "negative_table", "null_rows"],
)
def test_the_export_batch_refuses_bad_arguments_with_400(stack: Stack, body: Any) -> None:
    user = stack.new_user()
    answer = stack.http().post(
        "/rest/v1/rpc/privacy_export_batch",
        json={"user_id": user.id, **body},
        headers={**_service_headers(stack), "Accept": "text/plain"},
    )
    assert answer.status_code == 400 and answer.json()["code"] == "22023", answer.text


def _service_headers(stack: Stack) -> dict[str, str]:
    key = stack.env["SERVICE_ROLE_KEY"]
    return {"apikey": key, "Authorization": f"Bearer {key}"}


def _batch(stack: Stack, body: dict[str, Any]) -> tuple[dict[str, Any], list[Any]]:
    """rpc/privacy_export_batch as raw text: a JSON header line, then each segment's rows."""
    answer = stack.http().post(
        "/rest/v1/rpc/privacy_export_batch",
        json=body,
        headers={**_service_headers(stack), "Accept": "text/plain"},
    )
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain")
    head, _, rest = answer.content.partition(b"\n")
    header = json.loads(head)
    segments, at = [], 0
    for segment in header["segments"]:
        text = rest[at : at + segment["bytes"]].decode()
        at += segment["bytes"]
        rows = json.loads(f"[{text}]") if text else []
        assert len(rows) == segment["count"], segment
        segments.append((segment["table"], rows))
    assert at == len(rest)
    return header, segments


def test_the_export_batches_carry_every_row_once_across_tables_and_batch_edges(
    stack: Stack,
) -> None:
    """Batches of 1, 2 and 7 rows give the same rows as one batch: the cursor goes on after
    a full batch inside a table and across tables; every table has its segment."""
    person = person_with_data(stack)
    service = stack.service_rest()

    def rows(max_rows: int) -> tuple[dict[str, list[Any]], int]:
        found: dict[str, list[Any]] = {}
        after_table, after_key, calls = 0, None, 0
        while True:
            calls += 1
            header, segments = _batch(
                stack,
                {"user_id": person.user.id, "after_table": after_table,
                 "after_key": after_key, "max_rows": max_rows},
            )  # fmt: skip
            for table, table_rows in segments:
                found.setdefault(table, []).extend(table_rows)
            if header["done"]:
                return found, calls
            after_table, after_key = header["next_table"], header["next_key"]

    whole, one_call = rows(20000)
    assert one_call == 1
    tables = {f"{t['table_schema']}.{t['table_name']}" for t in
              service.rpc("privacy_export_tables", {}).execute().data}  # fmt: skip
    assert set(whole) == tables
    assert [p["full_name"] for p in whole["public.profiles"]] == ["Ada Person"]
    assert all("search" not in m for m in whole["public.messages"])
    total = sum(len(v) for v in whole.values())
    for size in (1, 2, 7):
        found, calls = rows(size)
        assert calls >= total // size
        assert {t: sorted(json.dumps(r, sort_keys=True) for r in v) for t, v in found.items()} == {
            t: sorted(json.dumps(r, sort_keys=True) for r in v) for t, v in whole.items()
        }


# -- the Auth admin API path ------------------------------------------------------------------
def test_with_the_admin_api_setting_the_account_is_deleted_through_auth(
    stack: Stack, functions_env: dict[str, str]
) -> None:
    """PRIVACY_AUTH_ADMIN_API=true: DELETE <SUPABASE_URL>/auth/v1/admin/users/{id} with the
    service key (a small Auth stand-in over real HTTP here, until the stack serves /auth/v1);
    404 means already gone, 5xx is retried."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from privacy import service
    from privacy.settings import build_privacy_settings

    seen: list[tuple[str, str | None, str | None]] = []
    answers = [200, 404, 503]

    class Auth(BaseHTTPRequestHandler):
        def do_DELETE(self) -> None:
            seen.append((self.path, self.headers.get("apikey"), self.headers.get("Authorization")))
            self.send_response(answers.pop(0))
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Auth)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        settings = build_privacy_settings(
            supabase_url=f"http://127.0.0.1:{server.server_address[1]}",
            privacy_auth_admin_api=True,
        )
        users = service.auth_users(settings)
        assert isinstance(users, service.AdminApiAuthUsers)
        person = str(uuid.uuid4())
        assert users.delete(person) is True
        assert users.delete(person) is False
        with pytest.raises(service.PrivacyJobError) as failed:
            users.delete(person)
        assert not failed.value.permanent
    finally:
        server.shutdown()
    key = stack.env["SERVICE_ROLE_KEY"]
    assert seen[0] == (f"/auth/v1/admin/users/{person}", key, f"Bearer {key}")
    assert isinstance(service.auth_users(build_privacy_settings()), service.RpcAuthUsers)


def test_the_dispatcher_sends_a_request_nobody_sent(
    stack: Stack, functions_env: dict[str, str]
) -> None:
    """A request filed straight through PostgREST (no queue message) is picked up by the
    every-minute dispatcher and completed."""
    from devstack.events import scheduled_event
    from privacy import events

    user = stack.new_user()
    with stack.http(user.token) as http:
        filed = http.post(
            "/rest/v1/privacy_requests", json={"kind": "export"}, headers=REPRESENTATION
        )
    assert filed.status_code == 201, filed.text
    request_id = filed.json()[0]["id"]
    # filed long ago, so it is among the oldest the dispatcher takes whatever else waits
    # (the timestamps trigger keeps created_at, so without it)
    stack.sql(
        "set session_replication_role = replica;"
        " update public.privacy_requests set created_at = now() - interval '1 year'"
        f" where id = '{uuid.UUID(request_id)}'"
    )
    answer = events.dispatch_requests(scheduled_event("privacy-dispatch-requests"), None)
    assert answer["privacy_request"]["sent"] >= 1
    row = wait_for_request(stack, request_id)
    assert row["status"] == "completed" and row["dispatched_at"] is not None


def test_an_archive_finished_after_the_person_was_erased_is_deleted(
    stack: Stack, functions_env: dict[str, str]
) -> None:
    """The race of an export with an erasure: the worker read the request while the person
    existed; when the archive is done they are gone, so it is removed, not kept."""
    from privacy import service

    person = stack.new_user()
    request = {"id": str(uuid.uuid4()), "user_id": person.id}
    stack.service_rest().rpc("erase_user", {"user_id": person.id}).execute()
    with pytest.raises(service.PrivacyJobError, match="erased") as failed:
        service.run_export(_privacy_settings(), request)
    assert failed.value.permanent
    listed = s3_client(stack.env).list_objects_v2(
        Bucket=stack.env["PRIVACY_EXPORTS_BUCKET"], Prefix=f"exports/{person.id}/"
    )
    assert listed.get("KeyCount", 0) == 0
