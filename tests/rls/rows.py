"""How to make each kind of row named in ``spec.py``, from the acting role's point of view.

``EXISTING[relation][kind](w, role)`` makes a row (for select / update / delete) and
returns its key (None only if the row it should find is missing: the matrix fails). It is
never asked for a kind the role cannot have (``HAS_NO_SUCH_ROW`` in spec.py: a person in no
project has no membership of their own). ``NEW[relation][kind](w, role)`` returns the body
of an insert. ``CHANGE[relation]`` is the update the matrix tries; ``KEY`` names the column
that identifies a row.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from tests.rls.world import World

Maker = Callable[[World, str], "str | None"]
Payload = Callable[[World, str], dict[str, Any]]

KEY: dict[str, str] = {
    "user_roles": "user_id",
    "audit_log_origins": "audit_log_id",
}

SOON = "2030-01-01T10:00:00+00:00"
LATER = "2030-01-01T11:00:00+00:00"


def tag() -> str:
    return uuid.uuid4().hex[:8]


def _preference(w: World, user_id: str) -> str:
    return str(
        w.one(
            "insert into public.notification_preferences (user_id, type, email)"
            " values (%s, 'system', 'immediate')"
            " on conflict (user_id, type) do update set email = 'immediate' returning id",
            (user_id,),
        )
    )


def _own_preference_body(w: World, user_id: str) -> dict[str, Any]:
    # a type the person has no row of yet (the matrix counts rows around refused inserts)
    held = {r["type"] for r in w.sql(
        "select type::text from public.notification_preferences where user_id = %s", (user_id,)
    )}  # fmt: skip
    free = [t for t in _PREFERENCE_TYPES if t not in held]
    if not free:
        w.sql(
            "delete from public.notification_preferences where user_id = %s and type = %s",
            (user_id, _PREFERENCE_TYPES[0]),
        )
        free = [_PREFERENCE_TYPES[0]]
    return {"user_id": user_id, "type": free[0], "email": "off"}


_PREFERENCE_TYPES = (
    "task_assigned",
    "message",
    "project_member_added",
    "privacy_request",
    "project_invitation",
)
_NOTIFICATIONS: dict[str, str] = {}


def _notification_once(w: World, user_id: str) -> str:
    """One notification per person for the delivery inserts (made at the first call, so a
    later call writes nothing: its fan-out would change the matrix's row count)."""
    if user_id not in _NOTIFICATIONS:
        _NOTIFICATIONS[user_id] = w.notification(user_id)
    return _NOTIFICATIONS[user_id]


def _push_subscription(w: World, user_id: str) -> str:
    return str(
        w.one(
            "insert into public.push_subscriptions (user_id, endpoint, p256dh, auth)"
            " values (%s, %s, %s, %s) returning id",
            (user_id, f"https://push.example.test/{tag()}", "B" * 87, "A" * 22),
        )
    )


def _delivery(w: World, user_id: str) -> str:
    # the notification's own fan-out may have made it already (e-mail, or push once the
    # person has a device)
    notification = w.notification(user_id)
    w.sql(
        "insert into public.notification_deliveries (notification_id, user_id, channel)"
        " values (%s, %s, 'push') on conflict do nothing",
        (notification, user_id),
    )
    return str(
        w.one(
            "select id from public.notification_deliveries where notification_id = %s limit 1",
            (notification,),
        )
    )


def _digest(w: World, user_id: str) -> str:
    return str(
        w.one(
            "insert into public.notification_digests (user_id, digest_date, since, until)"
            " values (%s, current_date - (random() * 100000)::int, now() - interval '1 day',"
            " now()) returning id",
            (user_id,),
        )
    )


def _own_membership(w: World, role: str) -> str | None:
    project_id = w.member_project()
    return w.one(
        "select id from public.project_members where project_id = %s and user_id = %s",
        (project_id, w.uid(role)),
    )


def _own_conversation_membership(w: World, role: str) -> str | None:
    conversation_id = w.member_conversation()
    return w.one(
        "select id from public.conversation_members where conversation_id = %s and user_id = %s",
        (conversation_id, w.uid(role)),
    )


def _teammate_membership(w: World, _role: str) -> str:
    project_id = w.member_project()
    return w.one(
        "select id from public.project_members where project_id = %s and user_id = %s",
        (project_id, w.uid("teammate")),
    )


def _membership_in_q(w: World, _role: str) -> str:
    person = w.new_person()
    w.sql(
        "insert into public.project_members (project_id, user_id, role) values (%s, %s, 'viewer')",
        (w.project_q, person),
    )
    return w.one(
        "select id from public.project_members where project_id = %s and user_id = %s",
        (w.project_q, person),
    )


def _conversation_member_row(conversation_id: str, user_id: str, w: World) -> str:
    return w.one(
        "select id from public.conversation_members where conversation_id = %s and user_id = %s",
        (conversation_id, user_id),
    )


def _teammate_into_p(w: World) -> str:
    person = w.new_person()
    w.sql(
        "insert into public.project_members (project_id, user_id, role) values (%s, %s, 'viewer')",
        (w.project_p, person),
    )
    return person


def _deleted(maker: Maker, table: str) -> Maker:
    """A row of the kind ``maker`` makes, soft-deleted a day ago."""

    def make(w: World, role: str) -> str | None:
        row = maker(w, role)
        w.sql(
            f"update public.{table} set deleted_at = now() - interval '1 day' where id = %s",
            (row,),
        )
        return row

    return make


EXISTING: dict[str, dict[str, Maker]] = {
    "profiles": {
        "mine": lambda w, r: w.uid(r),
        "a teammates": lambda w, r: w.uid("teammate"),
        "a strangers": lambda w, r: w.uid("stranger"),
    },
    "user_roles": {
        "mine": lambda w, r: w.uid(r),
        "someone elses": lambda w, r: w.new_person(),
    },
    "projects": {
        "one i am in": lambda w, r: w.member_project(),
        "someone elses": lambda w, r: w.project(w.uid("stranger")),
        "deleted one i am in": _deleted(lambda w, r: w.member_project(), "projects"),
    },
    "project_members": {
        "mine": _own_membership,
        "a teammates": _teammate_membership,
        "in another project": _membership_in_q,
    },
    "project_invitations": {
        "in my project": lambda w, r: w.invitation(w.project_p, invitee=w.new_person()),
        "to me": lambda w, r: w.invitation(w.project(w.new_person()), invitee=w.uid(r)),
        "to my address": lambda w, r: w.invitation(
            w.project(w.new_person()), email=w.users[r].email.lower()
        ),
        "someone elses": lambda w, r: w.invitation(w.project_q, invitee=w.new_person()),
    },
    "tasks": {
        "in my project": lambda w, r: w.task(w.project_p),
        "in another project": lambda w, r: w.task(w.project_q),
        "deleted in my project": _deleted(lambda w, r: w.task(w.project_p), "tasks"),
    },
    "files": {
        "in my project": lambda w, r: w.file(w.project_p, w.uid("owner")),
        "in another project": lambda w, r: w.file(w.project_q, w.uid("stranger")),
        "deleted in my project": _deleted(
            lambda w, r: w.file(w.project_p, w.uid("owner")), "files"
        ),
    },
    "conversations": {
        "one i am in": lambda w, r: w.member_conversation(),
        "someone elses": lambda w, r: w.conversation(w.uid("stranger"), [], None),
        "deleted one i am in": _deleted(lambda w, r: w.member_conversation(), "conversations"),
    },
    "conversation_members": {
        "mine": _own_conversation_membership,
        "a teammates": lambda w, r: _conversation_member_row(
            w.member_conversation(), w.uid("teammate"), w
        ),
        "in another conversation": lambda w, r: _conversation_member_row(
            w.conversation_d, w.uid("stranger"), w
        ),
    },
    "messages": {
        "mine": lambda w, r: w.message(w.conversation_c, w.uid(r)),
        "a teammates": lambda w, r: w.message(w.conversation_c, w.uid("teammate")),
        "in another conversation": lambda w, r: w.message(w.conversation_d, w.uid("stranger")),
        "deleted mine": _deleted(lambda w, r: w.message(w.conversation_c, w.uid(r)), "messages"),
    },
    "message_attachments": {
        "mine": lambda w, r: w.attachment(w.conversation_c, w.uid(r)),
        "in my conversation": lambda w, r: w.attachment(w.conversation_c, w.uid("teammate")),
        "in another conversation": lambda w, r: w.attachment(w.conversation_d, w.uid("stranger")),
    },
    "notifications": {
        "mine": lambda w, r: w.notification(w.uid(r)),
        "someone elses": lambda w, r: w.notification(w.uid("teammate")),
    },
    "notification_preferences": {
        "mine": lambda w, r: _preference(w, w.uid(r)),
        "someone elses": lambda w, r: _preference(w, w.uid("teammate")),
    },
    "push_subscriptions": {
        "mine": lambda w, r: _push_subscription(w, w.uid(r)),
        "someone elses": lambda w, r: _push_subscription(w, w.uid("teammate")),
    },
    "notification_deliveries": {
        "mine": lambda w, r: _delivery(w, w.uid(r)),
        "someone elses": lambda w, r: _delivery(w, w.uid("teammate")),
    },
    "notification_digests": {
        "mine": lambda w, r: _digest(w, w.uid(r)),
        "someone elses": lambda w, r: _digest(w, w.uid("teammate")),
    },
    "calendar_events": {
        "mine": lambda w, r: w.event(w.uid(r)),
        "in my project": lambda w, r: w.event(w.uid("owner"), w.project_p),
        "i attend": lambda w, r: w.event(w.uid("stranger"), attendee=w.uid(r)),
        "someone elses": lambda w, r: w.event(w.uid("stranger")),
    },
    "calendar_event_attendees": {
        "mine": lambda w, r: w.attendee(w.event(w.uid("stranger")), w.uid(r)),
        "on an event in my project": lambda w, r: w.attendee(
            w.event(w.uid("owner"), w.project_p), w.uid("teammate")
        ),
        "someone elses": lambda w, r: w.attendee(w.event(w.uid("stranger")), w.uid("teammate")),
    },
    "documents": {
        "in my project": lambda w, r: w.document(w.project_p),
        "in another project": lambda w, r: w.document(w.project_q),
        "deleted in my project": _deleted(lambda w, r: w.document(w.project_p), "documents"),
    },
    "document_versions": {
        "in my project": lambda w, r: w.version(w.project_p),
        "in another project": lambda w, r: w.version(w.project_q),
    },
    "document_jobs": {
        "in my project": lambda w, r: w.job(w.project_p),
        "in another project": lambda w, r: w.job(w.project_q),
    },
    "asset_jobs": {
        "in my project": lambda w, r: w.asset_job(w.project_p),
        "in another project": lambda w, r: w.asset_job(w.project_q),
    },
    "integrations": {
        "mine": lambda w, r: w.integration(w.uid(r)),
        "someone elses": lambda w, r: w.integration(w.uid("teammate")),
    },
    "integration_links": {
        "in my project": lambda w, r: w.integration_link(w.project_p),
        "in another project": lambda w, r: w.integration_link(w.project_q),
    },
    "integration_syncs": {
        "in my project": lambda w, r: w.integration_sync(w.project_p),
        "in another project": lambda w, r: w.integration_sync(w.project_q),
    },
    "activity_events": {
        "in my project": lambda w, r: w.activity(w.project_p),
        "in another project": lambda w, r: w.activity(w.project_q),
    },
    "dashboards": {
        "mine": lambda w, r: w.dashboard(w.uid(r), w.project_p),
        "a teammates": lambda w, r: w.dashboard(w.uid("teammate"), w.project_p),
        "in another project": lambda w, r: w.dashboard(w.uid("stranger"), w.project_q),
    },
    "privacy_requests": {
        "mine": lambda w, r: w.privacy_request(w.uid(r)),
        "someone elses": lambda w, r: w.privacy_request(w.uid("teammate")),
    },
    "audit_logs": {
        "about me": lambda w, r: w.audit(w.uid(r), None, w.uid(r)),
        "in my project": lambda w, r: w.audit(w.uid("teammate"), w.project_p, w.uid("teammate")),
        "elsewhere": lambda w, r: w.audit(w.uid("stranger"), w.project_q, w.uid("stranger")),
    },
    "audit_log_origins": {
        "mine": lambda w, r: w.origin(w.uid(r)),
        # a teammate's entry in P: P's admins read the entry, not where it came from
        "a teammates": lambda w, r: w.origin(w.uid("teammate")),
        "someone elses": lambda w, r: w.origin(w.uid("stranger")),
    },
}


def _task_body(project: str) -> Payload:
    return lambda w, r: {"project_id": getattr(w, project), "title": f"task {tag()}"}


def _file_body(project: str) -> Payload:
    return lambda w, r: {
        "project_id": getattr(w, project),
        "name": f"{tag()}.txt",
        "mime_type": "text/plain",
        "size_bytes": 12,
        "checksum_sha256": "a" * 64,
        "bucket": "test",
    }


def _attachment_body(author_role: str | None) -> Payload:
    def body(w: World, r: str) -> dict[str, Any]:
        author = w.uid(author_role or r)
        return {
            "message_id": w.message(w.conversation_c, author),
            "conversation_id": w.conversation_c,
            "file_id": w.file(w.project_p, w.uid(r)),
        }

    return body


def _event_body(project: str | None, owner_role: str | None = None) -> Payload:
    def body(w: World, r: str) -> dict[str, Any]:
        out: dict[str, Any] = {"title": f"meeting {tag()}", "starts_at": SOON, "ends_at": LATER}
        if project:
            out["project_id"] = getattr(w, project)
        if owner_role:
            out["owner_id"] = w.uid(owner_role)
        return out

    return body


NEW: dict[str, dict[str, Payload]] = {
    "profiles": {"mine": lambda w, r: {"id": w.uid(r), "full_name": "Me"}},
    "user_roles": {"mine": lambda w, r: {"user_id": w.uid(r), "role": "admin"}},
    "projects": {
        "owned by me": lambda w, r: {"name": f"mine {tag()}", "owner_id": w.uid(r)},
        "owned by someone else": lambda w, r: {
            "name": f"theirs {tag()}",
            "owner_id": w.uid("teammate"),
        },
    },
    "project_members": {
        "new person into my project": lambda w, r: {
            "project_id": w.project_p,
            "user_id": w.new_person(),
            "role": "viewer",
        },
        "myself into another project": lambda w, r: {
            "project_id": w.project_q,
            "user_id": w.uid(r),
            "role": "viewer",
        },
    },
    "project_invitations": {
        "into my project": lambda w, r: {
            "project_id": w.project_p,
            "project_name": "P",
            "invitee_id": w.new_person(),
            "role": "viewer",
        },
        "to myself": lambda w, r: {
            "project_id": w.project_q,
            "project_name": "Q",
            "invitee_id": w.uid(r),
            "role": "admin",
            "status": "accepted",
        },
    },
    "tasks": {
        "in my project": _task_body("project_p"),
        "in another project": _task_body("project_q"),
    },
    "files": {
        "in my project": _file_body("project_p"),
        "in another project": _file_body("project_q"),
    },
    "conversations": {"group": lambda w, r: {"kind": "group", "title": f"chat {tag()}"}},
    "conversation_members": {
        "teammate into my conversation": lambda w, r: {
            "conversation_id": w.conversation_c,
            "user_id": _teammate_into_p(w),
        },
        "myself into another conversation": lambda w, r: {
            "conversation_id": w.conversation_d,
            "user_id": w.uid(r),
        },
    },
    "messages": {
        "in my conversation": lambda w, r: {"conversation_id": w.conversation_c, "content": "hi"},
        "in another conversation": lambda w, r: {
            "conversation_id": w.conversation_d,
            "content": "hi",
        },
    },
    "message_attachments": {
        "my file on my message": _attachment_body(None),
        "my file on a teammates message": _attachment_body("teammate"),
    },
    "notifications": {
        "for me": lambda w, r: {"user_id": w.uid(r), "type": "system"},
        "for someone else": lambda w, r: {"user_id": w.uid("teammate"), "type": "system"},
    },
    "notification_preferences": {
        "mine": lambda w, r: _own_preference_body(w, w.uid(r)),
        "for someone else": lambda w, r: {
            "user_id": w.uid("teammate"),
            "type": "document_ready",
            "email": "off",
        },
    },
    "push_subscriptions": {
        "mine": lambda w, r: {
            "user_id": w.uid(r),
            "endpoint": f"https://push.example.test/{tag()}",
            "p256dh": "B" * 87,
            "auth": "A" * 22,
        },
        "for someone else": lambda w, r: {
            "user_id": w.uid("teammate"),
            "endpoint": f"https://push.example.test/{tag()}",
            "p256dh": "B" * 87,
            "auth": "A" * 22,
        },
    },
    "notification_deliveries": {
        "for me": lambda w, r: {
            "notification_id": _notification_once(w, w.uid(r)),
            "user_id": w.uid(r),
            "channel": "push",
        },
    },
    "notification_digests": {
        "for me": lambda w, r: {
            "user_id": w.uid(r),
            "digest_date": "2031-01-01",
            "since": SOON,
            "until": LATER,
        },
    },
    "calendar_events": {
        "mine": _event_body(None),
        "mine in my project": _event_body("project_p"),
        "for someone else": _event_body(None, owner_role="teammate"),
    },
    "calendar_event_attendees": {
        "teammate to my event": lambda w, r: {
            "event_id": w.event(w.uid(r)),
            "user_id": w.uid("teammate"),
        },
        "myself to someone elses event": lambda w, r: {
            "event_id": w.event(w.uid("stranger")),
            "user_id": w.uid(r),
        },
    },
    "documents": {
        "in my project": lambda w, r: {"project_id": w.project_p, "type": "prd", "title": "PRD"},
        "in another project": lambda w, r: {
            "project_id": w.project_q,
            "type": "prd",
            "title": "PRD",
        },
    },
    "document_versions": {
        "in my project": lambda w, r: {
            "document_id": w.document(w.project_p),
            "project_id": w.project_p,
            "content": "# v",
        },
        "in another project": lambda w, r: {
            "document_id": w.document(w.project_q),
            "project_id": w.project_q,
            "content": "# v",
        },
    },
    "document_jobs": {
        "in my project": lambda w, r: {"project_id": w.project_p, "document_type": "prd"},
    },
    "asset_jobs": {
        "in my project": lambda w, r: {
            "project_id": w.project_p,
            "kind": "model_3d",
            "prompt": "a chair",
        },
    },
    "integrations": {
        "mine": lambda w, r: {"provider": "github", "external_account_id": tag()},
        "for someone else": lambda w, r: {
            "user_id": w.uid("teammate"),
            "provider": "github",
            "external_account_id": tag(),
        },
    },
    "integration_links": {
        "in my project": lambda w, r: {
            "integration_id": w.integration(w.uid(r), w.project_p),
            "project_id": w.project_p,
            "kind": "repository",
            "external_id": f"octo/{tag()}",
        },
    },
    "integration_syncs": {
        "in my project": lambda w, r: {
            "integration_id": w.integration(w.uid(r), w.project_p),
            "project_id": w.project_p,
        },
    },
    "activity_events": {
        "manual in my project": lambda w, r: {
            "project_id": w.project_p,
            "source": "manual",
            "kind": "note.added",
            "actor_id": w.uid(r),
        },
        "github in my project": lambda w, r: {
            "project_id": w.project_p,
            "source": "github",
            "kind": "push",
            "external_id": tag(),
            "actor_id": w.uid(r),
        },
        "manual in another project": lambda w, r: {
            "project_id": w.project_q,
            "source": "manual",
            "kind": "note.added",
            "actor_id": w.uid(r),
        },
    },
    "dashboards": {
        "mine in my project": lambda w, r: {"project_id": w.project_p, "name": f"kpis {tag()}"},
        "mine in another project": lambda w, r: {"project_id": w.project_q, "name": "kpis"},
    },
    "privacy_requests": {
        "mine": lambda w, r: {"kind": "export"},
        "for someone else": lambda w, r: {"user_id": w.uid("teammate"), "kind": "erasure"},
    },
    "audit_log_origins": {
        "mine": lambda w, r: {
            "audit_log_id": w.audit(w.uid(r), None, w.uid(r)),
            "actor_id": w.uid(r),
            "ip": "198.51.100.1",
        },
    },
    "audit_logs": {
        "about me": lambda w, r: {
            "actor_id": w.uid(r),
            "action": "insert",
            "table_name": "tasks",
            "subject_user_id": w.uid(r),
        },
    },
}


def change(relation: str, kind: str, role: str) -> dict[str, Any]:
    """The update the matrix tries on a row (fresh values, so success is visible)."""
    t = tag()
    if relation == "project_members":
        if kind == "mine":  # make myself owner; the owner steps down without a transfer
            return {"role": "admin" if role == "owner" else "owner"}
        return {"role": "editor"}  # a viewer becomes an editor
    return {
        "profiles": {"full_name": f"name {t}"},
        "user_roles": {"disabled_reason": f"reason {t}"},
        "projects": {"description": f"desc {t}"},
        "tasks": {"title": f"title {t}"},
        "files": {"name": f"{t}.txt"},
        "conversations": {"title": f"title {t}"},
        "conversation_members": {"last_read_at": SOON},
        "messages": {"content": f"edited {t}"},
        "message_attachments": {"conversation_id": str(uuid.uuid4())},
        "notifications": {"read_at": SOON},
        "notification_preferences": {"email": "off"},
        "push_subscriptions": {"user_agent": f"agent {t}"},
        "notification_deliveries": {"error": f"error {t}"},
        "notification_digests": {"error": f"error {t}"},
        "calendar_events": {"title": f"title {t}"},
        "calendar_event_attendees": {"response": "accepted"},
        "documents": {"title": f"title {t}"},
        "document_versions": {"change_summary": f"summary {t}"},
        "document_jobs": {"error": f"error {t}"},
        "asset_jobs": {"prompt": f"prompt {t}"},
        "integrations": {"external_account_name": f"name {t}"},
        "integration_links": {"name": f"name {t}"},
        "integration_syncs": {"reason": "schedule"},
        "activity_events": {"kind": f"kind_{t}"},
        "dashboards": {"name": f"name {t}"},
        "privacy_requests": {"error": f"error {t}"},
        "audit_logs": {"table_name": f"table {t}"},
        "project_invitations": {"status": "accepted"},
        "audit_log_origins": {"user_agent": f"agent {t}"},
    }[relation]
