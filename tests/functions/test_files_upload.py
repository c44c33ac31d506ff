"""Upload and download signing: who may, what is refused, and the whole flow on the stack."""

from __future__ import annotations

import base64
import hashlib
import json
import time
import uuid

import httpx
import pytest

from tests.functions.conftest import (
    Team,
    add_member,
    file_row,
    new_project,
    object_exists,
    post_to_s3,
    sign_upload,
    upload_request,
    wait_for_status,
    wait_until_object_gone,
)
from tests.support import Stack

DATA = b"launch checklist\n- ship it\n"


@pytest.mark.parametrize("role", ["owner", "admin", "editor"])
def test_editors_and_above_can_start_an_upload(stack: Stack, team: Team, role: str) -> None:
    response = sign_upload(stack, team.members[role], upload_request(team.project_id, DATA))
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["file"]["status"] == "pending"
    assert body["file"]["uploaded_by"] == team.members[role].id
    assert body["upload"]["fields"]["key"] == f"files/{team.project_id}/{body['file']['id']}"
    assert response.headers["x-request-id"]


def test_viewer_cannot_start_an_upload(stack: Stack, team: Team) -> None:
    response = sign_upload(stack, team.members["viewer"], upload_request(team.project_id, DATA))
    assert response.status_code == 403
    assert response.json()["error"] == "forbidden"
    assert stack.sql("select 1 from public.files where project_id = %s", (team.project_id,)) == []


def test_outsider_cannot_start_an_upload(stack: Stack, team: Team) -> None:
    response = sign_upload(stack, team.outsider, upload_request(team.project_id, DATA))
    assert response.status_code == 403
    body = response.json()
    assert set(body) == {"error", "message", "request_id"}


def test_upload_to_a_project_that_does_not_exist_looks_like_any_refusal(
    stack: Stack, team: Team
) -> None:
    response = sign_upload(stack, team.outsider, upload_request(str(uuid.uuid4()), DATA))
    assert response.status_code == 403


def test_oversize_upload_is_refused_naming_the_field(stack: Stack, team: Team) -> None:
    body = upload_request(team.project_id, DATA, size_bytes=50 * 1024 * 1024 + 1)
    response = sign_upload(stack, team.members["editor"], body)
    assert response.status_code == 422
    assert "size_bytes" in response.json()["message"]


def test_disallowed_type_is_refused_naming_the_field(stack: Stack, team: Team) -> None:
    body = upload_request(team.project_id, DATA, content_type="application/x-msdownload")
    response = sign_upload(stack, team.members["editor"], body)
    assert response.status_code == 422
    assert "content_type" in response.json()["message"]


@pytest.mark.parametrize(
    ("field", "value"),
    [("name", "../etc/passwd"), ("folder", "no-leading-slash"), ("checksum_sha256", "abc")],
)
def test_bad_names_and_checksums_are_refused(
    stack: Stack, team: Team, field: str, value: str
) -> None:
    body = upload_request(team.project_id, DATA, **{field: value})
    response = sign_upload(stack, team.members["editor"], body)
    assert response.status_code == 422
    assert field in response.json()["message"]


def test_malformed_json_is_a_400(stack: Stack, team: Team) -> None:
    with stack.http(team.members["editor"].token) as http:
        response = http.post(
            "/functions/v1/files/uploads",
            content=b"{not json",
            headers={"content-type": "application/json"},
        )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_json"


def test_the_database_enforces_the_same_limits_with_named_constraints(
    stack: Stack, team: Team
) -> None:
    editor = stack.rest(team.members["editor"].token)
    row = {
        "project_id": team.project_id,
        "name": "big.bin",
        "mime_type": "text/plain",
        "size_bytes": 50 * 1024 * 1024 + 1,
        "checksum_sha256": "0" * 64,
        "bucket": "b",
    }
    with pytest.raises(Exception, match="files_size_within_limit"):
        editor.table("files").insert(row).execute()
    with pytest.raises(Exception, match="files_mime_type_allowed"):
        editor.table("files").insert({**row, "size_bytes": 1, "mime_type": "x/y"}).execute()


def test_clients_cannot_choose_the_object_key_or_status(stack: Stack, team: Team) -> None:
    editor = stack.rest(team.members["editor"].token)
    row = {
        "project_id": team.project_id,
        "name": "a.txt",
        "mime_type": "text/plain",
        "size_bytes": 1,
        "checksum_sha256": "0" * 64,
        "bucket": "b",
    }
    for forged in ({"object_key": "files/other/secret"}, {"status": "ready"}):
        with pytest.raises(Exception, match=r"permission denied|42501"):
            editor.table("files").insert({**row, **forged}).execute()


def test_presigned_post_is_limited_to_key_type_and_exact_size(stack: Stack, team: Team) -> None:
    response = sign_upload(stack, team.members["editor"], upload_request(team.project_id, DATA))
    upload = response.json()["upload"]
    policy = json.loads(base64.b64decode(upload["fields"]["policy"]))
    conditions = policy["conditions"]
    assert {"key": upload["fields"]["key"]} in conditions
    assert {"Content-Type": "text/plain"} in conditions
    assert ["content-length-range", len(DATA), len(DATA)] in conditions
    assert {"bucket": stack.env["FILES_BUCKET"]} in conditions
    assert upload["max_bytes"] == len(DATA)


def test_upload_with_the_presigned_post_ends_ready_and_downloads(stack: Stack, team: Team) -> None:
    signed = sign_upload(stack, team.members["editor"], upload_request(team.project_id, DATA))
    file_id = signed.json()["file"]["id"]
    stored = post_to_s3(signed.json()["upload"], DATA, "text/plain")
    assert stored.status_code == 204, stored.text  # S3's default success_action_status

    row = wait_for_status(stack, file_id)
    assert row["status"] == "ready", row

    with stack.http(team.members["viewer"].token) as http:
        response = http.get(f"/functions/v1/files/{file_id}/download")
    assert response.status_code == 200, response.text
    content = httpx.get(response.json()["url"], timeout=30)
    assert content.content == DATA


def test_a_larger_body_than_declared_is_removed_and_the_row_failed(
    stack: Stack, team: Team
) -> None:
    # moto does not enforce POST policy conditions (AWS answers 400 EntityTooLarge here), so
    # the object-created handler checks the size again and removes what does not match.
    signed = sign_upload(stack, team.members["editor"], upload_request(team.project_id, DATA))
    body = signed.json()
    post_to_s3(body["upload"], DATA + b"x" * 1000, "text/plain")
    row = wait_for_status(stack, body["file"]["id"])
    assert row["status"] == "failed"
    assert "size" in row["failure_reason"]
    assert not object_exists(stack.env, body["upload"]["fields"]["key"])


def test_content_that_does_not_match_the_checksum_is_removed(stack: Stack, team: Team) -> None:
    signed = sign_upload(stack, team.members["editor"], upload_request(team.project_id, DATA))
    body = signed.json()
    post_to_s3(body["upload"], b"X" * len(DATA), "text/plain")
    row = wait_for_status(stack, body["file"]["id"])
    assert row["status"] == "failed"
    assert "checksum" in row["failure_reason"]


def test_content_that_is_not_its_declared_type_is_removed(stack: Stack, team: Team) -> None:
    fake_png = b"this is not a png at all"
    request = upload_request(team.project_id, fake_png, name="x.png", content_type="image/png")
    body = sign_upload(stack, team.members["editor"], request).json()
    post_to_s3(body["upload"], fake_png, "image/png")
    row = wait_for_status(stack, body["file"]["id"])
    assert row["status"] == "failed"
    assert "image/png" in row["failure_reason"]


def test_an_object_posted_to_a_different_key_is_removed(stack: Stack, team: Team) -> None:
    # AWS refuses a key the policy does not name; moto does not, so the handler removes
    # objects under files/ that no pending row expects.
    body = sign_upload(stack, team.members["editor"], upload_request(team.project_id, DATA)).json()
    other_key = f"files/{team.project_id}/{uuid.uuid4()}"
    post_to_s3(body["upload"], DATA, "text/plain", key=other_key)
    assert wait_until_object_gone(stack.env, other_key)
    time.sleep(1.0)  # the stray object's events are handled by now; the row did not move
    assert file_row(stack, body["file"]["id"])["status"] == "pending"


def test_outsider_gets_404_for_another_tenants_file(stack: Stack, team: Team) -> None:
    signed = sign_upload(stack, team.members["editor"], upload_request(team.project_id, DATA))
    file_id = signed.json()["file"]["id"]
    assert post_to_s3(signed.json()["upload"], DATA, "text/plain").status_code == 204
    assert wait_for_status(stack, file_id)["status"] == "ready"

    other_tenant = stack.new_user()
    add_member(stack, new_project(stack, other_tenant, "Other tenant"), stack.new_user(), "editor")
    for user in (team.outsider, other_tenant):
        with stack.http(user.token) as http:
            found = http.get(f"/functions/v1/files/{file_id}/download")
            missing = http.get(f"/functions/v1/files/{uuid.uuid4()}/download")
        assert found.status_code == missing.status_code == 404
        assert found.json()["message"] == missing.json()["message"]


def test_a_pending_file_cannot_be_downloaded_yet(stack: Stack, team: Team) -> None:
    file_id = sign_upload(
        stack, team.members["editor"], upload_request(team.project_id, DATA)
    ).json()["file"]["id"]
    with stack.http(team.members["viewer"].token) as http:
        response = http.get(f"/functions/v1/files/{file_id}/download")
    assert response.status_code == 409
    assert response.json()["error"] == "file_not_ready"


def test_a_trashed_file_is_not_found(stack: Stack, team: Team) -> None:
    signed = sign_upload(stack, team.members["editor"], upload_request(team.project_id, DATA))
    file_id = signed.json()["file"]["id"]
    # DELETE through the API trashes (soft-deletes) the row
    stack.rest(team.members["editor"].token).table("files").delete().eq("id", file_id).execute()
    assert file_row(stack, file_id)["deleted_at"] is not None
    with stack.http(team.members["editor"].token) as http:
        assert http.get(f"/functions/v1/files/{file_id}/download").status_code == 404


def test_checksum_is_case_insensitive_on_input(stack: Stack, team: Team) -> None:
    digest = hashlib.sha256(DATA).hexdigest().upper()
    request = upload_request(team.project_id, DATA, checksum_sha256=digest)
    response = sign_upload(stack, team.members["editor"], request)
    assert response.status_code == 201
    assert response.json()["file"]["checksum_sha256"] == digest.lower()
