"""The RLS tests' world: people in every role and the rows they share (see spec.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.rls.world import World, build_world
from tests.support import Stack


@pytest.fixture(scope="session")
def world(stack: Stack) -> Iterator[World]:
    w = build_world(stack)
    yield w
    for client in w.clients.values():
        client.close()
    w.db.close()
