"""The privacy benchmark still runs: ``python -m bench.privacy_bench --smoke`` seeds a few
hundred rows into the dev stack, exports and erases them with the worker's code (issue 20:
benchmarks that cannot rot). Its seconds are not asserted; only that it ran and erased."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.support import Stack

ROOT = Path(__file__).resolve().parents[2]


def test_the_privacy_benchmark_runs_in_smoke_mode(stack: Stack) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench.privacy_bench", "--smoke"],
        cwd=ROOT,
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    assert figures["smoke"] is True
    assert figures["export_large"]["rows"] == figures["rows"] > 0
    assert figures["erasure_large"]["rows_left"] == 0
    left = stack.sql(
        "select count(*) as n from auth.users where email like 'bench-%%@example.test'"
    )
    assert left == [{"n": 0}]
