"""One user cannot stall everyone: ``make bench-stall`` (needs `make up`).

One user (the attacker) sends 24 requests at once, each resent as soon as it is answered, of
one of two kinds that hold a database connection until the statement timeout:

- ``regex``: ``GET /tasks?description=match.^(.*)(.*)\\2\\1$`` on their own task whose
  description is 3,000 characters (the regex engine backtracks);
- ``embed``: ``GET /projects?select=id,tasks(id,projects(id,tasks(...))))`` 24 levels deep on
  their project of 4 tasks (4^12 rows to build, each join with its RLS policy).

Meanwhile another user (the victim) sends ``GET /projects`` one request after another, and its
latency is recorded; first alone (baseline), then during the attack. The same is done against
two PostgREST servers started for the run on the dev database, configured like devstack's
except that one has the per-user concurrency cap (db-pre-request
``private.limit_concurrent_requests``) and the other has not ("off" = before the fix). The role
statement timeouts are the same for both (the hosted defaults; they were already in force).

Writes the "One user cannot stall everyone" section of bench/README.md (--no-readme: print it).
Settings: --seconds / BENCH_STALL_SECONDS (attack length per run), --parallel (24),
BENCH_STALL_PORT (first of two loopback ports, default 30341).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from bench import report
from devstack import postgrest, users
from devstack.config import Config, read_env_file

PORT = int(os.environ.get("BENCH_STALL_PORT") or 30341)
DEPTH = 24
SECTION = "One user cannot stall everyone"


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _args(argv: list[str] | None) -> argparse.Namespace:
    env = os.environ.get
    p = argparse.ArgumentParser(prog="python -m bench.stall", description=__doc__.split("\n")[0])
    p.add_argument("--seconds", type=float, default=float(env("BENCH_STALL_SECONDS") or 20))
    p.add_argument("--parallel", type=int, default=24)
    p.add_argument("--no-readme", action="store_true", help="print the section, don't write it")
    return p.parse_args(argv)


# --- the requests ---------------------------------------------------------------------------
def embed_select(depth: int = DEPTH) -> str:
    inner = "id"
    for level in range(depth - 1):
        inner = f"id,{'tasks' if level % 2 == 0 else 'projects'}({inner})"
    return inner


def attack_request(kind: str) -> tuple[str, dict[str, str]]:
    if kind == "regex":
        return "/tasks", {"select": "id", "description": r"match.^(.*)(.*)\2\1$"}
    return "/projects", {"select": embed_select(), "limit": "1"}


@dataclass
class Users:
    attacker: str
    victim: str


def prepare(cfg: Config, env: dict[str, str]) -> Users:
    """Two users: the attacker owns a project with 4 tasks, one with a 3,000-character
    description (the embedding multiplies by 4 every second level); the victim owns a project
    (so their list is not empty)."""
    stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
    tokens = []
    for who in ("attacker", "victim"):
        user = users.ensure_user(env["DB_URL"], f"stall-{who}-{stamp}@example.test")
        tokens.append(users.access_token(user, secret=env["JWT_SECRET"], api_url=env["API_URL"]))
    attacker, victim = tokens
    rest = env["REST_URL"]
    with httpx.Client(timeout=30) as http:
        for token, name in ((attacker, "stall attacker"), (victim, "stall victim")):
            headers = _headers(env, token) | {"Prefer": "return=representation"}
            project = http.post(f"{rest}/projects", json={"name": name}, headers=headers)
            project.raise_for_status()
            if token is attacker:
                project_id = project.json()[0]["id"]
                tasks = [
                    {"project_id": project_id, "title": "long", "description": "a" * 2999 + "b"}
                ] + [
                    {"project_id": project_id, "title": f"task {n}", "description": ""}
                    for n in range(3)
                ]
                http.post(f"{rest}/tasks", json=tasks, headers=headers).raise_for_status()
    return Users(attacker, victim)


def _headers(env: dict[str, str], token: str) -> dict[str, str]:
    return {"apikey": env["ANON_KEY"], "Authorization": f"Bearer {token}"}


# --- the attacker (its own process, so its threads do not share the victim's GIL) --------------
def _attack(
    base: str, headers: dict[str, str], kind: str, parallel: int, seconds: float, out: Any
) -> None:
    path, params = attack_request(kind)
    stop = time.monotonic() + seconds
    answers: Counter[str] = Counter()
    lock = threading.Lock()

    def worker() -> None:
        with httpx.Client(base_url=base, headers=headers, timeout=60) as http:
            while time.monotonic() < stop:
                try:
                    response = http.get(path, params=params)
                    code = response.json().get("code") if response.status_code >= 400 else ""
                    label = f"{response.status_code} {code}".strip()
                except (httpx.HTTPError, ValueError) as exc:
                    label = type(exc).__name__
                with lock:
                    answers[label] += 1

    threads = [threading.Thread(target=worker) for _ in range(parallel)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out.put(dict(answers))


# --- the victim -----------------------------------------------------------------------------
@dataclass
class Latencies:
    ms: list[float] = field(default_factory=list)
    errors: int = 0

    def row(self) -> list[str]:
        if not self.ms:
            return ["0", "-", "-", "-"]
        ordered = sorted(self.ms)
        p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
        return [
            f"{len(self.ms):,}" + (f" ({self.errors} errors)" if self.errors else ""),
            f"{statistics.median(ordered):,.1f}",
            f"{p95:,.1f}",
            f"{ordered[-1]:,.1f}",
        ]


def victim_latencies(base: str, headers: dict[str, str], seconds: float) -> Latencies:
    result = Latencies()
    stop = time.monotonic() + seconds
    with httpx.Client(base_url=base, headers=headers, timeout=60) as http:
        while time.monotonic() < stop:
            started = time.perf_counter()
            response = http.get("/projects", params={"select": "id,name"})
            elapsed = (time.perf_counter() - started) * 1000
            if response.status_code == 200:
                result.ms.append(elapsed)
            else:
                result.errors += 1
            time.sleep(0.05)
    return result


@dataclass
class Run:
    server: str
    kind: str
    baseline: Latencies
    during: Latencies
    answers: dict[str, int]


def run_one(
    env: dict[str, str], who: Users, base: str, server: str, kind: str, args: argparse.Namespace
) -> Run:
    victim = _headers(env, who.victim)
    baseline = victim_latencies(base, victim, 3)
    queue: Any = multiprocessing.get_context("spawn").Queue()
    attacker = multiprocessing.get_context("spawn").Process(
        target=_attack,
        args=(base, _headers(env, who.attacker), kind, args.parallel, args.seconds, queue),
    )
    attacker.start()
    time.sleep(1)  # the attack is under way
    during = victim_latencies(base, victim, args.seconds - 1)
    answers = queue.get(timeout=args.seconds + 120)
    attacker.join()
    time.sleep(9)  # the last attack requests end at the statement timeout
    return Run(server, kind, baseline, during, answers)


# --- the servers ----------------------------------------------------------------------------
SERVERS = {"off": False, "on": True}


def start_servers(cfg: Config) -> dict[str, str]:
    bases = {}
    for offset, (label, limits) in enumerate(SERVERS.items()):
        name, port = f"stall-postgrest-{label}", PORT + offset
        postgrest.stop(cfg, name)
        conf = postgrest.render_conf(cfg, port=port, application_name=name, request_limits=limits)
        postgrest.launch(cfg, name, conf, port=port, port_setting="BENCH_STALL_PORT")
        bases[label] = f"http://127.0.0.1:{port}"
    return bases


def stop_servers(cfg: Config) -> None:
    for label in SERVERS:
        postgrest.stop(cfg, f"stall-postgrest-{label}")


# --- report ---------------------------------------------------------------------------------
NOTES = """
How to read it (the machine is shared, so single figures swing; compare within a run):

- Without the cap the attacker's 24 requests take 20 of the pool's 20 connections for up to
  the 8 s timeout each: the other user's requests wait for a connection (the max column, seconds),
  some until PostgREST's pool acquisition timeout (504 `PGRST003`), and few of them get through
  ("during: requests"). With the cap at most 4 of the attacker's requests are in the database;
  the rest are refused at once (429 `PT429`), and the other user always finds a connection.
- What the cap does not remove is CPU: 4 requests that each burn a core until the timeout still
  share 2 cores with everyone else, so the other user's median rises (most for `embed`, whose
  4^12-row joins are the heavier work). Fewer slots or a shorter timeout would trade that
  against legitimate pages that fire several queries at once; 4 slots and the hosted
  timeouts are the compromise (README.md, "Request limits"). Several accounts acting together
  get 4 slots each: that is for the edge's per-IP rate limit and for account sign-up rules.
- The attacker resends every refusal at once (thousands of 429s); each costs PostgREST a
  connection for one short transaction, which is part of the load the other user sees.
"""


def render(runs: list[Run], args: argparse.Namespace, load_before: str, load_after: str) -> str:
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"## {SECTION}",
        "",
        f"Measured {stamp} with `make bench-stall` on {os.cpu_count()} cores shared with other "
        "work (the load tool, PostgREST and PostgreSQL on the same machine); load average "
        f"before {load_before}, after {load_after}.",
        "",
        f"One user sends {args.parallel} requests at once for {args.seconds:.0f} s, each "
        "resent as soon as it is answered: `regex` is "
        "`GET /tasks?description=match.^(.*)(.*)\\2\\1$` on their own task with a "
        "3,000-character description, `embed` is `GET /projects` embedding "
        f"`tasks`/`projects` {DEPTH} levels deep on their project of 4 tasks. Another user "
        "meanwhile sends `GET /projects` one after another (50 ms apart); its latency alone "
        "(3 s before the attack) and during the attack is below. Both servers are PostgREST "
        "12 on the dev database with devstack's configuration (pool of 20), the statement "
        "timeouts of the roles (anon 3 s, authenticated 8 s) in force for both; `off` has no "
        "`db-pre-request`, `on` has the per-user cap (4 requests of one user in the database "
        "at once, 429 beyond).",
        "",
        "| cap | attack | other user alone: median ms | during: requests | median ms | p95 ms "
        "| max ms | attacker's answers |",
        "|---|---|---:|---:|---:|---:|---:|---|",
    ]
    for run in runs:
        answers = ", ".join(f"{label}: {n:,}" for label, n in sorted(run.answers.items()))
        baseline = run.baseline.row()[1]
        count, median, p95, worst = run.during.row()
        lines.append(
            f"| {run.server} | {run.kind} | {baseline} | {count} | {median} | {p95} | {worst} "
            f"| {answers} |"
        )
    lines += ["", NOTES.strip(), ""]
    lines += [
        "Reproduce: `make up`, then `make bench-stall` (about two minutes; "
        "BENCH_STALL_SECONDS sets the attack length).",
    ]
    return "\n".join(lines) + "\n"


def _load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def main(argv: list[str] | None = None) -> int:
    args = _args(argv)
    cfg = Config()
    env = read_env_file(cfg)
    who = prepare(cfg, env)
    load_before = _load()
    bases = start_servers(cfg)
    runs: list[Run] = []
    try:
        for kind in ("regex", "embed"):
            for server in SERVERS:
                _say(f"stall: {kind} attack, cap {server} ...")
                run = run_one(env, who, bases[server], server, kind, args)
                _say(f"  other user during: {run.during.row()}, attacker: {run.answers}")
                runs.append(run)
    finally:
        stop_servers(cfg)
    section = render(runs, args, load_before, _load())
    if args.no_readme:
        print(section)
    else:
        report.write(section, heading=f"## {SECTION}")
        _say("bench/README.md updated")
    return 0


if __name__ == "__main__":
    sys.exit(main())
