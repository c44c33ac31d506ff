"""The session fixture: the real local stack, started (or reused) once per test run."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from devstack import schedules
from devstack.config import Config
from devstack.procs import StackError
from tests.support import Stack, TestUser

__all__ = ["TestUser"]


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    """The running stack. One that was already up is reused (brought up to date) and left
    running; one this session started is stopped at the end unless another session still
    uses it (set ``KEEP_STACK=1`` to keep it).

    The stack's schedules (dispatchers, sweeps: devstack/schedules.py) are held paused for
    the whole session, from before the stack starts, so no background dispatcher moves a job
    while a test drives it by hand; tests/functions/test_schedules.py lifts this session's
    hold for its own tests (``schedules_running``)."""
    state_dir, holder = Config().state_dir, schedules.session_holder()
    schedules.pause(state_dir, holder)
    try:
        running = Stack.start()
    except StackError as exc:
        schedules.resume(state_dir, holder)
        # One message for the whole run instead of the same error on every test.
        pytest.exit(f"the local stack did not start, so no test can run: {exc}", returncode=1)
    try:
        yield running
    finally:
        schedules.resume(state_dir, holder)
        running.close()
        if os.environ.get("KEEP_STACK") != "1":
            running.stop_if_started_here()
