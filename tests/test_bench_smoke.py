"""Every benchmark still runs (bench/smoke.py at a tiny scale), so a schema or code change
that breaks one fails here instead of on the next person who measures."""

from __future__ import annotations

import pytest

from bench import smoke
from tests.support import Stack


def test_every_benchmark_has_a_smoke_run():
    assert smoke.entry_points() == set(smoke.SMOKES), (
        "add the new benchmark's tiny-scale command to bench/smoke.py SMOKES"
    )


@pytest.mark.parametrize("name", list(smoke.SMOKES))
def test_benchmark_runs_at_smoke_scale(stack: Stack, name: str):
    result = smoke.run(name)
    assert result.returncode == 0, (
        f"{name} failed:\n{result.stdout[-4000:]}\n--- stderr ---\n{result.stderr[-4000:]}"
    )
