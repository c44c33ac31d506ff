"""Fuzz every function's OpenAPI document in-process (schemathesis): no input gives a 5xx.

The apps run in this process on the real stack (PostgREST, moto), as an authenticated owner
of a real project, so the fuzzer gets past authentication. The webhook routes are fuzzed
with hypothesis instead (their bodies are the providers' payloads, not an OpenAPI schema):
each case is a provider's payload with fields replaced, removed or added (or any JSON, or
bytes that are not JSON), with fuzzed headers, and *signed with the integration's real
secret* over exactly the bytes sent, so every case reaches the parsing and the ingestion.
The number of cases run per route is printed at the end of the module.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from tests.functions.conftest import Team, add_member, new_project
from tests.functions.test_integrations_webhooks import PROVIDERS, make_integration, payload, signed
from tests.support import Stack

CASES: Counter[str] = Counter()  # per route; printed by tests/functions/conftest.py

# FUZZ_SCALE=10 runs ten times the cases (a longer hunt than `make test` affords)
SCALE = max(1, int(os.environ.get("FUZZ_SCALE") or 1))
FUZZ = settings(
    max_examples=100 * SCALE,
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
def notify_schema(functions_env: dict[str, str]) -> Any:
    from notify.app import create_app
    from notify.settings import build_notify_settings

    return schemathesis.openapi.from_asgi("/openapi.json", create_app(build_notify_settings()))


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
notify_lazy = schemathesis.pytest.from_fixture("notify_schema")
assets_lazy = schemathesis.pytest.from_fixture("assets_schema")


def _no_server_error(case: Any, headers: dict[str, str] | None) -> None:
    title = case.operation.schema.raw_schema.get("info", {}).get("title", "?")
    CASES[f"{title}: {case.operation.label}"] += 1
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


# --- the other functions, authenticated as a member ----------------------------------------
OTHERS = settings(FUZZ, max_examples=20 * SCALE)
NO_LIMIT = {"rate_limit_per_minute": 100_000}


@pytest.fixture
def documents_schema(make_settings: Callable[..., Any]) -> Any:
    from documents.app import create_app

    return schemathesis.openapi.from_asgi("/openapi.json", create_app(make_settings(**NO_LIMIT)))


@pytest.fixture
def assistant_schema(make_settings: Callable[..., Any]) -> Any:
    from assistant.app import create_app

    return schemathesis.openapi.from_asgi("/openapi.json", create_app(make_settings(**NO_LIMIT)))


@pytest.fixture
def integrations_schema(functions_env: dict[str, str]) -> Any:
    from integrations import config
    from integrations.app import create_app

    return schemathesis.openapi.from_asgi("/openapi.json", create_app(config.build(**NO_LIMIT)))


@pytest.fixture
def privacy_schema(functions_env: dict[str, str]) -> Any:
    from privacy.app import create_app
    from privacy.settings import build_privacy_settings

    app = create_app(build_privacy_settings(**NO_LIMIT))
    return schemathesis.openapi.from_asgi("/openapi.json", app)


@pytest.fixture(scope="module")
def privacy_headers(stack: Stack) -> dict[str, str]:
    """A user of its own: a fuzzed erasure request may erase them."""
    return {"Authorization": f"Bearer {stack.new_user().token}"}


documents_lazy = schemathesis.pytest.from_fixture("documents_schema")
assistant_lazy = schemathesis.pytest.from_fixture("assistant_schema")
integrations_lazy = schemathesis.pytest.from_fixture("integrations_schema").exclude(
    path_regex="^/webhooks/"
)
privacy_lazy = schemathesis.pytest.from_fixture("privacy_schema")


@documents_lazy.parametrize()
@OTHERS
def test_documents_api_never_answers_5xx(case: Any, fuzz_headers: dict[str, str]) -> None:
    _no_server_error(case, fuzz_headers)


@assistant_lazy.parametrize()
@OTHERS
def test_assistant_api_never_answers_5xx(case: Any, fuzz_headers: dict[str, str]) -> None:
    _no_server_error(case, fuzz_headers)


@integrations_lazy.parametrize()
@OTHERS
def test_integrations_api_never_answers_5xx(case: Any, fuzz_headers: dict[str, str]) -> None:
    _no_server_error(case, fuzz_headers)


@privacy_lazy.parametrize()
@OTHERS
def test_privacy_api_never_answers_5xx(case: Any, privacy_headers: dict[str, str]) -> None:
    _no_server_error(case, privacy_headers)


# --- webhooks, signed with the integration's secret -----------------------------------------
WEBHOOK_EXAMPLES = 50 * SCALE


def _field_names() -> list[str]:
    """Every field name of the providers' payload models: fuzzed objects use them as keys."""
    from pydantic import BaseModel

    from integrations import payloads

    names: set[str] = set()
    for value in vars(payloads).values():
        if isinstance(value, type) and issubclass(value, BaseModel):
            names |= set(value.model_fields)
    return sorted(names)


_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from([1e20, -1.0, 0, 2**63, 253_402_300_800_000, "", "x", "2026-13-45T99:00"])
    | st.text(max_size=30)
)


def _json_values() -> st.SearchStrategy[Any]:
    keys = st.sampled_from(_field_names()) | st.text(max_size=10)
    return st.recursive(
        _SCALARS,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=5),
        max_leaves=10,
    )


def _mutate(data: st.DataObject, value: Any, values: st.SearchStrategy[Any]) -> Any:
    """The value with one nested field replaced, removed or added."""
    if isinstance(value, dict) and value:
        key = data.draw(st.sampled_from(sorted(value)))
        choice = data.draw(st.sampled_from(["replace", "remove", "add", "descend"]))
        out = dict(value)
        if choice == "replace":
            out[key] = data.draw(values)
        elif choice == "remove":
            del out[key]
        elif choice == "add":
            out[data.draw(st.sampled_from(_field_names()))] = data.draw(values)
        else:
            out[key] = _mutate(data, value[key], values)
        return out
    if isinstance(value, list) and value:
        index = data.draw(st.integers(0, len(value) - 1))
        out_list = list(value)
        out_list[index] = _mutate(data, value[index], values)
        return out_list
    return data.draw(values)


_HEADER_TEXT = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=40)
_STAMPS = (
    st.sampled_from(["", "0", "1e20", "-5", "9" * 17, "9" * 5000, "12.5", " 1"]) | _HEADER_TEXT
)


def _body(data: st.DataObject, provider: str) -> bytes:
    values = _json_values()
    shape = data.draw(st.sampled_from(["mutated"] * 6 + ["twice", "any", "bytes"]))
    if shape == "bytes":
        return data.draw(st.binary(max_size=200))
    if shape == "any":
        return json.dumps(data.draw(values)).encode()
    body = _mutate(data, payload(provider), values)
    if shape == "twice":
        body = _mutate(data, body, values)
    return json.dumps(body).encode()


def _headers(
    data: st.DataObject, provider: str, secret: str, raw: bytes, url: str
) -> dict[str, str]:
    delivery = data.draw(st.uuids().map(str) | _HEADER_TEXT)
    headers = signed(provider, secret, raw, url, delivery)
    if provider == "github":
        events = ["push", "pull_request", "issues", "release", "create", "ping"]
        headers["X-GitHub-Event"] = data.draw(st.sampled_from(events) | _HEADER_TEXT)
    stamp_header = {"hubspot": "X-HubSpot-Request-Timestamp", "gitlab": "X-Signature-Timestamp",
                    "salesforce": "X-Signature-Timestamp"}.get(provider)  # fmt: skip
    if stamp_header and data.draw(st.integers(0, 9)) == 5:  # (hypothesis favours 0)
        # a fuzzed stamp, and the signature recomputed over it, as the provider would sign
        stamp = data.draw(_STAMPS)
        headers = _resign(provider, secret, raw, url, headers, stamp)
    for name in list(headers):
        if data.draw(st.integers(0, 19)) == 13:
            del headers[name]
    return headers


def _resign(
    provider: str, secret: str, raw: bytes, url: str, headers: dict[str, str], stamp: str
) -> dict[str, str]:
    import base64
    import hashlib
    import hmac

    key = secret.encode()
    if provider == "hubspot":
        source = b"POST" + url.encode() + raw + stamp.encode()
        digest = hmac.new(key, source, hashlib.sha256).digest()
        return {**headers, "X-HubSpot-Request-Timestamp": stamp,
                "X-HubSpot-Signature-v3": base64.b64encode(digest).decode()}  # fmt: skip
    digest_hex = hmac.new(key, stamp.encode() + b"." + raw, hashlib.sha256).hexdigest()
    return {**headers, "X-Signature-Timestamp": stamp, "X-Signature-256": "sha256=" + digest_hex}


@pytest.fixture(scope="module")
def webhook_targets(stack: Stack, functions_env: dict[str, str]) -> dict[str, tuple[str, str]]:
    """One integration per provider on a fuzzed project: (id, secret)."""
    owner = stack.new_user()
    project_id = new_project(stack, owner, "webhook fuzz")
    admin = stack.new_user()
    add_member(stack, project_id, admin, "admin")
    team = Team(project_id, {"owner": owner, "admin": admin}, stack.new_user())
    return {provider: make_integration(stack, team, provider) for provider in PROVIDERS}


@pytest.fixture(scope="module")
def integrations_client(functions_env: dict[str, str]) -> Iterator[tuple[TestClient, Any]]:
    from integrations import config
    from integrations.app import create_app

    settings_ = config.build(**NO_LIMIT)
    with TestClient(create_app(settings_), raise_server_exceptions=False) as client:
        yield client, settings_


@pytest.mark.parametrize("provider", PROVIDERS)
def test_signed_webhooks_never_answer_5xx(
    provider: str,
    webhook_targets: dict[str, tuple[str, str]],
    integrations_client: tuple[TestClient, Any],
) -> None:
    client, settings_ = integrations_client
    integration_id, secret = webhook_targets[provider]
    path = f"/webhooks/{provider}?integration={integration_id}"
    url = f"{settings_.public_url}{path}"
    statuses: Counter[int] = Counter()

    @given(data=st.data())
    @settings(FUZZ, max_examples=WEBHOOK_EXAMPLES)
    def case(data: st.DataObject) -> None:
        raw = _body(data, provider)
        headers = _headers(data, provider, secret, raw, url)
        CASES[f"integrations: POST /webhooks/{provider} (signed)"] += 1
        response = client.post(
            path, content=raw, headers={"Content-Type": "application/json", **headers}
        )
        statuses[response.status_code] += 1
        assert response.status_code < 500, (
            f"{provider} {headers} {raw[:300]!r} -> {response.status_code}: {response.text}"
        )
        body = response.json()
        if response.status_code >= 400:
            assert set(body) >= {"error", "message", "request_id"}, body

    case()
    # the signatures are right: most cases get past them into parsing and ingestion
    past_signature = sum(n for status, n in statuses.items() if status != 401)
    assert past_signature >= WEBHOOK_EXAMPLES // 3, statuses


@notify_lazy.parametrize()
@FUZZ
def test_notify_api_never_answers_5xx(case: Any) -> None:
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
    for name, expected in (
        ("files", "/uploads"),
        ("health", "/"),
        ("notify", "/unsubscribe"),
        ("assets", "/generate"),
    ):
        document = stack.http().get(f"/functions/v1/{name}/openapi.json").json()
        assert document["openapi"].startswith("3.")
        assert expected in document["paths"]
