"""Connecting GitHub and Google Docs: state + PKCE, the redirect allow-list, tokens sealed at
rest, who may connect a project, and revoking. Over HTTP through the gateway, against the
fake providers (real HTTP servers started by `make up`)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from tests.functions.conftest import Team
from tests.functions.integrations_support import (
    BASE,
    FRONTEND,
    approve,
    authorize,
    callback,
    complete,
    connect,
    connect_code,
    fake_state,
    github,
    google,
    new_login,
    query_of,
    seed_github,
    seed_google,
)
from tests.support import Stack


def integrations_of(stack: Stack, user_id: str) -> list[dict[str, Any]]:
    return stack.sql("select * from public.integrations where user_id = %s", (user_id,))


# --- authorize ------------------------------------------------------------------------------------
def test_authorize_url_carries_a_stored_single_use_state_and_an_s256_challenge(
    stack: Stack, team: Team
) -> None:
    admin = team.members["admin"]
    answer = authorize(stack, admin, "github", team.project_id)
    assert answer.status_code == 200, answer.text
    url = answer.json()["url"]
    assert url.startswith(github(stack) + "/login/oauth/authorize?")
    q = query_of(url)
    assert q["code_challenge_method"] == "S256"
    assert len(q["code_challenge"]) == 43  # base64url of a SHA-256, unpadded
    assert q["redirect_uri"].endswith("/functions/v1/integrations/github/callback")
    rows = stack.sql(
        "select *, expires_at - created_at as ttl from private.oauth_states where state = %s",
        (q["state"],),
    )
    assert len(rows) == 1
    state = rows[0]
    assert str(state["user_id"]) == admin.id
    assert state["provider"] == "github"
    assert str(state["project_id"]) == team.project_id
    assert state["ttl"].total_seconds() == 600
    assert state["redirect_uri"] == FRONTEND
    # the verifier is sealed, never stored in the clear: the challenge is not derivable
    assert q["code_challenge"] not in state["code_verifier_ciphertext"]


@pytest.mark.parametrize(
    "redirect_to",
    [
        "https://evil.example/steal",
        "http://localhost:3001/settings",
        "http://localhost:3000@evil.example/",
        "javascript:alert(1)",
        "//evil.example/",
        "http://localhost:3000\\@evil.example",
    ],
)
def test_redirect_not_on_the_allow_list_is_refused(stack: Stack, redirect_to: str) -> None:
    user = stack.new_user()
    answer = authorize(stack, user, "github", redirect_to=redirect_to)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"] == "redirect_not_allowed"
    assert stack.sql("select 1 from private.oauth_states where user_id = %s", (user.id,)) == []


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({}, 422),  # no redirect_to
        ({"redirect_to": FRONTEND, "project_id": "not-a-uuid"}, 422),
        ({"redirect_to": FRONTEND + "x" * 2100}, 422),
    ],
)
def test_authorize_bad_input_is_a_clear_4xx(
    stack: Stack, params: dict[str, str], status: int
) -> None:
    user = stack.new_user()
    with stack.http(user.token) as http:
        answer = http.get(f"{BASE}/github/authorize", params=params)
    assert answer.status_code == status, answer.text
    assert set(answer.json()) == {"error", "message", "request_id"}


def test_authorize_needs_a_token_and_a_known_provider(stack: Stack) -> None:
    anonymous = stack.http().get(f"{BASE}/github/authorize", params={"redirect_to": FRONTEND})
    assert anonymous.status_code == 401
    user = stack.new_user()
    unknown = authorize(stack, user, "myspace")
    assert unknown.status_code == 404
    assert unknown.json()["error"] == "not_found"


@pytest.mark.parametrize("role", ["viewer", "editor"])
def test_only_project_admins_can_connect_an_integration_to_the_project(
    stack: Stack, team: Team, role: str
) -> None:
    answer = authorize(stack, team.members[role], "github", team.project_id)
    assert answer.status_code == 403, answer.text
    outsider = authorize(stack, team.outsider, "github", team.project_id)
    assert outsider.status_code == 403
    assert authorize(stack, team.members["owner"], "github", team.project_id).status_code == 200


# --- callback -------------------------------------------------------------------------------------
def test_connect_github_stores_the_integration_and_only_sealed_tokens(
    stack: Stack, team: Team, functions_env: dict[str, str]
) -> None:
    from integrations import config, crypto, store

    login = new_login()
    seed_github(stack, login, {"app": {"commits": 1}})
    admin = team.members["admin"]
    integration_id = connect(stack, admin, login, "github", team.project_id)

    row = stack.sql("select * from public.integrations where id = %s", (integration_id,))[0]
    assert row["status"] == "connected"
    assert str(row["project_id"]) == team.project_id
    assert row["external_account_name"] == login
    assert row["external_account_id"] == str(fake_state(github(stack), login)["id"])
    assert set(row["scopes"]) == {"repo", "read:user"}

    settings = config.build()
    tokens = store.load_tokens(settings, integration_id)
    assert tokens is not None and tokens.access_token.startswith("ghu_")
    assert tokens.refresh_token and tokens.expires_at is not None
    stored = stack.sql(
        "select * from private.integration_credentials where integration_id = %s",
        (integration_id,),
    )[0]
    as_text = repr(stored)
    assert tokens.access_token not in as_text
    assert tokens.refresh_token not in as_text
    assert stored["data_key_ciphertext"] and stored["key_id"].startswith("arn:aws:kms:")
    # the integration id is the associated data: a ciphertext moved to another row fails
    with pytest.raises(crypto.CryptoError):
        crypto.open_sealed(
            settings,
            "integration:00000000-0000-4000-8000-000000000000",
            stored["data_key_ciphertext"],
            {"access_token": stored["access_token_ciphertext"]},
        )
    # the webhook secret made at connect is sealed too
    secret = store.webhook_secret(settings, integration_id)
    assert secret and secret.startswith("whsec_")
    secret_row = stack.sql(
        "select * from private.integration_webhook_secrets where integration_id = %s",
        (integration_id,),
    )[0]
    assert secret not in repr(secret_row)


def test_reconnecting_the_same_account_updates_the_one_integration(
    stack: Stack, team: Team
) -> None:
    login = new_login()
    admin = team.members["admin"]
    first = connect(stack, admin, login, "github", team.project_id)
    second = connect(stack, admin, login, "github", team.project_id)
    assert first == second
    assert len(integrations_of(stack, admin.id)) == 1


def _started(stack: Stack, provider: str = "github") -> tuple[Any, str]:
    user = stack.new_user()
    url = authorize(stack, user, provider).json()["url"]
    return user, url


def test_replayed_state_is_invalid_and_stores_nothing_more(stack: Stack) -> None:
    user, url = _started(stack)
    back = approve(url, new_login())
    first = callback(back)
    assert first.status_code == 302
    replay = callback(back)
    assert replay.status_code == 400
    assert replay.json()["error"] == "invalid_state"
    code = query_of(first.headers["location"])["connect_code"]
    assert complete(stack, user, code).status_code == 200
    assert len(integrations_of(stack, user.id)) == 1


def test_tampered_state_is_invalid_and_stores_nothing(stack: Stack) -> None:
    user, url = _started(stack)
    back = approve(url, new_login())
    q = query_of(back)
    state = q["state"]
    tampered = state[:-1] + ("A" if state[-1] != "A" else "B")
    base = back.split("?", 1)[0]
    answer = httpx.get(base, params={"code": q["code"], "state": tampered})
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_state"
    assert httpx.get(base, params={"code": q["code"]}).status_code == 400
    assert integrations_of(stack, user.id) == []


def test_expired_state_is_invalid_and_stores_nothing(stack: Stack) -> None:
    user, url = _started(stack)
    back = approve(url, new_login())
    stack.sql(
        "update private.oauth_states set expires_at = now() - interval '1 second' where state = %s",
        (query_of(back)["state"],),
    )
    answer = callback(back)
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_state"
    assert integrations_of(stack, user.id) == []


def test_a_github_state_is_invalid_at_the_google_callback(stack: Stack) -> None:
    user, url = _started(stack)
    back = approve(url, new_login())
    answer = httpx.get(back.replace("/github/callback", "/google_docs/callback"))
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_state"
    assert integrations_of(stack, user.id) == []


def test_provider_refusal_redirects_with_the_error_code(stack: Stack) -> None:
    user, url = _started(stack)
    denied = callback(approve(url, new_login(), deny="1"))
    assert denied.status_code == 302
    assert query_of(denied.headers["location"])["error"] == "access_denied"
    assert denied.headers["location"].startswith(FRONTEND)
    # a code the provider does not know: it refuses the exchange when the app completes
    user2, url2 = _started(stack)
    back = approve(url2, new_login())
    forged = callback(back.replace(f"code={query_of(back)['code']}", "code=forged"))
    assert forged.status_code == 302
    code = query_of(forged.headers["location"])["connect_code"]
    refused = complete(stack, user2, code)
    assert refused.status_code == 400, refused.text
    assert refused.json()["error"] == "provider_refused"
    assert "bad_verification_code" in refused.json()["message"]
    assert integrations_of(stack, user.id) == [] and integrations_of(stack, user2.id) == []


@pytest.mark.parametrize("base_of", [github, google])
def test_the_fake_providers_refuse_a_wrong_pkce_verifier(stack: Stack, base_of: Any) -> None:
    import base64
    import hashlib

    base = base_of(stack)
    is_github = base_of is github
    verifier = "v" * 64
    challenge = (
        base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    )
    client_id = stack.env["GITHUB_CLIENT_ID" if is_github else "GOOGLE_CLIENT_ID"]
    secret = stack.env["GITHUB_CLIENT_SECRET" if is_github else "GOOGLE_CLIENT_SECRET"]
    redirect = "http://127.0.0.1:1/cb"
    path = "/login/oauth/authorize" if is_github else "/o/oauth2/v2/auth"
    token_path = "/login/oauth/access_token" if is_github else "/token"

    def code() -> str:
        answer = httpx.get(
            base + path,
            params={
                "client_id": client_id,
                "redirect_uri": redirect,
                "response_type": "code",
                "state": "s" * 43,
                "code_challenge": challenge,
                "code_challenge_method": "S256",
            },
        )
        return query_of(answer.headers["location"])["code"]

    form = {
        "client_id": client_id,
        "client_secret": secret,
        "redirect_uri": redirect,
        "grant_type": "authorization_code",
    }
    wrong = httpx.post(
        base + token_path,
        data={**form, "code": code(), "code_verifier": "w" * 64},
        headers={"Accept": "application/json"},
    )
    assert "access_token" not in wrong.json()
    assert wrong.json()["error"] in ("bad_verification_code", "invalid_grant")
    right = httpx.post(
        base + token_path,
        data={**form, "code": code(), "code_verifier": verifier},
        headers={"Accept": "application/json"},
    )
    assert right.json()["access_token"]


def test_connect_google_docs_end_to_end(stack: Stack, team: Team) -> None:
    email = f"{new_login()}@example.test"
    seed_google(stack, email, [{"name": "Spec", "content": "# Spec"}])
    integration_id = connect(stack, team.members["owner"], email, "google_docs", team.project_id)
    row = stack.sql("select * from public.integrations where id = %s", (integration_id,))[0]
    assert row["provider"] == "google_docs" and row["status"] == "connected"
    assert row["external_account_name"] == email
    assert "https://www.googleapis.com/auth/drive.readonly" in row["scopes"]


# --- completing a connect: bound to the user who started it ---------------------------------------
def _pending(stack: Stack, user_id: str) -> list[dict[str, Any]]:
    return stack.sql("select * from private.pending_connects where user_id = %s", (user_id,))


def test_a_connect_link_someone_else_made_connects_nothing_when_the_victim_opens_it(
    stack: Stack, team: Team
) -> None:
    """The attack: an admin makes an authorize link for their own project and sends it; the
    victim opens it, approves with their GitHub account, and their browser lands in the app
    with the connect code. The app finishes under the victim's session: 403, nothing is
    connected, and the attacker can neither finish it nor list the victim's repositories."""
    attacker = team.members["admin"]
    attacker_login, victim_login = new_login(), new_login()
    seed_github(stack, attacker_login, {"attacker-repo": {"commits": 1}})
    seed_github(stack, victim_login, {"victim-private": {"commits": 3}})
    own = connect(stack, attacker, attacker_login, "github", team.project_id)
    link = authorize(stack, attacker, "github", team.project_id).json()["url"]

    victim = stack.new_user()
    back = callback(approve(link, victim_login))  # the victim's browser
    assert back.status_code == 302
    code = query_of(back.headers["location"])["connect_code"]
    assert integrations_of(stack, victim.id) == []  # the callback connects nothing
    finished = complete(stack, victim, code)  # the victim's app, the victim's session
    assert finished.status_code == 403, finished.text
    assert set(finished.json()) == {"error", "message", "request_id"}
    assert _pending(stack, attacker.id) == []  # the pending grant is discarded
    # the attacker cannot finish it either (even holding the code)
    stolen = complete(stack, attacker, code)
    assert stolen.status_code == 400 and stolen.json()["error"] == "invalid_connect_code"

    assert [str(r["id"]) for r in integrations_of(stack, attacker.id)] == [own]
    assert integrations_of(stack, victim.id) == []
    assert (
        stack.sql(
            "select 1 from public.integrations where external_account_name = %s", (victim_login,)
        )
        == []
    )
    assert fake_state(github(stack), victim_login)["live_tokens"] == 0  # never exchanged
    with stack.http(attacker.token) as http:
        items = http.get(f"{BASE}/{own}/remote-items")
    assert items.status_code == 200, items.text
    names = {i["external_id"] for i in items.json()["items"]}
    assert names == {f"{attacker_login}/attacker-repo"}


def test_the_user_who_started_completes_and_is_connected(stack: Stack, team: Team) -> None:
    admin = team.members["admin"]
    login = new_login()
    seed_github(stack, login, {"app": {"commits": 1}})
    code = connect_code(stack, admin, login, "github", team.project_id)
    assert integrations_of(stack, admin.id) == []
    assert (
        stack.http()
        .post(f"{BASE}/github/connect/complete", json={"connect_code": code})
        .status_code
        == 401
    )
    done = complete(stack, admin, code)
    assert done.status_code == 200, done.text
    body = done.json()
    assert body["status"] == "connected" and body["project_id"] == team.project_id
    assert body["external_account_name"] == login
    rows = integrations_of(stack, admin.id)
    assert [str(r["id"]) for r in rows] == [body["id"]]
    assert _pending(stack, admin.id) == []
    with stack.http(admin.token) as http:
        items = http.get(f"{BASE}/{body['id']}/remote-items")
    assert {i["external_id"] for i in items.json()["items"]} == {f"{login}/app"}


def test_someone_elses_connect_code_is_refused_and_discarded(stack: Stack) -> None:
    starter, other = stack.new_user(), stack.new_user()
    code = connect_code(stack, starter, new_login())
    assert len(_pending(stack, starter.id)) == 1
    refused = complete(stack, other, code)
    assert refused.status_code == 403
    assert refused.json()["error"] == "forbidden"
    late = complete(stack, starter, code)  # discarded: the starter connects again
    assert late.status_code == 400 and late.json()["error"] == "invalid_connect_code"
    assert integrations_of(stack, starter.id) == [] and integrations_of(stack, other.id) == []


def test_a_replayed_connect_code_is_refused(stack: Stack) -> None:
    user = stack.new_user()
    code = connect_code(stack, user, new_login())
    assert complete(stack, user, code).status_code == 200
    replay = complete(stack, user, code)
    assert replay.status_code == 400
    assert replay.json()["error"] == "invalid_connect_code"
    assert len(integrations_of(stack, user.id)) == 1


def test_an_expired_connect_code_is_refused_and_connects_nothing(stack: Stack) -> None:
    import hashlib

    user = stack.new_user()
    code = connect_code(stack, user, new_login())
    rows = stack.sql(
        "select *, expires_at - created_at as ttl from private.pending_connects"
        " where code_hash = %s",
        (hashlib.sha256(code.encode()).hexdigest(),),
    )
    assert len(rows) == 1 and rows[0]["ttl"].total_seconds() == 600
    assert code not in repr(rows[0])  # only its hash is kept, and the provider code is sealed
    stack.sql(
        "update private.pending_connects set expires_at = now() - interval '1 second'"
        " where user_id = %s",
        (user.id,),
    )
    answer = complete(stack, user, code)
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_connect_code"
    assert integrations_of(stack, user.id) == []


def test_a_github_connect_code_is_invalid_at_the_google_completion(stack: Stack) -> None:
    user = stack.new_user()
    code = connect_code(stack, user, new_login())
    answer = complete(stack, user, code, "google_docs")
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_connect_code"
    assert complete(stack, user, code, "myspace").status_code == 404
    assert integrations_of(stack, user.id) == []


def test_a_starter_no_longer_admin_of_the_project_is_refused_at_completion(
    stack: Stack, team: Team
) -> None:
    admin = team.members["admin"]
    code = connect_code(stack, admin, new_login(), "github", team.project_id)
    stack.sql(
        "update public.project_members set role = 'editor' where project_id = %s and user_id = %s",
        (team.project_id, admin.id),
    )
    answer = complete(stack, admin, code)
    assert answer.status_code == 403, answer.text
    assert integrations_of(stack, admin.id) == []


@pytest.mark.parametrize(
    ("content", "status"),
    [
        (b"", 400),
        (b"{not json", 400),
        (b"[]", 422),
        (b"{}", 422),
        (b'{"connect_code": 5}', 422),
        (b'{"connect_code": ["a"]}', 422),
        (b'{"connect_code": null}', 422),
        (b'{"connect_code": "short"}', 422),
        (('{"connect_code": "' + "a" * 40 + '\\u0000"}').encode(), 422),
        (('{"connect_code": "' + "a" * 40 + '\u0000"}').encode(), 400),  # a raw NUL: not JSON
        (('{"connect_code": "' + "a" * 300 + '"}').encode(), 422),
        (('{"connect_code": "' + "a" * 43 + '", "user_id": "x"}').encode(), 422),
        (('{"connect_code": "' + "a" * 43 + '"}').encode(), 400),  # well-formed, unknown
    ],
)
def test_connect_complete_bad_input_is_a_clear_4xx(
    stack: Stack, content: bytes, status: int
) -> None:
    user = stack.new_user()
    with stack.http(user.token) as http:
        answer = http.post(
            f"{BASE}/github/connect/complete",
            content=content,
            headers={"Content-Type": "application/json"},
        )
    assert answer.status_code == status, answer.text
    assert set(answer.json()) == {"error", "message", "request_id"}


# --- revoke ---------------------------------------------------------------------------------------
def test_revoke_revokes_the_grant_and_deletes_the_credentials(stack: Stack, team: Team) -> None:
    login = new_login()
    owner = team.members["owner"]
    integration_id = connect(stack, owner, login, "github", team.project_id)
    assert fake_state(github(stack), login)["live_tokens"] == 1

    with stack.http(team.members["admin"].token) as http:  # not theirs
        assert http.delete(f"{BASE}/{integration_id}").status_code == 404
    with stack.http(owner.token) as http:
        answer = http.delete(f"{BASE}/{integration_id}")
        assert answer.status_code == 200, answer.text
        assert answer.json() == {
            "id": integration_id,
            "status": "revoked",
            "provider_revoked": True,
        }
        again = http.delete(f"{BASE}/{integration_id}")
        assert again.status_code == 200
        assert again.json()["provider_revoked"] is False
        assert http.delete(f"{BASE}/not-a-uuid").status_code == 422
    assert fake_state(github(stack), login)["live_tokens"] == 0
    assert fake_state(github(stack), login)["counters"]["grants_revoked"] == 1
    for table in ("integration_credentials", "integration_webhook_secrets"):
        rows = stack.sql(
            f"select 1 from private.{table} where integration_id = %s", (integration_id,)
        )
        assert rows == [], table
    status = stack.sql("select status from public.integrations where id = %s", (integration_id,))
    assert status[0]["status"] == "revoked"
    assert stack.http().delete(f"{BASE}/{integration_id}").status_code == 401


def test_revoke_google_docs_revokes_at_google(stack: Stack) -> None:
    email = f"{new_login()}@example.test"
    user = stack.new_user()
    integration_id = connect(stack, user, email, "google_docs")
    with stack.http(user.token) as http:
        answer = http.delete(f"{BASE}/{integration_id}")
    assert answer.status_code == 200 and answer.json()["provider_revoked"] is True
    assert fake_state(google(stack), email)["live_tokens"] == 0


def test_callback_redirect_goes_only_where_authorize_allowed(stack: Stack) -> None:
    _user, url = _started(stack)
    back = callback(approve(url, new_login()))
    assert urlsplit(back.headers["location"]).netloc == "localhost:3000"
