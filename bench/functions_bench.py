"""Functions benchmark: cold import time of each handler module, and requests per second of
upload signing through the local gateway against a bare PostgREST insert of the same row.

    .venv/bin/python bench/functions_bench.py [--runs 9] [--requests 400] [--concurrency 8]

Cold imports are measured twice with ``python -X importtime`` (median of ``--runs`` fresh
interpreters): in the development virtualenv (CPython 3.11, dev packages installed), and in
the Lambda package built by ``make package`` (``.build/lambda``: CPython 3.12, runtime
requirements only, precompiled .pyc) -- the second is what a cold start pays.
The throughput part needs the local stack (``make up``); it prints Markdown for bench/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

HANDLERS = ("files.handler", "files.events", "health.handler")
BREAKDOWN = (
    "starlette.applications",
    "pydantic",
    "pydantic_settings",
    "httpx",
    "jwt",
    "mangum",
    "core.http",
    "core.auth",
)


def _importtime(python: str, module: str, cwd: Path, env: dict[str, str]) -> dict[str, int]:
    """Cumulative microseconds per module of one fresh ``import module``."""
    out = subprocess.run(
        [python, "-X", "importtime", "-c", f"import {module}"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stderr
    result: dict[str, int] = {}
    for line in out.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        _, cumulative, name = line[len("import time:") :].split("|")
        result.setdefault(name.strip(), int(cumulative))
    return result


def _cpu_ms(python: str, code: str, cwd: Path, env: dict[str, str]) -> float:
    """CPU time (user + system) of a fresh interpreter running ``code``: unlike wall time it
    barely moves when other processes compete for the CPUs."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run([python, "-c", code], cwd=cwd, env=env, check=True, capture_output=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime) * 1000


def cold_imports(python: str, cwd: Path, env: dict[str, str], runs: int) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    baseline = statistics.median(_cpu_ms(python, "pass", cwd, env) for _ in range(runs))
    for module in HANDLERS:
        samples = [_importtime(python, module, cwd, env) for _ in range(runs)]
        cpu = [_cpu_ms(python, f"import {module}", cwd, env) - baseline for _ in range(runs)]
        figures[module] = {
            "median_ms": statistics.median(s[module] for s in samples) / 1000,
            "min_ms": min(s[module] for s in samples) / 1000,
            "cpu_ms": statistics.median(cpu),
            "parts_ms": {
                part: statistics.median(s.get(part, 0) for s in samples) / 1000
                for part in BREAKDOWN
            },
        }
    return figures


FIRST_CALL = r"""
import json, sys, time
t0 = time.perf_counter()
import {module} as h
t1 = time.perf_counter()
{call}
t2 = time.perf_counter()
print(json.dumps([(t1 - t0) * 1000, (t2 - t1) * 1000]))
"""

# The API function's first request: a real user's signed token and an invalid body (-> 422),
# so PyJWT, the rate-limit step (one PostgREST call: a gone account is refused there), the
# request model and the error path are all loaded.
HTTP_CALL = r"""
import jwt, os
token = jwt.encode({{"sub": os.environ["BENCH_USER_ID"], "aud": "authenticated",
    "role": "authenticated", "exp": 4102444800}}, os.environ["SUPABASE_JWT_SECRET"], "HS256")
event = {{"version": "2.0", "routeKey": "$default", "rawPath": "{path}", "rawQueryString": "",
    "headers": {{"authorization": "Bearer " + token, "content-type": "application/json"}},
    "requestContext": {{"http": {{"method": "{method}", "path": "{path}", "protocol": "HTTP/1.1",
    "sourceIp": "127.0.0.1"}}, "requestId": "r", "stage": "$default"}},
    "body": "{{}}", "isBase64Encoded": False}}
class C: aws_request_id = "bench"
status = h.handler(event, C())["statusCode"]
assert status == {status}, status
"""
S3_TEST_CALL = r"""
h.object_created({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": "b"}, None)
"""

FIRST_CALLS = {
    "files.handler (API: import + first request)": (
        "files.handler",
        HTTP_CALL.format(method="POST", path="/functions/v1/files/uploads", status=422),
    ),
    "files.events (S3 event: import + first event)": ("files.events", S3_TEST_CALL),
}


def first_calls(python: str, cwd: Path, env: dict[str, str], runs: int) -> dict[str, Any]:
    """Wall time of import + first invocation in a fresh interpreter (median of ``runs``)."""
    figures: dict[str, Any] = {}
    for label, (module, call) in FIRST_CALLS.items():
        code = FIRST_CALL.format(module=module, call=call)
        samples = []
        for _ in range(runs):
            out = subprocess.run(
                [python, "-c", code], cwd=cwd, env=env, capture_output=True, text=True, check=True
            ).stdout
            samples.append(json.loads(out.strip().splitlines()[-1]))
        figures[label] = (
            statistics.median(s[0] for s in samples),
            statistics.median(s[1] for s in samples),
        )
    return figures


def print_first_calls(figures: dict[str, Any]) -> None:
    print("\n| cold start | import ms | first call ms | total ms |\n|---|---:|---:|---:|")
    for label, (imp, call) in figures.items():
        print(f"| {label} | {imp:.0f} | {call:.0f} | {imp + call:.0f} |")


def _signed_up_user_id() -> str:
    from tests.support import Stack

    return Stack.start().new_user().id


def function_env_from_stack() -> dict[str, str]:
    from devstack.config import Config, function_env

    return function_env(Config().current_env())


def lambda_python() -> str | None:
    from devstack.package_lambda import lambda_python as find

    return find()


def print_imports(title: str, figures: dict[str, Any]) -> None:
    print(f"\n{title}\n")
    print(
        "| handler module | -X importtime median ms | min ms | CPU ms (median) | "
        + " | ".join(BREAKDOWN)
        + " |"
    )
    print("|---|---:|---:|---:|" + "---:|" * len(BREAKDOWN))
    for module, data in figures.items():
        parts = " | ".join(f"{data['parts_ms'][p]:.0f}" for p in BREAKDOWN)
        print(
            f"| `{module}` | **{data['median_ms']:.0f}** | {data['min_ms']:.0f} "
            f"| {data['cpu_ms']:.0f} | {parts} |"
        )


# -- throughput -------------------------------------------------------------------------------
def throughput(requests: int, concurrency: int, users: int) -> dict[str, float]:
    import httpx

    from tests.support import Stack

    stack = Stack.start()
    owner = stack.new_user()
    project = stack.rest(owner.token).table("projects").insert({"name": "bench"}).execute().data
    project_id = project[0]["id"]
    editors = []
    for _ in range(users):
        user = stack.new_user()
        stack.service_rest().table("project_members").insert(
            {"project_id": project_id, "user_id": user.id, "role": "editor"}
        ).execute()
        editors.append(user)
    data = b"benchmark payload\n"
    digest = hashlib.sha256(data).hexdigest()
    api = stack.env["API_URL"]
    anon = stack.env["ANON_KEY"]

    def function_call(client: httpx.Client, i: int) -> int:
        user = editors[i % len(editors)]
        return client.post(
            f"{api}/functions/v1/files/uploads",
            headers={"Authorization": f"Bearer {user.token}", "apikey": anon},
            json={
                "project_id": project_id,
                "name": f"bench-{i}.txt",
                "content_type": "text/plain",
                "size_bytes": len(data),
                "checksum_sha256": digest,
            },
        ).status_code

    def postgrest_call(client: httpx.Client, i: int) -> int:
        user = editors[i % len(editors)]
        return client.post(
            f"{api}/rest/v1/files",
            headers={
                "Authorization": f"Bearer {user.token}",
                "apikey": anon,
                "Prefer": "return=representation",
            },
            json={
                "project_id": project_id,
                "name": f"bench-{i}.txt",
                "mime_type": "text/plain",
                "size_bytes": len(data),
                "checksum_sha256": digest,
                "bucket": stack.env["FILES_BUCKET"],
            },
        ).status_code

    def run(call: Any, expected: int) -> float:
        with httpx.Client(timeout=60, limits=httpx.Limits(max_connections=concurrency)) as client:
            for i in range(concurrency):  # warm connections and code paths
                call(client, i)
            started = time.perf_counter()
            with ThreadPoolExecutor(concurrency) as pool:
                statuses = list(pool.map(lambda i: call(client, i), range(requests)))
            elapsed = time.perf_counter() - started
        bad = [s for s in statuses if s != expected]
        if bad:
            raise SystemExit(f"{len(bad)} unexpected statuses, e.g. {bad[:5]}")
        return requests / elapsed

    results = {
        "postgrest_rps": run(postgrest_call, 201),
        "function_rps": run(function_call, 201),
    }
    results["ratio"] = results["function_rps"] / results["postgrest_rps"]
    stack.sql("delete from public.files where project_id = %s", (project_id,))
    return results


HEADING = "## Functions: cold start and upload signing"

NOTES = """
How to read these:

- "-X importtime" is the import of the handler module as Lambda does it on a cold start
  (settings read, app built, no request yet); "CPU ms" is the process's CPU time for the same.
  The columns after it are what the named packages cost inside that import. The budget is
  300 ms. PyJWT (`jwt`) costs nothing at import because `core.auth` imports it on the first
  token; boto3 is not imported until the first S3 or SQS call; postgrest-py (about 240 ms)
  and supabase-py (about 300 ms) are not used (`core.rest` is a thin httpx client). The
  columns are cumulative and overlap: the module that first imports a shared dependency is
  charged for it (`core.http` carries pydantic's model machinery in the HTTP handlers).
  `files.events` is the entry of the S3, SQS and schedule Lambdas: it never imports the
  HTTP app (no Starlette, Mangum or `core.http`).
- "first call" is the first request after the import (JWT library, boto3 and the pooled HTTP
  client are loaded then), so "total" is what a cold start adds to the first request.
- Upload signing does three trips through the local gateway per request (the request itself,
  then the rate-limit RPC and the pending-row insert, both PostgREST calls as the caller or
  service role) plus a JWT check and an S3 presign; the bare insert does one. The gateway is
  one Python process on the same two cores, so the ratio mostly measures it; in AWS the
  function's PostgREST calls go to Supabase's gateway instead.
"""


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--users", type=int, default=40, help="spreads the per-user rate limit")
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument("--no-readme", action="store_true", help="print, don't write README")
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
                f"Measured {when} with `make bench-functions` ({os.cpu_count()} cores, the "
                "local stack and the load on the same machine).",
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


class _Tee(io.TextIOBase):
    def __init__(self, *streams: Any) -> None:
        self.streams = streams

    def write(self, text: str) -> int:
        for stream in self.streams:
            stream.write(text)
        return len(text)


def _measure(args: argparse.Namespace) -> None:

    print(
        f"load average before: {' '.join(f'{x:.1f}' for x in os.getloadavg())},"
        f" CPUs: {os.cpu_count()}"
    )
    env = {**os.environ, **function_env_from_stack(), "PYTHONPATH": ""}
    dev = cold_imports(sys.executable, ROOT / "functions", env, args.runs)
    print_imports(
        f"Dev virtualenv (CPython {sys.version_info.major}.{sys.version_info.minor}, dev packages)",
        dev,
    )
    package = ROOT / ".build" / "lambda"
    python312 = lambda_python()
    if package.is_dir() and python312:
        lam = cold_imports(python312, package, {**env, "PYTHONNOUSERSITE": "1"}, args.runs)
        print_imports("Lambda package (.build/lambda, CPython 3.12, .pyc precompiled)", lam)
        lam_env = {**env, "PYTHONNOUSERSITE": "1", "BENCH_USER_ID": _signed_up_user_id()}
        print_first_calls(first_calls(python312, package, lam_env, args.runs))
    else:
        print("\n(no .build/lambda or no CPython 3.12: run `make package` for the Lambda figure)")

    if not args.skip_throughput:
        result = throughput(args.requests, args.concurrency, args.users)
        print(
            f"\n| upload signing via gateway | bare PostgREST insert via gateway | ratio |\n"
            f"|---:|---:|---:|\n"
            f"| {result['function_rps']:.0f} req/s | {result['postgrest_rps']:.0f} req/s "
            f"| {result['ratio']:.2f} |"
        )
        print(f"\n({args.requests} requests, concurrency {args.concurrency}, {args.users} editors)")
    print(f"\nload average after: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    raise SystemExit(main())
