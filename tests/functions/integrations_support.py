"""Helpers of the integrations tests: the fake providers' switches, the connect flow walked
like a browser and its app (authorize -> fake provider's approve page -> callback -> the app
finishes with the connect code under its own session), and waits."""

from __future__ import annotations

import time
import uuid
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx

from tests.support import Stack, TestUser

FRONTEND = "http://localhost:3000/settings/integrations"
BASE = "/functions/v1/integrations"


def new_login() -> str:
    return "dev" + uuid.uuid4().hex[:10]


def github(stack: Stack) -> str:
    return stack.env["GITHUB_API_URL"]


def google(stack: Stack) -> str:
    return stack.env["GOOGLE_API_URL"]


def seed_github(stack: Stack, login: str, repos: dict[str, dict[str, int]], **extra: Any) -> None:
    answer = httpx.post(
        f"{github(stack)}/_fake/accounts", json={"login": login, "repos": repos, **extra}
    )
    answer.raise_for_status()


def seed_google(stack: Stack, login: str, docs: list[dict[str, Any]], **extra: Any) -> None:
    answer = httpx.post(
        f"{google(stack)}/_fake/accounts", json={"login": login, "docs": docs, **extra}
    )
    answer.raise_for_status()


def fail_next(base: str, login: str, **failure: Any) -> None:
    httpx.post(f"{base}/_fake/accounts/{login}/failures", json=failure).raise_for_status()


def fake_state(base: str, login: str) -> dict[str, Any]:
    return httpx.get(f"{base}/_fake/accounts/{login}").json()


def authorize(
    stack: Stack,
    user: TestUser,
    provider: str = "github",
    project_id: str | None = None,
    redirect_to: str = FRONTEND,
) -> httpx.Response:
    params = {"redirect_to": redirect_to}
    if project_id:
        params["project_id"] = project_id
    with stack.http(user.token) as http:
        return http.get(f"{BASE}/{provider}/authorize", params=params)


def approve(url: str, login: str, provider: str = "github", **extra: str) -> str:
    """The fake provider's authorize page: the callback URL it redirects the browser to."""
    account = {"login": login} if provider == "github" else {"login_hint": login}
    answer = httpx.get(url + "&" + urlencode({**account, **extra}))
    assert answer.status_code == 302, answer.text
    return answer.headers["location"]


def callback(url: str) -> httpx.Response:
    return httpx.get(url)


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def complete(
    stack: Stack, user: TestUser, connect_code: str, provider: str = "github"
) -> httpx.Response:
    """The app finishing a connect with the code the callback sent it, as ``user``."""
    with stack.http(user.token) as http:
        return http.post(f"{BASE}/{provider}/connect/complete", json={"connect_code": connect_code})


def connect_code(
    stack: Stack,
    user: TestUser,
    login: str,
    provider: str = "github",
    project_id: str | None = None,
) -> str:
    """``user`` starts a connect and ``login`` approves it at the provider: the one-time
    code the callback sends the browser back to the app with."""
    answer = authorize(stack, user, provider, project_id)
    assert answer.status_code == 200, answer.text
    back = callback(approve(answer.json()["url"], login, provider))
    assert back.status_code == 302, back.text
    location = back.headers["location"]
    assert location.startswith(FRONTEND), location
    params = query_of(location)
    assert "connect_code" in params and "integration" not in params, location
    return params["connect_code"]


def connect(
    stack: Stack,
    user: TestUser,
    login: str,
    provider: str = "github",
    project_id: str | None = None,
) -> str:
    """Walk the whole flow; the id of the integration the app's completion connected."""
    code = connect_code(stack, user, login, provider, project_id)
    done = complete(stack, user, code, provider)
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "connected", done.text
    return done.json()["id"]


def sync_now(stack: Stack, user: TestUser, integration_id: str) -> httpx.Response:
    with stack.http(user.token) as http:
        return http.post(f"{BASE}/{integration_id}/sync")


def wait_job(
    stack: Stack, job_id: str, until: tuple[str, ...] = ("succeeded", "failed"), tries: int = 240
) -> dict[str, Any]:
    row: dict[str, Any] = {}
    for _ in range(tries):
        rows = stack.sql("select * from public.integration_syncs where id = %s", (job_id,))
        row = rows[0] if rows else {}
        if row and row["status"] in until:
            return row
        time.sleep(0.25)
    raise AssertionError(f"sync job {job_id} never reached {until}: {row}")


def events_of(stack: Stack, project_id: str) -> list[dict[str, Any]]:
    return stack.sql(
        "select * from public.activity_events where project_id = %s order by occurred_at",
        (project_id,),
    )
