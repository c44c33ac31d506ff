"""The lists a client makes, each twice: as the member (user JWT, RLS decides) and as the
service role (RLS bypassed) with the filter the policy implies written out explicitly."""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable
from dataclasses import dataclass

import psycopg
from psycopg.rows import dict_row

from devstack import tokens

SEARCH_WORDS = ("deploy", "roadmap", "invoice", "launch", "sprint")


@dataclass(frozen=True)
class Member:
    """A benchmark user and what their lists need: their live projects and conversations,
    their busiest project and conversation, a search word."""

    id: str
    email: str
    project_ids: list[str]
    conversation_ids: list[str]
    busiest_project: str
    busiest_conversation: str

    @property
    def word(self) -> str:
        digest = hashlib.md5(self.id.encode()).digest()
        return SEARCH_WORDS[digest[0] % len(SEARCH_WORDS)]

    def token(self, secret: str) -> str:
        """The member's token, signed once per run: every request carries the same one, so
        PostgREST's JWT cache serves the member side as it does the service key."""
        return _token(self.id, self.email, secret)


@functools.cache
def _token(user_id: str, email: str, secret: str) -> str:
    return tokens.sign(
        tokens.user_claims(user_id=user_id, email=email, ttl_seconds=6 * 3600), secret
    )


@dataclass(frozen=True)
class ListSpec:
    key: str
    title: str
    table: str  # the table whose plan shows whether an index is used
    as_member: Callable[[Member], str]
    bypass: Callable[[Member], str]


def _in(ids: list[str]) -> str:
    return "in.(" + ",".join(ids) + ")"


LISTS: list[ListSpec] = [
    ListSpec(
        "my_projects",
        "my projects",
        "projects",
        lambda m: "/projects?select=*&order=updated_at.desc",
        lambda m: (
            f"/projects?select=*&id={_in(m.project_ids)}&deleted_at=is.null&order=updated_at.desc"
        ),
    ),
    ListSpec(
        "project_tasks",
        "a project's tasks (newest 100)",
        "tasks",
        lambda m: (
            f"/tasks?select=*&project_id=eq.{m.busiest_project}&order=created_at.desc&limit=100"
        ),
        lambda m: (
            f"/tasks?select=*&project_id=eq.{m.busiest_project}&deleted_at=is.null"
            "&order=created_at.desc&limit=100"
        ),
    ),
    ListSpec(
        "my_tasks",
        "my tasks across projects, newest first",
        "tasks",
        lambda m: "/tasks?select=*&order=created_at.desc&limit=50",
        lambda m: (
            f"/tasks?select=*&project_id={_in(m.project_ids)}&deleted_at=is.null"
            "&order=created_at.desc&limit=50"
        ),
    ),
    ListSpec(
        "assigned_to_me",
        "tasks assigned to me, newest first",
        "tasks",
        lambda m: f"/tasks?select=*&assignee_id=eq.{m.id}&order=created_at.desc&limit=50",
        lambda m: (
            f"/tasks?select=*&assignee_id=eq.{m.id}&project_id={_in(m.project_ids)}"
            "&deleted_at=is.null&order=created_at.desc&limit=50"
        ),
    ),
    ListSpec(
        "conversation_messages",
        "a conversation's messages (newest 50)",
        "messages",
        lambda m: (
            f"/messages?select=*&conversation_id=eq.{m.busiest_conversation}"
            "&order=created_at.desc&limit=50"
        ),
        lambda m: (
            f"/messages?select=*&conversation_id=eq.{m.busiest_conversation}"
            "&deleted_at=is.null&order=created_at.desc&limit=50"
        ),
    ),
    ListSpec(
        "unread_notifications",
        "my unread notifications (newest 50)",
        "notifications",
        lambda m: "/notifications?select=*&read_at=is.null&order=created_at.desc&limit=50",
        lambda m: (
            f"/notifications?select=*&user_id=eq.{m.id}&read_at=is.null"
            "&order=created_at.desc&limit=50"
        ),
    ),
    ListSpec(
        "message_search",
        "message search (rpc search_messages, 50)",
        "messages",
        lambda m: f"/rpc/search_messages?query={m.word}",
        lambda m: (
            f"/messages?select=*&search=wfts(english).{m.word}"
            f"&conversation_id={_in(m.conversation_ids)}&deleted_at=is.null"
            "&order=created_at.desc&limit=50"
        ),
    ),
]

MEMBERS_SQL = """
with candidates as (
  select pm.user_id, count(*) as projects
    from public.project_members pm
    join public.projects p on p.id = pm.project_id and p.deleted_at is null
   group by pm.user_id
  having count(*) between %(min_projects)s and %(max_projects)s
)
select c.user_id::text as id, pr.email,
       array(select pm.project_id::text from public.project_members pm
               join public.projects p on p.id = pm.project_id and p.deleted_at is null
              where pm.user_id = c.user_id order by 1) as project_ids,
       array(select cm.conversation_id::text from public.conversation_members cm
              where cm.user_id = c.user_id order by 1) as conversation_ids,
       (select t.project_id::text from public.tasks t
          join public.project_members pm on pm.project_id = t.project_id
          join public.projects p on p.id = t.project_id and p.deleted_at is null
         where pm.user_id = c.user_id and t.deleted_at is null
         group by t.project_id order by count(*) desc, 1 limit 1) as busiest_project,
       (select m.conversation_id::text from public.messages m
          join public.conversation_members cm on cm.conversation_id = m.conversation_id
         where cm.user_id = c.user_id and m.deleted_at is null
         group by m.conversation_id order by count(*) desc, 1 limit 1) as busiest_conversation
  from candidates c
  join public.profiles pr on pr.id = c.user_id
 order by md5(c.user_id::text)
 limit %(count)s
"""


def pick_members(db_url: str, count: int) -> list[Member]:
    """Users who are members of several live projects (deterministic choice)."""
    with psycopg.connect(db_url, row_factory=dict_row) as conn:
        rows = conn.execute(
            MEMBERS_SQL,  # type: ignore[arg-type]
            {"min_projects": 4, "max_projects": 15, "count": count},
        ).fetchall()
    members = [Member(**row) for row in rows if row["busiest_conversation"]]
    if not members:
        raise RuntimeError("no user with 4-15 live projects: is the bench database seeded?")
    return members
