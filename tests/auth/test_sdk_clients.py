"""supabase-js and supabase-py work unchanged against the local stack's Auth and PostgREST:
sign-up, sign-in, a query RLS answers, refresh, sign-out, refresh refused, admin delete, and
the errors a UI handles (wrong password, duplicate email, weak password) as SDK errors."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest
from supabase import ClientOptions, create_client
from supabase_auth.errors import AuthApiError, AuthWeakPasswordError

from tests.support import Stack

HERE = Path(__file__).parent


# -- supabase-js ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def js_flow(stack: Stack) -> dict[str, Any]:
    node = shutil.which("node")
    assert node, "node (20+) is needed for the supabase-js tests"
    run_id = uuid.uuid4().hex[:10]
    result = subprocess.run(
        [node, str(HERE / "supabase_js_flow.mjs")],
        env={
            **os.environ,
            "API_URL": stack.env["API_URL"],
            "ANON_KEY": stack.env["ANON_KEY"],
            "SERVICE_ROLE_KEY": stack.env["SERVICE_ROLE_KEY"],
            "RUN_ID": run_id,
        },
        cwd=stack.cfg.root,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    flow = json.loads(result.stdout.strip().splitlines()[-1])
    flow["run_id"] = run_id
    return flow


def test_supabase_js_signs_up_with_a_session(js_flow: dict) -> None:
    assert js_flow["signUp"] == {
        "error": None,
        "hasSession": True,
        "userId": js_flow["signUp"]["userId"],
    }


def test_supabase_js_reads_only_its_own_profile_with_the_sign_up_data(js_flow: dict) -> None:
    assert js_flow["profiles"]["error"] is None
    assert js_flow["profiles"]["rows"] == [
        {
            "id": js_flow["signUp"]["userId"],
            "username": f"js_{js_flow['run_id']}",
            "full_name": "Jay Script",
            "persona": "project_admin",
        }
    ]


def test_supabase_js_writes_its_own_row_and_rls_refuses_escalation(js_flow: dict) -> None:
    assert js_flow["updateOwnProfile"] == {"error": None, "rows": [{"full_name": "Jay Renamed"}]}
    assert js_flow["escalate"] == {"error": None, "rows": []}


def test_supabase_js_signs_in_refreshes_and_reads_the_user(js_flow: dict) -> None:
    assert js_flow["signIn"] == {"error": None, "hasSession": True}
    assert js_flow["refresh"] == {"error": None, "rotated": True, "sameUser": True}
    assert js_flow["getUser"]["error"] is None
    assert js_flow["getUser"]["email"] == f"js-{js_flow['run_id']}@example.test"


def test_supabase_js_refresh_after_sign_out_is_refused(js_flow: dict) -> None:
    assert js_flow["signOut"] == {"error": None}
    assert js_flow["refreshAfterSignOut"]["hasSession"] is False
    assert js_flow["refreshAfterSignOut"]["error"]["name"] == "AuthApiError"
    assert js_flow["refreshAfterSignOut"]["error"]["code"] == "refresh_token_not_found"


def test_supabase_js_sees_auth_errors_by_code(js_flow: dict) -> None:
    assert js_flow["wrongPassword"]["error"]["code"] == "invalid_credentials"
    assert js_flow["wrongPassword"]["error"]["status"] == 400
    assert js_flow["duplicateEmail"]["error"]["code"] == "user_already_exists"
    assert js_flow["duplicateEmail"]["error"]["status"] == 422
    weak = js_flow["weakPassword"]["error"]
    assert weak["name"] == "AuthWeakPasswordError"
    assert weak["code"] == "weak_password"
    assert weak["reasons"] == ["length"]


def test_supabase_js_admin_lists_pages_and_deletes(js_flow: dict) -> None:
    assert js_flow["adminList"]["error"] is None
    assert js_flow["adminList"]["users"] == 1
    assert js_flow["adminList"]["total"] >= 1
    assert js_flow["adminDelete"] == {"error": None}
    assert js_flow["adminGetDeleted"]["error"]["code"] == "user_not_found"


# -- supabase-py ---------------------------------------------------------------------------
def _client(stack: Stack, key: str | None = None) -> Any:
    return create_client(
        stack.env["API_URL"],
        key or stack.env["ANON_KEY"],
        options=ClientOptions(auto_refresh_token=False, persist_session=False),
    )


def test_supabase_py_full_session_story(stack: Stack) -> None:
    run = uuid.uuid4().hex[:10]
    email, password = f"py-{run}@example.test", "a-long-enough-password"
    app = _client(stack)
    signed_up = app.auth.sign_up(
        {
            "email": email,
            "password": password,
            "options": {"data": {"full_name": "Py Thon", "username": f"py_{run}"}},
        }
    )
    assert signed_up.session is not None
    user_id = signed_up.user.id

    rows = app.table("profiles").select("id, username, full_name").execute().data
    assert rows == [{"id": user_id, "username": f"py_{run}", "full_name": "Py Thon"}]

    other = _client(stack)
    signed_in = other.auth.sign_in_with_password({"email": email, "password": password})
    assert signed_in.session is not None
    refreshed = other.auth.refresh_session()
    assert refreshed.session is not None
    assert refreshed.session.refresh_token != signed_in.session.refresh_token
    assert other.auth.get_user().user.email == email

    other.auth.sign_out()
    with pytest.raises(AuthApiError) as refused:
        _client(stack).auth.refresh_session(refreshed.session.refresh_token)
    assert refused.value.code == "refresh_token_not_found"

    admin = _client(stack, stack.env["SERVICE_ROLE_KEY"]).auth.admin
    assert len(admin.list_users(page=1, per_page=1)) == 1
    admin.delete_user(user_id)
    with pytest.raises(AuthApiError) as gone:
        admin.get_user_by_id(user_id)
    assert gone.value.code == "user_not_found"


def test_supabase_py_sees_auth_errors_by_code(stack: Stack) -> None:
    email = f"py-err-{uuid.uuid4().hex[:10]}@example.test"
    app = _client(stack)
    app.auth.sign_up({"email": email, "password": "a-long-enough-password"})
    with pytest.raises(AuthApiError) as wrong:
        _client(stack).auth.sign_in_with_password({"email": email, "password": "nope-nope"})
    assert (wrong.value.code, wrong.value.status) == ("invalid_credentials", 400)
    with pytest.raises(AuthApiError) as duplicate:
        _client(stack).auth.sign_up({"email": email, "password": "a-long-enough-password"})
    assert (duplicate.value.code, duplicate.value.status) == ("user_already_exists", 422)
    with pytest.raises(AuthWeakPasswordError) as weak:
        _client(stack).auth.sign_up({"email": f"w-{email}", "password": "123"})
    assert weak.value.reasons == ["length"]


def test_admin_delete_of_a_project_owner_is_refused_as_hosted(stack: Stack) -> None:
    """projects.owner_id restricts: the hosted service answers 500 "Database error deleting
    user" here too. Owners leave through the privacy erasure (rpc erase_user)."""
    email = f"owner-{uuid.uuid4().hex[:10]}@example.test"
    app = _client(stack)
    user_id = app.auth.sign_up({"email": email, "password": "a-long-enough-password"}).user.id
    app.table("projects").insert({"name": "Owned"}).execute()
    with pytest.raises(AuthApiError) as refused:
        _client(stack, stack.env["SERVICE_ROLE_KEY"]).auth.admin.delete_user(user_id)
    assert refused.value.status == 500
    assert refused.value.message == "Database error deleting user"
    assert stack.sql("select id::text from auth.users where id = %s", (user_id,)) == [
        {"id": user_id}
    ]
