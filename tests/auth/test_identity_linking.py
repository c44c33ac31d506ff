"""Manual identity linking of local Auth (devstack/auth/linking.py): a signed-in person links
a GitHub identity through the provider (GET /user/identities/authorize, as supabase-js
linkIdentity calls it) and unlinks one (DELETE /user/identities/{id}); an identity that
belongs to someone else is never moved, the last identity is never removed, and a stranger
cannot unlink another person's identity."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from tests.auth.helpers import browse_to_site
from tests.auth.helpers import client as _auth
from tests.auth.helpers import error as _error
from tests.auth.helpers import signup as _signup
from tests.auth.test_social_login import SITE, _landing, _seed
from tests.support import Stack


def _link(stack: Stack, token: str, login: str) -> httpx.Response:
    """linkIdentity: the URL Auth answers, then the provider's redirects back to the app."""
    with _auth(stack, token=token) as client:
        started = client.get(
            "/user/identities/authorize",
            params={
                "provider": "github",
                "skip_http_redirect": "true",
                "redirect_to": f"{SITE}/linked",
            },
        )
    assert started.status_code == 200, started.text
    return browse_to_site(started.json()["url"] + f"&login={login}", SITE)


def _user(stack: Stack, token: str) -> dict[str, Any]:
    with _auth(stack, token=token) as client:
        response = client.get("/user")
    assert response.status_code == 200, response.text
    return response.json()


def test_a_signed_in_person_links_and_unlinks_a_github_identity(stack: Stack) -> None:
    person = _signup(stack)
    login = f"gh-{uuid.uuid4().hex[:8]}"
    _seed(stack, "github", login)
    _query, fragment = _landing(_link(stack, person["access_token"], login))
    assert fragment["access_token"]
    user = _user(stack, person["access_token"])
    assert sorted(i["provider"] for i in user["identities"]) == ["email", "github"]
    assert sorted(user["app_metadata"]["providers"]) == ["email", "github"]
    github = next(i for i in user["identities"] if i["provider"] == "github")
    with _auth(stack, token=person["access_token"]) as client:
        removed = client.delete(f"/user/identities/{github['identity_id']}")
    assert removed.status_code == 200, removed.text
    user = _user(stack, person["access_token"])
    assert [i["provider"] for i in user["identities"]] == ["email"]
    assert user["app_metadata"]["providers"] == ["email"]


def test_an_identity_of_someone_else_is_never_moved(stack: Stack) -> None:
    owner, attacker = _signup(stack), _signup(stack)
    login = f"gh-{uuid.uuid4().hex[:8]}"
    _seed(stack, "github", login)
    _landing(_link(stack, owner["access_token"], login))
    query, fragment = _landing(_link(stack, attacker["access_token"], login))
    assert "identity_already_exists" in (fragment.get("error_code"), query.get("error_code"))
    assert [i["provider"] for i in _user(stack, attacker["access_token"])["identities"]] == [
        "email"
    ]
    owned = _user(stack, owner["access_token"])
    assert sorted(i["provider"] for i in owned["identities"]) == ["email", "github"]


def test_unlinking_refuses_strangers_the_last_identity_and_bad_ids(stack: Stack) -> None:
    person, stranger = _signup(stack), _signup(stack)
    only = _user(stack, person["access_token"])["identities"][0]
    with _auth(stack, token=person["access_token"]) as client:
        _error(
            client.delete(f"/user/identities/{only['identity_id']}"),
            422,
            "single_identity_not_deletable",
        )
        _error(client.delete("/user/identities/not-a-uuid"), 400, "validation_failed")
        _error(client.delete("/user/identities/%00"), 400, "validation_failed")
    with _auth(stack, token=stranger["access_token"]) as client:
        _error(client.delete(f"/user/identities/{only['identity_id']}"), 422, "identity_not_found")
    with _auth(stack) as anonymous:
        _error(
            anonymous.get("/user/identities/authorize", params={"provider": "github"}),
            401,
            "no_authorization",
        )
    with _auth(stack, token=person["access_token"]) as client:
        _error(
            client.get("/user/identities/authorize", params={"provider": "myspace"}),
            400,
            "validation_failed",
        )


def test_an_anonymous_user_who_links_github_becomes_permanent(stack: Stack) -> None:
    with _auth(stack) as client:
        anonymous = client.post("/signup", json={})
    assert anonymous.status_code == 200, anonymous.text
    token = anonymous.json()["access_token"]
    login = f"gh-{uuid.uuid4().hex[:8]}"
    _seed(stack, "github", login)
    _landing(_link(stack, token, login))
    user = _user(stack, token)
    assert user["is_anonymous"] is False
    assert [i["provider"] for i in user["identities"]] == ["github"]
    assert user["email"] == f"{login}@users.example.test"
