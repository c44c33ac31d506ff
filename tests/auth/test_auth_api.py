"""Local Supabase Auth (/auth/v1, devstack/auth/) answers as the hosted service does.

Over HTTP through the gateway, with the headers the SDKs send. Wire formats are those of
supabase/auth (internal/api): token responses, user JSON, error shapes and codes.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import jwt
import pytest

from tests.support import Stack

V2024 = {"X-Supabase-Api-Version": "2024-01-01"}


def _email() -> str:
    return f"auth-{uuid.uuid4().hex[:12]}@example.test"


def _auth(stack: Stack, key: str | None = None, token: str | None = None) -> httpx.Client:
    headers = {"apikey": key or stack.env["ANON_KEY"], **V2024}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return httpx.Client(base_url=f"{stack.env['API_URL']}/auth/v1", headers=headers, timeout=30)


def _signup(stack: Stack, email: str | None = None, **data: Any) -> dict[str, Any]:
    with _auth(stack) as client:
        response = client.post(
            "/signup", json={"email": email or _email(), "password": "correct-horse", "data": data}
        )
    assert response.status_code == 200, response.text
    return response.json()


def _password(stack: Stack, email: str, password: str = "correct-horse") -> httpx.Response:
    with _auth(stack) as client:
        return client.post(
            "/token", params={"grant_type": "password"}, json={"email": email, "password": password}
        )


def _refresh(stack: Stack, refresh_token: str) -> httpx.Response:
    with _auth(stack) as client:
        return client.post(
            "/token", params={"grant_type": "refresh_token"}, json={"refresh_token": refresh_token}
        )


def _error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["code"] == code, body
    assert response.headers["x-sb-error-code"] == code
    return body


def _admin(stack: Stack) -> httpx.Client:
    key = stack.env["SERVICE_ROLE_KEY"]
    return _auth(stack, key=key, token=key)


# -- sign-up -------------------------------------------------------------------------------
def test_signup_answers_a_session_in_the_hosted_token_shape(stack: Stack) -> None:
    email = _email()
    body = _signup(stack, email)
    assert {"access_token", "token_type", "expires_in", "expires_at", "refresh_token", "user"} <= (
        body.keys()
    )
    assert body["token_type"] == "bearer"
    user = body["user"]
    assert user["email"] == email
    assert user["aud"] == user["role"] == "authenticated"
    assert user["app_metadata"] == {"provider": "email", "providers": ["email"]}
    assert user["email_confirmed_at"] and user["last_sign_in_at"]
    assert [i["provider"] for i in user["identities"]] == ["email"]
    assert user["identities"][0]["identity_data"]["email"] == email
    stored = stack.sql("select encrypted_password from auth.users where id = %s", (user["id"],))
    assert stored[0]["encrypted_password"].startswith("$2a$10$")  # bcrypt, as Auth stores it


def test_access_token_has_supabase_claims_a_live_session_and_the_hooks_role(
    stack: Stack,
) -> None:
    body = _signup(stack)
    claims = jwt.decode(
        body["access_token"],
        stack.env["JWT_SECRET"],
        algorithms=["HS256"],
        audience="authenticated",
    )
    assert claims["sub"] == body["user"]["id"]
    assert claims["iss"] == f"{stack.env['API_URL']}/auth/v1"
    assert claims["role"] == "authenticated"
    assert claims["aal"] == "aal1"
    assert claims["amr"][0]["method"] == "password"
    assert claims["exp"] - claims["iat"] == body["expires_in"] == 3600
    assert claims["user_role"] == "user"  # added by public.custom_access_token_hook
    assert claims["app_metadata"]["platform_role"] == "user"
    sessions = stack.sql(
        "select user_id::text from auth.sessions where id = %s", (claims["session_id"],)
    )
    assert sessions == [{"user_id": claims["sub"]}]


def test_signup_data_lands_in_the_profile(stack: Stack) -> None:
    username = f"u_{uuid.uuid4().hex[:10]}"
    body = _signup(stack, full_name="Ada Lovelace", username=username, persona="team_collaborator")
    profile = stack.rest(body["access_token"]).table("profiles").select("*").execute().data
    assert len(profile) >= 1
    mine = next(p for p in profile if p["id"] == body["user"]["id"])
    assert mine["username"] == username
    assert mine["full_name"] == "Ada Lovelace"
    assert mine["persona"] == "team_collaborator"
    assert mine["email"] == body["user"]["email"]


def test_taken_username_keeps_the_signup_and_tells_the_person(stack: Stack) -> None:
    username = f"taken_{uuid.uuid4().hex[:8]}"
    _signup(stack, username=username)
    second = _signup(stack, username=username, full_name="Second")
    token = second["access_token"]
    profile = (
        stack.rest(token).table("profiles").select("*").eq("id", second["user"]["id"]).execute()
    )
    assert profile.data[0]["username"] is None
    assert profile.data[0]["full_name"] == "Second"
    notes = stack.rest(token).table("notifications").select("type,payload").execute().data
    assert notes == [
        {
            "type": "system",
            "payload": {
                "kind": "username_unavailable",
                "username": username,
                "reason": "taken",
                "message": f'The username "{username}" is taken: choose another in your profile.',
            },
        }
    ]


def test_malformed_username_and_unknown_persona_are_left_empty(stack: Stack) -> None:
    body = _signup(stack, username="No Spaces!", persona="astronaut")
    row = stack.sql(
        "select username, persona from public.profiles where id = %s", (body["user"]["id"],)
    )
    assert row == [{"username": None, "persona": None}]
    note = stack.sql(
        "select payload->>'reason' as reason from public.notifications where user_id = %s",
        (body["user"]["id"],),
    )
    assert note == [{"reason": "invalid"}]


def test_duplicate_email_is_user_already_exists(stack: Stack) -> None:
    email = _email()
    _signup(stack, email)
    with _auth(stack) as client:
        response = client.post("/signup", json={"email": email.upper(), "password": "other-pass"})
    body = _error(response, 422, "user_already_exists")
    assert body["message"] == "User already registered"


def test_weak_password_is_weak_password_with_its_reasons(stack: Stack) -> None:
    with _auth(stack) as client:
        response = client.post("/signup", json={"email": _email(), "password": "12345"})
    body = _error(response, 422, "weak_password")
    assert body["message"] == "Password should be at least 6 characters."
    assert body["weak_password"] == {"reasons": ["length"]}


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        ({"email": "not-an-email", "password": "long-enough"}, "validation_failed"),
        ({"email": "x@example.test"}, "validation_failed"),
        ({"password": "long-enough"}, "validation_failed"),
        ({"email": "x@example.test", "password": "p" * 73}, "validation_failed"),
        ({"email": "x@example.test", "password": "long-enough", "data": [1]}, "bad_json"),
        ({"phone": "+15555550100", "password": "long-enough"}, "phone_provider_disabled"),
    ],
)
def test_bad_signup_input_is_400(stack: Stack, payload: dict, code: str) -> None:
    with _auth(stack) as client:
        _error(client.post("/signup", json=payload), 400, code)


def test_unparseable_body_is_bad_json(stack: Stack) -> None:
    with _auth(stack) as client:
        response = client.post(
            "/signup", content=b"{not json", headers={"Content-Type": "application/json"}
        )
    _error(response, 400, "bad_json")


# -- sign-in -------------------------------------------------------------------------------
def test_password_sign_in_starts_a_new_session(stack: Stack) -> None:
    email = _email()
    first = _signup(stack, email)
    response = _password(stack, email)
    assert response.status_code == 200, response.text
    body = response.json()
    sid = jwt.decode(body["access_token"], options={"verify_signature": False})["session_id"]
    first_sid = jwt.decode(first["access_token"], options={"verify_signature": False})
    assert sid != first_sid["session_id"]
    assert body["user"]["id"] == first["user"]["id"]


def test_wrong_password_is_invalid_credentials(stack: Stack) -> None:
    email = _email()
    _signup(stack, email)
    body = _error(_password(stack, email, "not-the-password"), 400, "invalid_credentials")
    assert body["message"] == "Invalid login credentials"


def test_unknown_email_is_the_same_invalid_credentials(stack: Stack) -> None:
    _error(_password(stack, _email()), 400, "invalid_credentials")


def test_errors_use_the_legacy_shape_without_the_api_version_header(stack: Stack) -> None:
    response = httpx.post(
        f"{stack.env['API_URL']}/auth/v1/token?grant_type=password",
        headers={"apikey": stack.env["ANON_KEY"]},
        json={"email": _email(), "password": "whatever"},
    )
    assert response.status_code == 400
    assert response.json() == {
        "code": 400,
        "error_code": "invalid_credentials",
        "msg": "Invalid login credentials",
    }


def test_unsupported_grant_type_is_400(stack: Stack) -> None:
    with _auth(stack) as client:
        response = client.post("/token", params={"grant_type": "magic"}, json={})
    body = _error(response, 400, "invalid_credentials")
    assert body["message"] == "unsupported_grant_type"


def test_disabled_user_is_refused_as_banned(stack: Stack) -> None:
    email = _email()
    body = _signup(stack, email)
    stack.sql(
        "update public.user_roles set disabled_at = now() where user_id = %s", (body["user"]["id"],)
    )
    _error(_password(stack, email), 400, "user_banned")
    refused = _error(_refresh(stack, body["refresh_token"]), 400, "user_banned")
    assert refused["message"] == "Invalid Refresh Token: User Banned"


def test_a_user_the_hook_refuses_gets_the_hooks_status_and_message(stack: Stack) -> None:
    email = _email()
    body = _signup(stack, email)
    # disabled in user_roles but not (yet) banned in auth: the hook is what refuses
    stack.sql(
        "update public.user_roles set disabled_at = now() where user_id = %s", (body["user"]["id"],)
    )
    stack.sql("update auth.users set banned_until = null where id = %s", (body["user"]["id"],))
    sessions_before = stack.sql(
        "select count(*) as n from auth.sessions where user_id = %s", (body["user"]["id"],)
    )
    response = _password(stack, email)
    assert response.status_code == 403
    assert response.json() == {"code": "unknown", "message": "This account is disabled."}
    sessions_after = stack.sql(
        "select count(*) as n from auth.sessions where user_id = %s", (body["user"]["id"],)
    )
    assert sessions_after == sessions_before  # the refused sign-in left no session


# -- refresh -------------------------------------------------------------------------------
def test_refresh_rotates_the_refresh_token_within_the_session(stack: Stack) -> None:
    first = _signup(stack)
    response = _refresh(stack, first["refresh_token"])
    assert response.status_code == 200, response.text
    second = response.json()
    assert second["refresh_token"] != first["refresh_token"]
    claims = [
        jwt.decode(b["access_token"], options={"verify_signature": False}) for b in (first, second)
    ]
    assert claims[0]["session_id"] == claims[1]["session_id"]
    rows = stack.sql(
        "select token, revoked, parent from auth.refresh_tokens where session_id = %s order by id",
        (claims[0]["session_id"],),
    )
    assert rows == [
        {"token": first["refresh_token"], "revoked": True, "parent": None},
        {"token": second["refresh_token"], "revoked": False, "parent": first["refresh_token"]},
    ]


def test_retrying_the_last_refresh_answers_the_same_new_token(stack: Stack) -> None:
    first = _signup(stack)
    second = _refresh(stack, first["refresh_token"]).json()
    retry = _refresh(stack, first["refresh_token"])
    assert retry.status_code == 200, retry.text
    assert retry.json()["refresh_token"] == second["refresh_token"]


def test_reusing_an_old_refresh_token_revokes_the_session(stack: Stack) -> None:
    first = _signup(stack)
    second = _refresh(stack, first["refresh_token"]).json()
    third = _refresh(stack, second["refresh_token"]).json()
    # past the reuse interval (supabase/config.toml refresh_token_reuse_interval)
    stack.sql(
        "update auth.refresh_tokens set updated_at = now() - interval '1 hour' where token = %s",
        (first["refresh_token"],),
    )
    body = _error(_refresh(stack, first["refresh_token"]), 400, "refresh_token_already_used")
    assert body["message"] == "Invalid Refresh Token: Already Used"
    # the whole session is dead: its newest token no longer refreshes either
    stack.sql(
        "update auth.refresh_tokens set updated_at = now() - interval '1 hour' where token = %s",
        (third["refresh_token"],),
    )
    _error(_refresh(stack, third["refresh_token"]), 400, "refresh_token_already_used")


def test_unknown_refresh_token_is_refresh_token_not_found(stack: Stack) -> None:
    body = _error(_refresh(stack, "nosuchtoken1"), 400, "refresh_token_not_found")
    assert body["message"] == "Invalid Refresh Token: Refresh Token Not Found"


def test_missing_refresh_token_is_an_oauth_invalid_request(stack: Stack) -> None:
    with _auth(stack) as client:
        response = client.post("/token", params={"grant_type": "refresh_token"}, json={})
    assert response.status_code == 400
    assert response.json() == {
        "error": "invalid_request",
        "error_description": "refresh_token required",
    }


# -- sign-out ------------------------------------------------------------------------------
def _sessions(stack: Stack, user_id: str) -> int:
    rows = stack.sql("select count(*) as n from auth.sessions where user_id = %s", (user_id,))
    return int(rows[0]["n"])


def test_logout_global_ends_every_session_and_kills_refresh(stack: Stack) -> None:
    email = _email()
    first = _signup(stack, email)
    second = _password(stack, email).json()
    with _auth(stack, token=first["access_token"]) as client:
        assert client.post("/logout").status_code == 204
    assert _sessions(stack, first["user"]["id"]) == 0
    for body in (first, second):
        _error(_refresh(stack, body["refresh_token"]), 400, "refresh_token_not_found")


def test_logout_local_ends_only_the_callers_session(stack: Stack) -> None:
    email = _email()
    first = _signup(stack, email)
    second = _password(stack, email).json()
    with _auth(stack, token=first["access_token"]) as client:
        assert client.post("/logout", params={"scope": "local"}).status_code == 204
    _error(_refresh(stack, first["refresh_token"]), 400, "refresh_token_not_found")
    assert _refresh(stack, second["refresh_token"]).status_code == 200


def test_logout_others_keeps_only_the_callers_session(stack: Stack) -> None:
    email = _email()
    first = _signup(stack, email)
    second = _password(stack, email).json()
    with _auth(stack, token=first["access_token"]) as client:
        assert client.post("/logout", params={"scope": "others"}).status_code == 204
    assert _refresh(stack, first["refresh_token"]).status_code == 200
    _error(_refresh(stack, second["refresh_token"]), 400, "refresh_token_not_found")


def test_a_logged_out_sessions_token_cannot_read_the_user(stack: Stack) -> None:
    body = _signup(stack)
    with _auth(stack, token=body["access_token"]) as client:
        assert client.post("/logout").status_code == 204
        _error(client.get("/user"), 403, "session_not_found")


def test_unsupported_logout_scope_is_400(stack: Stack) -> None:
    body = _signup(stack)
    with _auth(stack, token=body["access_token"]) as client:
        _error(client.post("/logout", params={"scope": "everyone"}), 400, "validation_failed")


def test_logout_without_a_token_is_401(stack: Stack) -> None:
    with _auth(stack) as client:
        _error(client.post("/logout"), 401, "no_authorization")


# -- the user ------------------------------------------------------------------------------
def test_get_user_answers_the_callers_user(stack: Stack) -> None:
    body = _signup(stack)
    with _auth(stack, token=body["access_token"]) as client:
        response = client.get("/user")
    assert response.status_code == 200
    assert response.json()["id"] == body["user"]["id"]


def test_get_user_with_a_forged_token_is_bad_jwt(stack: Stack) -> None:
    body = _signup(stack)
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    forged = jwt.encode(claims, "another-secret-of-at-least-32-characters!!", algorithm="HS256")
    with _auth(stack, token=forged) as client:
        _error(client.get("/user"), 403, "bad_jwt")


def test_put_user_merges_data_and_changes_the_password(stack: Stack) -> None:
    email = _email()
    body = _signup(stack, email, full_name="Before", keep="me")
    with _auth(stack, token=body["access_token"]) as client:
        response = client.put(
            "/user", json={"data": {"full_name": "After", "keep": None}, "password": "new-secret"}
        )
    assert response.status_code == 200, response.text
    metadata = response.json()["user_metadata"]
    assert metadata["full_name"] == "After"
    assert "keep" not in metadata
    _error(_password(stack, email), 400, "invalid_credentials")
    assert _password(stack, email, "new-secret").status_code == 200


def test_put_user_same_password_is_refused(stack: Stack) -> None:
    body = _signup(stack)
    with _auth(stack, token=body["access_token"]) as client:
        _error(client.put("/user", json={"password": "correct-horse"}), 422, "same_password")


def test_put_user_email_change_follows_into_the_profile(stack: Stack) -> None:
    body = _signup(stack)
    new_email = _email()
    with _auth(stack, token=body["access_token"]) as client:
        response = client.put("/user", json={"email": new_email})
    assert response.status_code == 200, response.text
    assert response.json()["email"] == new_email
    rows = stack.sql("select email from public.profiles where id = %s", (body["user"]["id"],))
    assert rows == [{"email": new_email}]


def test_put_user_to_a_taken_email_is_email_exists(stack: Stack) -> None:
    taken = _email()
    _signup(stack, taken)
    body = _signup(stack)
    with _auth(stack, token=body["access_token"]) as client:
        _error(client.put("/user", json={"email": taken}), 422, "email_exists")


@pytest.mark.parametrize(
    ("payload", "status", "code"),
    [
        ({"password": 123456789}, 400, "bad_json"),
        ({"password": "123"}, 422, "weak_password"),
        ({"email": "not-an-email"}, 400, "validation_failed"),
        ({"data": "not an object"}, 400, "bad_json"),
    ],
)
def test_bad_put_user_input_is_4xx(stack: Stack, payload: dict, status: int, code: str) -> None:
    body = _signup(stack)
    with _auth(stack, token=body["access_token"]) as client:
        _error(client.put("/user", json=payload), status, code)


@pytest.mark.parametrize(
    ("payload", "status", "code"),
    [
        ({"email": "ok@example.test", "password": 123456789}, 400, "bad_json"),
        ({"email": "ok@example.test", "password": "123"}, 422, "weak_password"),
        ({"email": "not-an-email"}, 400, "validation_failed"),
        ({"password": "long-enough"}, 400, "validation_failed"),
        ({"email": "ok@example.test", "id": "not-a-uuid"}, 400, "validation_failed"),
        ({"email": "ok@example.test", "ban_duration": "forever"}, 400, "validation_failed"),
    ],
)
def test_bad_admin_create_input_is_4xx(stack: Stack, payload: dict, status: int, code: str) -> None:
    with _admin(stack) as admin:
        _error(admin.post("/admin/users", json=payload), status, code)


def test_put_user_cannot_set_app_metadata(stack: Stack) -> None:
    body = _signup(stack)
    with _auth(stack, token=body["access_token"]) as client:
        response = client.put("/user", json={"app_metadata": {"platform_role": "admin"}})
    _error(response, 403, "not_admin")


# -- settings, health, gateway -------------------------------------------------------------
def test_settings_say_email_sign_up_is_on_and_confirmed_at_once(stack: Stack) -> None:
    with _auth(stack) as client:
        body = client.get("/settings").json()
    assert body["external"]["email"] is True
    assert body["external"]["phone"] is False
    assert body["disable_signup"] is False
    assert body["mailer_autoconfirm"] is True


def test_health_answers_gotrue(stack: Stack) -> None:
    with _auth(stack) as client:
        response = client.get("/health")
    assert response.status_code == 200
    assert response.json()["name"] == "GoTrue"


def test_auth_requires_the_apikey(stack: Stack) -> None:
    response = httpx.get(f"{stack.env['API_URL']}/auth/v1/settings")
    assert response.status_code == 401
    assert response.json()["message"] == "No API key found in request"
    wrong = httpx.get(f"{stack.env['API_URL']}/auth/v1/settings", headers={"apikey": "nope"})
    assert wrong.status_code == 401


# -- admin ---------------------------------------------------------------------------------
def test_admin_endpoints_refuse_a_user_token(stack: Stack) -> None:
    body = _signup(stack)
    with _auth(stack, token=body["access_token"]) as client:
        _error(client.get("/admin/users"), 403, "not_admin")
        _error(client.delete(f"/admin/users/{body['user']['id']}"), 403, "not_admin")


def test_admin_endpoints_refuse_the_anon_key(stack: Stack) -> None:
    with _auth(stack, token=stack.env["ANON_KEY"]) as client:
        _error(client.get("/admin/users"), 403, "not_admin")
        _error(client.post("/admin/users", json={"email": _email()}), 403, "not_admin")


def test_admin_creates_reads_updates_and_deletes_a_user(stack: Stack) -> None:
    email = _email()
    with _admin(stack) as admin:
        created = admin.post(
            "/admin/users",
            json={
                "email": email,
                "password": "admin-made",
                "email_confirm": True,
                "user_metadata": {"full_name": "Made By Admin"},
            },
        )
        assert created.status_code == 200, created.text
        user = created.json()
        assert user["email_confirmed_at"]
        assert _password(stack, email, "admin-made").status_code == 200
        assert admin.get(f"/admin/users/{user['id']}").json()["email"] == email
        updated = admin.put(
            f"/admin/users/{user['id']}",
            json={"user_metadata": {"full_name": "Renamed"}, "app_metadata": {"team": "a"}},
        )
        assert updated.status_code == 200, updated.text
        assert updated.json()["user_metadata"]["full_name"] == "Renamed"
        assert updated.json()["app_metadata"]["team"] == "a"
        assert admin.delete(f"/admin/users/{user['id']}").json() == {}
        _error(admin.get(f"/admin/users/{user['id']}"), 404, "user_not_found")
    assert stack.sql("select id from public.profiles where id = %s", (user["id"],)) == []


def test_admin_ban_refuses_sign_in_until_lifted(stack: Stack) -> None:
    email = _email()
    body = _signup(stack, email)
    with _admin(stack) as admin:
        banned = admin.put(f"/admin/users/{body['user']['id']}", json={"ban_duration": "24h"})
        assert banned.status_code == 200
        assert banned.json()["banned_until"]
        _error(_password(stack, email), 400, "user_banned")
        admin.put(f"/admin/users/{body['user']['id']}", json={"ban_duration": "none"})
    assert _password(stack, email).status_code == 200


def test_admin_create_with_a_taken_email_is_email_exists(stack: Stack) -> None:
    email = _email()
    _signup(stack, email)
    with _admin(stack) as admin:
        body = _error(admin.post("/admin/users", json={"email": email}), 422, "email_exists")
    assert body["message"] == "A user with this email address has already been registered"


def test_admin_list_pages_with_total_count_and_links(stack: Stack) -> None:
    for _ in range(3):
        _signup(stack)
    with _admin(stack) as admin:
        first = admin.get("/admin/users", params={"page": 1, "per_page": 2})
        second = admin.get("/admin/users", params={"page": 2, "per_page": 2})
    assert first.status_code == second.status_code == 200
    total = int(first.headers["x-total-count"])
    assert total >= 3
    assert first.json()["aud"] == "authenticated"
    assert len(first.json()["users"]) == 2
    ids = {u["id"] for u in first.json()["users"]} | {u["id"] for u in second.json()["users"]}
    assert len(ids) == 4  # pages do not overlap
    assert 'rel="next"' in first.headers["link"]
    assert "page=2" in first.headers["link"]
    assert f"page={-(-total // 2)}" in first.headers["link"]


@pytest.mark.parametrize("params", [{"page": "x"}, {"per_page": "-1"}])
def test_admin_list_with_bad_paging_is_400(stack: Stack, params: dict) -> None:
    with _admin(stack) as admin:
        _error(admin.get("/admin/users", params=params), 400, "validation_failed")


def test_admin_user_id_must_be_a_uuid(stack: Stack) -> None:
    with _admin(stack) as admin:
        _error(admin.get("/admin/users/not-a-uuid"), 404, "validation_failed")
        _error(admin.delete(f"/admin/users/{uuid.uuid4()}"), 404, "user_not_found")
