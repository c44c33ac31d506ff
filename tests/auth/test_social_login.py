"""Social login of local Auth (devstack/auth/external.py) against the fake GitHub and Google
(devstack/fakes.py), followed by hand through every redirect as a browser would: PKCE and
implicit flows, auth.flow_state, identities found, created and linked by the hosted rules,
the profile filled from the provider's metadata, and bad input answered with Auth codes."""

from __future__ import annotations

import base64
import hashlib
import secrets
import uuid
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import jwt
import pytest

from tests.auth.helpers import V2024, browse_to_site
from tests.auth.helpers import error as _error
from tests.auth.helpers import password_grant as _password
from tests.auth.helpers import signup as _signup
from tests.support import Stack

SITE = "http://127.0.0.1:3000"


def _pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _seed(stack: Stack, provider: str, login: str, **fields: Any) -> None:
    base = stack.cfg.fake_github_url if provider == "github" else stack.cfg.fake_google_url
    response = httpx.post(f"{base}/_fake/accounts", json={"login": login, **fields}, timeout=10)
    assert response.status_code == 200, response.text


def _browse(stack: Stack, provider: str, **query: str) -> httpx.Response:
    """GET /authorize, then every redirect until one leaves for the site (the app)."""
    return browse_to_site(
        f"{stack.env['API_URL']}/auth/v1/authorize",
        SITE,
        params={"provider": provider, **query},
        headers={"apikey": stack.env["ANON_KEY"]},
    )


def _landing(response: httpx.Response) -> tuple[dict[str, str], dict[str, str]]:
    assert response.status_code in (302, 303), response.text
    target = urlparse(response.headers["location"])
    assert f"{target.scheme}://{target.netloc}" == SITE
    query = {k: v[0] for k, v in parse_qs(target.query).items()}
    fragment = {k: v[0] for k, v in parse_qs(target.fragment).items()}
    return query, fragment


def _exchange(stack: Stack, code: str, verifier: str) -> httpx.Response:
    return httpx.post(
        f"{stack.env['API_URL']}/auth/v1/token",
        params={"grant_type": "pkce"},
        json={"auth_code": code, "code_verifier": verifier},
        headers={"apikey": stack.env["ANON_KEY"], **V2024},
        timeout=30,
    )


def _pkce_login(stack: Stack, provider: str, login: str) -> dict[str, Any]:
    verifier, challenge = _pkce()
    picker = {"login": login} if provider == "github" else {"login_hint": login}
    landed = _browse(
        stack,
        provider,
        redirect_to=f"{SITE}/welcome",
        code_challenge=challenge,
        code_challenge_method="s256",
        **picker,
    )
    query, _ = _landing(landed)
    assert set(query) == {"code"}, query
    exchanged = _exchange(stack, query["code"], verifier)
    assert exchanged.status_code == 200, exchanged.text
    return exchanged.json()


def test_github_pkce_login_creates_the_user_identity_and_profile(stack: Stack) -> None:
    login = f"gh-{uuid.uuid4().hex[:8]}"
    _seed(stack, "github", login)
    session = _pkce_login(stack, "github", login)
    user = session["user"]
    assert user["app_metadata"] == {"provider": "github", "providers": ["github"]}
    assert [i["provider"] for i in user["identities"]] == ["github"]
    assert user["email"] == f"{login}@users.example.test" and user["email_confirmed_at"]
    assert session["provider_token"].startswith("gho_") or session["provider_token"]
    claims = jwt.decode(session["access_token"], options={"verify_signature": False})
    assert [a["method"] for a in claims["amr"]] == ["oauth"]
    profile = stack.sql(
        "select username, full_name, avatar_url from public.profiles where id = %s",
        (user["id"],),
    )
    assert profile == [
        {
            "username": login.replace("-", "_"),
            "full_name": login.title(),
            "avatar_url": user["user_metadata"]["avatar_url"],
        }
    ]
    # the flow is spent: auth.flow_state keeps nothing of it, a second exchange fails
    left = stack.sql("select count(*) as n from auth.flow_state where user_id = %s", (user["id"],))
    assert left == [{"n": 0}]
    # a later login finds the same person
    again = _pkce_login(stack, "github", login)
    assert again["user"]["id"] == user["id"]


def test_github_implicit_login_answers_the_tokens_in_the_fragment(stack: Stack) -> None:
    login = f"gh-{uuid.uuid4().hex[:8]}"
    _seed(stack, "github", login)
    query, fragment = _landing(_browse(stack, "github", login=login, redirect_to=f"{SITE}/x"))
    assert query == {}
    assert fragment["token_type"] == "bearer" and fragment["refresh_token"]
    claims = jwt.decode(fragment["access_token"], options={"verify_signature": False})
    assert claims["app_metadata"]["provider"] == "github"


def test_google_pkce_login_fills_name_and_picture(stack: Stack) -> None:
    email = f"g-{uuid.uuid4().hex[:8]}@example.test"
    _seed(stack, "google", email)
    session = _pkce_login(stack, "google", email)
    user = session["user"]
    assert user["email"] == email and [i["provider"] for i in user["identities"]] == ["google"]
    profile = stack.sql("select avatar_url from public.profiles where id = %s", (user["id"],))
    assert profile[0]["avatar_url"].startswith("https://lh3.example.test/")


def test_a_verified_provider_address_links_to_the_password_account(stack: Stack) -> None:
    existing = _signup(stack)
    email = existing["user"]["email"]
    login = f"gh-{uuid.uuid4().hex[:8]}"
    _seed(stack, "github", login, email=email, email_verified=True)
    session = _pkce_login(stack, "github", login)
    assert session["user"]["id"] == existing["user"]["id"]
    assert sorted(i["provider"] for i in session["user"]["identities"]) == ["email", "github"]
    assert session["user"]["app_metadata"]["providers"] == ["email", "github"]
    assert _password(stack, email).status_code == 200  # the password still signs in


def test_an_unverified_provider_address_does_not_take_the_account(stack: Stack) -> None:
    existing = _signup(stack)
    login = f"gh-{uuid.uuid4().hex[:8]}"
    _seed(stack, "github", login, email=existing["user"]["email"], email_verified=False)
    _verifier, challenge = _pkce()
    query, _ = _landing(
        _browse(
            stack, "github", login=login, code_challenge=challenge, code_challenge_method="S256"
        )
    )
    assert query["error"] == "access_denied"
    assert query["error_code"] == "provider_email_needs_verification"
    identities = stack.sql(
        "select provider from auth.identities where user_id = %s", (existing["user"]["id"],)
    )
    assert identities == [{"provider": "email"}]


def test_consent_denied_at_the_provider_comes_back_as_an_error(stack: Stack) -> None:
    _, fragment = _landing(_browse(stack, "github", deny="1"))
    assert fragment["error"] == "access_denied"


def test_a_redirect_to_elsewhere_lands_on_the_site_url(stack: Stack) -> None:
    login = f"gh-{uuid.uuid4().hex[:8]}"
    _seed(stack, "github", login)
    landed = _browse(stack, "github", login=login, redirect_to="https://evil.example/steal")
    assert landed.headers["location"].startswith(f"{SITE}#access_token=")


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ({"provider": "myspace"}, "validation_failed"),
        ({"provider": ""}, "validation_failed"),
        (
            {"provider": "github", "code_challenge": "x" * 50, "code_challenge_method": "md5"},
            "validation_failed",
        ),
        (
            {"provider": "github", "code_challenge": "short", "code_challenge_method": "s256"},
            "validation_failed",
        ),
        ({"provider": "github", "redirect_to": "http://127.0.0.1:3000/\x00"}, "validation_failed"),
        ({"provider": "github", "scopes": "repo\x1b"}, "validation_failed"),
    ],
)
def test_bad_authorize_requests_get_auth_codes(
    stack: Stack, query: dict[str, str], code: str
) -> None:
    response = httpx.get(
        f"{stack.env['API_URL']}/auth/v1/authorize",
        params=query,
        headers={"apikey": stack.env["ANON_KEY"], **V2024},
        timeout=30,
    )
    _error(response, 400, code)


def test_bad_callbacks_and_pkce_exchanges_get_auth_codes(stack: Stack) -> None:
    api = f"{stack.env['API_URL']}/auth/v1"
    headers = {"apikey": stack.env["ANON_KEY"], **V2024}
    for state in ("", "not-a-jwt", jwt.encode({"provider": "github"}, "wrong", "HS256")):
        response = httpx.get(
            f"{api}/callback", params={"state": state, "code": "x"}, headers=headers, timeout=30
        )
        _error(response, 400, "bad_oauth_state")
    _error(_exchange(stack, "", "v"), 400, "validation_failed")
    _error(_exchange(stack, str(uuid.uuid4()), "v" * 50), 404, "flow_state_not_found")
    _error(_exchange(stack, "a\x00", "v" * 50), 400, "validation_failed")
    bad_types = httpx.post(
        f"{api}/token",
        params={"grant_type": "pkce"},
        json={"auth_code": 5, "code_verifier": ["x"]},
        headers=headers,
    )
    _error(bad_types, 400, "bad_json")  # as Auth: a wrong JSON type fails to decode
    # the right code with the wrong verifier is refused, and the flow survives for the right one
    login = f"gh-{uuid.uuid4().hex[:8]}"
    _seed(stack, "github", login)
    verifier, challenge = _pkce()
    query, _ = _landing(
        _browse(
            stack, "github", login=login, code_challenge=challenge, code_challenge_method="s256"
        )
    )
    _error(_exchange(stack, query["code"], verifier[:-2] + "xy"), 400, "bad_code_verifier")
    assert _exchange(stack, query["code"], verifier).status_code == 200
    _error(_exchange(stack, query["code"], verifier), 404, "flow_state_not_found")


def test_a_provider_outage_comes_back_as_server_error(stack: Stack) -> None:
    login = f"gh-{uuid.uuid4().hex[:8]}"
    _seed(stack, "github", login)
    failed = httpx.post(
        f"{stack.cfg.fake_github_url}/_fake/accounts/{login}/failures",
        json={"status": 503, "count": 1},
        timeout=10,
    )
    assert failed.status_code == 200, failed.text
    _, fragment = _landing(_browse(stack, "github", login=login))
    assert fragment["error"] == "server_error"


def _id_token(stack: Stack, login: str, **query: str) -> str:
    response = httpx.post(
        f"{stack.cfg.fake_google_url}/_fake/accounts/{login}/id_token", params=query, timeout=10
    )
    assert response.status_code == 200, response.text
    return response.json()["id_token"]


def _id_token_grant(stack: Stack, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(
        f"{stack.env['API_URL']}/auth/v1/token",
        params={"grant_type": "id_token"},
        json=body,
        headers={"apikey": stack.env["ANON_KEY"], **V2024},
        timeout=30,
    )


def test_google_id_token_grant_signs_in_with_the_providers_jwks(stack: Stack) -> None:
    email = f"g-{uuid.uuid4().hex[:8]}@example.test"
    nonce = secrets.token_urlsafe(16)
    hashed = hashlib.sha256(nonce.encode()).hexdigest()
    token = _id_token(stack, email, nonce=hashed)
    first = _id_token_grant(stack, {"provider": "google", "id_token": token, "nonce": nonce})
    assert first.status_code == 200, first.text
    user = first.json()["user"]
    assert user["email"] == email and [i["provider"] for i in user["identities"]] == ["google"]
    # the same Google account through the redirect flow finds the same user
    assert _pkce_login(stack, "google", email)["user"]["id"] == user["id"]


def test_bad_id_tokens_are_refused(stack: Stack) -> None:
    email = f"g-{uuid.uuid4().hex[:8]}@example.test"
    nonce = "n-" + secrets.token_urlsafe(8)
    hashed = hashlib.sha256(nonce.encode()).hexdigest()
    cases = [
        {"provider": "google", "id_token": _id_token(stack, email, forge="1")},
        {"provider": "google", "id_token": _id_token(stack, email, aud="someone-else")},
        {"provider": "google", "id_token": _id_token(stack, email, ttl="-60")},
        {"provider": "google", "id_token": _id_token(stack, email, nonce=hashed)},  # no nonce
        {"provider": "google", "id_token": _id_token(stack, email, nonce=hashed), "nonce": "x"},
        {"provider": "google", "id_token": _id_token(stack, email), "nonce": nonce},
        {"provider": "google", "id_token": "not.a.jwt"},
        {"provider": "google", "id_token": "x" * 100_000},
        {"provider": "google", "id_token": 5},
        {"provider": "myspace", "id_token": "x"},
        {"provider": ["google"], "id_token": "x"},
        {"provider": "google", "id_token": "a\x00b", "nonce": {"n": 1}},
    ]
    for body in cases:
        _error(_id_token_grant(stack, body), 400, "validation_failed")
    assert stack.sql("select count(*) as n from auth.users where email = %s", (email,)) == [
        {"n": 0}
    ]
