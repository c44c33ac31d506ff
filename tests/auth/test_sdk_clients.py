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

import httpx
import pytest
from supabase import ClientOptions, create_client
from supabase_auth.errors import AuthApiError, AuthWeakPasswordError

from tests.auth.helpers import mail_link
from tests.support import Stack

HERE = Path(__file__).parent
PASSWORD = "a-long-enough-passw0rd"


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
            "MAILPIT_URL": stack.env["MAILPIT_URL"],
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


def test_supabase_js_signs_up_and_confirms_with_the_mails_code(js_flow: dict) -> None:
    assert js_flow["signUp"] == {
        "error": None,
        "hasSession": False,  # enable_confirmations: nothing before the address is proven
        "userId": js_flow["signUp"]["userId"],
    }
    assert js_flow["confirm"] == {
        "error": None,
        "hasSession": True,
        "confirmed": True,
        "subject": "Confirm your email address",
        "redirectsTo": "http://127.0.0.1:3000/welcome",
    }


def test_supabase_js_signs_in_with_a_mailed_code(js_flow: dict) -> None:
    assert js_flow["otp"] == {
        "sendError": None,
        "error": None,
        "hasSession": True,
        "subject": "Your sign-in link",
    }


def test_supabase_js_resets_a_password_through_the_mail(js_flow: dict) -> None:
    assert js_flow["recovery"] == {
        "sendError": None,
        "error": None,
        "hasSession": True,
        "updateError": None,
        "signInWithNew": True,
        "subject": "Reset your password",
    }


def test_supabase_js_changes_the_email_once_both_addresses_confirm(js_flow: dict) -> None:
    change = js_flow["emailChange"]
    run = js_flow["run_id"]
    assert change["error"] is None
    assert change["newEmail"] == f"js-moved-{run}@example.test"
    assert change["emailBefore"] == f"js-move-{run}@example.test"  # nothing changed yet
    assert change["firstError"] is None
    assert change["firstSession"] is False  # "Confirmation link accepted ..."
    assert change["secondError"] is None
    assert change["emailAfter"] == f"js-moved-{run}@example.test"


def test_supabase_js_exchanges_a_pkce_code_from_the_mails_link(js_flow: dict) -> None:
    assert js_flow["pkce"] == {
        "status": 303,
        "redirect": "http://127.0.0.1:3000/welcome",
        "linkIsPkce": True,
        "error": None,
        "email": f"js-pkce-{js_flow['run_id']}@example.test",
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
    # a registered address signs up like a new one: no error, no session (no account oracle)
    assert js_flow["duplicateEmail"] == {"error": None, "hasSession": False, "identities": 1}
    weak = js_flow["weakPassword"]["error"]
    assert weak["name"] == "AuthWeakPasswordError"
    assert weak["code"] == "weak_password"
    assert weak["reasons"] == ["length", "characters"]


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
    email, password = f"py-{run}@example.test", "a-long-enough-passw0rd"
    app = _client(stack)
    signed_up = app.auth.sign_up(
        {
            "email": email,
            "password": password,
            "options": {"data": {"full_name": "Py Thon", "username": f"py_{run}"}},
        }
    )
    assert signed_up.session is None  # confirmations on: the mail's code first
    user_id = signed_up.user.id
    code = mail_link(stack, f"to:{email}")["code"]
    confirmed = app.auth.verify_otp({"email": email, "token": code, "type": "signup"})
    assert confirmed.session is not None

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
    app.auth.sign_up({"email": email, "password": "a-long-enough-passw0rd"})
    code = mail_link(stack, f"to:{email}")["code"]
    app.auth.verify_otp({"email": email, "token": code, "type": "signup"})
    with pytest.raises(AuthApiError) as wrong:
        _client(stack).auth.sign_in_with_password({"email": email, "password": "nope-nope"})
    assert (wrong.value.code, wrong.value.status) == ("invalid_credentials", 400)
    # a registered address signs up like a new one (no account oracle)
    again = _client(stack).auth.sign_up({"email": email, "password": "a-long-enough-passw0rd"})
    assert again.session is None and again.user is not None
    with pytest.raises(AuthWeakPasswordError) as weak:
        _client(stack).auth.sign_up({"email": f"w-{email}", "password": "123"})
    assert weak.value.reasons == ["length", "characters"]


def test_admin_delete_of_a_project_owner_is_refused_as_hosted(stack: Stack) -> None:
    """projects.owner_id restricts: the hosted service answers 500 "Database error deleting
    user" here too. Owners leave through the privacy erasure (rpc erase_user)."""
    email = f"owner-{uuid.uuid4().hex[:10]}@example.test"
    app = _client(stack)
    user_id = app.auth.sign_up({"email": email, "password": "a-long-enough-passw0rd"}).user.id
    code = mail_link(stack, f"to:{email}")["code"]
    app.auth.verify_otp({"email": email, "token": code, "type": "signup"})
    app.table("projects").insert({"name": "Owned"}).execute()
    with pytest.raises(AuthApiError) as refused:
        _client(stack, stack.env["SERVICE_ROLE_KEY"]).auth.admin.delete_user(user_id)
    assert refused.value.status == 500
    assert refused.value.message == "Database error deleting user"
    assert stack.sql("select id::text from auth.users where id = %s", (user_id,)) == [
        {"id": user_id}
    ]


def test_supabase_py_drives_the_mail_flows(stack: Stack) -> None:
    """sign_in_with_otp + verify_otp, reset_password_for_email, update_user({email}) with
    both confirmations, and a PKCE link traded by exchange_code_for_session."""
    run = uuid.uuid4().hex[:10]
    admin = _client(stack, stack.env["SERVICE_ROLE_KEY"]).auth.admin
    otp_email, lost_email, move_email, pkce_email = (
        f"py-{kind}-{run}@example.test" for kind in ("otp", "lost", "move", "pkce")
    )
    for email in (otp_email, lost_email, move_email, pkce_email):
        admin.create_user({"email": email, "password": PASSWORD, "email_confirm": True})

    app = _client(stack)
    app.auth.sign_in_with_otp({"email": otp_email, "options": {"should_create_user": False}})
    code = mail_link(stack, f"to:{otp_email}")["code"]
    assert app.auth.verify_otp({"email": otp_email, "token": code, "type": "email"}).session

    lost = _client(stack)
    lost.auth.reset_password_for_email(lost_email)
    code = mail_link(stack, f"to:{lost_email}")["code"]
    assert lost.auth.verify_otp({"email": lost_email, "token": code, "type": "recovery"}).session
    lost.auth.update_user({"password": "py-new-passw0rd"})
    again = _client(stack).auth.sign_in_with_password(
        {"email": lost_email, "password": "py-new-passw0rd"}
    )
    assert again.session is not None

    mover = _client(stack)
    mover.auth.sign_in_with_password({"email": move_email, "password": PASSWORD})
    moved = f"py-moved-{run}@example.test"
    asked = mover.auth.update_user({"email": moved})
    assert asked.user.email == move_email and asked.user.new_email == moved
    new_code = mail_link(stack, f"to:{moved}")["code"]
    current_code = mail_link(stack, f"to:{move_email}")["code"]
    mover.auth.verify_otp({"email": moved, "token": new_code, "type": "email_change"})
    assert mover.auth.get_user().user.email == move_email  # one confirmation is not enough
    done = mover.auth.verify_otp(
        {"email": move_email, "token": current_code, "type": "email_change"}
    )
    assert done.user.email == moved

    pkce = create_client(
        stack.env["API_URL"],
        stack.env["ANON_KEY"],
        options=ClientOptions(auto_refresh_token=False, persist_session=False, flow_type="pkce"),
    )
    pkce.auth.sign_in_with_otp({"email": pkce_email})
    link = mail_link(stack, f"to:{pkce_email}")
    assert link["token_hash"].startswith("pkce_")
    followed = httpx.get(link["url"], follow_redirects=False)
    assert followed.status_code == 303
    code = dict(
        part.split("=", 1) for part in followed.headers["location"].split("?", 1)[1].split("&")
    )["code"]
    session = pkce.auth.exchange_code_for_session({"auth_code": code})
    assert session.user.email == pkce_email
