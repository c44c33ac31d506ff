"""Fixtures of the functions tests: the functions' environment, projects with members by role,
in-process apps built on the real stack, and helpers for the upload flow."""

from __future__ import annotations

import hashlib
import io
import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from devstack.config import function_env
from tests.support import Stack, TestUser

FUNCTIONS_DIR = Path(__file__).resolve().parents[2] / "functions"
if str(FUNCTIONS_DIR) not in sys.path:
    sys.path.insert(0, str(FUNCTIONS_DIR))

ROLES = ("owner", "admin", "editor", "viewer")


@pytest.fixture(scope="session")
def functions_env(stack: Stack) -> Iterator[dict[str, str]]:
    """The environment the gateway gives the functions, set in this process too, so the
    handler modules (which read their settings at import) can be called in-process."""
    env = function_env(stack.env)
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    yield env
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(scope="session")
def make_settings(functions_env: dict[str, str]) -> Callable[..., Any]:
    """Settings for an in-process app on the real stack, with overrides."""
    from core.settings import build_settings

    def make(**overrides: Any) -> Any:
        return build_settings(**overrides)

    return make


@dataclass
class Team:
    """A project and one user per member role, plus an outsider."""

    project_id: str
    members: dict[str, TestUser]
    outsider: TestUser


def new_project(stack: Stack, owner: TestUser, name: str = "Files test") -> str:
    rows = stack.rest(owner.token).table("projects").insert({"name": name}).execute().data
    return rows[0]["id"]


def add_member(stack: Stack, project_id: str, user: TestUser, role: str) -> None:
    stack.service_rest().table("project_members").insert(
        {"project_id": project_id, "user_id": user.id, "role": role}
    ).execute()


@pytest.fixture
def team(stack: Stack) -> Team:
    owner = stack.new_user()
    project_id = new_project(stack, owner)
    members = {"owner": owner}
    for role in ("admin", "editor", "viewer"):
        members[role] = stack.new_user()
        add_member(stack, project_id, members[role], role)
    return Team(project_id, members, stack.new_user())


def upload_request(project_id: str, data: bytes, **overrides: Any) -> dict[str, Any]:
    body = {
        "project_id": project_id,
        "folder": "/specs",
        "name": "notes.txt",
        "content_type": "text/plain",
        "size_bytes": len(data),
        "checksum_sha256": hashlib.sha256(data).hexdigest(),
    }
    body.update(overrides)
    return body


def sign_upload(stack: Stack, user: TestUser, body: dict[str, Any]) -> httpx.Response:
    with stack.http(user.token) as http:
        return http.post("/functions/v1/files/uploads", json=body)


def post_to_s3(
    upload: dict[str, Any], data: bytes, content_type: str, **field_overrides: str
) -> httpx.Response:
    fields = {**upload["fields"], **field_overrides}
    return httpx.post(
        upload["url"], data=fields, files={"file": ("upload", data, content_type)}, timeout=30
    )


def file_row(stack: Stack, file_id: str) -> dict[str, Any]:
    """The files row now (as superuser); fails if there is none."""
    rows = stack.sql("select * from public.files where id = %s", (file_id,))
    assert rows, f"no files row {file_id}"
    return rows[0]


def wait_for_status(
    stack: Stack,
    file_id: str,
    until: Callable[[str], bool] = lambda s: s != "pending",
    attempts: int = 120,
) -> dict[str, Any]:
    """Poll the row (as superuser) until its status satisfies ``until``; return the row.
    Fails (with the last row seen) if it never does."""
    row: dict[str, Any] = {}
    for _ in range(attempts):
        row = file_row(stack, file_id)
        if until(row["status"]):
            return row
        time.sleep(0.25)
    raise AssertionError(f"file {file_id} never reached the awaited status; last row: {row}")


def s3_client(env: dict[str, str]) -> Any:
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=env["AWS_ENDPOINT_URL"],
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


def object_exists(env: dict[str, str], key: str) -> bool:
    """Whether the object is in the files bucket. Only S3's "no such key" means no: any other
    error (credentials, endpoint down ...) is raised, not read as "gone"."""
    from botocore.exceptions import ClientError

    client = s3_client(env)
    try:
        client.head_object(Bucket=env["FILES_BUCKET"], Key=key)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") not in ("404", "NoSuchKey", "NotFound"):
            raise
        # a HEAD's 404 has no body, so a missing bucket looks the same: rule that out
        client.head_bucket(Bucket=env["FILES_BUCKET"])
        return False
    return True


def wait_until_object_gone(env: dict[str, str], key: str, attempts: int = 120) -> bool:
    """Poll the files bucket until the object is gone; True if it went (within attempts)."""
    for _ in range(attempts):
        if not object_exists(env, key):
            return True
        time.sleep(0.25)
    return False


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    """Capture the functions' JSON log lines."""
    from core import log

    stream = io.StringIO()
    log.set_stream(stream)
    yield stream
    log.set_stream(sys.stdout)


def log_records(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """How many cases the fuzzers ran per route (tests/functions/test_functions_fuzz.py)."""
    fuzz = sys.modules.get("tests.functions.test_functions_fuzz")
    cases = getattr(fuzz, "CASES", None)
    if not cases:
        return
    terminalreporter.write_sep("-", f"fuzz: {sum(cases.values())} cases")
    for route, count in sorted(cases.items()):
        terminalreporter.write_line(f"{count:6d}  {route}")
