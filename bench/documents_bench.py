"""Documents benchmark: generation jobs end to end, and cold import of the new handlers.

    .venv/bin/python bench/documents_bench.py [--jobs 100] [--concurrency 8] [--runs 7]

* Jobs: ``--jobs`` POST /functions/v1/documents/generate requests through the local gateway
  (spread over editors so the per-user rate limit does not bite), each job then goes through
  the local SQS queue to the worker in the event host, which writes the version with the
  ``template`` provider (what `make up` runs). Jobs/s = jobs / (last version written - first
  request sent); request -> version = the version's created_at - the moment its request was
  sent (same machine, same clock).
* Cold import: ``python -X importtime`` of each new handler module (median of ``--runs``),
  in the dev virtualenv and, if ``make package`` built it, in the Lambda package.

Writes the "Documents: generation jobs and cold start" section of bench/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.functions_bench import (  # noqa: E402
    _cpu_ms,
    _importtime,
    _Tee,
    function_env_from_stack,
    lambda_python,
)

HANDLERS = ("documents.handler", "documents.events", "assistant.handler")
# measured in the same run as a yardstick: the machine is shared, so absolute figures move
REFERENCE = ("files.handler", "files.events")
HEAVY = ("markdown_it", "docx", "mdformat", "boto3")
HEADING = "## Documents: generation jobs and cold start"


def cold_imports(python: str, cwd: Path, env: dict[str, str], runs: int) -> None:
    baseline = statistics.median(_cpu_ms(python, "pass", cwd, env) for _ in range(runs))
    print("| handler module | -X importtime median ms | min ms | CPU ms | heavy libs loaded |")
    print("|---|---:|---:|---:|---|")
    for module in HANDLERS + REFERENCE:
        samples = [_importtime(python, module, cwd, env) for _ in range(runs)]
        cpu = statistics.median(
            _cpu_ms(python, f"import {module}", cwd, env) - baseline for _ in range(runs)
        )
        loaded = [h for h in HEAVY if h in samples[0]] or ["none"]
        times = [s[module] / 1000 for s in samples]
        label = f"`{module}`" + (" (reference)" if module in REFERENCE else "")
        print(
            f"| {label} | **{statistics.median(times):.0f}** | {min(times):.0f} | {cpu:.0f} "
            f"| {', '.join(loaded)} |"
        )


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def jobs_end_to_end(
    jobs: int, concurrency: int, editors_count: int, lone_jobs: int
) -> dict[str, Any]:
    import httpx

    from tests.support import Stack

    stack = Stack.start()
    owner = stack.new_user()
    project_id = (
        stack.rest(owner.token)
        .table("projects")
        .insert({"name": "bench documents", "description": "Benchmark project"})
        .execute()
        .data[0]["id"]
    )
    editors = []
    for _ in range(editors_count):
        user = stack.new_user()
        stack.service_rest().table("project_members").insert(
            {"project_id": project_id, "user_id": user.id, "role": "editor"}
        ).execute()
        editors.append(user)
    for i in range(20):
        stack.rest(owner.token).table("tasks").insert(
            {"project_id": project_id, "title": f"Task {i}"}
        ).execute()
    api, anon = stack.env["API_URL"], stack.env["ANON_KEY"]
    sent: dict[str, datetime] = {}

    def request(client: httpx.Client, i: int) -> None:
        user = editors[i % len(editors)]
        at = datetime.now(UTC)
        answer = client.post(
            f"{api}/functions/v1/documents/generate",
            headers={"Authorization": f"Bearer {user.token}", "apikey": anon},
            json={"project_id": project_id, "document_type": ("prd", "tech_spec")[i % 2]},
        )
        if answer.status_code != 202:
            raise SystemExit(f"generate answered {answer.status_code}: {answer.text}")
        sent[answer.json()["job_id"]] = at

    with httpx.Client(timeout=60, limits=httpx.Limits(max_connections=concurrency)) as client:
        started = time.perf_counter()
        with ThreadPoolExecutor(concurrency) as pool:
            list(pool.map(lambda i: request(client, i), range(jobs)))
        accepted = time.perf_counter() - started
    deadline = time.monotonic() + 600
    rows: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        rows = stack.sql(
            "select j.id, j.status, v.created_at as written from public.document_jobs j"
            " left join public.document_versions v on v.job_id = j.id"
            " where j.project_id = %s",
            (project_id,),
        )
        if all(r["status"] in ("succeeded", "failed") for r in rows) and len(rows) == jobs:
            break
        time.sleep(0.5)
    failed = [r for r in rows if r["status"] != "succeeded"]
    latencies = [(r["written"] - sent[str(r["id"])]).total_seconds() * 1000 for r in rows
                 if r["written"]]  # fmt: skip
    first, last = min(sent.values()), max(r["written"] for r in rows if r["written"])
    lone: list[float] = []
    with httpx.Client(timeout=60) as client:
        for i in range(lone_jobs):  # one at a time: no queue wait behind other jobs
            before = set(sent)
            request(client, i)
            (job_id,) = set(sent) - before
            for _ in range(240):
                row = stack.sql(
                    "select v.created_at from public.document_versions v where v.job_id = %s",
                    (job_id,),
                )
                if row:
                    lone.append((row[0]["created_at"] - sent[job_id]).total_seconds() * 1000)
                    break
                time.sleep(0.05)
    stack.sql("delete from public.projects where id = %s", (project_id,))
    return {
        "jobs": jobs,
        "failed": len(failed),
        "accept_rps": jobs / accepted,
        "jobs_per_s": len(latencies) / (last - first).total_seconds(),
        "p50_ms": _percentile(latencies, 0.5),
        "p95_ms": _percentile(latencies, 0.95),
        "max_ms": max(latencies),
        "lone": len(lone),
        "lone_p50_ms": _percentile(lone, 0.5) if lone else float("nan"),
        "lone_p95_ms": _percentile(lone, 0.95) if lone else float("nan"),
    }


NOTES = """
How to read these:

- The local event host is one poller per queue that hands batches of up to 5 messages to one
  in-process worker, so "jobs/s" is one worker's rate (template provider: no model call) on
  the same two cores as the gateway, PostgREST and Postgres; in AWS the SQS event source
  mapping runs up to N workers at once (reserved concurrency). Request -> version includes the
  queue wait behind earlier jobs, so it grows with the burst size; a lone job (sent when the
  queue is empty, the next one after its version is written) pays the HTTP request, the
  event host's next receive and the worker's PostgREST calls only.
- The machine is shared (see the load averages): compare the new handlers' cold imports with
  `files.handler` / `files.events` measured in the same run (262 / 259 ms on a quiet machine,
  see "Functions: cold start and upload signing") rather than read them as absolute figures.
- Each job does: claim (conditional PATCH), read project/members/tasks/documents, template
  render, insert version (numbered by trigger), mark succeeded (notification trigger).
- Cold import: `documents.events` (the SQS worker and the dispatcher) loads no HTTP app and
  none of the export/format libraries; `documents.handler` does not load markdown-it-py or
  python-docx until an export is asked for; `assistant.handler` loads mdformat only for
  /format. boto3 loads on the first SQS send. The budget is 300 ms.
"""


def _measure(args: argparse.Namespace) -> None:
    print(f"load average before: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    env = {**os.environ, **function_env_from_stack(), "PYTHONPATH": ""}
    print(f"\nCold import, dev virtualenv (CPython {sys.version_info[0]}.{sys.version_info[1]})\n")
    cold_imports(sys.executable, ROOT / "functions", env, args.runs)
    package, python312 = ROOT / ".build" / "lambda", lambda_python()
    if package.is_dir() and python312:
        print("\nCold import, Lambda package (.build/lambda, CPython 3.12, .pyc precompiled)\n")
        cold_imports(python312, package, {**env, "PYTHONNOUSERSITE": "1"}, args.runs)
    else:
        print("\n(no .build/lambda or no CPython 3.12: run `make package` for the Lambda figure)")
    if not args.skip_jobs:
        r = jobs_end_to_end(args.jobs, args.concurrency, args.editors, args.lone)
        print(
            "\n| jobs | failed | generate accepted | jobs/s end to end | request -> version p50 "
            "| p95 | max |\n|---:|---:|---:|---:|---:|---:|---:|\n"
            f"| {r['jobs']} | {r['failed']} | {r['accept_rps']:.0f} req/s | "
            f"**{r['jobs_per_s']:.1f}** | {r['p50_ms']:.0f} ms | {r['p95_ms']:.0f} ms "
            f"| {r['max_ms']:.0f} ms |"
        )
        print(f"\n(concurrency {args.concurrency}, {args.editors} editors, template provider)")
        print(
            f"\n| lone jobs (one at a time) | request -> version p50 | p95 |\n|---:|---:|---:|\n"
            f"| {r['lone']} | **{r['lone_p50_ms']:.0f} ms** | {r['lone_p95_ms']:.0f} ms |"
        )
    print(f"\nload average after: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--editors", type=int, default=20)
    parser.add_argument("--lone", type=int, default=20, help="jobs timed one at a time")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--skip-jobs", action="store_true")
    parser.add_argument("--no-readme", action="store_true")
    args = parser.parse_args()
    captured = io.StringIO()
    with contextlib.redirect_stdout(_Tee(sys.stdout, captured)):
        _measure(args)
    if not args.no_readme:
        from bench import report

        when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        text = "\n".join(
            [
                HEADING,
                "",
                f"Measured {when} with `make bench-documents` ({os.cpu_count()} cores, the local "
                "stack and the load on the same machine).",
                "",
                captured.getvalue().rstrip(),
                "",
                NOTES.strip(),
                "",
            ]
        )
        report.write(text, heading=HEADING)
        print(f"wrote {report.README}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
