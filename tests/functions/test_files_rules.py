"""Files: names that cannot lie, message attachments for the conversation only, and REST
inserts under the same per-user limit as uploads (issue 8 section 5, issue 12)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.functions.conftest import (
    Team,
    post_to_s3,
    sign_upload,
    upload_request,
    wait_for_status,
)
from tests.support import REPRESENTATION, Stack, TestUser

DATA = b"meeting notes\n"
RLO = "\u202e"  # right-to-left override: "invoice\u202efdp.exe" displays as "invoiceexe.pdf"


def _row(project_id: str | None = None, message_id: str | None = None, **extra: Any) -> dict:
    return {
        "project_id": project_id,
        "message_id": message_id,
        "name": "a.txt",
        "mime_type": "text/plain",
        "size_bytes": 1,
        "checksum_sha256": "0" * 64,
        "bucket": "b",
        **extra,
    }


def _insert(stack: Stack, user: TestUser, body: Any) -> httpx.Response:
    with stack.http(user.token) as http:
        return http.post("/rest/v1/files", json=body, headers=REPRESENTATION)


# --- folder and name --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("folder", "/../../etc"),
        ("folder", "/designs/../../etc"),
        ("folder", "/./x"),
        ("folder", "/specs/.."),
        ("folder", f"/specs{RLO}"),
        ("name", f"invoice{RLO}fdp.exe"),
        ("name", "report\u2066.pdf"),
        ("name", "a\u200fb.txt"),
    ],
)
def test_dot_segments_and_bidi_controls_are_refused_by_the_function(
    stack: Stack, team: Team, field: str, value: str
) -> None:
    response = sign_upload(
        stack, team.members["editor"], upload_request(team.project_id, DATA, **{field: value})
    )
    assert response.status_code == 422, response.text
    assert field in response.json()["message"]


@pytest.mark.parametrize(
    ("field", "value", "constraint"),
    [
        ("folder", "/../../etc", "files_folder_is_path"),
        ("folder", "/a/..", "files_folder_is_path"),
        ("folder", f"/x{RLO}", "files_folder_is_path"),
        ("name", f"invoice{RLO}fdp.exe", "files_name_is_plain"),
        ("name", "a\u061cb.txt", "files_name_is_plain"),
    ],
)
def test_dot_segments_and_bidi_controls_are_refused_by_the_database(
    stack: Stack, team: Team, field: str, value: str, constraint: str
) -> None:
    response = _insert(stack, team.members["editor"], _row(team.project_id, **{field: value}))
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "23514"
    assert constraint in response.json()["message"]


def test_ordinary_folders_with_dots_in_names_are_still_accepted(stack: Stack, team: Team) -> None:
    body = upload_request(team.project_id, DATA, folder="/v1.2/..hidden/a..b", name="..notes.txt")
    response = sign_upload(stack, team.members["editor"], body)
    assert response.status_code == 201, response.text


# --- anon ---------------------------------------------------------------------------------------
def test_anon_lists_no_files_like_every_other_table(stack: Stack, team: Team) -> None:
    assert sign_upload(
        stack, team.members["editor"], upload_request(team.project_id, DATA)
    ).is_success
    response = stack.http().get("/rest/v1/files", headers={"apikey": stack.env["ANON_KEY"]})
    assert response.status_code == 200, response.text
    assert response.json() == []


# --- message attachments ----------------------------------------------------------------------
@dataclass
class Chat:
    conversation_id: str
    author: TestUser
    member: TestUser
    outsider: TestUser
    message_id: str


def _conversation(stack: Stack, members: list[TestUser], project_id: str | None = None) -> str:
    conversation_id = stack.sql(
        "insert into public.conversations (kind, title, project_id, created_by)"
        " values ('group', 'files test', %s, %s) returning id::text",
        (project_id, members[0].id),
    )[0]["id"]
    for user in members:
        stack.sql(
            "insert into public.conversation_members (conversation_id, user_id) values (%s, %s)",
            (conversation_id, user.id),
        )
    return conversation_id


def _message(stack: Stack, conversation_id: str, author: TestUser) -> str:
    return stack.sql(
        "insert into public.messages (conversation_id, author_id, content)"
        " values (%s, %s, 'see attached') returning id::text",
        (conversation_id, author.id),
    )[0]["id"]


@pytest.fixture
def chat(stack: Stack) -> Chat:
    """A group conversation in no project: an author, another member, and an outsider."""
    author, member, outsider = stack.new_user(), stack.new_user(), stack.new_user()
    conversation_id = _conversation(stack, [author, member])
    return Chat(conversation_id, author, member, outsider, _message(stack, conversation_id, author))


def _message_upload(message_id: str, **overrides: Any) -> dict[str, Any]:
    body = upload_request("unused", DATA, **overrides)
    del body["project_id"]
    body["message_id"] = message_id
    return body


def _download(stack: Stack, user: TestUser, file_id: str) -> httpx.Response:
    with stack.http(user.token) as http:
        return http.get(f"/functions/v1/files/{file_id}/download")


def _rest_file(stack: Stack, user: TestUser, file_id: str) -> list[dict[str, Any]]:
    with stack.http(user.token) as http:
        response = http.get("/rest/v1/files", params={"id": f"eq.{file_id}", "select": "id"})
    assert response.status_code == 200, response.text
    return response.json()


def test_a_message_attachment_in_a_conversation_without_project_is_read_by_its_members_only(
    stack: Stack, chat: Chat
) -> None:
    response = sign_upload(stack, chat.author, _message_upload(chat.message_id))
    assert response.status_code == 201, response.text
    created = response.json()
    file_id = created["file"]["id"]
    assert created["file"]["conversation_id"] == chat.conversation_id
    assert created["file"]["project_id"] is None
    assert post_to_s3(created["upload"], DATA, "text/plain").status_code == 204
    assert wait_for_status(stack, file_id)["status"] == "ready"

    for member in (chat.author, chat.member):
        assert _download(stack, member, file_id).status_code == 200
        assert _rest_file(stack, member, file_id) == [{"id": file_id}]
    assert _download(stack, chat.outsider, file_id).status_code == 404
    assert _rest_file(stack, chat.outsider, file_id) == []


def test_members_of_the_conversations_project_who_are_not_in_it_do_not_read_its_attachments(
    stack: Stack, team: Team
) -> None:
    owner, editor = team.members["owner"], team.members["editor"]
    conversation_id = _conversation(stack, [owner], project_id=team.project_id)
    message_id = _message(stack, conversation_id, owner)
    response = sign_upload(stack, owner, _message_upload(message_id))
    assert response.status_code == 201, response.text
    file_id = response.json()["file"]["id"]
    assert _rest_file(stack, owner, file_id) == [{"id": file_id}]
    assert _rest_file(stack, editor, file_id) == []


def test_a_member_who_leaves_no_longer_reads_the_attachments(stack: Stack, chat: Chat) -> None:
    file_id = sign_upload(stack, chat.author, _message_upload(chat.message_id)).json()["file"]["id"]
    assert _rest_file(stack, chat.member, file_id) == [{"id": file_id}]
    stack.sql(
        "delete from public.conversation_members where conversation_id = %s and user_id = %s",
        (chat.conversation_id, chat.member.id),
    )
    assert _rest_file(stack, chat.member, file_id) == []


def test_a_deleted_messages_attachments_are_hidden(stack: Stack, chat: Chat) -> None:
    file_id = sign_upload(stack, chat.author, _message_upload(chat.message_id)).json()["file"]["id"]
    stack.sql("update public.messages set deleted_at = now() where id = %s", (chat.message_id,))
    assert _rest_file(stack, chat.member, file_id) == []


def test_only_the_author_adds_files_to_a_message(stack: Stack, chat: Chat) -> None:
    for user in (chat.member, chat.outsider):
        response = sign_upload(stack, user, _message_upload(chat.message_id))
        assert response.status_code == 403, response.text
    assert stack.sql("select 1 from public.files where message_id = %s", (chat.message_id,)) == []


def test_a_message_of_another_conversation_is_refused_even_with_the_callers_own_project(
    stack: Stack, chat: Chat, team: Team
) -> None:
    editor = team.members["editor"]
    # the reported hole: someone else's message_id next to a project the caller edits
    response = _insert(stack, editor, _row(team.project_id, chat.message_id))
    assert response.status_code in (400, 403), response.text
    assert response.json()["code"] in ("23514", "42501")
    # and without the project: refused like a message that does not exist
    unknown = _insert(stack, editor, _row(None, "00000000-0000-4000-8000-000000000000"))
    other = _insert(stack, editor, _row(None, chat.message_id))
    assert (other.status_code, other.json()["code"]) == (403, "42501")
    assert (unknown.status_code, unknown.json()["code"]) == (403, "42501")
    assert stack.sql("select 1 from public.files where message_id = %s", (chat.message_id,)) == []


def test_a_file_belongs_to_a_project_or_a_message_not_both(stack: Stack, team: Team) -> None:
    owner = team.members["owner"]
    conversation_id = _conversation(stack, [owner], project_id=team.project_id)
    message_id = _message(stack, conversation_id, owner)
    body = {**upload_request(team.project_id, DATA), "message_id": message_id}
    response = sign_upload(stack, owner, body)
    assert response.status_code == 422, response.text
    assert "not both" in response.json()["message"]
    direct = _insert(stack, owner, _row(team.project_id, message_id))
    assert (direct.status_code, direct.json()["code"]) == (403, "42501")
    # the table says it too, for the service role
    with stack.http(stack.env["SERVICE_ROLE_KEY"]) as http:
        body = _row(team.project_id, message_id, uploaded_by=owner.id)
        service = http.post("/rest/v1/files", json=body)
    assert service.status_code == 400, service.text
    assert "files_attached_to_project_or_message" in service.json()["message"]


def test_clients_cannot_choose_the_conversation(stack: Stack, chat: Chat) -> None:
    other = _conversation(stack, [chat.author])
    body = _row(None, chat.message_id, conversation_id=other)
    response = _insert(stack, chat.author, body)
    assert (response.status_code, response.json()["code"]) == (403, "42501")


# --- the per-user limit also covers REST inserts -------------------------------------------------
def test_inserting_files_through_rest_counts_against_the_per_user_limit(
    stack: Stack, team: Team
) -> None:
    """60 files a minute per user. One request of 121 rows crosses that in any window
    (fixed minutes: 121 rows in at most two of them put 61 in one)."""
    editor = team.members["editor"]
    rows = [_row(team.project_id, name=f"f{i}.txt") for i in range(121)]
    response = _insert(stack, editor, rows)
    assert response.status_code == 429, response.text
    body = response.json()
    assert body["code"] == "PT429"
    assert "at most 60 a minute" in body["message"]
    assert 1 <= int(response.headers["retry-after"]) <= 60
    assert stack.sql("select 1 from public.files where project_id = %s", (team.project_id,)) == []
    # the refused request counted nothing: a single file still goes in
    assert _insert(stack, editor, _row(team.project_id)).status_code == 201


def test_a_closed_direct_conversation_takes_no_new_attachments(stack: Stack) -> None:
    """Two people who share no live project: their old direct conversation is closed, for
    files as for messages."""
    author, other = stack.new_user(), stack.new_user()
    conversation_id = stack.sql(
        "insert into public.conversations (kind, direct_key, created_by)"
        " values ('direct', %s, %s) returning id::text",
        (":".join(sorted([author.id, other.id])), author.id),
    )[0]["id"]
    for user in (author, other):
        stack.sql(
            "insert into public.conversation_members (conversation_id, user_id) values (%s, %s)",
            (conversation_id, user.id),
        )
    message_id = _message(stack, conversation_id, author)
    response = sign_upload(stack, author, _message_upload(message_id))
    assert response.status_code == 403, response.text
    assert stack.sql("select 1 from public.files where message_id = %s", (message_id,)) == []
