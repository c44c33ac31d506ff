"""Auth's e-mail flows in local Auth, over HTTP, reading mail only through the local inbox's
Mailpit API: the confirmation link's implicit redirect, a used link's error redirect,
invitations, admin links that send nothing, the reauthentication nonce, recovery for an
unknown address, templates from supabase/config.toml. (The SDK-driven flows, PKCE included,
are in test_sdk_clients.py; secure e-mail change in test_auth_hardening.py.)"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx
import jwt

from tests.auth.helpers import (
    PASSWORD,
    admin,
    client,
    email_address,
    error,
    mail_link,
    password_grant,
    signup,
)
from tests.support import Stack

REDIRECT = "http://127.0.0.1:3000/welcome"


def _follow(url: str) -> tuple[int, str, dict[str, list[str]]]:
    """A browser opening a mail's link (no apikey): status, where to, the fragment's values."""
    response = httpx.get(url, follow_redirects=False)
    location = response.headers.get("location", "")
    return response.status_code, location, parse_qs(urlsplit(location).fragment)


def test_the_confirmation_link_redirects_with_a_session(stack: Stack) -> None:
    email = email_address()
    with client(stack) as http:
        response = http.post(
            "/signup",
            params={"redirect_to": REDIRECT},
            json={"email": email, "password": PASSWORD, "data": {"full_name": "Link"}},
        )
    assert response.status_code == 200, response.text
    user = response.json()
    assert user["email"] == email and "email_confirmed_at" not in user
    error(password_grant(stack, email), 400, "email_not_confirmed")
    link = mail_link(stack, f"to:{email}")
    assert (link["type"], parse_qs(urlsplit(link["url"]).query)["redirect_to"]) == (
        "signup",
        [REDIRECT],
    )
    status, location, fragment = _follow(link["url"])
    assert status == 303
    assert location.startswith(REDIRECT + "#")
    assert fragment["type"] == ["signup"] and fragment["token_type"] == ["bearer"]
    claims = jwt.decode(fragment["access_token"][0], options={"verify_signature": False})
    assert claims["sub"] == user["id"]
    assert password_grant(stack, email).status_code == 200  # confirmed now


def test_a_used_link_redirects_with_the_error(stack: Stack) -> None:
    email = email_address()
    with client(stack) as http:
        http.post("/signup", json={"email": email, "password": PASSWORD})
    link = mail_link(stack, f"to:{email}")
    assert _follow(link["url"])[0] == 303
    status, _, fragment = _follow(link["url"])
    assert status == 303
    assert fragment["error"] == ["access_denied"]
    assert fragment["error_code"] == ["otp_expired"]
    assert "access_token" not in fragment


def test_an_unknown_redirect_falls_back_to_the_site_url(stack: Stack) -> None:
    email = email_address()
    with client(stack) as http:
        http.post(
            "/signup",
            params={"redirect_to": "https://evil.example/steal"},
            json={"email": email, "password": PASSWORD},
        )
    link = mail_link(stack, f"to:{email}")
    assert parse_qs(urlsplit(link["url"]).query)["redirect_to"] == ["http://127.0.0.1:3000"]


def test_an_invitation_mail_signs_the_invitee_in(stack: Stack) -> None:
    email = email_address()
    with admin(stack) as service:
        invited = service.post("/invite", json={"email": email, "data": {"full_name": "Guest"}})
    assert invited.status_code == 200, invited.text
    assert invited.json()["invited_at"]
    message = stack.inbox.wait_for(f"to:{email}")[0]
    assert message["Subject"] == "You have been invited"
    link = mail_link(stack, f"to:{email}")
    assert link["type"] == "invite"
    status, _, fragment = _follow(link["url"])
    assert status == 303 and fragment["type"] == ["invite"]
    with client(stack, token=fragment["access_token"][0]) as http:
        assert http.put("/user", json={"password": "chosen-passw0rd"}).status_code == 200
    assert password_grant(stack, email, "chosen-passw0rd").status_code == 200


def test_generate_link_sends_nothing_and_its_code_signs_in(stack: Stack) -> None:
    email = email_address()
    signup(stack, email)
    before = stack.inbox.count(f"to:{email}")
    with admin(stack) as service:
        response = service.post("/admin/generate_link", json={"type": "magiclink", "email": email})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["verification_type"] == "magiclink" and body["email"] == email
    assert body["action_link"].startswith(f"{stack.env['API_URL']}/auth/v1/verify?token=")
    assert len(body["email_otp"]) == 6
    assert stack.inbox.count(f"to:{email}") == before
    with client(stack) as http:
        verified = http.post(
            "/verify", json={"type": "magiclink", "email": email, "token": body["email_otp"]}
        )
    assert verified.status_code == 200, verified.text
    assert verified.json()["user"]["email"] == email


def test_generate_link_refuses_a_user_token(stack: Stack) -> None:
    body = signup(stack)
    with client(stack, token=body["access_token"]) as http:
        response = http.post(
            "/admin/generate_link", json={"type": "signup", "email": email_address()}
        )
        error(response, 403, "not_admin")
        error(http.post("/invite", json={"email": email_address()}), 403, "not_admin")


def test_the_reauthentication_nonce_is_mailed_and_checked(stack: Stack) -> None:
    email = email_address()
    body = signup(stack, email)
    with client(stack, token=body["access_token"]) as http:
        assert http.get("/reauthenticate").status_code == 200
        message = stack.inbox.wait_for(f"to:{email} subject:verification")[0]
        nonce = message["Subject"].split()[0]
        assert nonce.isdigit() and len(nonce) == 6
        wrong = http.put("/user", json={"password": "changed-passw0rd", "nonce": "000000"})
        error(wrong, 422, "reauthentication_not_valid")
        right = http.put("/user", json={"password": "changed-passw0rd", "nonce": nonce})
        assert right.status_code == 200, right.text
        again = http.put("/user", json={"password": "changed-again-1", "nonce": nonce})
        error(again, 422, "reauthentication_not_valid")  # a nonce works once


def test_recovery_for_an_unknown_address_looks_the_same_and_sends_nothing(stack: Stack) -> None:
    known = email_address()
    signup(stack, known)
    unknown = email_address()
    with client(stack) as http:
        a = http.post("/recover", json={"email": known})
        b = http.post("/recover", json={"email": unknown})
    assert (a.status_code, a.json()) == (b.status_code, b.json()) == (200, {})
    assert stack.inbox.count(f"to:{unknown}") == 0
    link = mail_link(stack, f"to:{known} subject:reset")
    assert link["type"] == "recovery"


def test_mail_is_rendered_from_the_configured_templates(stack: Stack) -> None:
    """supabase/config.toml [auth.email.template.confirmation] -> supabase/templates/."""
    email = email_address()
    with client(stack) as http:
        http.post("/signup", json={"email": email, "password": PASSWORD})
    message = stack.inbox.wait_for(f"to:{email}")[0]
    assert message["Subject"] == "Confirm your email address"
    assert f"Follow the link below to confirm {email} and finish signing up." in message["Text"]
    assert message["From"]["Address"] == "admin@email.com"
