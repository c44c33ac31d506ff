"""Every benchmark at a tiny scale, so a change that breaks one fails ``make test``.

``python -m bench.smoke [name ...]`` (``make bench-smoke``) runs each entry of
:data:`SMOKES` as its own process, with arguments small enough to finish in seconds to a
minute on a busy machine, and never writes bench/README.md (the figures of a smoke run mean
nothing: they only prove the benchmark still runs against today's schema and code).
``tests/test_bench_smoke.py`` runs one test per entry and fails when a benchmark under
``bench/`` has none, so a new benchmark must add its smoke line here.

The smoke runs use their own bench database (``BENCH_DB=bench_smoke``, never the ``bench``
database a full run seeded) and free loopback ports for the benchmarks' own PostgREST
servers (``BENCH_POSTGREST_PORT``, ``BENCH_STALL_PORT``), so they do not disturb a full
``make bench`` setup of the same stack; the RLS run's plans go to a temporary folder
(``BENCH_PLANS_DIR``), never over ``bench/plans/``.
"""

from __future__ import annotations

import os
import random
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
SMOKE_DB = "bench_smoke"
TIMEOUT_S = 600

# name -> the command after `python`, at a tiny scale, README untouched
SMOKES: dict[str, list[str]] = {
    "run": ["-m", "bench.run", "--smoke", "--scale", "0.0005", "--seconds", "0.5",
            "--rounds", "1", "--connections", "1", "--users", "2", "--no-readme"],
    "helper_cost": ["-m", "bench.helper_cost"],  # on the database `run` seeded just before
    "stall": ["-m", "bench.stall", "--seconds", "1", "--parallel", "2", "--no-readme"],
    "functions_bench": ["bench/functions_bench.py", "--runs", "1", "--requests", "8",
                        "--concurrency", "1", "--users", "2", "--no-readme"],
    "documents_bench": ["bench/documents_bench.py", "--jobs", "2", "--concurrency", "1",
                        "--editors", "1", "--lone", "1", "--runs", "1", "--no-readme"],
    "integrations_bench": ["bench/integrations_bench.py", "--events", "20", "--webhooks", "4",
                           "--concurrency", "1", "--runs", "1"],
    "realtime_bench": ["bench/realtime_bench.py", "--joins", "3", "--subscribers-max", "5",
                       "--messages", "2", "--deliveries", "50", "--inserts", "2",
                       "--no-readme"],
    "soak": ["-m", "bench.soak", "--seconds", "10", "--users", "2", "--no-readme"],
    # privacy_bench writes no README; its own smallest honest run
    "privacy_bench": ["-m", "bench.privacy_bench", "--rows", "30"],
    # these two write no README unless asked (--write; notify prints its section)
    "notify_bench": ["bench/notify_bench.py", "--notifications", "10", "--people", "2",
                     "--timeout", "300"],
    "assets_bench": ["bench/assets_bench.py", "--jobs", "1", "--models", "1",
                     "--concurrency", "1"],
}  # fmt: skip


def entry_points() -> set[str]:
    """Every benchmark under bench/: a module that runs as a program."""
    return {
        path.stem
        for path in BENCH.glob("*.py")
        if path.stem != "smoke" and 'if __name__ == "__main__"' in path.read_text()
    }


def _free_port_pair() -> int:
    """Two free consecutive loopback ports below Linux's ephemeral range."""
    for _ in range(200):
        port = random.randrange(30400, 32700)
        if all(_free(p) for p in (port, port + 1)):
            return port
    raise RuntimeError("no free port pair for the benchmarks' PostgREST servers")


def _free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def run(name: str, timeout: float = TIMEOUT_S) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "BENCH_DB": SMOKE_DB,
        "BENCH_POSTGREST_PORT": str(_free_port_pair()),
        "BENCH_STALL_PORT": str(_free_port_pair()),
        "BENCH_NO_WRK": os.environ.get("BENCH_NO_WRK", "1"),  # no build of wrk for a smoke
        "BENCH_PLANS_DIR": tempfile.mkdtemp(prefix="bench-smoke-plans-"),
        "PYTHONPATH": str(ROOT),
    }
    return subprocess.run(
        [sys.executable, *SMOKES[name]],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def main(argv: list[str] | None = None) -> int:
    names = (argv if argv is not None else sys.argv[1:]) or list(SMOKES)
    failed = []
    for name in names:
        result = run(name)
        print(f"{name}: {'ok' if result.returncode == 0 else 'FAILED'}", flush=True)
        if result.returncode != 0:
            failed.append(name)
            print(result.stdout[-3000:], result.stderr[-3000:], sep="\n", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
