"""Provider webhooks: each provider's signature (and its bad-signature 401), replay
protection, time windows, unknown integrations, oversized bodies, ping, and what lands in
the activity stream. Plus the webhook-secret endpoint (shown once, sealed at rest)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from typing import Any

import httpx
import pytest

from tests.functions.conftest import Team
from tests.functions.integrations_support import BASE, connect, events_of, new_login
from tests.support import Stack


def make_integration(stack: Stack, team: Team, provider: str) -> tuple[str, str]:
    """An admin's integration of ``provider`` on the team's project and its secret."""
    admin = team.members["admin"]
    if provider == "github":
        integration_id = connect(stack, admin, new_login(), "github", team.project_id)
    else:
        row = (
            stack.rest(admin.token)
            .table("integrations")
            .insert({"provider": provider, "project_id": team.project_id})
            .execute()
            .data[0]
        )
        integration_id = row["id"]
    with stack.http(admin.token) as http:
        answer = http.post(f"{BASE}/{integration_id}/webhook-secret")
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert body["url"].endswith(f"/webhooks/{provider}?integration={integration_id}")
    return integration_id, body["secret"]


def _hex(secret: str, data: bytes) -> str:
    return hmac.new(secret.encode(), data, hashlib.sha256).hexdigest()


def signed(provider: str, secret: str, body: bytes, url: str, delivery: str) -> dict[str, str]:
    """The headers the provider would send."""
    now = int(time.time())
    if provider == "github":
        return {
            "X-Hub-Signature-256": "sha256=" + _hex(secret, body),
            "X-GitHub-Delivery": delivery,
            "X-GitHub-Event": "push",
        }
    if provider == "linear":
        return {"Linear-Signature": _hex(secret, body), "Linear-Delivery": delivery}
    if provider == "jira":
        return {
            "X-Hub-Signature": "sha256=" + _hex(secret, body),
            "X-Atlassian-Webhook-Identifier": delivery,
        }
    if provider == "hubspot":
        stamp = str(now * 1000)
        source = b"POST" + url.encode() + body + stamp.encode()
        digest = hmac.new(secret.encode(), source, hashlib.sha256).digest()
        return {
            "X-HubSpot-Signature-v3": base64.b64encode(digest).decode(),
            "X-HubSpot-Request-Timestamp": stamp,
        }
    stamp = str(now)
    return {
        "X-Signature-256": "sha256=" + _hex(secret, stamp.encode() + b"." + body),
        "X-Signature-Timestamp": stamp,
        "X-Delivery-Id": delivery,
    }


def payload(provider: str, n: int = 1) -> Any:
    now_ms = int(time.time() * 1000)
    ident = uuid.uuid4().hex
    if provider == "github":
        return {
            "ref": "refs/heads/main",
            "repository": {"full_name": "octo/app", "html_url": "https://github.com/octo/app"},
            "sender": {"login": "octocat"},
            "commits": [
                {
                    "id": hashlib.sha1(f"{ident}{i}".encode()).hexdigest(),
                    "message": f"fix {i}\n\nbody",
                    "timestamp": "2026-11-29T10:00:00Z",
                    "url": f"https://github.com/octo/app/commit/{i}",
                    "author": {"username": "octocat"},
                }
                for i in range(n)
            ],
        }
    if provider == "linear":
        return {
            "action": "create",
            "type": "Issue",
            "createdAt": "2026-11-29T10:00:00.000Z",
            "url": "https://linear.app/acme/issue/ENG-1",
            "actor": {"name": "Ada"},
            "data": {"id": ident, "title": "Checkout is slow", "identifier": "ENG-1"},
            "webhookTimestamp": now_ms,
        }
    if provider == "jira":
        return {
            "timestamp": now_ms,
            "webhookEvent": "jira:issue_created",
            "user": {"displayName": "Grace"},
            "issue": {
                "id": "10001",
                "key": "PRJ-7",
                "self": "https://acme.atlassian.net/rest/api/2/issue/10001",
                "fields": {"summary": "Login fails"},
            },
        }
    if provider == "hubspot":
        return [
            {
                "eventId": int(uuid.uuid4().int % 10**9) + i,
                "subscriptionType": "deal.creation",
                "objectId": 4242 + i,
                "portalId": 77,
                "occurredAt": now_ms,
            }
            for i in range(n)
        ]
    return {
        "kind": "opportunity.won",
        "title": "ACME renewal",
        "url": "https://example.my.salesforce.com/006",
        "actor": "Sam",
        "occurred_at": "2026-11-29T10:00:00Z",
    }


def deliver(
    stack: Stack, provider: str, integration_id: str | None, body: bytes, headers: dict[str, str]
) -> httpx.Response:
    params = {"integration": integration_id} if integration_id else {}
    return stack.http().post(
        f"{BASE}/webhooks/{provider}",
        params=params,
        content=body,
        headers={"Content-Type": "application/json", **headers},
    )


def hook_url(stack: Stack, provider: str, integration_id: str) -> str:
    return f"{stack.env['API_URL']}{BASE}/webhooks/{provider}?integration={integration_id}"


PROVIDERS = ["github", "linear", "jira", "hubspot", "gitlab", "salesforce"]
EXPECTED_KIND = {
    "github": "commit",
    "linear": "issue.create",
    "jira": "issue.created",
    "hubspot": "deal.creation",
    "gitlab": "opportunity.won",
    "salesforce": "opportunity.won",
}


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_signed_delivery_lands_once_in_the_activity_stream(
    stack: Stack, team: Team, provider: str
) -> None:
    integration_id, secret = make_integration(stack, team, provider)
    body = json.dumps(payload(provider)).encode()
    url = hook_url(stack, provider, integration_id)
    headers = signed(provider, secret, body, url, str(uuid.uuid4()))
    first = deliver(stack, provider, integration_id, body, headers)
    assert first.status_code == 202, first.text
    assert first.json() == {"accepted": 1, "duplicate": False}
    rows = events_of(stack, team.project_id)
    assert len(rows) == 1
    row = rows[0]
    assert row["source"] == provider and row["kind"] == EXPECTED_KIND[provider]
    assert row["payload"]["title"] and row["occurred_at"] is not None
    if provider != "hubspot":
        assert row["actor"] and row["payload"]["url"].startswith("https://")
    replay = deliver(stack, provider, integration_id, body, headers)
    assert replay.status_code == 200, replay.text
    assert replay.json() == {"accepted": 0, "duplicate": True}
    assert len(events_of(stack, team.project_id)) == 1


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_bad_or_missing_signature_is_401_and_writes_nothing(
    stack: Stack, team: Team, provider: str
) -> None:
    integration_id, secret = make_integration(stack, team, provider)
    body = json.dumps(payload(provider)).encode()
    url = hook_url(stack, provider, integration_id)
    wrong = signed(provider, secret + "x", body, url, str(uuid.uuid4()))
    assert deliver(stack, provider, integration_id, body, wrong).status_code == 401
    good = signed(provider, secret, body, url, str(uuid.uuid4()))
    tampered = body.replace(b"}", b' , "x": 1}', 1) if body.startswith(b"{") else body + b" "
    assert deliver(stack, provider, integration_id, tampered, good).status_code == 401
    unsigned = {k: v for k, v in good.items() if "signature" not in k.lower()}
    answer = deliver(stack, provider, integration_id, body, unsigned)
    assert answer.status_code == 401
    assert answer.json()["error"] == "invalid_signature"
    assert events_of(stack, team.project_id) == []


@pytest.mark.parametrize("provider", ["linear", "hubspot", "gitlab"])
def test_a_delivery_outside_the_time_window_is_refused(
    stack: Stack, team: Team, provider: str
) -> None:
    integration_id, secret = make_integration(stack, team, provider)
    url = hook_url(stack, provider, integration_id)
    old = time.time() - 3600
    if provider == "linear":
        data = payload(provider)
        data["webhookTimestamp"] = int(old * 1000)
        body = json.dumps(data).encode()
        headers = signed(provider, secret, body, url, str(uuid.uuid4()))
    elif provider == "hubspot":
        body = json.dumps(payload(provider)).encode()
        stamp = str(int(old * 1000))
        digest = hmac.new(
            secret.encode(), b"POST" + url.encode() + body + stamp.encode(), hashlib.sha256
        ).digest()
        headers = {
            "X-HubSpot-Signature-v3": base64.b64encode(digest).decode(),
            "X-HubSpot-Request-Timestamp": stamp,
        }
    else:
        body = json.dumps(payload(provider)).encode()
        stamp = str(int(old))
        headers = {
            "X-Signature-256": "sha256=" + _hex(secret, stamp.encode() + b"." + body),
            "X-Signature-Timestamp": stamp,
            "X-Delivery-Id": str(uuid.uuid4()),
        }
    answer = deliver(stack, provider, integration_id, body, headers)
    assert answer.status_code == 401, answer.text
    assert "outside the" in answer.json()["message"], answer.text  # the stamp, not the signature
    assert events_of(stack, team.project_id) == []


def test_unknown_integrations_and_providers_are_404(stack: Stack, team: Team) -> None:
    integration_id, secret = make_integration(stack, team, "github")
    body = json.dumps(payload("github")).encode()
    headers = signed("github", secret, body, "", str(uuid.uuid4()))
    for who in (None, "not-a-uuid", str(uuid.uuid4())):
        assert deliver(stack, "github", who, body, headers).status_code == 404
    # the id of a github integration at the linear endpoint
    assert deliver(stack, "linear", integration_id, body, headers).status_code == 404
    assert deliver(stack, "myspace", integration_id, body, headers).status_code == 404


def test_an_oversized_delivery_is_413(stack: Stack, team: Team) -> None:
    integration_id, secret = make_integration(stack, team, "github")
    body = json.dumps({"pad": "x" * (1_048_576 + 10)}).encode()
    headers = signed("github", secret, body, "", str(uuid.uuid4()))
    answer = deliver(stack, "github", integration_id, body, headers)
    assert answer.status_code == 413, answer.text


def test_github_ping_is_answered_and_writes_nothing(stack: Stack, team: Team) -> None:
    integration_id, secret = make_integration(stack, team, "github")
    body = json.dumps({"zen": "Keep it logically awesome.", "hook_id": 1}).encode()
    headers = signed("github", secret, body, "", str(uuid.uuid4()))
    headers["X-GitHub-Event"] = "ping"
    answer = deliver(stack, "github", integration_id, body, headers)
    assert answer.status_code == 200 and answer.json() == {"pong": True}
    assert events_of(stack, team.project_id) == []


def test_github_pull_request_and_webhook_commit_match_the_sync_ids(
    stack: Stack, team: Team
) -> None:
    integration_id, secret = make_integration(stack, team, "github")
    pr = {
        "action": "closed",
        "repository": {"full_name": "octo/app"},
        "sender": {"login": "octocat"},
        "pull_request": {
            "id": 99,
            "number": 5,
            "title": "Faster checkout",
            "merged": True,
            "merged_at": "2026-11-29T11:00:00Z",
            "html_url": "https://github.com/octo/app/pull/5",
        },
    }
    body = json.dumps(pr).encode()
    headers = signed("github", secret, body, "", str(uuid.uuid4()))
    headers["X-GitHub-Event"] = "pull_request"
    assert deliver(stack, "github", integration_id, body, headers).status_code == 202
    row = events_of(stack, team.project_id)[0]
    assert row["kind"] == "pull_request.merged"
    assert row["external_id"] == f"{team.project_id}:pull_request:99:merged"
    # the same event again under a new delivery id is still one row
    headers = signed("github", secret, body, "", str(uuid.uuid4()))
    headers["X-GitHub-Event"] = "pull_request"
    again = deliver(stack, "github", integration_id, body, headers)
    assert again.status_code == 202 and again.json()["accepted"] == 0
    assert len(events_of(stack, team.project_id)) == 1


def test_a_delivery_without_an_id_or_with_bad_json_is_400(stack: Stack, team: Team) -> None:
    integration_id, secret = make_integration(stack, team, "github")
    body = json.dumps(payload("github")).encode()
    headers = signed("github", secret, body, "", "")
    headers.pop("X-GitHub-Delivery")
    assert deliver(stack, "github", integration_id, body, headers).status_code == 400
    broken = b"{not json"
    headers = signed("github", secret, broken, "", str(uuid.uuid4()))
    assert deliver(stack, "github", integration_id, broken, headers).status_code == 400


def test_webhook_secret_is_shown_once_sealed_and_only_to_the_owner(
    stack: Stack, team: Team
) -> None:
    integration_id, secret = make_integration(stack, team, "linear")
    stored = stack.sql(
        "select * from private.integration_webhook_secrets where integration_id = %s",
        (integration_id,),
    )
    assert len(stored) == 1 and secret not in repr(stored[0])
    status = stack.sql("select status from public.integrations where id = %s", (integration_id,))
    assert status[0]["status"] == "connected"
    for someone in (team.members["owner"], team.members["viewer"], team.outsider):
        with stack.http(someone.token) as http:
            assert http.post(f"{BASE}/{integration_id}/webhook-secret").status_code == 404
    with stack.http(team.members["admin"].token) as http:
        assert http.post(f"{BASE}/not-a-uuid/webhook-secret").status_code == 422
        rotated = http.post(f"{BASE}/{integration_id}/webhook-secret")
    assert rotated.status_code == 201 and rotated.json()["secret"] != secret
    assert rotated.headers["cache-control"] == "no-store"
    assert stack.http().post(f"{BASE}/{integration_id}/webhook-secret").status_code == 401
    # the old secret no longer signs
    body = json.dumps(payload("linear")).encode()
    old = signed("linear", secret, body, "", str(uuid.uuid4()))
    assert deliver(stack, "linear", integration_id, body, old).status_code == 401
    new = signed("linear", rotated.json()["secret"], body, "", str(uuid.uuid4()))
    assert deliver(stack, "linear", integration_id, body, new).status_code == 202


def test_a_revoked_integration_takes_no_more_deliveries(stack: Stack, team: Team) -> None:
    integration_id, secret = make_integration(stack, team, "github")
    with stack.http(team.members["admin"].token) as http:
        assert http.delete(f"{BASE}/{integration_id}").status_code == 200
    body = json.dumps(payload("github")).encode()
    headers = signed("github", secret, body, "", str(uuid.uuid4()))
    assert deliver(stack, "github", integration_id, body, headers).status_code == 404


@pytest.mark.parametrize("provider", ["linear", "hubspot"])
def test_a_webhook_only_integration_has_no_remote_items_links_or_sync(
    stack: Stack, team: Team, provider: str
) -> None:
    integration_id, _secret = make_integration(stack, team, provider)
    with stack.http(team.members["admin"].token) as http:
        listed = http.get(f"{BASE}/{integration_id}/remote-items")
        linked = http.post(f"{BASE}/{integration_id}/links", json={"external_id": "acme/app"})
        synced = http.post(f"{BASE}/{integration_id}/sync")
    assert (listed.status_code, listed.json()["error"]) == (409, "not_listable"), listed.text
    assert (linked.status_code, linked.json()["error"]) == (409, "not_linkable"), linked.text
    assert (synced.status_code, synced.json()["error"]) == (409, "not_syncable"), synced.text


def _malformed(provider: str, **fields: Any) -> Any:
    """The provider's valid payload with ``fields`` replaced (hubspot: in its first event)."""
    data = payload(provider)
    (data[0] if provider == "hubspot" else data).update(fields)
    return data


MALFORMED = [
    ("jira", {"timestamp": 1e20}),
    ("jira", {"user": "x"}),
    ("jira", {"issue": [1]}),
    ("jira", {"issue": {"key": "PRJ-1", "fields": "summary"}}),
    ("linear", {"data": [1]}),
    ("linear", {"actor": "bob"}),
    ("linear", {"createdAt": 1e20}),
    ("hubspot", {"occurredAt": 1e20}),
    ("hubspot", {"eventId": {"id": 1}}),
    ("github", {"commits": [1]}),
    ("github", {"repository": "octo/app"}),
    ("gitlab", {"occurred_at": 1e20}),
    ("salesforce", {"url": {"deep": [1]}}),
]


@pytest.mark.parametrize(("provider", "fields"), MALFORMED, ids=lambda v: str(v)[:40])
def test_a_signed_body_of_the_wrong_shape_is_422_not_500(
    stack: Stack, team: Team, provider: str, fields: dict[str, Any]
) -> None:
    integration_id, secret = make_integration(stack, team, provider)
    body = json.dumps(_malformed(provider, **fields)).encode()
    headers = signed(provider, secret, body, hook_url(stack, provider, integration_id), "d1")
    answer = deliver(stack, provider, integration_id, body, headers)
    assert answer.status_code == 422, answer.text
    error = answer.json()
    assert error["error"] == "validation_failed" and error["request_id"], error
    assert next(iter(fields)) in error["message"], error
    assert events_of(stack, team.project_id) == []


@pytest.mark.parametrize(
    ("provider", "body"),
    [
        ("hubspot", [1]),
        ("hubspot", {"eventId": 1}),
        ("github", [1]),
        ("gitlab", [1]),
        ("jira", "x"),
    ],
)
def test_a_signed_body_that_is_not_the_providers_container_is_422(
    stack: Stack, team: Team, provider: str, body: Any
) -> None:
    integration_id, secret = make_integration(stack, team, provider)
    raw = json.dumps(body).encode()
    headers = signed(provider, secret, raw, hook_url(stack, provider, integration_id), "d1")
    answer = deliver(stack, provider, integration_id, raw, headers)
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"] == "validation_failed"


@pytest.mark.parametrize("stamp", [1e20, 10**400, -1, "soon", None])
def test_linear_with_an_absurd_webhook_timestamp_is_refused(
    stack: Stack, team: Team, stamp: Any
) -> None:
    integration_id, secret = make_integration(stack, team, "linear")
    body = json.dumps(_malformed("linear", webhookTimestamp=stamp)).encode()
    answer = deliver(stack, "linear", integration_id, body, signed("linear", secret, body, "", "d"))
    assert answer.status_code in (401, 422), answer.text
    assert answer.json()["error"] in ("invalid_signature", "validation_failed")
    assert events_of(stack, team.project_id) == []


@pytest.mark.parametrize("provider", ["hubspot", "gitlab", "salesforce"])
@pytest.mark.parametrize("stamp", ["9" * 5000, "1" * 17, "12a", "-5", ""])
def test_an_absurd_timestamp_header_is_401_before_the_signature(
    stack: Stack, team: Team, provider: str, stamp: str
) -> None:
    """The timestamp header is read before the signature: a 5,000-digit one (past Python's
    int parsing limit) or one that is not plain digits is refused as outside the window."""
    integration_id, secret = make_integration(stack, team, provider)
    body = json.dumps(payload(provider)).encode()
    url = hook_url(stack, provider, integration_id)
    headers = signed(provider, secret, body, url, str(uuid.uuid4()))
    name = "X-HubSpot-Request-Timestamp" if provider == "hubspot" else "X-Signature-Timestamp"
    headers[name] = stamp
    if provider == "hubspot":  # a valid signature over the absurd stamp
        source = b"POST" + url.encode() + body + stamp.encode()
        digest = hmac.new(secret.encode(), source, hashlib.sha256).digest()
        headers["X-HubSpot-Signature-v3"] = base64.b64encode(digest).decode()
    else:
        headers["X-Signature-256"] = "sha256=" + _hex(secret, stamp.encode() + b"." + body)
    answer = deliver(stack, provider, integration_id, body, headers)
    assert answer.status_code == 401, answer.text
    error = answer.json()
    assert error["error"] == "invalid_signature" and error["request_id"], error
    assert "outside the window" in error["message"], error
    assert events_of(stack, team.project_id) == []
