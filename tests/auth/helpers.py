"""Helpers of the local Auth tests: clients with the SDKs' headers, sign-up through the
confirmation mail (read from the local inbox's Mailpit API), sign-in, refresh, error checks."""

from __future__ import annotations

import html
import re
import uuid
from typing import Any

import httpx

from tests.support import Stack

V2024 = {"X-Supabase-Api-Version": "2024-01-01"}
PASSWORD = "correct-horse-9"


def email_address() -> str:
    return f"auth-{uuid.uuid4().hex[:12]}@example.test"


def client(stack: Stack, key: str | None = None, token: str | None = None) -> httpx.Client:
    headers = {"apikey": key or stack.env["ANON_KEY"], **V2024}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return httpx.Client(base_url=f"{stack.env['API_URL']}/auth/v1", headers=headers, timeout=30)


def mail_link(stack: Stack, query: str) -> dict[str, str]:
    """The newest mail matching ``query`` in the local inbox: its link's token hash and type,
    and its 6-digit code."""
    message = stack.inbox.wait_for(query)[0]
    link = re.search(r'href="([^"]+/verify\?[^"]+)"', message["HTML"])
    assert link, message["HTML"]
    url = html.unescape(link.group(1))
    params = dict(re.findall(r"[?&]([a-z_]+)=([^&]*)", url))
    code = re.search(r"\b(\d{6})\b", message["Text"])
    return {
        "url": url,
        "token_hash": params["token"],
        "type": params["type"],
        "code": code.group(1) if code else "",
    }


def signup(stack: Stack, email: str | None = None, **data: Any) -> dict[str, Any]:
    """Sign up, then follow the confirmation mail: the session that confirming answers."""
    email = email or email_address()
    with client(stack) as http:
        response = http.post("/signup", json={"email": email, "password": PASSWORD, "data": data})
        assert response.status_code == 200, response.text
        assert "access_token" not in response.json()  # nothing before the address is proven
        link = mail_link(stack, f"to:{email}")
        confirmed = http.post(
            "/verify", json={"type": link["type"], "token_hash": link["token_hash"]}
        )
    assert confirmed.status_code == 200, confirmed.text
    return confirmed.json()


def password_grant(stack: Stack, email: str, password: str = PASSWORD) -> httpx.Response:
    with client(stack) as http:
        return http.post(
            "/token", params={"grant_type": "password"}, json={"email": email, "password": password}
        )


def refresh(stack: Stack, refresh_token: str) -> httpx.Response:
    with client(stack) as http:
        return http.post(
            "/token", params={"grant_type": "refresh_token"}, json={"refresh_token": refresh_token}
        )


def error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["code"] == code, body
    assert response.headers["x-sb-error-code"] == code
    return body


def admin(stack: Stack) -> httpx.Client:
    key = stack.env["SERVICE_ROLE_KEY"]
    return client(stack, key=key, token=key)


def browse_to_site(
    url: str, site: str, params: dict[str, str] | None = None, headers: dict[str, str] | None = None
) -> httpx.Response:
    """Follow a browser's redirects from ``url`` until one leaves for ``site`` (the app)."""
    with httpx.Client(timeout=30, headers=headers or {}) as browser:
        for _ in range(5):
            response = browser.get(url, params=params)
            params = None
            if response.status_code not in (302, 303):
                return response
            url = response.headers["location"]
            if url.startswith(site):
                return response
    raise AssertionError("too many redirects")
