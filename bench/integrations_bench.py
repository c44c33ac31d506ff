"""Integrations benchmark (a person runs it; not a test): `make bench-integrations`.

1. Sync of N GitHub events from the fake GitHub: one repository seeded with commits, pull
   requests, issues and releases adding up to N activity rows; connect (the OAuth flow, as a
   browser walks it), link, and time the sync job the link queues, from the worker's claim
   (started_at) to its end (finished_at). Events per second and provider requests per event.
2. Webhook ingestion: signed GitHub push deliveries (one commit each) through the local
   gateway, concurrently; requests per second and rows written.
3. Cold import of the new handler modules (``-X importtime``, median of runs; CPU ms).
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import statistics
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.functions_bench import _cpu_ms, _importtime, function_env_from_stack  # noqa: E402
from tests.functions.integrations_support import (  # noqa: E402
    BASE,
    connect,
    events_of,
    new_login,
    seed_github,
    wait_job,
)
from tests.support import Stack  # noqa: E402

# files.handler: the reference measured in the same run (the shared base of every handler)
HANDLERS = ("files.handler", "integrations.handler", "integrations.events")


def sync_figure(stack: Stack, events: int) -> dict[str, Any]:
    owner = stack.new_user()
    project_id = stack.rest(owner.token).table("projects").insert({"name": "bench"}).execute()
    project_id = project_id.data[0]["id"]
    quarter = events // 4
    spec = {
        "commits": events - 3 * quarter,
        "pulls": quarter,
        "issues": quarter,
        "releases": quarter,
    }
    login = new_login()
    seed_github(stack, login, {"big": spec})
    integration_id = connect(stack, owner, login, "github", project_id)
    with stack.http(owner.token) as http:
        answer = http.post(f"{BASE}/{integration_id}/links", json={"external_id": f"{login}/big"})
    answer.raise_for_status()
    job = wait_job(stack, answer.json()["sync"]["id"], tries=4 * 600)
    assert job["status"] == "succeeded", job
    seconds = (job["finished_at"] - job["started_at"]).total_seconds()
    rows = len(events_of(stack, project_id))
    return {
        "events": job["events_written"],
        "rows": rows,
        "seconds": seconds,
        "events_per_s": job["events_written"] / seconds,
        "provider_requests": job["provider_requests"],
        "requests_per_event": job["provider_requests"] / job["events_written"],
    }


def webhook_figure(stack: Stack, requests: int, concurrency: int) -> dict[str, Any]:
    owner = stack.new_user()
    project_id = stack.rest(owner.token).table("projects").insert({"name": "hooks"}).execute()
    project_id = project_id.data[0]["id"]
    integration_id = connect(stack, owner, new_login(), "github", project_id)
    with stack.http(owner.token) as http:
        secret = http.post(f"{BASE}/{integration_id}/webhook-secret").json()["secret"]

    def delivery(i: int) -> tuple[bytes, dict[str, str]]:
        sha = hashlib.sha1(f"{integration_id}:{i}".encode()).hexdigest()
        body = json.dumps(
            {
                "repository": {"full_name": "octo/app"},
                "sender": {"login": "octocat"},
                "commits": [
                    {
                        "id": sha,
                        "message": f"c{i}",
                        "timestamp": "2026-11-29T10:00:00Z",
                        "url": f"https://github.com/octo/app/commit/{sha}",
                    }
                ],
            }
        ).encode()
        signature = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        return body, {
            "X-Hub-Signature-256": signature,
            "X-GitHub-Delivery": str(uuid.uuid4()),
            "X-GitHub-Event": "push",
            "Content-Type": "application/json",
        }

    prepared = [delivery(i) for i in range(requests)]
    url = f"{stack.env['API_URL']}{BASE}/webhooks/github?integration={integration_id}"
    clients = [httpx.Client(timeout=30) for _ in range(concurrency)]
    # warm-up (first request imports lazily and reads the secret through KMS)
    warm_body, warm_headers = delivery(-1)
    clients[0].post(url, content=warm_body, headers=warm_headers).raise_for_status()

    def send(i: int) -> int:
        body, headers = prepared[i]
        return clients[i % concurrency].post(url, content=body, headers=headers).status_code

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        statuses = list(pool.map(send, range(requests)))
    elapsed = time.perf_counter() - started
    for client in clients:
        client.close()
    assert statuses.count(202) == requests, {s: statuses.count(s) for s in set(statuses)}
    return {
        "requests": requests,
        "rps": requests / elapsed,
        "rows": len(events_of(stack, project_id)) - 1,
    }


def import_figures(runs: int) -> dict[str, dict[str, float]]:
    env = {**os.environ, **function_env_from_stack(), "PYTHONPATH": ""}
    cwd = ROOT / "functions"
    baseline = statistics.median(_cpu_ms(sys.executable, "pass", cwd, env) for _ in range(runs))
    out = {}
    for module in HANDLERS:
        samples = [_importtime(sys.executable, module, cwd, env)[module] for _ in range(runs)]
        cpu = [
            _cpu_ms(sys.executable, f"import {module}", cwd, env) - baseline for _ in range(runs)
        ]
        out[module] = {
            "median_ms": statistics.median(samples) / 1000,
            "min_ms": min(samples) / 1000,
            "cpu_ms": statistics.median(cpu),
        }
    return out


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--webhooks", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    stack = Stack.start()
    print(
        f"load average before: {' '.join(f'{x:.1f}' for x in os.getloadavg())}, "
        f"CPUs: {os.cpu_count()}"
    )
    sync = sync_figure(stack, args.events)
    print(
        "\n| GitHub events synced | seconds (claim -> done) | events/s | provider requests "
        "| requests/event |\n|---:|---:|---:|---:|---:|"
    )
    print(
        f"| {sync['events']} | {sync['seconds']:.1f} | {sync['events_per_s']:.0f} "
        f"| {sync['provider_requests']} | {sync['requests_per_event']:.3f} |"
    )
    hooks = webhook_figure(stack, args.webhooks, args.concurrency)
    print(
        "\n| signed GitHub deliveries | concurrency | req/s through the gateway | rows |"
        "\n|---:|---:|---:|---:|"
    )
    print(f"| {hooks['requests']} | {args.concurrency} | {hooks['rps']:.0f} | {hooks['rows']} |")
    imports = import_figures(args.runs)
    print(
        "\n| handler module | -X importtime median ms | min ms | CPU ms (median) |"
        "\n|---|---:|---:|---:|"
    )
    for module, f in imports.items():
        print(f"| `{module}` | **{f['median_ms']:.0f}** | {f['min_ms']:.0f} | {f['cpu_ms']:.0f} |")
    print(f"\nload average after: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
