"""The fixture world of the RLS tests: people in every role, a project P they share, a
conversation C in it, and a project Q / conversation D belonging to a stranger.

Rows are made with SQL as the database owner (no policy applies), so each matrix cell
can make the exact row it needs; every request under test goes through PostgREST.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from tests.support import Stack, TestUser

# project role of each fixture in P (and membership of C)
PROJECT_ROLES = {
    "owner": "owner",
    "project_admin": "admin",
    "editor": "editor",
    "viewer": "viewer",
    "guest": "editor",  # a guest writes nothing, whatever the project role says
    "disabled": "editor",
    "teammate": "viewer",
}


@dataclass
class World:
    stack: Stack
    db: psycopg.Connection[dict[str, Any]]
    users: dict[str, TestUser]
    tokens: dict[str, str | None]
    project_p: str = ""
    project_q: str = ""
    conversation_c: str = ""
    conversation_d: str = ""
    clients: dict[str, httpx.Client] = field(default_factory=dict)

    # -- SQL as the owner ---------------------------------------------------------------
    def sql(self, query: str, params: Any = None) -> list[dict[str, Any]]:
        cur = self.db.execute(query, params)
        return cur.fetchall() if cur.description else []

    def one(self, query: str, params: Any = None) -> Any:
        rows = self.sql(query, params)
        return next(iter(rows[0].values())) if rows else None

    # -- HTTP as a role -----------------------------------------------------------------
    def client(self, role: str) -> httpx.Client:
        if role not in self.clients:
            token = self.tokens[role] or self.stack.env["ANON_KEY"]
            self.clients[role] = httpx.Client(
                base_url=f"{self.stack.env['API_URL']}/rest/v1",
                headers={"apikey": self.stack.env["ANON_KEY"], "Authorization": f"Bearer {token}"},
                timeout=30.0,
            )
        return self.clients[role]

    def uid(self, role: str) -> str:
        return self.users[role].id

    # -- people -------------------------------------------------------------------------
    def new_person(self) -> str:
        """A new auth user (a profile and a platform role come with it)."""
        user_id = str(uuid.uuid4())
        self.sql(
            "insert into auth.users (id, email, aud, role, raw_app_meta_data, raw_user_meta_data,"
            " created_at, updated_at) values (%s, %s, 'authenticated', 'authenticated', %s, %s,"
            " now(), now())",
            (user_id, f"p-{user_id[:12]}@example.test", Jsonb({}), Jsonb({})),
        )
        return user_id

    # -- projects and conversations ------------------------------------------------------
    def project(self, owner: str, members: dict[str, str] | None = None) -> str:
        """A project owned by user id ``owner`` with ``members`` (user id -> role)."""
        project_id = self.one(
            "insert into public.projects (name, owner_id) values (%s, %s) returning id",
            (f"project {uuid.uuid4().hex[:6]}", owner),
        )
        for user_id, role in (members or {}).items():
            if user_id != owner:
                self.sql(
                    "insert into public.project_members (project_id, user_id, role, invited_by)"
                    " values (%s, %s, %s, %s)",
                    (project_id, user_id, role, owner),
                )
        return str(project_id)

    def member_project(self) -> str:
        """A project shaped like P: the same people in the same roles."""
        return self.project(
            self.uid("owner"),
            {self.uid(r): role for r, role in PROJECT_ROLES.items()},
        )

    def conversation(self, creator: str, members: list[str], project_id: str | None) -> str:
        conversation_id = self.one(
            "insert into public.conversations (kind, title, project_id, created_by)"
            " values ('group', 'chat', %s, %s) returning id",
            (project_id, creator),
        )
        for user_id in {creator, *members}:
            self.sql(
                "insert into public.conversation_members (conversation_id, user_id)"
                " values (%s, %s)",
                (conversation_id, user_id),
            )
        return str(conversation_id)

    def member_conversation(self) -> str:
        """A conversation shaped like C: started by the owner, with all of P's people."""
        return self.conversation(
            self.uid("owner"), [self.uid(r) for r in PROJECT_ROLES], self.project_p
        )

    # -- rows of the other tables ---------------------------------------------------------
    def task(self, project_id: str) -> str:
        return str(
            self.one(
                "insert into public.tasks (project_id, title, created_by) values (%s, 'task', %s)"
                " returning id",
                (project_id, self.uid("owner")),
            )
        )

    def file(self, project_id: str, uploaded_by: str) -> str:
        return str(
            self.one(
                "insert into public.files (project_id, name, mime_type, size_bytes,"
                " checksum_sha256, bucket, uploaded_by)"
                " values (%s, 'notes.txt', 'text/plain', 12, %s, 'test', %s) returning id",
                (project_id, "0" * 64, uploaded_by),
            )
        )

    def message(self, conversation_id: str, author: str) -> str:
        return str(
            self.one(
                "insert into public.messages (conversation_id, author_id, content)"
                " values (%s, %s, 'hello') returning id",
                (conversation_id, author),
            )
        )

    def attachment(self, conversation_id: str, author: str) -> str:
        message_id = self.message(conversation_id, author)
        file_id = self.file(self.project_p, author)
        return str(
            self.one(
                "insert into public.message_attachments (message_id, conversation_id, file_id)"
                " values (%s, %s, %s) returning id",
                (message_id, conversation_id, file_id),
            )
        )

    def notification(self, user_id: str) -> str:
        return str(
            self.one(
                "insert into public.notifications (user_id, type, payload)"
                " values (%s, 'system', '{}') returning id",
                (user_id,),
            )
        )

    def event(self, owner: str, project_id: str | None = None, attendee: str | None = None) -> str:
        event_id = self.one(
            "insert into public.calendar_events (owner_id, project_id, title, starts_at, ends_at)"
            " values (%s, %s, 'meeting', now(), now() + interval '1 hour') returning id",
            (owner, project_id),
        )
        if attendee:
            self.attendee(str(event_id), attendee)
        return str(event_id)

    def attendee(self, event_id: str, user_id: str) -> str:
        return str(
            self.one(
                "insert into public.calendar_event_attendees (event_id, user_id) values (%s, %s)"
                " returning id",
                (event_id, user_id),
            )
        )

    def document(self, project_id: str) -> str:
        return str(
            self.one(
                "insert into public.documents (project_id, type, title, created_by)"
                " values (%s, 'prd', 'PRD', %s) returning id",
                (project_id, self.uid("owner")),
            )
        )

    def version(self, project_id: str) -> str:
        document_id = self.document(project_id)
        return str(
            self.one(
                "insert into public.document_versions (document_id, project_id, content, author_id)"
                " values (%s, %s, '# PRD', %s) returning id",
                (document_id, project_id, self.uid("owner")),
            )
        )

    def job(self, project_id: str) -> str:
        return str(
            self.one(
                "insert into public.document_jobs (project_id, document_type, requested_by)"
                " values (%s, 'prd', %s) returning id",
                (project_id, self.uid("owner")),
            )
        )

    def asset_job(self, project_id: str) -> str:
        return str(
            self.one(
                # nobody's (as after an erasure): the daily quotas the RPC cells meet stay free
                "insert into public.asset_jobs (project_id, kind, prompt)"
                " values (%s, 'model_3d', 'a chair') returning id",
                (project_id,),
            )
        )

    def integration(self, user_id: str, project_id: str | None = None) -> str:
        return str(
            self.one(
                "insert into public.integrations (user_id, provider, external_account_id,"
                " project_id) values (%s, 'github', %s, %s) returning id",
                (user_id, uuid.uuid4().hex, project_id),
            )
        )

    def integration_link(self, project_id: str) -> str:
        owner = self.uid("owner") if project_id == self.project_p else self.uid("stranger")
        return str(
            self.one(
                "insert into public.integration_links (integration_id, project_id, kind,"
                " external_id) values (%s, %s, 'repository', %s) returning id",
                (self.integration(owner, project_id), project_id, f"octo/{uuid.uuid4().hex}"),
            )
        )

    def integration_sync(self, project_id: str) -> str:
        owner = self.uid("owner") if project_id == self.project_p else self.uid("stranger")
        return str(
            self.one(
                "insert into public.integration_syncs (integration_id, project_id, requested_by)"
                " values (%s, %s, %s) returning id",
                (self.integration(owner, project_id), project_id, owner),
            )
        )

    def activity(self, project_id: str) -> str:
        return str(
            self.one(
                "insert into public.activity_events (project_id, source, kind, external_id)"
                " values (%s, 'github', 'push', %s) returning id",
                (project_id, uuid.uuid4().hex),
            )
        )

    def dashboard(self, owner: str, project_id: str) -> str:
        return str(
            self.one(
                "insert into public.dashboards (owner_id, project_id, name) values (%s, %s, 'kpis')"
                " returning id",
                (owner, project_id),
            )
        )

    def privacy_request(self, user_id: str) -> str:
        return str(
            self.one(
                "insert into public.privacy_requests (user_id, kind, status, completed_at)"
                " values (%s, 'export', 'completed', now()) returning id",
                (user_id,),
            )
        )

    def invitation(
        self, project_id: str, invitee: str | None = None, email: str | None = None
    ) -> str:
        """A pending invitation into ``project_id`` (by user id or by email)."""
        return str(
            self.one(
                "insert into public.project_invitations (project_id, project_name, role,"
                " invitee_id, email, invited_by) values (%s, 'project', 'viewer', %s, %s,"
                " (select owner_id from public.projects where id = %s)) returning id",
                (project_id, invitee, email, project_id),
            )
        )

    def origin(self, actor: str) -> str:
        """An audit entry by ``actor`` with the IP and user agent it came from."""
        entry = self.audit(actor, None, actor)
        self.sql(
            "insert into public.audit_log_origins (audit_log_id, actor_id, ip, user_agent)"
            " values (%s, %s, '203.0.113.7', 'browser')",
            (entry, actor),
        )
        return entry

    def audit(self, actor: str | None, project_id: str | None, subject: str | None) -> str:
        return str(
            self.one(
                "insert into public.audit_logs (actor_id, action, table_name, project_id,"
                " subject_user_id) values (%s, 'update', 'tasks', %s, %s) returning id",
                (actor, project_id, subject),
            )
        )


def build_world(stack: Stack) -> World:
    """People in every role (fresh for this run), P and C shared by them, Q and D not."""
    db = psycopg.connect(stack.env["DB_URL"], autocommit=True, row_factory=dict_row)
    users: dict[str, TestUser] = {}
    for role in (
        "anon",  # only a user id for rows "of anon"; requests carry no token
        "outsider",
        "guest",
        "viewer",
        "editor",
        "project_admin",
        "owner",
        "platform_admin",
        "disabled",
        "teammate",
        "stranger",
    ):
        users[role] = stack.new_user()
    tokens: dict[str, str | None] = {role: user.token for role, user in users.items()}
    tokens["anon"] = None
    w = World(stack=stack, db=db, users=users, tokens=tokens)

    w.sql("update public.user_roles set role = 'guest' where user_id = %s", (w.uid("guest"),))
    w.sql(
        "update public.user_roles set role = 'admin' where user_id = %s", (w.uid("platform_admin"),)
    )
    # the tokens the access token hook would issue now
    tokens["guest"] = stack.token(users["guest"], user_role="guest")
    tokens["platform_admin"] = stack.token(users["platform_admin"], user_role="admin")

    w.project_p = w.project(w.uid("owner"), {w.uid(r): role for r, role in PROJECT_ROLES.items()})
    w.project_q = w.project(w.uid("stranger"))
    w.conversation_c = w.member_conversation()
    w.conversation_d = w.conversation(w.uid("stranger"), [], w.project_q)

    # disabled by a platform admin after joining: the token stays valid until it expires
    w.sql(
        "update public.user_roles set disabled_at = now() where user_id = %s", (w.uid("disabled"),)
    )
    return w
