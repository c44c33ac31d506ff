"""The product's own mail: preferences, the fan-out of a notification to at most one e-mail,
the invitation link, one-click unsubscribe, and the SES path.

Deliveries are written by triggers in the caller's transaction; a test sends them to the real
queue (``jobs.send``, as the dispatcher would) and the local event host runs the worker, which
sends over SMTP to the local inbox. Mail is read only through the inbox's Mailpit API.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import pytest

from tests.functions.conftest import Team, add_member, new_project
from tests.support import Stack, TestUser

SITE = "http://127.0.0.1:3000"


@pytest.fixture
def settings(functions_env: dict[str, str]) -> Any:
    from notify.settings import build_notify_settings

    return build_notify_settings()


def deliveries(
    stack: Stack, user: TestUser, type_: str | None = "task_assigned"
) -> list[dict[str, Any]]:
    """The person's deliveries (of one notification type; the team fixture's memberships
    notify too)."""
    return stack.sql(
        "select d.*, n.type::text as type from public.notification_deliveries d"
        " join public.notifications n on n.id = d.notification_id"
        " where d.user_id = %s and (%s::text is null or n.type::text = %s)"
        " order by d.created_at",
        (user.id, type_, type_),
    )


def send_all(stack: Stack, settings: Any, user: TestUser) -> list[str]:
    """Send the person's queued deliveries to the queue (what the dispatcher does)."""
    from core import jobs
    from notify.kinds import DELIVERIES

    ids = [str(d["id"]) for d in deliveries(stack, user) if d["status"] == "queued"]
    for delivery_id in ids:
        jobs.send(settings, DELIVERIES, delivery_id)
    return ids


def wait_finished(stack: Stack, delivery_id: str, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        row = stack.sql(
            "select * from public.notification_deliveries where id = %s", (delivery_id,)
        )[0]
        if row["status"] in ("sent", "failed"):
            return row
        assert time.monotonic() < deadline, f"delivery still {row['status']}: {row['error']}"
        time.sleep(0.2)


def assign_task(stack: Stack, team: Team, assignee: TestUser, title: str = "Ship it") -> str:
    rows = (
        stack.rest(team.members["owner"].token)
        .table("tasks")
        .insert({"project_id": team.project_id, "title": title, "assignee_id": assignee.id})
        .execute()
        .data
    )
    return rows[0]["id"]


def anon_http(stack: Stack) -> httpx.Client:
    """No apikey, no session: what a mail client's one-click POST sends."""
    return httpx.Client(base_url=stack.env["API_URL"], timeout=30)


def name(stack: Stack, user: TestUser, full_name: str) -> None:
    stack.sql("update public.profiles set full_name = %s where id = %s", (full_name, user.id))


# -- preferences ------------------------------------------------------------------------------
def test_without_preferences_a_task_is_mailed_at_once_and_chat_waits_for_the_digest(
    stack: Stack, team: Team
) -> None:
    editor = team.members["editor"]
    assign_task(stack, team, editor)
    stack.sql(
        "insert into public.notifications (user_id, type, payload) values (%s, 'message', '{}')",
        (editor.id,),
    )
    assert [(d["type"], d["channel"]) for d in deliveries(stack, editor, None)] == [
        ("project_member_added", "email"),
        ("task_assigned", "email"),
    ]


def test_a_person_turns_a_type_off_and_gets_no_mail_of_it(stack: Stack, team: Team) -> None:
    editor = team.members["editor"]
    rest = stack.rest(editor.token)
    row = (
        rest.table("notification_preferences")
        .insert({"type": "task_assigned", "email": "off"})
        .execute()
        .data[0]
    )
    assert (row["user_id"], row["push"]) == (editor.id, True)
    assign_task(stack, team, editor)
    assert deliveries(stack, editor) == []
    # back to immediate: mail again
    rest.table("notification_preferences").update({"email": "immediate"}).eq(
        "type", "task_assigned"
    ).execute()
    assign_task(stack, team, editor)
    assert len(deliveries(stack, editor)) == 1


def test_a_preference_row_without_email_takes_the_types_default(stack: Stack) -> None:
    person = stack.new_user()
    rows = (
        stack.rest(person.token)
        .table("notification_preferences")
        .insert([{"type": "message", "push": False}, {"type": "system", "push": True}])
        .execute()
        .data
    )
    assert {r["type"]: r["email"] for r in rows} == {
        "message": "daily_digest",
        "system": "immediate",
    }


def test_preferences_are_read_and_changed_only_by_their_person(stack: Stack) -> None:
    me, other = stack.new_user(), stack.new_user()
    stack.rest(other.token).table("notification_preferences").insert(
        {"type": "system", "email": "off"}
    ).execute()
    with stack.http(me.token) as http:
        assert http.get("/rest/v1/notification_preferences").json() == []
        forged = http.post(
            "/rest/v1/notification_preferences",
            json={"user_id": other.id, "type": "task_assigned", "email": "off"},
        )
        assert forged.status_code == 403, forged.text
        changed = http.patch(
            "/rest/v1/notification_preferences",
            params={"user_id": f"eq.{other.id}"},
            json={"email": "immediate"},
            headers={"Prefer": "return=representation"},
        )
        assert changed.json() == []
    assert stack.sql(
        "select email::text from public.notification_preferences where user_id = %s", (other.id,)
    ) == [{"email": "off"}]


@pytest.mark.parametrize(
    "body, status",
    [
        ({"type": "no_such_type", "email": "off"}, 400),
        ({"type": "system", "email": "weekly"}, 400),
        ({"type": "system", "push": "maybe"}, 400),
        ({"email": "off"}, 400),
        ({"type": "system", "email": "off", "extra": 1}, 400),
    ],
)
def test_bad_preferences_are_4xx(stack: Stack, body: dict[str, Any], status: int) -> None:
    person = stack.new_user()
    with stack.http(person.token) as http:
        answer = http.post("/rest/v1/notification_preferences", json=body)
    assert answer.status_code == status, answer.text


@pytest.mark.parametrize(
    "change, ok",
    [
        ({"time_zone": "Europe/Berlin", "digest_hour": 7}, True),
        ({"time_zone": "America/Argentina/Buenos_Aires"}, True),
        ({"time_zone": "UTC"}, True),
        ({"time_zone": "Etc/GMT+3"}, True),
        ({"time_zone": "Mars/Olympus"}, False),
        ({"time_zone": "PST"}, False),  # an abbreviation, not a zone
        ({"time_zone": "UTC+3"}, False),  # a POSIX offset spec, not a zone
        ({"time_zone": "../../etc/passwd"}, False),
        ({"time_zone": "Europe/Berlin\u0000"}, False),
        ({"time_zone": ""}, False),
        ({"digest_hour": 24}, False),
        ({"digest_hour": -1}, False),
        ({"digest_hour": "seven"}, False),
    ],
)
def test_profile_time_zone_and_digest_hour(stack: Stack, change: dict[str, Any], ok: bool) -> None:
    person = stack.new_user()
    with stack.http(person.token) as http:
        answer = http.patch("/rest/v1/profiles", params={"id": f"eq.{person.id}"}, json=change)
    assert (answer.status_code == 204) is ok, answer.text
    assert answer.status_code < 500


# -- the fan-out and the mail ------------------------------------------------------------------
def test_an_assigned_task_is_mailed_naming_project_actor_and_link(
    stack: Stack, team: Team, settings: Any
) -> None:
    editor, owner = team.members["editor"], team.members["owner"]
    name(stack, owner, "Olive <Owner> & Co")
    task = assign_task(stack, team, editor, title="Fix <script>alert(1)</script> & more")
    [delivery] = send_all(stack, settings, editor)
    row = wait_finished(stack, delivery)
    assert (row["status"], row["skipped_reason"], row["attempts"]) == ("sent", None, 1)

    [mail] = stack.inbox.wait_for(f"to:{editor.email}")
    assert mail["Subject"] == 'Olive <Owner> & Co assigned you a task in "Files test"'
    link = f"{SITE}/projects/{team.project_id}/tasks/{task}"
    assert link in mail["Text"]
    assert "Fix <script>alert(1)</script> & more" in mail["Text"]
    assert f'href="{link}"' in mail["HTML"]
    # autoescaped: nothing the actor or the task title holds becomes markup
    assert "<script>" not in mail["HTML"]
    assert "Fix &lt;script&gt;alert(1)&lt;/script&gt; &amp; more" in mail["HTML"]
    assert "Olive &lt;Owner&gt; &amp; Co" in mail["HTML"]
    assert "Files test" in mail["HTML"]

    headers = stack.inbox.headers(mail["ID"])
    assert headers["List-Unsubscribe-Post"] == ["List-Unsubscribe=One-Click"]
    [unsubscribe] = headers["List-Unsubscribe"]
    assert re.fullmatch(r"<http://\S+/functions/v1/notify/unsubscribe\?token=v1\.\S+>", unsubscribe)


def test_a_delivery_sent_twice_is_mailed_once(stack: Stack, team: Team, settings: Any) -> None:
    from core import jobs
    from notify.kinds import DELIVERIES

    viewer = team.members["viewer"]
    assign_task(stack, team, viewer)
    [delivery] = send_all(stack, settings, viewer)
    for _ in range(3):
        jobs.send(settings, DELIVERIES, delivery)
    wait_finished(stack, delivery)
    stack.inbox.wait_for(f"to:{viewer.email}")
    time.sleep(3)  # the other copies have been received and acknowledged meanwhile
    assert stack.inbox.count(f"to:{viewer.email}") == 1


def test_the_dispatcher_sends_deliveries_nobody_sent(stack: Stack, team: Team, settings: Any):
    from core import jobs
    from notify.kinds import DELIVERIES

    admin = team.members["admin"]
    assign_task(stack, team, admin)
    [row] = deliveries(stack, admin)
    # other tests' (and the RLS matrix's) unsent deliveries count as just sent, so this run
    # sends only ours and the worker is not handed a backlog
    stack.sql(
        "update public.notification_deliveries set dispatched_at = now() + interval '1 hour'"
        " where status = 'queued' and id <> %s",
        (row["id"],),
    )
    later = datetime.now(UTC) + timedelta(seconds=DELIVERIES.redispatch_after_s + 5)
    result = jobs.dispatch(settings, DELIVERIES, now=later)
    assert result.sent == [str(row["id"])]
    assert wait_finished(stack, str(row["id"]))["status"] == "sent"
    stack.inbox.wait_for(f"to:{admin.email}")


def test_no_mail_about_a_project_the_person_has_left(stack: Stack, team: Team, settings: Any):
    viewer = team.members["viewer"]
    assign_task(stack, team, viewer, title="Secret roadmap")
    stack.sql(
        "delete from public.project_members where project_id = %s and user_id = %s",
        (team.project_id, viewer.id),
    )
    [delivery] = send_all(stack, settings, viewer)
    row = wait_finished(stack, delivery)
    assert row["status"] == "sent"
    assert row["skipped_reason"] == "the person may no longer see what it is about"
    assert row["provider_message_id"] is None
    time.sleep(2)
    assert stack.inbox.count(f"to:{viewer.email}") == 0


def test_a_preference_turned_off_after_the_fan_out_still_stops_the_mail(
    stack: Stack, team: Team, settings: Any
) -> None:
    editor = team.members["editor"]
    assign_task(stack, team, editor)
    stack.rest(editor.token).table("notification_preferences").insert(
        {"type": "task_assigned", "email": "off"}
    ).execute()
    [delivery] = send_all(stack, settings, editor)
    assert wait_finished(stack, delivery)["skipped_reason"] == "e-mail for this type is off"


def test_no_mail_to_a_suppressed_address(stack: Stack, team: Team, settings: Any) -> None:
    editor = team.members["editor"]
    stack.service_rest().rpc(
        "suppress_email_address", {"email": editor.email.upper(), "reason": "bounce"}
    ).execute()
    assign_task(stack, team, editor)
    [delivery] = send_all(stack, settings, editor)
    assert wait_finished(stack, delivery)["skipped_reason"] == "the address is suppressed (bounce)"


def test_a_person_reads_only_their_own_deliveries(stack: Stack, team: Team) -> None:
    editor, viewer = team.members["editor"], team.members["viewer"]
    assign_task(stack, team, editor)
    [task] = deliveries(stack, editor)
    mine = stack.rest(editor.token).table("notification_deliveries").select("*").execute().data
    assert str(task["id"]) in {d["id"] for d in mine}
    assert {d["user_id"] for d in mine} == {editor.id}
    theirs = stack.rest(viewer.token).table("notification_deliveries").select("*").execute().data
    assert theirs and {d["user_id"] for d in theirs} == {viewer.id}
    with stack.http(editor.token) as http:
        forged = http.patch(
            "/rest/v1/notification_deliveries",
            params={"id": f"eq.{task['id']}"},
            json={"status": "sent"},
        )
        assert forged.status_code in (401, 403), forged.text


def test_the_delivery_context_is_the_service_roles_only(stack: Stack, team: Team) -> None:
    editor = team.members["editor"]
    assign_task(stack, team, editor)
    [row] = deliveries(stack, editor)
    for token in (editor.token, stack.env["ANON_KEY"]):
        with stack.http(token) as http:
            answer = http.post(
                "/rest/v1/rpc/notification_delivery_context", json={"delivery_id": str(row["id"])}
            )
        assert answer.status_code in (401, 403, 404), answer.text
        with stack.http(token) as http:
            answer = http.post(
                "/rest/v1/rpc/suppress_email_address",
                json={"email": "x@example.test", "reason": "bounce"},
            )
        assert answer.status_code in (401, 403, 404), answer.text


def test_a_failing_transport_retries_and_a_bad_record_alone_fails(
    stack: Stack, team: Team, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from notify import events

    editor = team.members["editor"]
    assign_task(stack, team, editor)
    [row] = deliveries(stack, editor)
    # a closed port: SMTP is down for this worker
    broken = settings.model_copy(update={"smtp_port": 1})
    monkeypatch.setattr(events, "settings", broken)
    event = {
        "Records": [
            _record(f'{{"kind": "notification_delivery", "job_id": "{row["id"]}"}}'),
            _record("not json"),
        ]
    }
    answer = events.process_deliveries(event, None)
    assert len(answer["batchItemFailures"]) == 2  # the send failed (retry), the junk for good
    after = stack.sql("select * from public.notification_deliveries where id = %s", (row["id"],))[0]
    assert (after["status"], after["attempts"]) == ("queued", 1)
    assert "could not be sent" in after["error"] or "SMTP" in after["error"]

    monkeypatch.setattr(events, "settings", settings)
    good = {"Records": [_record(f'{{"kind": "notification_delivery", "job_id": "{row["id"]}"}}')]}
    assert events.process_deliveries(good, None) == {"batchItemFailures": []}
    final = stack.sql("select * from public.notification_deliveries where id = %s", (row["id"],))
    assert (final[0]["status"], final[0]["attempts"]) == ("sent", 2)
    stack.inbox.wait_for(f"to:{editor.email}")


def _record(body: str) -> dict[str, Any]:
    return {
        "messageId": str(uuid.uuid4()),
        "receiptHandle": "r",
        "body": body,
        "attributes": {"ApproximateReceiveCount": "1"},
        "messageAttributes": {},
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:test",
        "awsRegion": "us-east-1",
    }


# -- invitations ----------------------------------------------------------------------------
def _invite(stack: Stack, admin: TestUser, project: str, email: str) -> dict[str, Any]:
    return (
        stack.rest(admin.token)
        .rpc("invite_project_member", {"project_id": project, "role": "editor", "email": email})
        .execute()
        .data
    )


def _invitation_delivery(stack: Stack, invitation_id: str) -> list[dict[str, Any]]:
    return stack.sql(
        "select * from public.notification_deliveries where invitation_id = %s order by created_at",
        (invitation_id,),
    )


def test_an_invitation_mail_carries_the_link_that_accepts(stack: Stack, settings: Any) -> None:
    from core import jobs
    from notify.kinds import DELIVERIES

    owner = stack.new_user()
    name(stack, owner, "Ada Owner")
    project = new_project(stack, owner, "Launch")
    address = f"invitee-{uuid.uuid4().hex[:10]}@example.test"
    invitation = _invite(stack, owner, project, address)
    [delivery] = _invitation_delivery(stack, invitation["id"])
    jobs.send(settings, DELIVERIES, delivery["id"])
    assert wait_finished(stack, str(delivery["id"]))["skipped_reason"] is None
    # the plaintext token is gone once sent
    assert (
        stack.sql(
            "select * from private.invitation_mail_tokens where delivery_id = %s", (delivery["id"],)
        )
        == []
    )

    [mail] = stack.inbox.wait_for(f"to:{address}")
    assert mail["Subject"] == 'Ada Owner invited you to "Launch" on Collab'
    link = re.search(rf"{re.escape(SITE)}/invitations/\S+", mail["Text"]).group(0)
    url = urlparse(link)
    assert url.path == f"/invitations/{invitation['id']}"
    [token] = parse_qs(url.query)["token"]
    assert token == invitation["token"]
    assert stack.inbox.headers(mail["ID"])["List-Unsubscribe-Post"] == [
        "List-Unsubscribe=One-Click"
    ]

    invitee = stack.new_user(email=address)
    accepted = (
        stack.rest(invitee.token)
        .rpc("accept_project_invitation", {"invitation_id": invitation["id"], "token": token})
        .execute()
        .data
    )
    assert accepted["status"] == "accepted"
    assert stack.sql(
        "select role::text from public.project_members where project_id = %s and user_id = %s",
        (project, invitee.id),
    ) == [{"role": "editor"}]


def test_an_invitation_sent_again_mails_only_the_new_link(stack: Stack, settings: Any) -> None:
    from core import jobs
    from notify.kinds import DELIVERIES

    owner = stack.new_user()
    project = new_project(stack, owner, "Again")
    address = f"again-{uuid.uuid4().hex[:10]}@example.test"
    first = _invite(stack, owner, project, address)
    second = _invite(stack, owner, project, address)
    assert first["id"] == second["id"] and first["token"] != second["token"]
    old, new = _invitation_delivery(stack, first["id"])
    for d in (old, new):
        jobs.send(settings, DELIVERIES, d["id"])
    assert wait_finished(stack, str(old["id"]))["skipped_reason"] == (
        "the invitation was sent again with a new link"
    )
    assert wait_finished(stack, str(new["id"]))["skipped_reason"] is None
    [mail] = stack.inbox.wait_for(f"to:{address}")
    assert second["token"] in mail["Text"] and first["token"] not in mail["Text"]


def test_an_invitation_revoked_before_its_mail_is_not_mailed(stack: Stack, settings: Any):
    from core import jobs
    from notify.kinds import DELIVERIES

    owner = stack.new_user()
    project = new_project(stack, owner, "Revoked")
    address = f"revoked-{uuid.uuid4().hex[:10]}@example.test"
    invitation = _invite(stack, owner, project, address)
    stack.rest(owner.token).rpc(
        "revoke_project_invitation", {"invitation_id": invitation["id"]}
    ).execute()
    [delivery] = _invitation_delivery(stack, invitation["id"])
    jobs.send(settings, DELIVERIES, delivery["id"])
    assert (
        wait_finished(stack, str(delivery["id"]))["skipped_reason"] == "the invitation is revoked"
    )
    assert stack.inbox.count(f"to:{address}") == 0


# -- unsubscribe -----------------------------------------------------------------------------
def _mailed_unsubscribe_url(stack: Stack, team: Team, settings: Any, user: TestUser) -> str:
    assign_task(stack, team, user)
    [delivery] = send_all(stack, settings, user)
    wait_finished(stack, delivery)
    [mail] = stack.inbox.wait_for(f"to:{user.email}")
    [value] = stack.inbox.headers(mail["ID"])["List-Unsubscribe"]
    return value.strip("<>")


def test_one_click_unsubscribe_turns_the_type_off_without_a_session(
    stack: Stack, team: Team, settings: Any
) -> None:
    editor = team.members["editor"]
    url = _mailed_unsubscribe_url(stack, team, settings, editor)
    # a GET (the footer link, a link scanner) changes nothing
    page = httpx.get(url, timeout=30)
    assert page.status_code == 200 and "<form method='post'" in page.text
    assert (
        stack.sql("select * from public.notification_preferences where user_id = %s", (editor.id,))
        == []
    )
    # RFC 8058: the mail client POSTs List-Unsubscribe=One-Click, no cookies, no token header
    for _ in range(2):  # repeating it is harmless
        answer = httpx.post(
            url,
            content="List-Unsubscribe=One-Click",
            headers={"content-type": "application/x-www-form-urlencoded"},
            timeout=30,
        )
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"unsubscribed": "task_assigned", "scope": "person"}
    assert stack.sql(
        "select type::text, email::text, push from public.notification_preferences"
        " where user_id = %s",
        (editor.id,),
    ) == [{"type": "task_assigned", "email": "off", "push": True}]
    assign_task(stack, team, editor)
    assert [d["status"] for d in deliveries(stack, editor)] == ["sent"]  # no new delivery


def test_the_unsubscribe_token_travels_in_the_form_too(stack: Stack, settings: Any) -> None:
    from notify import tokens

    person = stack.new_user()
    secret = settings.notify_signing_secret.get_secret_value()
    token = tokens.issue(secret, type="document_ready", ttl_days=1, user_id=person.id)
    with anon_http(stack) as http:
        answer = http.post(
            "/functions/v1/notify/unsubscribe",
            content=f"List-Unsubscribe=One-Click&token={token}",
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
    assert answer.status_code == 200, answer.text


def _forged(secret: str, **claims: Any) -> str:
    from notify import tokens

    return tokens.sign(secret, tokens.Claims(**claims))


@pytest.mark.parametrize(
    "make, status",
    [
        (lambda s, u: "", 400),
        (lambda s, u: "garbage", 400),
        (lambda s, u: "v1..", 400),
        (lambda s, u: "v1.e30.AAAA", 400),
        (lambda s, u: "v2." + _forged(s, u=u, t="system", x=2**40)[3:], 400),
        (lambda s, u: _forged("not-the-secret", u=u, t="system", x=2**40), 400),
        (lambda s, u: _forged(s, u=u, t="system", x=2**40)[:-2] + "xx", 400),
        (lambda s, u: _forged(s, u=u, t="system", x=1), 410),
        (lambda s, u: _forged(s, u=u, t="no_such_type", x=2**40), 400),
        (lambda s, u: _forged(s, u=str(uuid.uuid4()), t="system", x=2**40), 404),
        (lambda s, u: "v1." + "A" * 5000, 400),
        (lambda s, u: "v1.ünï.côdé", 400),
    ],
)
def test_bad_forged_or_expired_unsubscribe_tokens_are_4xx(
    stack: Stack, settings: Any, make: Callable[[str, str], str], status: int
) -> None:
    person = stack.new_user()
    token = make(settings.notify_signing_secret.get_secret_value(), person.id)
    with anon_http(stack) as http:
        posted = http.post(
            "/functions/v1/notify/unsubscribe", params={"token": token} if token else None
        )
        got = http.get(
            "/functions/v1/notify/unsubscribe", params={"token": token} if token else None
        )
    assert posted.status_code == status, posted.text
    assert posted.json()["error"] and posted.json()["request_id"]
    assert got.status_code == (200 if status == 404 else status), got.text
    assert (
        stack.sql("select * from public.notification_preferences where user_id = %s", (person.id,))
        == []
    )


def test_an_invited_address_unsubscribes_from_invitations(stack: Stack, settings: Any) -> None:
    from core import jobs
    from notify.kinds import DELIVERIES

    owner = stack.new_user()
    project = new_project(stack, owner, "Unsub")
    address = f"unsub-{uuid.uuid4().hex[:10]}@example.test"
    invitation = _invite(stack, owner, project, address)
    [delivery] = _invitation_delivery(stack, invitation["id"])
    jobs.send(settings, DELIVERIES, delivery["id"])
    [mail] = stack.inbox.wait_for(f"to:{address}")
    url = stack.inbox.headers(mail["ID"])["List-Unsubscribe"][0].strip("<>")
    answer = httpx.post(url, content="List-Unsubscribe=One-Click", timeout=30)
    assert answer.json() == {"unsubscribed": "project_invitation", "scope": "address"}
    other = stack.new_user()
    add_member(stack, project, other, "admin")
    again = _invite(stack, owner, new_project(stack, owner, "Second"), address)
    [second] = _invitation_delivery(stack, again["id"])
    jobs.send(settings, DELIVERIES, second["id"])
    assert wait_finished(stack, str(second["id"]))["skipped_reason"] == (
        "the address is suppressed (unsubscribed)"
    )


# -- SES -------------------------------------------------------------------------------------
def test_the_ses_path_sends_the_same_mime_through_sesv2(settings: Any, monkeypatch) -> None:
    """Production's transport against moto (in-process): raw MIME with both parts and the
    unsubscribe headers; an unverified sender is a permanent failure."""
    import boto3
    from moto import mock_aws
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ses.models import ses_backends

    from core import aws, mail

    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_SESV2"):
        monkeypatch.delenv(name, raising=False)
    ses_settings = settings.model_copy(
        update={"mail_transport": "ses", "aws_endpoint_url": None, "aws_region": "us-east-1"}
    )
    outgoing = mail.OutgoingMail(
        sender="no-reply@collab.example",
        to="person@example.test",
        subject="Hello",
        text="plain part",
        html="<p>html part</p>",
        headers={
            "List-Unsubscribe": "<https://x/u?token=t>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
    )
    with mock_aws():
        aws._clients.clear()
        try:
            with pytest.raises(mail.MailError) as refused:
                mail.send(ses_settings, ses_settings.mail, outgoing)
            assert refused.value.permanent
            boto3.client("sesv2", region_name="us-east-1").create_email_identity(
                EmailIdentity="no-reply@collab.example"
            )
            message_id = mail.send(ses_settings, ses_settings.mail, outgoing)
        finally:
            aws._clients.clear()
        sent = ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sent_messages
        assert message_id and len(sent) == 1
        raw = sent[0].raw_data
        assert "List-Unsubscribe-Post: List-Unsubscribe=One-Click" in raw
        assert "plain part" in raw and "<p>html part</p>" in raw
        assert set(sent[0].destinations) == {"person@example.test"}


# -- bounces and complaints (SES -> SNS -> SQS) -----------------------------------------------
def _sns(ses: dict[str, Any]) -> str:
    return json.dumps(
        {"Type": "Notification", "TopicArn": "arn:aws:sns:x", "Message": json.dumps(ses)}
    )


def _bounce(address: str, bounce_type: str = "Permanent") -> dict[str, Any]:
    return {
        "notificationType": "Bounce",
        "bounce": {"bounceType": bounce_type, "bounceSubType": "General",
                   "bouncedRecipients": [{"emailAddress": address}]},
        "mail": {"messageId": "x"},
    }  # fmt: skip


def _suppressed(stack: Stack, address: str) -> list[dict[str, Any]]:
    return stack.sql(
        "select reason from private.email_suppressions where email = %s", (address.lower(),)
    )


def test_a_permanent_bounce_from_ses_stops_mail_to_the_address(
    stack: Stack, team: Team, settings: Any
) -> None:
    """The real queue and the event host, as SNS delivers it; then the next mail is skipped."""
    import boto3

    editor = team.members["editor"]
    sqs = boto3.client("sqs", endpoint_url=stack.env["AWS_ENDPOINT_URL"], region_name="us-east-1")
    sqs.send_message(
        QueueUrl=stack.env["NOTIFY_SES_EVENTS_QUEUE_URL"], MessageBody=_sns(_bounce(editor.email))
    )
    deadline = time.monotonic() + 30
    while not _suppressed(stack, editor.email):
        assert time.monotonic() < deadline, "the bounce did not suppress the address"
        time.sleep(0.2)
    assert _suppressed(stack, editor.email) == [{"reason": "bounce"}]
    assign_task(stack, team, editor)
    [delivery] = send_all(stack, settings, editor)
    assert wait_finished(stack, delivery)["skipped_reason"] == "the address is suppressed (bounce)"


def test_complaints_suppress_transient_bounces_do_not_and_junk_alone_fails(stack: Stack) -> None:
    from notify import events

    complainer = f"complains-{uuid.uuid4().hex[:8]}@example.test"
    full_box = f"full-{uuid.uuid4().hex[:8]}@example.test"
    complaint = {
        "eventType": "Complaint",  # the configuration set's event-publishing form, raw delivery
        "complaint": {"complainedRecipients": [{"emailAddress": complainer}],
                      "complaintFeedbackType": "abuse"},
    }  # fmt: skip
    records = [
        _record(json.dumps(complaint)),
        _record(_sns(_bounce(full_box, "Transient"))),
        _record("not json"),
        _record(_sns({"notificationType": "Bounce", "bounce": {"bounceType": 3}})),
    ]
    answer = events.process_ses_events({"Records": records}, None)
    failed = {f["itemIdentifier"] for f in answer["batchItemFailures"]}
    assert failed == {records[2]["messageId"], records[3]["messageId"]}
    assert _suppressed(stack, complainer) == [{"reason": "complaint"}]
    assert _suppressed(stack, full_box) == []


# -- the daily digest ------------------------------------------------------------------------
def _queue_due(stack: Stack, at: datetime) -> list[str]:
    return [
        str(i)
        for i in stack.service_rest()
        .rpc("queue_due_digests", {"at": at.isoformat()})
        .execute()
        .data
    ]


def _chat_note(stack: Stack, user: TestUser, preview: str) -> None:
    stack.sql(
        "insert into public.notifications (user_id, type, payload)"
        " values (%s, 'message', jsonb_build_object('preview', %s::text))",
        (user.id, preview),
    )


def test_the_daily_digest_comes_once_at_the_persons_hour_with_what_no_mail_carried(
    stack: Stack, settings: Any
) -> None:
    from core import jobs
    from notify.kinds import DIGESTS

    person = stack.new_user()
    # their digest hour is the hour it is now in Tokyo (the database stamps created_at itself)
    tokyo_hour = (datetime.now(UTC) + timedelta(hours=9)).hour
    stack.sql(
        "update public.profiles set time_zone = 'Asia/Tokyo', digest_hour = %s where id = %s",
        (tokyo_hour, person.id),
    )
    _chat_note(stack, person, "Hi <b>there</b>")
    _chat_note(stack, person, "Second message")
    due = datetime.now(UTC)

    def mine(ids: list[str]) -> list[str]:
        return [r["id"] for r in stack.sql(
            "select id::text from public.notification_digests"
            " where user_id = %s and id = any(%s::uuid[])", (person.id, ids))]  # fmt: skip

    assert mine(_queue_due(stack, due - timedelta(hours=1))) == []  # not their hour yet
    [digest] = mine(_queue_due(stack, due))
    assert mine(_queue_due(stack, due + timedelta(minutes=15))) == []  # one per local day
    row = stack.sql("select * from public.notification_digests where id = %s", (digest,))[0]
    assert row["digest_date"] == (due + timedelta(hours=9)).date()

    jobs.send(settings, DIGESTS, digest)
    done = _wait_digest(stack, digest)
    assert (done["status"], done["item_count"], done["skipped_reason"]) == ("sent", 2, None)
    [mail] = stack.inbox.wait_for(f"to:{person.email}")
    assert mail["Subject"] == "Your Collab digest: 2 notifications"
    assert "Hi <b>there</b>" in mail["Text"] and "Second message" in mail["Text"]
    assert "Hi &lt;b&gt;there&lt;/b&gt;" in mail["HTML"]
    headers = stack.inbox.headers(mail["ID"])
    assert headers["List-Unsubscribe-Post"] == ["List-Unsubscribe=One-Click"]

    # the next day carries only what came after
    _chat_note(stack, person, "Third message")
    [tomorrow] = mine(_queue_due(stack, due + timedelta(days=1)))
    jobs.send(settings, DIGESTS, tomorrow)
    assert _wait_digest(stack, tomorrow)["item_count"] == 1
    mails = stack.inbox.wait_for(f"to:{person.email}", count=2)
    assert "Third message" in mails[0]["Text"] and "Second message" not in mails[0]["Text"]

    # one click on the digest's unsubscribe: every digest type goes off
    url = headers["List-Unsubscribe"][0].strip("<>")
    answer = httpx.post(url, content="List-Unsubscribe=One-Click", timeout=30)
    assert answer.json() == {"unsubscribed": "digest", "scope": "person"}
    assert stack.sql(
        "select type::text, email::text from public.notification_preferences where user_id = %s",
        (person.id,),
    ) == [{"type": "message", "email": "off"}]


def test_no_digest_for_someone_with_nothing_in_it_or_only_immediate_types(stack: Stack) -> None:
    person = stack.new_user()
    due = datetime.now(UTC)
    stack.sql("update public.profiles set digest_hour = %s where id = %s", (due.hour, person.id))
    stack.sql(
        "insert into public.notifications (user_id, type) values (%s, 'system')", (person.id,)
    )
    due = datetime.now(UTC)
    ids = _queue_due(stack, due)
    assert not stack.sql(
        "select 1 from public.notification_digests where user_id = %s and id = any(%s::uuid[])",
        (person.id, ids),
    )


def test_the_digest_rpcs_are_the_service_roles_only(stack: Stack) -> None:
    person = stack.new_user()
    for token in (person.token, stack.env["ANON_KEY"]):
        with stack.http(token) as http:
            for name, body in (
                ("queue_due_digests", {}),
                ("notification_digest_context", {"digest_id": str(uuid.uuid4())}),
            ):
                answer = http.post(f"/rest/v1/rpc/{name}", json=body)
                assert answer.status_code in (401, 403, 404), answer.text


def _wait_digest(stack: Stack, digest_id: str, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        row = stack.sql("select * from public.notification_digests where id = %s", (digest_id,))[0]
        if row["status"] in ("sent", "failed"):
            return row
        assert time.monotonic() < deadline, f"digest still {row['status']}: {row['error']}"
        time.sleep(0.2)
