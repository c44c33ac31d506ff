"""Fuzz every function's OpenAPI document in-process (schemathesis): no input gives a 5xx.

The apps run in this process on the real stack (PostgREST, moto), as an authenticated editor
of a real project and with the webhook secret, so the fuzzer gets past authentication.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from tests.functions.conftest import new_project
from tests.support import Stack

FUZZ = settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)


@pytest.fixture
def files_schema(make_settings: Callable[..., Any]) -> Any:
    from files.app import create_app

    return schemathesis.openapi.from_asgi(
        "/openapi.json", create_app(make_settings(rate_limit_per_minute=100_000))
    )


@pytest.fixture
def health_schema(make_settings: Callable[..., Any]) -> Any:
    from health.app import create_app

    return schemathesis.openapi.from_asgi("/openapi.json", create_app(make_settings()))


@pytest.fixture
def assets_schema(functions_env: dict[str, str]) -> Any:
    from assets.app import create_app
    from assets.settings import build_asset_settings

    return schemathesis.openapi.from_asgi(
        "/openapi.json", create_app(build_asset_settings(rate_limit_per_minute=100_000))
    )


@pytest.fixture(scope="module")
def fuzz_headers(stack: Stack) -> dict[str, str]:
    owner = stack.new_user()
    new_project(stack, owner, "fuzzed")
    return {
        "Authorization": f"Bearer {owner.token}",
        "x-webhook-secret": stack.env["WEBHOOK_SECRET"],
    }


files_lazy = schemathesis.pytest.from_fixture("files_schema")
health_lazy = schemathesis.pytest.from_fixture("health_schema")
assets_lazy = schemathesis.pytest.from_fixture("assets_schema")


def _no_server_error(case: Any, headers: dict[str, str] | None) -> None:
    response = case.call(headers=headers)
    assert response.status_code < 500, (
        f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text}"
    )
    if response.status_code >= 400:
        assert set(response.json()) >= {"error", "message", "request_id"}


@files_lazy.parametrize()
@FUZZ
def test_files_api_never_answers_5xx_authenticated(case: Any, fuzz_headers: dict[str, str]) -> None:
    _no_server_error(case, fuzz_headers)


@files_lazy.parametrize()
@FUZZ
def test_files_api_never_answers_5xx_anonymous(case: Any) -> None:
    _no_server_error(case, None)


@health_lazy.parametrize()
@FUZZ
def test_health_api_never_answers_5xx(case: Any) -> None:
    _no_server_error(case, None)


@assets_lazy.parametrize()
@FUZZ
def test_assets_api_never_answers_5xx_authenticated(
    case: Any, fuzz_headers: dict[str, str]
) -> None:
    _no_server_error(case, fuzz_headers)


@assets_lazy.parametrize()
@FUZZ
def test_assets_api_never_answers_5xx_anonymous(case: Any) -> None:
    _no_server_error(case, None)


def test_every_function_publishes_openapi(stack: Stack) -> None:
    for name, expected in (("files", "/uploads"), ("health", "/"), ("assets", "/generate")):
        document = stack.http().get(f"/functions/v1/{name}/openapi.json").json()
        assert document["openapi"].startswith("3.")
        assert expected in document["paths"]
