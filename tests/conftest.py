"""The session fixture: the real local stack, started (or reused) once per test run."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from devstack.procs import StackError
from tests.support import Stack, TestUser

__all__ = ["TestUser"]


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    """The running stack. One that was already up is reused (brought up to date) and left
    running; one this session started is stopped at the end unless another session still
    uses it (set ``KEEP_STACK=1`` to keep it)."""
    try:
        running = Stack.start()
    except StackError as exc:
        # One message for the whole run instead of the same error on every test.
        pytest.exit(f"the local stack did not start, so no test can run: {exc}", returncode=1)
    yield running
    running.close()
    if os.environ.get("KEEP_STACK") != "1":
        running.stop_if_started_here()
