"""One user cannot stall everyone (issue 8 section 4): statement timeouts of the API roles,
and a per-user cap on requests running in the database at once.

The cap is PostgREST's db-pre-request hook ``private.limit_concurrent_requests()``: each
request takes one of a user's 4 slots (transaction-level advisory locks keyed by the token's
``sub``; anonymous requests share one set). These tests take a user's slots from a SQL
session, as 4 running requests would, so they prove the answer without racing requests.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import psycopg
import pytest

from tests.support import Stack, TestUser

SLOTS = 4
# A backtracking regex on a long value: the regex engine runs until the statement timeout.
ATTACK = {"description": r"match.^(.*)(.*)\2\1$", "select": "id"}


@contextmanager
def slots_taken(stack: Stack, who: str, count: int = SLOTS) -> Iterator[None]:
    """Hold ``count`` of ``who``'s request slots (a user id, or 'anon') until the block ends."""
    with psycopg.connect(stack.env["DB_URL"], autocommit=True) as conn:
        conn.execute(
            "select pg_advisory_lock(hashtext('request slot ' || %s), s)"
            " from generate_series(1, %s) s",
            (who, count),
        )
        try:
            yield
        finally:
            conn.execute("select pg_advisory_unlock_all()")


def projects(stack: Stack, user: TestUser | None) -> httpx.Response:
    token = user.token if user else stack.env["ANON_KEY"]
    with stack.http(token) as http:
        return http.get("/rest/v1/projects", params={"select": "id"})


def test_a_user_with_every_slot_busy_gets_429_with_retry_after(stack: Stack) -> None:
    user = stack.new_user()
    with slots_taken(stack, user.id):
        response = projects(stack, user)
    assert response.status_code == 429, response.text
    body = response.json()
    assert body["code"] == "PT429"
    assert "at most 4 of yours run at the same time" in body["message"]
    assert body["hint"]
    assert response.headers["retry-after"] == "1"


def test_a_user_with_one_slot_free_is_served(stack: Stack) -> None:
    user = stack.new_user()
    with slots_taken(stack, user.id, SLOTS - 1):
        assert projects(stack, user).status_code == 200


def test_another_user_is_unaffected_by_a_users_cap(stack: Stack) -> None:
    busy, other = stack.new_user(), stack.new_user()
    with slots_taken(stack, busy.id):
        assert projects(stack, busy).status_code == 429
        response = projects(stack, other)
    assert response.status_code == 200, response.text


def test_the_slots_come_back_when_the_requests_end(stack: Stack) -> None:
    user = stack.new_user()
    with slots_taken(stack, user.id):
        assert projects(stack, user).status_code == 429
    assert projects(stack, user).status_code == 200


def test_anonymous_requests_share_one_set_of_slots(stack: Stack) -> None:
    user = stack.new_user()
    with slots_taken(stack, "anon"):
        assert projects(stack, None).status_code == 429
        assert projects(stack, user).status_code == 200
    assert projects(stack, None).status_code == 200


def test_the_service_role_is_not_capped(stack: Stack) -> None:
    with slots_taken(stack, "anon"):
        rows = stack.service_rest().table("projects").select("id").limit(1).execute()
    assert isinstance(rows.data, list)


@pytest.mark.parametrize(("role", "timeout"), [("anon", "3s"), ("authenticated", "8s")])
def test_api_roles_have_the_hosted_statement_timeouts(
    stack: Stack, role: str, timeout: str
) -> None:
    rows = stack.sql("select rolconfig from pg_roles where rolname = %s", (role,))
    assert f"statement_timeout={timeout}" in rows[0]["rolconfig"]


def test_a_runaway_regex_filter_ends_at_the_timeout_with_a_clear_error(stack: Stack) -> None:
    """The backtracking filter is cancelled by the role's statement timeout; the client gets
    PostgreSQL's query_canceled (57014) with its message, and the user's slot is free again."""
    user = stack.new_user()
    project = stack.rest(user.token).table("projects").insert({"name": "stall"}).execute()
    project_id = project.data[0]["id"]
    stack.rest(user.token).table("tasks").insert(
        {"project_id": project_id, "title": "long", "description": "a" * 2999 + "b"}
    ).execute()
    with stack.http(user.token) as http:
        response = http.get("/rest/v1/tasks", params=ATTACK)
    assert response.status_code == 500, response.text
    body = response.json()
    assert body["code"] == "57014"
    assert body["message"] == "canceling statement due to statement timeout"
    assert projects(stack, user).status_code == 200
