"""Web Push of notifications: subscriptions per device (owner only), VAPID + aes128gcm to the
fake push service (devstack/fake_push.py), which decrypts with the subscription's own private
key and keeps what it received; a 404/410 from it deletes the subscription."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.functions.conftest import Team
from tests.functions.test_notify import assign_task, deliveries, settings, wait_finished
from tests.support import Stack, TestUser

__all__ = ["settings"]  # the fixture, shared with test_notify


@pytest.fixture
def push_service(stack: Stack) -> httpx.Client:
    with httpx.Client(base_url=stack.env["FAKE_PUSH_URL"], timeout=30) as client:
        yield client


def subscribe(stack: Stack, push_service: httpx.Client, user: TestUser) -> dict[str, Any]:
    """A browser subscribes at the push service and saves the subscription (as the person)."""
    sub = push_service.post("/_fake/subscriptions").json()
    row = (
        stack.rest(user.token)
        .table("push_subscriptions")
        .insert(
            {
                "endpoint": sub["endpoint"],
                "p256dh": sub["keys"]["p256dh"],
                "auth": sub["keys"]["auth"],
                "user_agent": "test browser",
            }
        )
        .execute()
        .data[0]
    )
    return {**sub, "row_id": row["id"]}


def push_deliveries(stack: Stack, user: TestUser) -> list[dict[str, Any]]:
    return [d for d in deliveries(stack, user) if d["channel"] == "push"]


def send_push(stack: Stack, settings: Any, user: TestUser) -> dict[str, Any]:
    from core import jobs
    from notify.kinds import DELIVERIES

    [delivery] = push_deliveries(stack, user)
    jobs.send(settings, DELIVERIES, delivery["id"])
    return wait_finished(stack, str(delivery["id"]))


def test_a_notification_is_pushed_encrypted_to_each_device(
    stack: Stack, team: Team, settings: Any, push_service: httpx.Client
) -> None:
    editor = team.members["editor"]
    phone, laptop = (subscribe(stack, push_service, editor) for _ in range(2))
    task = assign_task(stack, team, editor, title="Push <me>")
    row = send_push(stack, settings, editor)
    assert (row["status"], row["skipped_reason"], row["provider_message_id"]) == (
        "sent",
        None,
        "push:2",
    )
    for device in (phone, laptop):
        [received] = push_service.get(f"/_fake/subscriptions/{device['id']}/messages").json()
        payload = json.loads(received["payload"])
        assert payload["title"] == 'Someone assigned you a task in "Files test"'
        assert payload["body"] == "Push <me>"
        assert payload["url"].endswith(f"/projects/{team.project_id}/tasks/{task}")
        assert payload["type"] == "task_assigned"
        assert received["vapid_sub"] == "mailto:no-reply@collab.local"
        assert int(received["ttl"]) > 0


@pytest.mark.parametrize("status", [404, 410])
def test_a_subscription_the_push_service_says_is_gone_is_deleted(
    stack: Stack, team: Team, settings: Any, push_service: httpx.Client, status: int
) -> None:
    viewer = team.members["viewer"]
    device = subscribe(stack, push_service, viewer)
    push_service.post(f"/_fake/subscriptions/{device['id']}/mode", json={"status": status})
    assign_task(stack, team, viewer)
    row = send_push(stack, settings, viewer)
    assert row["skipped_reason"] == "every subscription is gone"
    assert (
        stack.sql("select * from public.push_subscriptions where id = %s", (device["row_id"],))
        == []
    )


def test_a_failing_push_service_is_retried(
    stack: Stack, team: Team, settings: Any, push_service: httpx.Client
) -> None:
    from notify import events

    admin = team.members["admin"]
    device = subscribe(stack, push_service, admin)
    push_service.post(f"/_fake/subscriptions/{device['id']}/mode", json={"status": 500})
    assign_task(stack, team, admin)
    [delivery] = push_deliveries(stack, admin)
    record = {
        "messageId": "m-1",
        "receiptHandle": "r",
        "body": json.dumps({"kind": "notification_delivery", "job_id": str(delivery["id"])}),
        "attributes": {"ApproximateReceiveCount": "1"},
        "messageAttributes": {},
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:test",
        "awsRegion": "us-east-1",
    }
    answer = events.process_deliveries({"Records": [record]}, None)
    assert answer == {"batchItemFailures": [{"itemIdentifier": "m-1"}]}
    after = stack.sql(
        "select status::text, attempts, error from public.notification_deliveries where id = %s",
        (delivery["id"],),
    )[0]
    assert (after["status"], after["attempts"]) == ("queued", 1)
    assert "500" in after["error"]
    # the subscription stays: a 500 says nothing about it
    assert stack.sql("select id from public.push_subscriptions where id = %s", (device["row_id"],))
    push_service.post(f"/_fake/subscriptions/{device['id']}/mode", json={"status": 201})
    assert events.process_deliveries({"Records": [record]}, None) == {"batchItemFailures": []}
    assert len(push_service.get(f"/_fake/subscriptions/{device['id']}/messages").json()) == 1


def test_push_off_or_no_device_means_no_push_delivery(
    stack: Stack, team: Team, push_service: httpx.Client
) -> None:
    editor, viewer = team.members["editor"], team.members["viewer"]
    assign_task(stack, team, viewer)  # no device
    assert push_deliveries(stack, viewer) == []
    subscribe(stack, push_service, editor)
    stack.rest(editor.token).table("notification_preferences").insert(
        {"type": "task_assigned", "push": False}
    ).execute()
    assign_task(stack, team, editor)
    assert push_deliveries(stack, editor) == []


def test_push_subscriptions_are_their_owners_alone(
    stack: Stack, team: Team, push_service: httpx.Client
) -> None:
    editor, viewer = team.members["editor"], team.members["viewer"]
    device = subscribe(stack, push_service, editor)
    with stack.http(viewer.token) as http:
        assert http.get("/rest/v1/push_subscriptions").json() == []
        stolen = http.post(
            "/rest/v1/push_subscriptions",
            json={"user_id": editor.id, "endpoint": "https://push.example.test/x",
                  "p256dh": "B" * 87, "auth": "A" * 22},
        )  # fmt: skip
        assert stolen.status_code == 403, stolen.text
        deleted = http.delete(
            "/rest/v1/push_subscriptions",
            params={"id": f"eq.{device['row_id']}"},
            headers={"Prefer": "return=representation"},
        )
        assert deleted.json() == []
    assert stack.sql("select id from public.push_subscriptions where id = %s", (device["row_id"],))


@pytest.mark.parametrize(
    "body",
    [
        {"endpoint": "ftp://push.example.test/x", "p256dh": "B" * 87, "auth": "A" * 22},
        {"endpoint": "https://push.example.test/" + "x" * 3000, "p256dh": "B" * 87,
         "auth": "A" * 22},
        {"endpoint": "https://push.example.test/x", "p256dh": "not base64!", "auth": "A" * 22},
        {"endpoint": "https://push.example.test/x", "p256dh": "B" * 87, "auth": "A"},
        {"endpoint": "https://push.example.test/x", "p256dh": "B" * 87},
        {"endpoint": "https://push.example.test/x", "p256dh": "B" * 87, "auth": "A" * 22,
         "user_agent": "u" * 501},
    ],
)  # fmt: skip
def test_bad_push_subscriptions_are_400(stack: Stack, body: dict[str, Any]) -> None:
    person = stack.new_user()
    with stack.http(person.token) as http:
        answer = http.post("/rest/v1/push_subscriptions", json=body)
    assert answer.status_code == 400, answer.text
