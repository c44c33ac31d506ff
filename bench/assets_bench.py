"""Assets benchmark: request -> file end to end, jobs/s for a burst, and how long a provider
outage takes to fall back.

    .venv/bin/python bench/assets_bench.py [--jobs 100] [--models 20] [--concurrency 8]

* Burst: ``--jobs`` video requests (POST /functions/v1/assets/generate through the local
  gateway, spread over projects and editors so the daily quotas do not bite), each through
  the local SQS queue to the worker in the event host, the fake Luma (a fixed 1 s render:
  ``FAKE_MEDIA_DURATION``), its callback to the gateway's webhook, and the copy of the MP4
  and the poster into the files bucket. ``--models`` 3D requests the same way, advanced by
  the poller (run here every 0.5 s instead of every minute). Request -> file = the job's
  finished_at - the moment its request was sent (same machine, same clock); jobs/s = jobs /
  (last finished - first sent).
* Outage: the worker's submission with a chain of two Meshy accounts while the first is
  unreachable (connection refused): the first job pays the retries (PROVIDER_MAX_RETRIES
  with backoff) before it falls back; after CIRCUIT_FAILURE_THRESHOLD such jobs the breaker
  is open and the next job skips the first provider at once.

Writes the "Assets" section of bench/README.md when ``--write`` is given.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "functions"))

HEADING = "## Assets: request -> file, bursts, fallback"


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _people(stack: Any, jobs: int) -> list[tuple[str, Any]]:
    """(project, editor) pairs with room for ``jobs`` (quotas: 20 a person, 50 a project)."""
    pairs = []
    for _ in range(max(1, -(-jobs // 40))):
        owner = stack.new_user()
        project = stack.rest(owner.token).table("projects").insert({"name": "bench"}).execute()
        project_id = project.data[0]["id"]
        for _ in range(3):
            editor = stack.new_user()
            stack.service_rest().table("project_members").insert(
                {"project_id": project_id, "user_id": editor.id, "role": "editor"}
            ).execute()
            pairs.append((project_id, editor))
    return pairs


def burst(stack: Any, kind: str, jobs: int, concurrency: int, poll: bool) -> dict[str, Any]:
    import httpx

    pairs = _people(stack, jobs)
    sent: dict[str, float] = {}

    def one(i: int) -> None:
        project_id, editor = pairs[i % len(pairs)]
        with httpx.Client(base_url=stack.env["API_URL"], timeout=60) as http:
            started = time.time()
            answer = http.post(
                "/functions/v1/assets/generate",
                headers={
                    "Authorization": f"Bearer {editor.token}",
                    "apikey": stack.env["ANON_KEY"],
                },
                json={
                    "project_id": project_id,
                    "kind": kind,
                    "prompt": f"bench {uuid.uuid4().hex[:8]} a small product shot",
                },
            )
            answer.raise_for_status()
            sent[answer.json()["job_id"]] = started

    stop = threading.Event()
    poller = None
    if poll:
        from assets.service import poll as poll_once
        from assets.settings import build_asset_settings

        settings = build_asset_settings()

        def loop() -> None:
            while not stop.is_set():
                poll_once(settings)
                time.sleep(0.5)

        poller = threading.Thread(target=loop, daemon=True)
        poller.start()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(one, range(jobs)))
    deadline = time.time() + 300
    rows: list[dict[str, Any]] = []
    while time.time() < deadline:
        rows = stack.sql(
            "select id, status, finished_at from public.asset_jobs where id = any(%s::uuid[])",
            (list(sent),),
        )
        if all(r["status"] in ("succeeded", "failed", "canceled") for r in rows):
            break
        time.sleep(0.5)
    stop.set()
    if poller:
        poller.join(timeout=5)
    done = [r for r in rows if r["status"] == "succeeded"]
    latencies = [r["finished_at"].timestamp() - sent[str(r["id"])] for r in done]
    span = max(r["finished_at"].timestamp() for r in done) - min(sent.values()) if done else 0
    return {
        "kind": kind,
        "jobs": jobs,
        "succeeded": len(done),
        "p50": _pct(latencies, 0.5) if latencies else float("nan"),
        "p95": _pct(latencies, 0.95) if latencies else float("nan"),
        "jobs_per_s": len(done) / span if span else float("nan"),
    }


def outage(stack: Any, runs: int = 5) -> list[tuple[int, float, list[str]]]:
    from assets import ASSET_JOBS
    from assets.providers import MeshyProvider
    from assets.service import submit
    from assets.settings import build_asset_settings
    from core.jobs import Job

    settings = build_asset_settings()
    base = stack.env["MESHY_BASE_URL"]
    token = f"outage{uuid.uuid4().hex[:8]}"
    # the first account's endpoint is down (nothing listens there): connection refused
    chain = [
        MeshyProvider("http://127.0.0.1:9", "msy-a", 5.0, name=f"meshy-{token}-a"),
        MeshyProvider(base, "msy-b", 5.0, name=f"meshy-{token}-b"),
    ]
    owner = stack.new_user()
    project = stack.rest(owner.token).table("projects").insert({"name": "outage"}).execute()
    results = []
    for n in range(1, runs + 1):
        job_id = str(
            stack.sql(
                "insert into public.asset_jobs (project_id, requested_by, kind, prompt, status,"
                " attempts) values (%s, %s, 'model_3d', %s, 'submitting', 1) returning id",
                (project.data[0]["id"], owner.id, f"{token} a chair"),
            )[0]["id"]
        )
        row = stack.sql("select * from public.asset_jobs where id = %s", (job_id,))[0]
        started = time.perf_counter()
        result = submit(Job(ASSET_JOBS, job_id, {**row, "id": job_id}, 1, settings), chain=chain)
        elapsed = time.perf_counter() - started
        results.append((n, elapsed, [f"{p['outcome']}" for p in result["providers"]]))
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=100)
    parser.add_argument("--models", type=int, default=20)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()

    from devstack.config import function_env
    from tests.support import Stack

    stack = Stack.start()
    os.environ.update(function_env(stack.env))
    lines = [HEADING, ""]
    lines.append(
        f"Measured {datetime.now():%Y-%m-%d %H:%M} on a shared 2-core machine "
        "(other sessions running): compare within a run, not across machines."
    )
    lines += [
        "",
        "| burst | jobs | succeeded | request -> file p50 s | p95 s | jobs/s |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for kind, count, poll in (("video", args.jobs, False), ("model_3d", args.models, True)):
        r = burst(stack, kind, count, args.concurrency, poll)
        how = "Luma callback" if kind == "video" else "poller every 0.5 s"
        lines.append(
            f"| {kind} ({how}) | {r['jobs']} | {r['succeeded']} | {r['p50']:.2f} "
            f"| {r['p95']:.2f} | {r['jobs_per_s']:.2f} |"
        )
    lines += [
        "",
        "| outage job | submit -> task at the next provider, s | providers |",
        "|---:|---:|---|",
    ]
    for n, elapsed, outcomes in outage(stack):
        lines.append(f"| {n} | {elapsed:.2f} | {' -> '.join(outcomes)} |")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.write:
        readme = ROOT / "bench" / "README.md"
        body = readme.read_text()
        if HEADING in body:
            head, _, tail = body.partition(HEADING)
            rest = tail.split("\n## ", 1)
            body = head + text + ("\n## " + rest[1] if len(rest) > 1 else "")
        else:
            body = body.rstrip("\n") + "\n\n" + text
        readme.write_text(body)


if __name__ == "__main__":
    main()
