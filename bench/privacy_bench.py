"""Privacy export and erasure at scale: one person with N rows (default 100,000) among other
people's rows, in a database of its own on the local cluster, served by its own PostgREST.

    BENCH_DB=privacy_bench BENCH_POSTGREST_PORT=<free port> .venv/bin/python -m bench.privacy_bench
    .venv/bin/python -m bench.privacy_bench --smoke   # seconds, against the running dev stack

``--smoke`` (what ``tests/functions/test_privacy_bench_smoke.py`` runs in ``make test``) seeds a
few hundred rows into the dev stack's own database and runs the same export and erasure
through its PostgREST, so a schema change that breaks the seed or the worker fails the suite;
both people are erased afterwards. Its figures mean nothing.

Each run is a child process (the worker's code unchanged: ``privacy.service.run_export`` /
``run_erasure`` against PostgREST and moto), so its peak RSS is the worker's alone. The export
is measured for a person with N/10 rows and with N rows: flat memory means the two peaks
are close. Figures are printed as one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg

from bench import benchdb
from devstack.config import Config, function_env

ROOT = Path(__file__).resolve().parent.parent

# The person's rows, by table (fractions of N); other people get as many again.
MIX = {"tasks": 0.4, "messages": 0.3, "notifications": 0.2, "audit_logs": 0.1}

_SEED = """
-- no audit/notification triggers while seeding
set local session_replication_role = replica;
insert into auth.users (id, email) values (%(person)s, %(email)s);
insert into public.profiles (id, email, full_name) values (%(person)s, %(email)s, 'Bench Person');
insert into public.user_roles (user_id) values (%(person)s);
insert into public.projects (id, name, owner_id) values (%(project)s, 'bench', %(person)s);
insert into public.project_members (project_id, user_id, role)
  values (%(project)s, %(person)s, 'owner');
insert into public.conversations (id, kind, title, created_by)
  values (%(conversation)s, 'group', 'bench', %(person)s);
insert into public.conversation_members (conversation_id, user_id)
  values (%(conversation)s, %(person)s);
insert into public.tasks (project_id, title, description, created_by)
  select %(project)s, 'task ' || g, repeat('some words about the task ', 8), %(person)s
    from generate_series(1, %(tasks)s) g;
insert into public.messages (conversation_id, author_id, content)
  select %(conversation)s, %(person)s, 'message number ' || g || ' ' || repeat('chat ', 20)
    from generate_series(1, %(messages)s) g;
insert into public.notifications (user_id, type, payload)
  select %(person)s, 'system', jsonb_build_object('n', g, 'text', 'a notification')
    from generate_series(1, %(notifications)s) g;
with entries as (
  insert into public.audit_logs (actor_id, actor_role, action, table_name, target_id)
  select %(person)s, 'authenticated', 'update', 'tasks', gen_random_uuid()
    from generate_series(1, %(audit_logs)s) g
  returning id, actor_id, occurred_at
)
insert into public.audit_log_origins (audit_log_id, actor_id, occurred_at, ip, user_agent)
  select id, actor_id, occurred_at, '198.51.100.9', 'bench-agent/1.0' from entries;
"""


def _say(message: str) -> None:
    print(f"[privacy-bench] {message}", file=sys.stderr, flush=True)


def seed_person(db_url: str, rows: int) -> str:
    person = str(uuid.uuid4())
    params: dict[str, Any] = {
        "person": person,
        "email": f"bench-{person[:8]}@example.test",
        "project": str(uuid.uuid4()),
        "conversation": str(uuid.uuid4()),
        **{table: int(rows * share) for table, share in MIX.items()},
    }
    with psycopg.connect(db_url) as conn:
        for statement in _SEED.split(";\n"):
            if statement.strip():
                conn.execute(statement, params)  # type: ignore[arg-type]
    return person


def _child(code: str, env: dict[str, str]) -> dict[str, Any]:
    """Run ``code`` in a fresh interpreter; its JSON answer (with its own peak RSS)."""
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT / "functions",
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-3000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


_RUN = """
import json, resource, sys, time
sys.path.insert(0, ".")
from privacy.settings import PrivacySettings
from privacy import service

class BenchSettings(PrivacySettings):
    @property
    def rest_url(self):  # the bench PostgREST serves the API at its root
        return self.supabase_url.rstrip("/")

settings = BenchSettings() if "{root}" == "root" else PrivacySettings()
started = time.perf_counter()
result = service.run_{what}(settings, {{"id": "{request_id}", "user_id": "{person}"}})
seconds = time.perf_counter() - started
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({{"seconds": round(seconds, 2), "rss_kib": rss, "result": result}}))
"""


def _request(db_url: str, person: str, kind: str) -> str:
    with psycopg.connect(db_url, autocommit=True) as conn:
        row = conn.execute(
            "insert into public.privacy_requests (user_id, kind, status) values (%s, %s,"
            " 'processing') returning id::text",
            (person, kind),
        ).fetchone()
    assert row is not None
    return str(row[0])


SMOKE_ROWS = 300


def _forget(db_url: str, people: list[str]) -> None:
    """The smoke run's people leave the dev database (the large one already went through the
    worker's erasure; ``erase_user`` takes the others, and is a no-op for one already gone)."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        for person in people:
            conn.execute("select private.erase_user(%s)", (person,))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.privacy_bench")
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="a few hundred rows in the running dev stack (seconds): proves the bench runs",
    )
    args = parser.parse_args(argv)
    cfg = Config()
    env = cfg.current_env()
    rows = SMOKE_ROWS if args.smoke else args.rows
    child_env = {**os.environ, **function_env(env), "PYTHONPATH": str(ROOT / "functions")}
    if args.smoke:
        db_url, root = env["DB_URL"], "gateway"
    else:
        _say(f"database {benchdb.DB_NAME}: bootstrap and migrations")
        benchdb.ensure(cfg)
        db_url, root = benchdb.url(cfg), "root"
        benchdb.start(cfg)
        child_env["SUPABASE_URL"] = benchdb.base_url()
    figures: dict[str, Any] = {"rows": rows, "smoke": args.smoke}
    seeded: list[str] = []
    try:
        _say("noise: another person with as many rows")
        seeded.append(seed_person(db_url, rows))
        for label, count in (("small", rows // 10), ("large", rows)):
            _say(f"seeding a person with {count} rows")
            started = time.perf_counter()
            person = seed_person(db_url, count)
            seeded.append(person)
            _say(f"seeded in {time.perf_counter() - started:.1f} s; exporting")
            request_id = _request(db_url, person, "export")
            answer = _child(
                _RUN.format(what="export", request_id=request_id, person=person, root=root),
                child_env,
            )
            figures[f"export_{label}"] = {
                "rows": count,
                "seconds": answer["seconds"],
                "peak_rss_mib": round(answer["rss_kib"] / 1024, 1),
            }
            _say(f"export of {count} rows: {figures[f'export_{label}']}")
        request_id = _request(db_url, person, "erasure")
        answer = _child(
            _RUN.format(what="erasure", request_id=request_id, person=person, root=root), child_env
        )
        figures["erasure_large"] = {"rows": rows, "seconds": answer["seconds"]}
        with psycopg.connect(db_url) as conn:
            left = conn.execute(
                "select (select count(*) from public.tasks where created_by = %s)"
                " + (select count(*) from public.messages where author_id = %s)"
                " + (select count(*) from public.audit_logs where actor_id = %s)",
                (person, person, person),
            ).fetchone()
        figures["erasure_large"]["rows_left"] = left[0] if left else None
    finally:
        if args.smoke:
            _forget(db_url, seeded)
        else:
            benchdb.stop(cfg)
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
