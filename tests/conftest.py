"""The session fixture: the real local stack, started (or reused) once per test run."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from devstack import stack as stack_commands
from tests.support import Stack, TestUser

__all__ = ["TestUser"]


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    """The running stack. A stack that was already up is reused and left running; one this
    session started is stopped at the end (set ``KEEP_STACK=1`` to keep it)."""
    running = Stack.start()
    yield running
    running.close()
    if running.started_here and os.environ.get("KEEP_STACK") != "1":
        stack_commands.down(running.cfg)
