"""An erased or deleted person's unexpired access token is refused everywhere at once
(issue 16 item 9): PostgREST (its db-pre-request hook), every function's authenticated route
(the rate-limit step, which then counts nothing), and the local Realtime server; and the
erasure leaves no trace of their former address, their name or their counters."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from tests.functions.privacy_support import invite, new_project_with, traces, wait_for_request
from tests.realtime.wire import V2, Client, connect, join_payload
from tests.support import Stack, TestUser

FUNCTIONS = sorted(
    p.parent.name
    for p in (Path(__file__).resolve().parents[2] / "functions").glob("*/app.py")
    if p.parent.name != "core"
)
PATH_VALUES = {"id": str(uuid.uuid4()), "provider": "github"}


def _deleted(stack: Stack) -> TestUser:
    user = stack.new_user()
    stack.sql("delete from auth.users where id = %s", (user.id,))
    return user


def _being_erased(stack: Stack) -> TestUser:
    """A person whose erasure has begun (private.erasure_subjects): the account still exists."""
    user = stack.new_user()
    request_id = stack.sql(
        "insert into public.privacy_requests (user_id, kind, status) values (%s, 'erasure',"
        " 'processing') returning id",
        (user.id,),
    )[0]["id"]
    stack.service_rest().rpc("begin_erasure", {"request_id": str(request_id)}).execute()
    return user


def _counters(stack: Stack, user: TestUser) -> int:
    rows = stack.sql("select count(*) as n from private.rate_limits where user_id = %s", (user.id,))
    return int(rows[0]["n"])


def _bearer_routes(stack: Stack) -> list[tuple[str, str, str]]:
    routes = []
    for name in FUNCTIONS:
        document = stack.http().get(f"/functions/v1/{name}/openapi.json").json()
        for path, item in document["paths"].items():
            for method, op in item.items():
                if op.get("security") == [{"bearerAuth": []}]:
                    routes.append((name, method.upper(), path.format(**PATH_VALUES)))
    return routes


# -- PostgREST --------------------------------------------------------------------------------
@pytest.mark.parametrize("gone", [_deleted, _being_erased], ids=["deleted", "being_erased"])
def test_postgrest_refuses_the_token_of_a_gone_account(stack: Stack, gone: Any) -> None:
    user = gone(stack)
    with stack.http(user.token) as http:
        answers = [
            http.get("/rest/v1/profiles", params={"select": "id"}),
            http.post("/rest/v1/projects", json={"name": "after the end"}),
            http.post(
                "/rest/v1/rpc/get_or_create_direct_conversation",
                json={"other_user_id": str(uuid.uuid4())},
            ),
        ]
    for answer in answers:
        assert answer.status_code == 401, answer.text
        assert answer.json()["code"] == "PT401"


def test_postgrest_still_serves_live_accounts_and_anon(stack: Stack) -> None:
    user = stack.new_user()
    with stack.http(user.token) as http:
        mine = http.get("/rest/v1/profiles", params={"id": f"eq.{user.id}", "select": "id"})
    assert mine.status_code == 200 and mine.json() == [{"id": user.id}]
    anon = stack.http().get("/rest/v1/projects", headers={"apikey": stack.env["ANON_KEY"]})
    assert anon.status_code == 200, anon.text


# -- functions --------------------------------------------------------------------------------
def test_every_functions_route_refuses_a_deleted_accounts_token_and_counts_nothing(
    stack: Stack,
) -> None:
    user = _deleted(stack)
    routes = _bearer_routes(stack)
    assert {name for name, _, _ in routes} >= {
        "assistant", "documents", "files", "integrations", "privacy",
    }  # fmt: skip
    with stack.http(user.token) as http:
        for name, method, path in routes:
            answer = http.request(
                method,
                f"/functions/v1/{name}{path}",
                json={} if method in ("POST", "PUT", "PATCH") else None,
            )
            assert answer.status_code == 401, (name, method, path, answer.text)
            body = answer.json()
            assert body["error"] == "unauthorized" and "no longer exists" in body["message"]
            assert set(body) == {"error", "message", "request_id"}
    assert _counters(stack, user) == 0


def test_file_signing_refuses_a_token_whose_erasure_has_begun(stack: Stack) -> None:
    user = _being_erased(stack)
    with stack.http(user.token) as http:
        upload = http.post("/functions/v1/files/uploads", json={})
        download = http.get(f"/functions/v1/files/{uuid.uuid4()}/download")
    assert upload.status_code == 401 and download.status_code == 401, upload.text
    assert _counters(stack, user) == 0


# -- Realtime ---------------------------------------------------------------------------------
def test_realtime_refuses_a_deleted_accounts_token(stack: Stack) -> None:
    user = stack.new_user()
    topic = f"realtime:user:{user.id}"

    async def join() -> Any:
        async with connect(stack) as ws:
            return await Client(ws, V2).join(topic, join_payload(user.token))

    before = asyncio.run(join())
    assert before[4]["status"] == "ok", before
    stack.sql("delete from auth.users where id = %s", (user.id,))
    after = asyncio.run(join())
    assert after[4]["status"] == "error", after
    assert "no longer exists" in after[4]["response"]["reason"]
    broadcast = httpx.post(
        stack.env["API_URL"] + "/realtime/v1/api/broadcast",
        json={"messages": [{"topic": f"user:{user.id}", "event": "e", "payload": {}}]},
        headers={"apikey": stack.env["ANON_KEY"], "authorization": f"Bearer {user.token}"},
        timeout=10,
    )
    assert broadcast.status_code == 401, broadcast.text


def test_the_user_channel_policy_refuses_a_gone_account(stack: Stack) -> None:
    """The same rule where hosted Realtime asks the database (realtime.messages policies)."""
    user = _being_erased(stack)
    claims = json.dumps({"sub": user.id, "role": "authenticated"})
    with psycopg.connect(stack.env["DB_URL"]) as conn:
        conn.execute("select set_config('request.jwt.claims', %s, true)", (claims,))
        conn.execute("set local role authenticated")
        row = conn.execute(
            "select private.can_read_realtime_topic(%s)", (f"user:{user.id}",)
        ).fetchone()
        conn.rollback()
    rows = [{"ok": row[0] if row else None}]
    assert rows == [{"ok": False}]


# -- what the erasure leaves ------------------------------------------------------------------
def _erase(stack: Stack, user: TestUser) -> None:
    with stack.http(user.token) as http:
        accepted = http.post("/functions/v1/privacy/erasure", json={"confirm": user.email})
    assert accepted.status_code == 202, accepted.text
    assert wait_for_request(stack, accepted.json()["request_id"])["status"] == "completed"


def _generated_prd(stack: Stack, token: str, project_id: str) -> str:
    with stack.http(token) as http:
        job = http.post(
            "/functions/v1/documents/generate",
            json={"project_id": project_id, "document_type": "prd"},
        )
    assert job.status_code == 202, job.text
    job_id = job.json()["job_id"]
    for _ in range(200):
        row = stack.sql("select * from public.document_jobs where id = %s", (job_id,))[0]
        if row["status"] in ("succeeded", "failed"):
            break
        time.sleep(0.25)
    assert row["status"] == "succeeded", row
    return str(row["document_id"])


def test_erasure_leaves_no_former_address_name_or_counter(stack: Stack) -> None:
    person, teammate = stack.new_user(), stack.new_user()
    name = f"Zelda Erasable {person.id[:6]}"
    with stack.http(person.token) as http:
        named = http.patch(
            "/rest/v1/profiles", params={"id": f"eq.{person.id}"}, json={"full_name": name}
        )
    assert named.status_code == 204, named.text
    # an address they had before their current one, named by an outside source
    former = person.email
    current = f"now-{person.id[:8]}@example.test"
    stack.sql("update auth.users set email = %s where id = %s", (current, person.id))
    team = new_project_with(stack, teammate, {"editor": person})
    stack.sql(
        "insert into public.activity_events (project_id, source, kind, actor, external_id)"
        " values (%s, 'github', 'push', %s, %s)",
        (team, former.upper(), f"gh-{uuid.uuid4()}"),
    )
    # their name in the teammate's notification (an invitation they sent)
    mine = new_project_with(stack, person, {})
    invite(stack, person, mine, user_id=teammate.id)
    notes = stack.sql(
        "select payload from public.notifications where user_id = %s"
        " and type = 'project_invitation'",
        (teammate.id,),
    )
    assert notes and notes[0]["payload"]["invited_by_name"] == name
    # their name in the member list of a generated document of the teammate's project
    document_id = _generated_prd(stack, teammate.token, team)
    [before] = stack.sql(
        "select content from public.document_versions where document_id = %s", (document_id,)
    )
    assert name in before["content"]
    token = person.token  # still unexpired after the erasure
    person = dataclasses.replace(person, email=current)

    _erase(stack, person)

    # no request with their token may bring a counter (or anything) back
    with stack.http(token) as http:
        assert http.post("/functions/v1/privacy/export").status_code == 401
        assert http.post("/functions/v1/files/uploads", json={}).status_code == 401
        assert http.get("/rest/v1/profiles").status_code == 401
    assert _counters(stack, person) == 0
    assert traces(stack, [person.id, former, current, name]) == {}
    [after] = stack.sql(
        "select content from public.document_versions where document_id = %s", (document_id,)
    )
    assert "A former member" in after["content"]
    assert stack.sql(
        "select count(*) as n from public.activity_events where project_id = %s and actor is null",
        (team,),
    ) == [{"n": 1}]


def test_the_export_holds_invitations_to_the_persons_id_or_answered_by_them_only(
    stack: Stack,
) -> None:
    """An invitation to an address is answered only with its link's token; until then,
    holding the address proves nothing, so the export does not show it. Once they answer
    it, it is theirs (invitee_id) and exported."""
    person, admin = stack.new_user(), stack.new_user()
    by_address = invite(stack, admin, new_project_with(stack, admin, {}), email=person.email)
    by_id = invite(stack, admin, new_project_with(stack, admin, {}), user_id=person.id)
    answered = stack.http(admin.token).post(
        "/rest/v1/rpc/invite_project_member",
        json={"project_id": new_project_with(stack, admin, {}), "role": "viewer",
              "email": person.email},
    ).json()  # fmt: skip
    accepted = stack.http(person.token).post(
        "/rest/v1/rpc/accept_project_invitation",
        json={"invitation_id": answered["id"], "token": answered["token"]},
    )
    assert accepted.status_code == 200, accepted.text

    rows = (
        stack.service_rest()
        .rpc(
            "privacy_export_page",
            {"user_id": person.id, "table_schema": "public", "table_name": "project_invitations"},
        )
        .execute()
        .data["rows"]
    )
    assert {r["id"] for r in rows} == {by_id, answered["id"]}
    assert by_address not in {r["id"] for r in rows}
