"""Fuzz local Auth over HTTP through the gateway (schemathesis, from tests/auth/auth_openapi.py):
valid and invalid bodies, queries and paths, as a signed-in person and with the service key.
No input answers a 5xx; every 4xx is in Auth's error shape.

Runs from 127.0.0.1, which the rate limits exempt (the hardening tests prove the limits), so
the fuzzer reaches every handler instead of a 429."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import GenerationMode

from tests.auth.auth_openapi import document
from tests.auth.helpers import signup
from tests.support import Stack

CASES = 40  # per operation and role (29 operations x 2 roles)
FUZZ = settings(
    max_examples=CASES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True
)
SCHEMA = schemathesis.openapi.from_dict(document())
SCHEMA.config.generation.update(modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
seen = {"cases": 0}


@pytest.fixture(scope="module", autouse=True)
def _report(request: pytest.FixtureRequest) -> Any:
    yield
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(f"auth fuzz: {seen['cases']} requests, none answered 5xx")


@pytest.fixture(scope="module")
def person(stack: Stack) -> dict[str, str]:
    body = signup(stack)
    return {"apikey": stack.env["ANON_KEY"], "Authorization": f"Bearer {body['access_token']}"}


@pytest.fixture(scope="module")
def service(stack: Stack) -> dict[str, str]:
    key = stack.env["SERVICE_ROLE_KEY"]
    return {"apikey": key, "Authorization": f"Bearer {key}"}


def _no_server_error(stack: Stack, case: Any, headers: dict[str, str]) -> None:
    response = case.call(
        base_url=f"{stack.env['API_URL']}/auth/v1",
        headers={**headers, "X-Supabase-Api-Version": "2024-01-01"},
        allow_redirects=False,
        timeout=60,
    )
    seen["cases"] += 1
    assert response.status_code < 500, (
        f"{case.method} {case.formatted_path} {case.query} {case.body!r}"
        f" -> {response.status_code}: {response.text}"
    )
    content_type = response.headers.get("content-type") or [""]
    if isinstance(content_type, list):
        content_type = content_type[0]
    if 400 <= response.status_code < 500 and content_type.startswith("application/json"):
        body = response.json()
        if response.status_code in (404, 405) and set(body) == {"message"}:
            return  # the gateway's own answer: no Auth route has that path or method
        assert ({"code", "message"} <= body.keys()) or (
            {"error", "error_description"} <= body.keys()
        ), body


@SCHEMA.parametrize()
@FUZZ
def test_auth_never_answers_5xx_to_a_signed_in_person(
    stack: Stack, person: dict[str, str], case: Any
) -> None:
    _no_server_error(stack, case, person)


@SCHEMA.parametrize()
@FUZZ
def test_auth_never_answers_5xx_to_the_service_role(
    stack: Stack, service: dict[str, str], case: Any
) -> None:
    _no_server_error(stack, case, service)
