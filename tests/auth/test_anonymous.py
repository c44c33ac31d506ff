"""Anonymous sign-ins of local Auth (devstack/auth/anonymous.py), as supabase/auth's
anonymous.go answers: POST /signup without credentials, the is_anonymous user and claim,
made permanent by an email address; supabase-py's sign_in_anonymously."""

from __future__ import annotations

from typing import Any

import jwt

from tests.auth.helpers import PASSWORD, mail_link
from tests.auth.helpers import client as _auth
from tests.auth.helpers import email_address as _email
from tests.auth.helpers import error as _error
from tests.auth.helpers import password_grant as _password
from tests.support import Stack


def _anonymous(stack: Stack, **body: Any) -> dict[str, Any]:
    with _auth(stack) as client:
        response = client.post("/signup", json=body)
    assert response.status_code == 200, response.text
    return response.json()


def test_signup_without_credentials_makes_an_anonymous_user(stack: Stack) -> None:
    session = _anonymous(stack, data={"theme": "dark"})
    user = session["user"]
    assert user["is_anonymous"] is True and user["email"] == "" and user["identities"] == []
    assert user["user_metadata"] == {"theme": "dark"}
    claims = jwt.decode(session["access_token"], options={"verify_signature": False})
    assert claims["is_anonymous"] is True and claims["role"] == "authenticated"
    assert [a["method"] for a in claims["amr"]] == ["anonymous"]
    # the profile trigger gave the person a profile and a platform role like anyone else
    rows = stack.sql("select role from public.user_roles where user_id = %s", (user["id"],))
    assert rows == [{"role": "user"}]


def test_an_email_address_makes_the_anonymous_user_permanent(stack: Stack) -> None:
    session = _anonymous(stack)
    email = _email()
    with _auth(stack, token=session["access_token"]) as client:
        updated = client.put("/user", json={"email": email})
        assert updated.status_code == 200, updated.text
        # with confirmations on, the address counts only once its mail's link is followed
        assert updated.json()["is_anonymous"] is True
        assert updated.json()["new_email"] == email
        link = mail_link(stack, f"to:{email}")
        confirmed = client.post(
            "/verify", json={"type": link["type"], "token_hash": link["token_hash"]}
        )
        assert confirmed.status_code == 200, confirmed.text
        user = client.get("/user").json()
        assert user["is_anonymous"] is False and user["email"] == email
        assert [i["provider"] for i in user["identities"]] == ["email"]
        assert client.put("/user", json={"password": PASSWORD}).status_code == 200
    signed_in = _password(stack, email)
    assert signed_in.status_code == 200, signed_in.text
    claims = jwt.decode(signed_in.json()["access_token"], options={"verify_signature": False})
    assert claims["is_anonymous"] is False and claims["sub"] == session["user"]["id"]


def test_bad_anonymous_signups_get_auth_codes(stack: Stack) -> None:
    with _auth(stack) as client:
        _error(client.post("/signup", json={"data": "not an object"}), 400, "bad_json")
        _error(client.post("/signup", json={"data": ["x"]}), 400, "bad_json")
        _error(client.post("/signup", content=b'"just a string"'), 400, "bad_json")
        _error(client.post("/signup", json={"data": {"k": "a\u0000b"}}), 400, "validation_failed")


def test_supabase_py_signs_in_anonymously(stack: Stack) -> None:
    from supabase import create_client

    client = create_client(stack.env["API_URL"], stack.env["ANON_KEY"])
    response = client.auth.sign_in_anonymously({"options": {"data": {"from": "py"}}})
    assert response.user is not None and response.user.is_anonymous is True
    assert response.session is not None
    assert client.auth.get_user().user.id == response.user.id
    client.auth.sign_out()
