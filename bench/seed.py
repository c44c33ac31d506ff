"""Seed the bench database with a realistic volume, set-based (generate_series), resumable.

Everything is deterministic (ids are md5 of a counter, choices are ``hashint4`` of it), so a
step that already ran for the same scale is skipped, and a different scale rebuilds the
database. Triggers (audit, notifications, timestamps) are off while seeding
(``session_replication_role = replica``, which also skips foreign-key checks: ``check()``
proves the data consistent afterwards), then everything is vacuumed and analyzed.

Shape, at the default scale (20k users, 50k projects, 1M tasks, 1M messages, 500k
notifications):

- every project has an owner and 1-5 members; one project in a hundred is large (30-50
  members) and gets a tenth of all tasks and messages; 0.5% of projects are soft-deleted;
- a user is in ~8 projects on average, members of a project are "neighbours" (a team);
- tasks: 70% assigned to a member, 1% soft-deleted, created over the last year;
- one group conversation per project (its members) and a direct conversation between the
  first two members of every other project; messages are 8 words out of a 300-word
  vocabulary (full-text search finds ~2.6% of them per word), 1% soft-deleted;
- notifications: a fifth go to 1% of the users (busy people), 30% are unread.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import psycopg

DEFAULTS = {
    "users": 20_000,
    "projects": 50_000,
    "tasks": 1_000_000,
    "messages": 1_000_000,
    "notifications": 500_000,
}

_VOCABULARY = """
alpha api app audit backend backlog badge beta billing blocker board branch budget bug
build cache calendar campaign canary chart chat checkout client cloud code commit
component config contract cost crm customer dashboard data database deadline demo deploy
design desktop devops diagram docs domain draft email endpoint estimate event export
feature feedback figma file filter fix flag flow forecast form funnel gateway github
goal grant graph growth handoff hiring hotfix idea import incident index insight invoice
issue jira kanban kickoff label landing launch lead legal library license lint log login
logo mobile metric migration milestone mockup model module monitor newsletter notes
onboarding outage owner page partner patch payment persona pipeline pitch plan platform
policy pricing priority privacy product profile prototype proxy query queue quote
ranking release report repo request research retention review revenue roadmap rollback
rollout sales schema scope screen script sdk search security segment server session
signup sitemap sketch slide spec sprint staging standup startup status storage story
strategy style subscription support survey sync table target task team template tenant
test theme ticket timeline token tracking traffic trial typo upload usage user vendor
version video vision webhook website widget wiki wireframe workflow workshop access
account action adapter agenda alert analytics approval archive asset backup banner
benchmark bundle button cadence card changelog checklist cohort column comment
compliance conversion copy coverage cron csv cursor cycle daily digest discount dns
draftboard editor encryption engine epic error estimate experiment fallback fixture font
framework frontend hook hosting icon infra inventory job journey json kpi latency layout
ledger limit locale markdown market meeting memo merge message metadata mvp navigation
network office offer okr parser partition password permission pivot pixel poll portal
preview process quota rate readme recap referral region renewal replica resource retro
risk role route runbook sandbox scale secret sentry shipping
"""
WORDS = tuple(_VOCABULARY.split())


@dataclass(frozen=True)
class Scale:
    users: int
    projects: int
    tasks: int
    messages: int
    notifications: int

    @classmethod
    def of(cls, factor: float) -> Scale:
        return cls(**{k: max(int(v * factor), 10) for k, v in DEFAULTS.items()})

    def as_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)


# hashint4 gives a well-mixed int; & 2147483647 makes it non-negative.
HELPERS = """
create schema if not exists bench;
create table if not exists bench.seed_state (
  step text primary key,
  scale jsonb not null,
  seconds numeric not null,
  done_at timestamptz not null default now()
);
create or replace function bench.h(i bigint, salt int) returns bigint
  language sql immutable parallel safe
  as $$ select (hashint8(i * 1000003 + salt)::bigint & 2147483647) $$;
create or replace function bench.uid(i bigint) returns uuid
  language sql immutable parallel safe as $$ select md5('bench-user-' || i)::uuid $$;
create or replace function bench.pid(i bigint) returns uuid
  language sql immutable parallel safe as $$ select md5('bench-project-' || i)::uuid $$;
create or replace function bench.words(i bigint, n int) returns text
  language sql immutable parallel safe
  as $$ select string_agg(w[1 + bench.h(i, k) % cardinality(w)], ' ')
          from generate_series(1, n) k, (select %(words)s::text[] as w) v $$;
"""

STEPS: list[tuple[str, str]] = [
    (
        "users",
        """
insert into auth.users (instance_id, id, aud, role, email, encrypted_password,
                        email_confirmed_at, raw_app_meta_data, raw_user_meta_data,
                        created_at, updated_at)
select '00000000-0000-0000-0000-000000000000', bench.uid(i), 'authenticated', 'authenticated',
       'user' || i || '@bench.test', '', now(),
       '{"provider": "email", "providers": ["email"]}',
       jsonb_build_object('full_name', 'Bench User ' || i),
       now() - make_interval(days => (bench.h(i, 1) % 700)::int), now()
  from generate_series(0, %(users)s - 1) i;
insert into public.profiles (id, email, username, full_name, persona, created_at, updated_at)
select bench.uid(i), 'user' || i || '@bench.test', 'user' || i, 'Bench User ' || i,
       (array['solo_entrepreneur', 'team_collaborator', 'project_admin'])[1 + i % 3]
         ::public.persona,
       now(), now()
  from generate_series(0, %(users)s - 1) i;
insert into public.user_roles (user_id, role)
select bench.uid(i), 'user' from generate_series(0, %(users)s - 1) i;
""",
    ),
    (
        "projects",
        """
create table bench.project (idx int primary key, id uuid not null, members uuid[] not null);
insert into bench.project (idx, id, members)
select p, bench.pid(p),
       array(select u from (
               select bench.uid((owner + k * stride) %% %(users)s) as u, min(k) as first
                 from generate_series(0, size - 1) k group by 1
             ) m order by first)
  from (select p,
               bench.h(p, 2) %% %(users)s as owner,
               1 + bench.h(p, 3) %% 97 as stride,
               least(case when p %% 100 = 0 then 30 + p %% 21 else 1 + bench.h(p, 4) %% 5 end,
                     %(users)s) as size
          from generate_series(0, %(projects)s - 1) p) s;
insert into public.projects (id, name, description, product_type, status, owner_id,
                             created_at, updated_at, deleted_at)
select id, 'Project ' || idx || ' ' || bench.words(idx, 2), bench.words(idx + 7, 20),
       (array['physical_product', 'software', 'service'])[1 + idx %% 3]::public.product_type,
       (case when idx %% 10 = 0 then 'archived' when idx %% 10 = 1 then 'draft'
             else 'active' end)::public.project_status,
       members[1],
       now() - make_interval(days => (bench.h(idx, 5) %% 730)::int),
       now() - make_interval(mins => (bench.h(idx, 6) %% 100000)::int),
       case when idx %% 200 = 7 then now() - interval '3 days' end
  from bench.project;
insert into public.project_members (project_id, user_id, role, invited_by, created_at, updated_at)
select p.id, m.u,
       (case when m.k = 1 then 'owner' when m.k = 2 then 'admin'
             when m.k %% 3 = 0 then 'viewer' else 'editor' end)::public.project_role,
       p.members[1], now(), now()
  from bench.project p, unnest(p.members) with ordinality m(u, k);
""",
    ),
    (
        "tasks",
        """
insert into public.tasks (project_id, title, description, status, assignee_id, due_at,
                          created_by, created_at, updated_at, deleted_at)
select p.id,
       'Task ' || t.i || ': ' || bench.words(t.i, 5),
       bench.words(t.i + 11, 25),
       (array['todo', 'in_progress', 'done'])[1 + t.i %% 3]::public.task_status,
       case when t.i %% 10 < 7
            then p.members[1 + bench.h(t.i, 7) %% cardinality(p.members)] end,
       case when t.i %% 4 = 0 then now() + make_interval(days => (t.i %% 60)::int) end,
       p.members[1 + bench.h(t.i, 8) %% cardinality(p.members)],
       t.created_at, t.created_at,
       case when t.i %% 100 = 99 then now() - interval '2 days' end
  from (select i,
               case when i %% 10 = 0
                    then (bench.h(i, 9) %% ((%(projects)s + 99) / 100)) * 100
                    else bench.h(i, 10) %% %(projects)s end as pidx,
               now() - make_interval(secs => (bench.h(i, 11) %% (365 * 86400))::int) as created_at
          from generate_series(0, %(tasks)s - 1) i) t
  join bench.project p on p.idx = t.pidx;
""",
    ),
    (
        "conversations",
        """
create table bench.conversation (idx int primary key, id uuid not null, kind text not null,
                                 project_id uuid, direct_key text, members uuid[] not null);
insert into bench.conversation (idx, id, kind, project_id, direct_key, members)
select idx, md5('bench-conversation-' || idx)::uuid, kind, project_id, direct_key, members
  from (
    select p.idx, 'group' as kind, p.id as project_id, null as direct_key, p.members
      from bench.project p
    union all
    select %(projects)s - 1 + row_number() over (order by d.direct_key) as idx, 'direct', null,
           d.direct_key, d.members
      from (select distinct on (direct_key) direct_key, members
              from (select least(members[1], members[2])::text || ':'
                           || greatest(members[1], members[2])::text as direct_key,
                           members[1:2] as members
                      from bench.project where cardinality(members) >= 2 and idx %% 2 = 0) x
             order by direct_key) d
  ) c;
insert into public.conversations (id, kind, title, project_id, created_by, direct_key,
                                  created_at, updated_at)
select id, kind::public.conversation_kind,
       case when kind = 'group' then 'Team ' || idx end, project_id, members[1], direct_key,
       now() - interval '200 days', now()
  from bench.conversation;
insert into public.conversation_members (conversation_id, user_id, last_read_at,
                                         created_at, updated_at)
select c.id, m.u, now() - make_interval(hours => (bench.h(c.idx + m.k, 12) %% 500)::int),
       now(), now()
  from bench.conversation c, unnest(c.members) with ordinality m(u, k);
""",
    ),
    (
        "messages",
        """
insert into public.messages (conversation_id, author_id, content, edited_at, deleted_at,
                             created_at, updated_at)
select c.id, c.members[1 + bench.h(m.i, 13) %% cardinality(c.members)],
       bench.words(m.i, 8),
       case when m.i %% 50 = 0 then m.created_at + interval '5 minutes' end,
       case when m.i %% 100 = 98 then now() - interval '1 day' end,
       m.created_at, m.created_at
  from (select i,
               case when i %% 10 = 0
                    then (bench.h(i, 14) %% ((%(projects)s + 99) / 100)) * 100
                    else bench.h(i, 15) %% (select count(*) from bench.conversation) end as cidx,
               now() - make_interval(secs => (bench.h(i, 16) %% (180 * 86400))::int) as created_at
          from generate_series(0, %(messages)s - 1) i) m
  join bench.conversation c on c.idx = m.cidx;
""",
    ),
    (
        "notifications",
        """
insert into public.notifications (user_id, type, payload, read_at, created_at, updated_at)
select bench.uid(case when i %% 5 = 0 then bench.h(i, 17) %% greatest(%(users)s / 100, 1)
                      else bench.h(i, 18) %% %(users)s end),
       (array['message', 'message', 'message', 'task_assigned', 'project_member_added',
              'document_ready'])[1 + i %% 6]::public.notification_type,
       jsonb_build_object('preview', bench.words(i, 6), 'n', i),
       case when i %% 10 >= 3 then c + interval '1 hour' end,
       c, c
  from (select i, now() - make_interval(secs => (bench.h(i, 19) %% (90 * 86400))::int) as c
          from generate_series(0, %(notifications)s - 1) i) n;
""",
    ),
]

# Rows the foreign keys would have refused: all must be 0 (FK triggers are off while seeding).
CHECKS = {
    "tasks assigned to a non-member": """
        select count(*) from public.tasks t
         where t.assignee_id is not null and not exists (
           select 1 from public.project_members pm
            where pm.project_id = t.project_id and pm.user_id = t.assignee_id)""",
    "messages in a missing conversation": """
        select count(*) from public.messages m
         where not exists (select 1 from public.conversations c where c.id = m.conversation_id)""",
    "members without a profile": """
        select count(*) from public.project_members pm
         where not exists (select 1 from public.profiles p where p.id = pm.user_id)""",
    "notifications without a profile": """
        select count(*) from public.notifications n
         where not exists (select 1 from public.profiles p where p.id = n.user_id)""",
}

TABLES = (
    "auth.users", "public.profiles", "public.user_roles", "public.projects",
    "public.project_members", "public.tasks", "public.conversations",
    "public.conversation_members", "public.messages", "public.notifications",
)  # fmt: skip


def _done_steps(conn: psycopg.Connection, scale: Scale) -> set[str]:
    rows = conn.execute(
        "select step, scale = %s::jsonb from bench.seed_state", (scale.as_json(),)
    ).fetchall()
    if any(not same for _, same in rows):
        raise ScaleChangedError
    return {step for step, _ in rows}


class ScaleChangedError(Exception):
    """The database holds another scale: it is rebuilt."""


def seed(db_url: str, scale: Scale, say: Callable[[str], None] = print) -> bool:
    """Run the steps not yet done for this scale; returns True if anything was seeded."""
    params = {**asdict(scale), "words": "{" + ",".join(WORDS) + "}"}
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(HELPERS.replace("%(words)s", f"'{params['words']}'"))  # type: ignore[arg-type]
        done = _done_steps(conn, scale)
        todo = [(name, sql) for name, sql in STEPS if name not in done]
        if not todo:
            return False
        for name, sql in todo:
            started = time.monotonic()
            say(f"seed: {name} ...")
            with conn.transaction():
                conn.execute("set local session_replication_role = replica")
                conn.execute("set local synchronous_commit = off")
                conn.execute("set local work_mem = '256MB'")
                conn.execute(_render(sql, params))  # type: ignore[arg-type]
                seconds = time.monotonic() - started
                conn.execute(
                    "insert into bench.seed_state (step, scale, seconds) values (%s, %s, %s)",
                    (name, scale.as_json(), round(seconds, 1)),
                )
            say(f"seed: {name} done in {seconds:.0f}s")
        say("seed: vacuum analyze ...")
        for table in TABLES:
            conn.execute(f"vacuum (analyze) {table}")  # type: ignore[arg-type]
        for label, query in CHECKS.items():
            bad = conn.execute(query).fetchone()[0]  # type: ignore[arg-type, index]
            if bad:
                raise RuntimeError(f"seed is inconsistent: {bad} {label}")
    return True


def _render(sql: str, params: dict[str, object]) -> str:
    """Fill in integer parameters; ``%%`` in the step SQL is a literal modulo."""
    out = sql
    for key, value in params.items():
        if isinstance(value, int):
            out = out.replace(f"%({key})s", str(value))
    return out.replace("%%", "%")


def counts(db_url: str) -> dict[str, int]:
    """Row counts (exact) of the seeded tables, for the report."""
    with psycopg.connect(db_url) as conn:
        return {
            t: conn.execute(f"select count(*) from {t}").fetchone()[0]  # type: ignore[arg-type, index]
            for t in TABLES
        }
