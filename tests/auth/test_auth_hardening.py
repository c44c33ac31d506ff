"""Local Auth holds against an attacker with ordinary accounts, over HTTP: refresh-token reuse
follows the hosted rules, every limit of ``[auth.rate_limit]`` bites per client address (the
edge's, not one the client names), a banned user's live token does nothing, a ban is told
only to whoever knows the password, and no input answers a 5xx.

Rate-limit tests send from their own loopback addresses (127.0.0.N): 127.0.0.1, where the
rest of the suite runs, is exempt (``AUTH_RATE_LIMIT_EXEMPT_IPS``, devstack/auth/ratelimit.py).
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import jwt
import pytest

from tests.auth.helpers import (
    PASSWORD,
    V2024,
    admin,
    client,
    email_address,
    error,
    mail_link,
    password_grant,
    refresh,
    signup,
)
from tests.support import Stack


def _from(stack: Stack, ip: str, token: str | None = None, **headers: str) -> httpx.Client:
    """A client whose connections come from ``ip`` (a loopback address of its own)."""
    all_headers = {"apikey": stack.env["ANON_KEY"], **V2024, **headers}
    if token:
        all_headers["Authorization"] = f"Bearer {token}"
    return httpx.Client(
        base_url=f"{stack.env['API_URL']}/auth/v1",
        headers=all_headers,
        transport=httpx.HTTPTransport(local_address=ip),
        timeout=30,
    )


def _ip() -> str:
    """A loopback address no other test uses."""
    value = uuid.uuid4().int
    return f"127.{2 + value % 250}.{value // 250 % 250}.{2 + value // 62500 % 250}"


def _tokens(stack: Stack, session_id: str) -> list[dict[str, Any]]:
    return stack.sql(
        "select token, revoked, parent, updated_at from auth.refresh_tokens"
        " where session_id = %s order by id",
        (session_id,),
    )


def _session(body: dict[str, Any]) -> str:
    return jwt.decode(body["access_token"], options={"verify_signature": False})["session_id"]


# -- refresh-token reuse (issue 16 item 5) --------------------------------------------------
def test_a_replay_inside_the_interval_mints_no_second_successor(stack: Stack) -> None:
    first = signup(stack)
    second = refresh(stack, first["refresh_token"]).json()
    third = refresh(stack, second["refresh_token"]).json()
    replay = refresh(stack, first["refresh_token"])  # a grandparent, inside the interval
    assert replay.status_code == 200, replay.text
    assert replay.json()["refresh_token"] == third["refresh_token"]  # the live one, no other
    tokens = _tokens(stack, _session(first))
    assert len(tokens) == 3
    assert [t["revoked"] for t in tokens] == [True, True, False]


def test_the_reuse_interval_counts_from_the_first_rotation(stack: Stack) -> None:
    first = signup(stack)
    second = refresh(stack, first["refresh_token"]).json()
    refresh(stack, second["refresh_token"])
    stack.sql(
        "update auth.refresh_tokens set updated_at = now() - interval '8 seconds' where token = %s",
        (first["refresh_token"],),
    )
    before = _tokens(stack, _session(first))[0]["updated_at"]
    assert refresh(stack, first["refresh_token"]).status_code == 200
    assert _tokens(stack, _session(first))[0]["updated_at"] == before  # window not restarted
    stack.sql(
        "update auth.refresh_tokens set updated_at = updated_at - interval '3 seconds'"
        " where token = %s",
        (first["refresh_token"],),
    )
    error(refresh(stack, first["refresh_token"]), 400, "refresh_token_already_used")


def test_a_revoked_family_stays_dead(stack: Stack) -> None:
    first = signup(stack)
    second = refresh(stack, first["refresh_token"]).json()
    third = refresh(stack, second["refresh_token"]).json()
    stack.sql(
        "update auth.refresh_tokens set updated_at = now() - interval '1 hour' where token = %s",
        (first["refresh_token"],),
    )
    error(refresh(stack, first["refresh_token"]), 400, "refresh_token_already_used")
    # the newest token was revoked just now: no fresh grace period brings the family back
    error(refresh(stack, third["refresh_token"]), 400, "refresh_token_already_used")
    error(refresh(stack, second["refresh_token"]), 400, "refresh_token_already_used")
    assert not any(not t["revoked"] for t in _tokens(stack, _session(first)))


# -- rate limits (item 6) -------------------------------------------------------------------
def _until_limited(attempt: Any, most: int = 80) -> int:
    """Calls ``attempt`` until it answers 429; how many went through before. The bucket
    refills (token_refresh per 5 minutes) while a slow machine works, so the count is the
    burst (30) plus what refilled meanwhile: never the ``most`` of an unlimited endpoint."""
    for n in range(most):
        response = attempt()
        if response.status_code == 429:
            return n
        assert response.status_code < 500, response.text
    raise AssertionError(f"{most} attempts and no 429")


def test_password_guessing_is_cut_off_per_address(stack: Stack) -> None:
    email = email_address()
    signup(stack, email)
    wrong = {"email": email, "password": "not-it-1"}
    right = {"email": email, "password": PASSWORD}
    with _from(stack, _ip()) as attacker:
        grant = {"grant_type": "password"}
        assert _until_limited(lambda: attacker.post("/token", params=grant, json=wrong)) >= 30
        # once cut off, even the right password is refused to the guesser
        error(attacker.post("/token", params=grant, json=right), 429, "over_request_rate_limit")
    # the limit is the guesser's, not the account's: the person still signs in elsewhere
    with _from(stack, _ip()) as person:
        response = person.post("/token", params={"grant_type": "password"}, json=right)
    assert response.status_code == 200, response.text


def test_sign_ups_are_limited_per_address(stack: Stack) -> None:
    with _from(stack, _ip()) as flood:
        for _ in range(30):
            assert flood.post("/signup", json={"email": email_address()}).status_code == 400
        response = flood.post("/signup", json={"email": email_address(), "password": PASSWORD})
    error(response, 429, "over_request_rate_limit")


def test_verifications_are_limited_per_address(stack: Stack) -> None:
    with _from(stack, _ip()) as guesser:
        for _ in range(30):
            response = guesser.post(
                "/verify", json={"type": "email", "email": email_address(), "token": "123456"}
            )
            assert response.status_code == 403
        response = guesser.post(
            "/verify", json={"type": "email", "email": email_address(), "token": "123456"}
        )
    error(response, 429, "over_request_rate_limit")


def test_a_client_cannot_name_its_own_address(stack: Stack) -> None:
    """cf-connecting-ip and X-Forwarded-For from the client are replaced by the edge's view:
    a new name per request neither dodges the limit nor lands on the session."""
    email = email_address()
    signup(stack, email)
    ip = _ip()
    counter = iter(range(1000))

    def spoofed_sign_in() -> httpx.Response:
        n = next(counter)
        response = attacker.post(
            "/token",
            params={"grant_type": "password"},
            json={"email": email, "password": PASSWORD},
            headers={"cf-connecting-ip": f"10.0.0.{n % 250}", "x-forwarded-for": f"10.1.{n}.1"},
        )
        if response.status_code == 200:
            session = _session(response.json())
            ips = stack.sql("select host(ip) as ip from auth.sessions where id = %s", (session,))
            assert ips == [{"ip": ip}]
        return response

    with _from(stack, ip) as attacker:
        assert _until_limited(spoofed_sign_in) >= 30


def test_mail_sending_is_limited(stack: Stack) -> None:
    """email_sent = 30 an hour: the 31st mail is refused (recover and otp buckets mixed so
    the request buckets, 30 each, are not what refuses)."""
    people = []
    with admin(stack) as service:
        for _ in range(31):
            email = email_address()
            created = service.post(
                "/admin/users", json={"email": email, "password": PASSWORD, "email_confirm": True}
            )
            assert created.status_code == 200, created.text
            people.append(email)
    with _from(stack, _ip()) as sender:
        for n, email in enumerate(people[:30]):
            path = "/recover" if n % 2 else "/otp"
            response = sender.post(path, json={"email": email, "create_user": False})
            assert response.status_code == 200, response.text
        response = sender.post("/recover", json={"email": people[30]})
    error(response, 429, "over_email_send_rate_limit")
    assert stack.inbox.count(f"to:{people[30]}") == 0


def test_one_mail_of_a_kind_per_person_per_minute(stack: Stack) -> None:
    """max_frequency = "1m": a second confirmation at once is refused, saying when to retry."""
    email = email_address()
    with client(stack) as http:
        assert http.post("/signup", json={"email": email, "password": PASSWORD}).status_code == 200
        response = http.post("/resend", json={"type": "signup", "email": email})
    body = error(response, 429, "over_email_send_rate_limit")
    assert body["message"].startswith("For security purposes, you can only request this after")
    assert stack.inbox.count(f"to:{email}") == 1


# -- bans (items 7 and 10) ------------------------------------------------------------------
def test_a_banned_users_live_token_reads_and_changes_nothing(stack: Stack) -> None:
    body = signup(stack, full_name="Before")
    user_id = body["user"]["id"]
    # banned as private.sync_auth_ban bans a disabled user: the access token is still unexpired
    stack.sql("update auth.users set banned_until = 'infinity' where id = %s", (user_id,))
    before = stack.sql(
        "select email, encrypted_password, raw_user_meta_data, email_change from auth.users"
        " where id = %s",
        (user_id,),
    )
    with client(stack, token=body["access_token"]) as banned:
        error(banned.get("/user"), 403, "user_banned")
        for change in (
            {"data": {"full_name": "After"}},
            {"password": "another-passw0rd"},
            {"email": email_address()},
        ):
            error(banned.put("/user", json=change), 403, "user_banned")
        error(banned.get("/reauthenticate"), 403, "user_banned")
    after = stack.sql(
        "select email, encrypted_password, raw_user_meta_data, email_change from auth.users"
        " where id = %s",
        (user_id,),
    )
    assert after == before


def test_a_wrong_password_for_a_banned_account_is_any_wrong_password(stack: Stack) -> None:
    email = email_address()
    body = signup(stack, email)
    stack.sql(
        "update auth.users set banned_until = 'infinity' where id = %s", (body["user"]["id"],)
    )
    wrong = error(password_grant(stack, email, "not-the-password-1"), 400, "invalid_credentials")
    unknown = error(
        password_grant(stack, email_address(), "not-the-password-1"), 400, "invalid_credentials"
    )
    assert wrong == unknown
    error(password_grant(stack, email), 400, "user_banned")  # only the password's holder learns


# -- secure e-mail change (item 1 of issue 16, item 6) -------------------------------------
def test_an_email_change_changes_nothing_until_both_addresses_confirm(stack: Stack) -> None:
    old = email_address()
    body = signup(stack, old)
    new = email_address()
    with client(stack, token=body["access_token"]) as http:
        asked = http.put("/user", json={"email": new})
        assert asked.status_code == 200, asked.text
        assert (asked.json()["email"], asked.json()["new_email"]) == (old, new)
        assert http.get("/user").json()["email"] == old
        profile = stack.sql(
            "select email from public.profiles where id = %s", (body["user"]["id"],)
        )
        assert profile == [{"email": old}]
        to_new = mail_link(stack, f"to:{new}")
        to_old = mail_link(stack, f"to:{old} subject:new")
        assert to_new["token_hash"] != to_old["token_hash"]
        first = http.post(
            "/verify", json={"type": "email_change", "token_hash": to_new["token_hash"]}
        )
        assert first.json() == {
            "msg": "Confirmation link accepted. Please proceed to confirm link sent to the"
            " other email",
            "code": "200",
        }
        assert http.get("/user").json()["email"] == old  # one address is not enough
        # the same link again does not count twice
        again = http.post(
            "/verify", json={"type": "email_change", "token_hash": to_new["token_hash"]}
        )
        assert again.status_code == 403
        second = http.post(
            "/verify", json={"type": "email_change", "token_hash": to_old["token_hash"]}
        )
        assert second.status_code == 200, second.text
        assert second.json()["user"]["email"] == new
    profile = stack.sql("select email from public.profiles where id = %s", (body["user"]["id"],))
    assert profile == [{"email": new}]
    assert password_grant(stack, new).status_code == 200
    error(password_grant(stack, old), 400, "invalid_credentials")


def test_an_email_change_to_a_taken_address_reveals_nothing(stack: Stack) -> None:
    taken = email_address()
    owner = signup(stack, taken)
    body = signup(stack)
    free = email_address()
    with client(stack, token=body["access_token"]) as http:
        to_taken = http.put("/user", json={"email": taken})
        other = signup(stack)
    with client(stack, token=other["access_token"]) as http2:
        to_free = http2.put("/user", json={"email": free})
    assert to_taken.status_code == to_free.status_code == 200
    assert to_taken.json().keys() == to_free.json().keys()
    assert to_taken.json()["new_email"] == taken
    # and it never completes: the owner keeps the address
    current = mail_link(stack, f"to:{body['user']['email']} subject:new")
    new = mail_link(stack, f"to:{taken} subject:new")
    with client(stack) as http:
        http.post("/verify", json={"type": "email_change", "token_hash": new["token_hash"]})
        final = http.post(
            "/verify", json={"type": "email_change", "token_hash": current["token_hash"]}
        )
    assert final.status_code == 422
    rows = stack.sql("select id::text from auth.users where lower(email) = lower(%s)", (taken,))
    assert rows == [{"id": owner["user"]["id"]}]


# -- no input gives a 5xx ------------------------------------------------------------------
BAD_BODIES = [
    ("/signup", {"email": "nul\u0000@example.test", "password": PASSWORD}),
    ("/signup", {"email": "a@example.test", "password": PASSWORD, "data": {"k": "v\u0000"}}),
    ("/signup", {"email": "a@example.test", "password": PASSWORD, "data": {"k\u0000": 1}}),
    ("/signup", {"email": "ctl\u0007@example.test", "password": PASSWORD}),
    ("/signup", {"email": 5, "password": PASSWORD}),
    ("/signup", {"email": ["a@example.test"], "password": PASSWORD}),
    ("/signup", {"email": "a@example.test", "password": PASSWORD, "data": "x"}),
    ("/token?grant_type=password", {"email": "a\u0000@example.test", "password": "x"}),
    ("/token?grant_type=password", {"email": "a@example.test", "password": "x\u0000"}),
    ("/token?grant_type=password", {"email": {"a": 1}, "password": "x"}),
    ("/token?grant_type=refresh_token", {"refresh_token": "abc\u0000def"}),
    ("/token?grant_type=refresh_token", {"refresh_token": 12}),
    ("/token?grant_type=pkce", {"auth_code": "x\u0000", "code_verifier": "y"}),
    ("/token?grant_type=pkce", {"auth_code": ["x"], "code_verifier": "y"}),
    ("/verify", {"type": "signup", "token_hash": "x\u0000"}),
    ("/verify", {"type": "email", "email": "a@example.test", "token": 123456}),
    ("/otp", {"email": "a\u0000@example.test"}),
    ("/otp", {"email": "a@example.test", "create_user": "yes"}),
    ("/recover", {"email": "\u0001@example.test"}),
    ("/resend", {"type": "signup", "email": 1}),
]


@pytest.mark.parametrize(("path", "payload"), BAD_BODIES)
def test_bad_input_is_a_4xx_in_auths_error_shape(
    stack: Stack, path: str, payload: dict[str, Any]
) -> None:
    with client(stack) as http:
        response = http.post(path, json=payload)
    assert 400 <= response.status_code < 500, response.text
    body = response.json()
    assert {"code", "message"} <= body.keys() or {"error", "error_description"} <= body.keys()


@pytest.mark.parametrize(
    "change", [{"data": {"x": "\u0000"}}, {"email": "b\u0000@example.test"}, {"password": 1}]
)
def test_bad_put_user_input_is_a_4xx(stack: Stack, change: dict[str, Any]) -> None:
    body = signup(stack)
    with client(stack, token=body["access_token"]) as http:
        response = http.put("/user", json=change)
    assert 400 <= response.status_code < 500, response.text


def test_a_giant_body_is_413_and_deep_nesting_400(stack: Stack) -> None:
    with client(stack) as http:
        giant = http.post(
            "/signup",
            content=b'{"email": "a@example.test", "data": {"x": "' + b"a" * (2 << 20) + b'"}}',
            headers={"Content-Type": "application/json"},
        )
        error(giant, 413, "request_entity_too_large")
        deep = http.post(
            "/signup",
            content=b'{"data": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
            headers={"Content-Type": "application/json"},
        )
        error(deep, 400, "bad_json")
