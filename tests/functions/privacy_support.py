"""Helpers of the privacy tests: a person with data made through the API, waiting for a
request, reading an archive, and the catalog-driven trace scan."""

from __future__ import annotations

import io
import time
import zipfile
from dataclasses import dataclass, field
from typing import Any

from tests.functions.conftest import (
    add_member,
    new_project,
    post_to_s3,
    s3_client,
    sign_upload,
    upload_request,
    wait_for_status,
)
from tests.support import REPRESENTATION, Stack, TestUser

# what a client claims (X-Forwarded-For): the audit trail never keeps it
CLIENT_IP = "203.0.113.7"
# what the edge saw (devstack/gateway.py sets cf-connecting-ip to the connecting address)
EDGE_IP = "127.0.0.1"
USER_AGENT = "privacy-test/1.0"


def wait_for_request(
    stack: Stack, request_id: str, done: tuple[str, ...] = ("completed", "failed"), tries: int = 240
) -> dict[str, Any]:
    """Poll the privacy request (as superuser) until its status is one of ``done``."""
    row: dict[str, Any] = {}
    for _ in range(tries):
        rows = stack.sql("select * from public.privacy_requests where id = %s", (request_id,))
        row = rows[0] if rows else {}
        if row and row["status"] in done:
            return row
        time.sleep(0.25)
    raise AssertionError(f"request {request_id} did not finish: {row}")


def archive(stack: Stack, location: str) -> zipfile.ZipFile:
    bucket, _, key = location.removeprefix("s3://").partition("/")
    body = s3_client(stack.env).get_object(Bucket=bucket, Key=key)["Body"].read()
    return zipfile.ZipFile(io.BytesIO(body))


def upload_ready_file(
    stack: Stack, user: TestUser, project_id: str, data: bytes, name: str = "notes.txt"
) -> dict[str, Any]:
    signed = sign_upload(stack, user, upload_request(project_id, data, name=name))
    assert signed.status_code == 201, signed.text
    stored = post_to_s3(signed.json()["upload"], data, "text/plain")
    assert stored.status_code == 204, stored.text
    row = wait_for_status(stack, signed.json()["file"]["id"])
    assert row["status"] == "ready", row
    return row


def traces(stack: Stack, needles: list[str]) -> dict[str, int]:
    """Rows, in every table of every schema but the system's, whose text holds a needle
    (case-insensitive): {"schema.table": rows}. Derived from the catalog, so a new table is
    scanned without anyone adding it here."""
    tables = stack.sql(
        """
        select n.nspname as schema, c.relname as name
          from pg_class c join pg_namespace n on n.oid = c.relnamespace
         where c.relkind in ('r', 'p') and not c.relispartition
           and n.nspname not in ('pg_catalog', 'information_schema')
           and n.nspname not like 'pg_toast%%' and n.nspname not like 'pg_temp%%'
        """
    )
    assert len(tables) > 20
    found: dict[str, int] = {}
    lowered = [n.lower() for n in needles]
    for t in tables:
        clause = " or ".join("strpos(lower(x::text), %s) > 0" for _ in lowered)
        rows = stack.sql(
            f'select count(*) as n from "{t["schema"]}"."{t["name"]}" x where {clause}', lowered
        )
        if rows[0]["n"]:
            found[f"{t['schema']}.{t['name']}"] = rows[0]["n"]
    return found


@dataclass
class Person:
    """Someone with data in most tables, made through the API as they would."""

    user: TestUser
    teammate: TestUser
    project_id: str
    task_id: str
    conversation_id: str
    message_id: str
    file: dict[str, Any]
    file_bytes: bytes
    extra: dict[str, Any] = field(default_factory=dict)


def person_with_data(stack: Stack) -> Person:
    user = stack.new_user()
    teammate = stack.new_user()
    headers = {"X-Forwarded-For": CLIENT_IP, "User-Agent": USER_AGENT, **REPRESENTATION}
    with stack.http(user.token) as http:
        named = http.patch(
            "/rest/v1/profiles",
            params={"id": f"eq.{user.id}"},
            json={"full_name": "Ada Person", "username": f"ada_{user.id[:8]}"},
            headers=headers,
        )
        assert named.status_code == 200, named.text
        project = http.post("/rest/v1/projects", json={"name": "Ada's launch"}, headers=headers)
        assert project.status_code == 201, project.text
        project_id = project.json()[0]["id"]
        add_member(stack, project_id, teammate, "editor")
        task = http.post(
            "/rest/v1/tasks",
            json={"project_id": project_id, "title": "Write the launch post"},
            headers=headers,
        )
        assert task.status_code == 201, task.text
        # the teammate is assigned by the person: the teammate's notification names them
        assigned = http.post(
            "/rest/v1/tasks",
            json={"project_id": project_id, "title": "Review", "assignee_id": teammate.id},
            headers=headers,
        )
        assert assigned.status_code == 201, assigned.text
        conversation = http.post(
            "/rest/v1/rpc/get_or_create_direct_conversation", json={"other_user_id": teammate.id}
        )
        assert conversation.status_code == 200, conversation.text
        conversation_id = conversation.json()
        if isinstance(conversation_id, dict):
            conversation_id = conversation_id["id"]
        message = http.post(
            "/rest/v1/messages",
            json={"conversation_id": conversation_id, "content": "hello from Ada"},
            headers=headers,
        )
        assert message.status_code == 201, message.text
    data = b"Ada's plan: ship it.\n"
    file = upload_ready_file(stack, user, project_id, data)
    return Person(
        user=user,
        teammate=teammate,
        project_id=project_id,
        task_id=task.json()[0]["id"],
        conversation_id=str(conversation_id),
        message_id=message.json()[0]["id"],
        file=file,
        file_bytes=data,
    )


def new_project_with(stack: Stack, owner: TestUser, members: dict[str, TestUser]) -> str:
    project_id = new_project(stack, owner, "Shared")
    for role, user in members.items():
        add_member(stack, project_id, user, role.split(":")[0])
    return project_id


def invite(
    stack: Stack,
    inviter: TestUser,
    project_id: str,
    *,
    user_id: str | None = None,
    email: str | None = None,
) -> str:
    """A pending invitation into ``project_id`` made by ``inviter`` (a project admin) through
    the RPC, to a user id or an address; its id."""
    answer = stack.http(inviter.token).post(
        "/rest/v1/rpc/invite_project_member",
        json={"project_id": project_id, "role": "viewer", "user_id": user_id, "email": email},
    )
    assert answer.status_code == 200, answer.text
    return str(answer.json()["id"])
