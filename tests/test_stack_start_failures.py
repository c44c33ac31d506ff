"""When the stack cannot start, `make up` says so once (what failed, the log, what to try)
and exits non-zero, leaving nothing running; `make test` stops at once with that message.

Each case runs the real command line on its own state folder and free ports, with one
port held by a socket of ours standing in for "another program"."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from devstack import procs
from devstack.config import Config
from tests.support import Stack

PORT_SETTINGS = ("API_PORT", "DB_PORT", "POSTGREST_PORT", "AWS_PORT")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


@pytest.fixture
def scratch_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    env = {k: v for k, v in os.environ.items() if k not in PORT_SETTINGS}
    env.update({name: str(_free_port()) for name in PORT_SETTINGS})
    env["DEVSTACK_DIR"] = str(tmp_path / "state")
    yield env
    state = Path(env["DEVSTACK_DIR"])
    home = Config(state_dir=state).pg_home
    for pid_file in (state / "pids").glob("*.pid"):  # never expected; never leak
        pid = procs.read_pid(state / "pids", pid_file.stem, "")
        if pid is not None:
            procs.stop(pid)
    if home != state and home.exists():
        shutil.rmtree(home)


def _devstack(args: list[str], env: dict[str, str], root: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "devstack", *args],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )


def _assert_one_clear_message(stderr: str, part: str, port: int, setting: str) -> None:
    assert "Traceback" not in stderr
    assert stderr.count("the local stack did not start") == 1, stderr
    assert f"{part} cannot start: 127.0.0.1:{port} ({setting}) is taken by another program" in (
        stderr
    )
    assert "\n  log: " in stderr
    assert f"\n  try: stop that program, or choose a free port, e.g. `{setting}=" in stderr


def _nothing_running(state: Path) -> None:
    cfg = Config(state_dir=state)
    pids = state / "pids"
    for pid_file in pids.glob("*.pid") if pids.exists() else []:
        assert procs.read_pid(pids, pid_file.stem, "") is None, f"{pid_file.stem} left running"
    assert not (cfg.pgdata / "postmaster.pid").exists(), "postgres left running"


def test_up_with_the_aws_port_taken_says_so_once_and_exits_non_zero(
    stack: Stack, scratch_env: dict[str, str], taken_port: int
) -> None:
    scratch_env["AWS_PORT"] = str(taken_port)
    result = _devstack(["up"], scratch_env, stack.cfg.root)
    assert result.returncode == 1
    _assert_one_clear_message(result.stderr, "moto", taken_port, "AWS_PORT")
    assert result.stdout == ""
    _nothing_running(Path(scratch_env["DEVSTACK_DIR"]))


def test_up_with_the_database_port_taken_stops_what_it_started(
    stack: Stack, scratch_env: dict[str, str], taken_port: int
) -> None:
    scratch_env["DB_PORT"] = str(taken_port)
    result = _devstack(["up"], scratch_env, stack.cfg.root)
    assert result.returncode == 1
    _assert_one_clear_message(result.stderr, "postgres", taken_port, "DB_PORT")
    # moto was started before postgres failed: it is stopped again
    _nothing_running(Path(scratch_env["DEVSTACK_DIR"]))


def test_make_test_stops_at_once_with_the_start_message(
    stack: Stack, scratch_env: dict[str, str], taken_port: int
) -> None:
    scratch_env["AWS_PORT"] = str(taken_port)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_stack.py"],
        cwd=stack.cfg.root,
        env=scratch_env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert output.count("the local stack did not start, so no test can run") == 1, output
    assert f"127.0.0.1:{taken_port} (AWS_PORT) is taken by another program" in output
    assert " error" not in output.lower().replace("no test can run", "")  # no per-test errors
    assert "passed" not in output


@pytest.mark.skipif(os.geteuid() != 0, reason="only root hands the cluster to another OS user")
def test_a_private_clones_cluster_lives_where_its_os_user_can_reach_it(tmp_path: Path) -> None:
    from devstack.config import cluster_os_user, reachable_by

    user = cluster_os_user()
    assert user is not None
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    state = private / "clone" / ".devstack"
    cfg = Config(state_dir=state)
    assert not reachable_by(state, user)
    assert private not in cfg.pg_home.parents  # outside the unreachable folder
    assert reachable_by(cfg.pg_home, user)
    assert cfg.pgdata == cfg.pg_home / "pgdata"
    # keyed by the project's path: another clone gets another cluster
    assert Config(state_dir=private / "other" / ".devstack").pg_home != cfg.pg_home
    # a reachable state folder keeps its cluster inside (/tmp is world-traversable)
    reachable = Path("/tmp") / f"devstack-test-{os.getpid()}" / ".devstack"
    assert Config(state_dir=reachable).pg_home == reachable
