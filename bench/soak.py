"""Soak: a bounded run of a realistic mix through the gateway (``make soak``).

1. prepares people on the running stack (each owns a project with a partner as editor and a
   group conversation with them), 2. records the memory (RSS, process and children) of each
   part of the stack, 3. runs locust headless (``bench/soak_locustfile.py``) for
   ``--seconds`` with ``--users`` people, loopback only, 4. waits for the document jobs it
   queued, 5. records memory again and writes the "Soak" section of bench/README.md: requests,
   errors (goal 0), p50/p95/p99 per request kind, memory before and after.

``--seconds 180 --users 20`` by default (a few minutes); ``--no-readme`` prints the section.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import report
from devstack import stack as devstack_stack
from devstack.config import Config
from tests.support import Stack

ROOT = Path(__file__).resolve().parent.parent
LOCUSTFILE = Path(__file__).with_name("soak_locustfile.py")
HEADING = "## Soak"
LOCAL_WEBHOOK_SECRET = "local-dev-webhook-secret"  # devstack/events.py's local default


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__.split("\n")[0])
    p.add_argument("--seconds", type=int, default=int(os.environ.get("SOAK_SECONDS") or 180))
    p.add_argument("--users", type=int, default=int(os.environ.get("SOAK_USERS") or 20))
    p.add_argument("--spawn-rate", type=float, default=5.0)
    p.add_argument("--no-readme", action="store_true", help="print the section, don't write it")
    return p.parse_args(argv)


# -- people --------------------------------------------------------------------------------
def prepare(stack: Stack, count: int) -> list[dict[str, Any]]:
    people = []
    for _ in range(count):
        owner, partner = stack.new_user(), stack.new_user()
        rest = stack.rest(owner.token)
        project = rest.table("projects").insert({"name": "Soak"}).execute().data[0]["id"]
        stack.service_rest().table("project_members").insert(
            {"project_id": project, "user_id": partner.id, "role": "editor"}
        ).execute()
        conversation = (
            rest.rpc(
                "create_group_conversation",
                {"title": "Soak chat", "member_ids": [partner.id], "project_id": project},
            )
            .execute()
            .data
        )
        people.append(
            {
                "token": owner.token,
                "project_id": project,
                "conversation_id": conversation,
                "anon_key": stack.env["ANON_KEY"],
                "webhook_secret": stack.env.get("WEBHOOK_SECRET") or LOCAL_WEBHOOK_SECRET,
            }
        )
    return people


# -- memory --------------------------------------------------------------------------------
def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        tree.setdefault(int(fields[1]), []).append(int(entry.name))
    return tree


def _rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def memory(cfg: Config) -> dict[str, float]:
    """MiB of RSS per part: the process and all its descendants (postgres' backends too)."""
    tree = _children()
    out: dict[str, float] = {}
    for part, pid in devstack_stack.part_states(cfg).items():
        if pid is None:
            continue
        total, todo = 0, [pid]
        while todo:
            current = todo.pop()
            total += _rss_kib(current)
            todo.extend(tree.get(current, []))
        out[part] = round(total / 1024, 1)
    return out


# -- the run -------------------------------------------------------------------------------
def run_locust(api_url: str, people_file: Path, args: argparse.Namespace, out: Path) -> int:
    command = [
        sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless",
        "--host", api_url, "--users", str(args.users), "--spawn-rate", str(args.spawn_rate),
        "--run-time", f"{args.seconds}s", "--csv", str(out / "soak"), "--only-summary",
        "--stop-timeout", "10", "--loglevel", "WARNING",
    ]  # fmt: skip
    env = {**os.environ, "SOAK_PEOPLE": str(people_file), "PYTHONPATH": str(ROOT)}
    result = subprocess.run(command, cwd=ROOT, env=env, check=False, timeout=args.seconds + 300)
    return result.returncode


def read_stats(out: Path) -> list[dict[str, str]]:
    with open(out / "soak_stats.csv") as handle:
        return list(csv.DictReader(handle))


def wait_for_jobs(stack: Stack, since: str, timeout: float = 120) -> dict[str, int]:
    deadline = time.monotonic() + timeout
    counts: dict[str, int] = {}
    while time.monotonic() < deadline:
        rows = stack.sql(
            "select status, count(*)::int as n from public.document_jobs"
            " where created_at >= %s::timestamptz group by status",
            (since,),
        )
        counts = {r["status"]: r["n"] for r in rows}
        if not counts.get("queued") and not counts.get("running"):
            break
        time.sleep(1)
    return counts


def render(
    stats: list[dict[str, str]],
    before: dict[str, float],
    after: dict[str, float],
    jobs: dict[str, int],
    args: argparse.Namespace,
    loads: tuple[str, str],
) -> str:
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    lines = [
        HEADING,
        "",
        f"Measured {when} with `make soak` (`python -m bench.soak --seconds {args.seconds} "
        f"--users {args.users}`): {args.users} people (locust users, 0.5-2 s between "
        f"requests) for {args.seconds} s through the local gateway, on {os.cpu_count()} "
        "cores shared with the whole stack and the load tool (and, this time, other work: "
        f"load average {loads[0]} before, {loads[1]} after). Each person owns a project with "
        "a partner and a group conversation with them.",
        "",
        "| request kind | requests | errors | p50 ms | p95 ms | p99 ms |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for row in stats:
        name = "**all**" if row["Name"] == "Aggregated" else row["Name"]
        lines.append(
            f"| {name} | {int(row['Request Count']):,} | {int(row['Failure Count']):,} "
            f"| {row['50%']} | {row['95%']} | {row['99%']} |"
        )
    lines += [
        "",
        "Document jobs queued during the run, by final status: "
        + (", ".join(f"{k} {v}" for k, v in sorted(jobs.items())) or "none"),
        "",
        "| part | RSS before, MiB | RSS after, MiB |",
        "|---|---:|---:|",
    ]
    for part in sorted(set(before) | set(after)):
        lines.append(f"| {part} | {before.get(part, 0):,.1f} | {after.get(part, 0):,.1f} |")
    lines += [
        "",
        "Errors are answers locust counts as failures (any status >= 400, or no answer); the "
        "goal is 0. RSS is the part's process and its descendants (postgres: the postmaster "
        "and every backend), so postgres grows with the pool PostgREST keeps open.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = _args(argv)
    stack = Stack.start()
    _say(f"soak: preparing {args.users} people")
    people = prepare(stack, args.users)
    since = stack.sql("select now()::text as t")[0]["t"]
    with tempfile.TemporaryDirectory(prefix="soak-") as tmp:
        out = Path(tmp)
        people_file = out / "people.json"
        people_file.write_text(json.dumps(people))
        load_before = " ".join(f"{x:.1f}" for x in os.getloadavg())
        before = memory(stack.cfg)
        _say(f"soak: {args.users} users for {args.seconds} s (memory before: {before})")
        code = run_locust(stack.env["API_URL"], people_file, args, out)
        jobs = wait_for_jobs(stack, since)
        after = memory(stack.cfg)
        load_after = " ".join(f"{x:.1f}" for x in os.getloadavg())
        stats = read_stats(out)
    section = render(stats, before, after, jobs, args, (load_before, load_after))
    if args.no_readme:
        print(section)
    else:
        report.write(section, heading=HEADING)
        _say(f"wrote {report.README}")
    stack.close()
    errors = sum(int(r["Failure Count"]) for r in stats if r["Name"] == "Aggregated")
    # locust exits 1 when any request failed; the figures are written either way
    return 0 if code == 0 and errors == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
