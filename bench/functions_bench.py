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
import hashlib
import os
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

HANDLERS = ("files.handler", "health.handler")
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


def cold_imports(python: str, cwd: Path, env: dict[str, str], runs: int) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    for module in HANDLERS:
        samples = [_importtime(python, module, cwd, env) for _ in range(runs)]
        figures[module] = {
            "median_ms": statistics.median(s[module] for s in samples) / 1000,
            "parts_ms": {
                part: statistics.median(s.get(part, 0) for s in samples) / 1000
                for part in BREAKDOWN
            },
        }
    return figures


def function_env_from_stack() -> dict[str, str]:
    from devstack.config import Config, function_env, read_env_file

    cfg = Config()
    env = read_env_file(cfg) or cfg.env()
    return function_env(env)


def lambda_python() -> str | None:
    from devstack.package_lambda import lambda_python as find

    return find()


def print_imports(title: str, figures: dict[str, Any]) -> None:
    print(f"\n{title}\n")
    print("| handler module | cold import, median ms | " + " | ".join(BREAKDOWN) + " |")
    print("|---|---:|" + "---:|" * len(BREAKDOWN))
    for module, data in figures.items():
        parts = " | ".join(f"{data['parts_ms'][p]:.0f}" for p in BREAKDOWN)
        print(f"| `{module}` | **{data['median_ms']:.0f}** | {parts} |")


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


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--users", type=int, default=40, help="spreads the per-user rate limit")
    parser.add_argument("--skip-throughput", action="store_true")
    args = parser.parse_args()

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
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
