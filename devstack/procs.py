"""Background processes: start detached with a pid file, find, stop, wait until ready."""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path


class StackError(RuntimeError):
    """A part of the stack failed. The message says what failed, then (when known) the last
    lines of its log, the log file and what to try, so one message is enough to act on."""

    def __init__(
        self,
        message: str,
        *,
        log: Path | None = None,
        hint: str | None = None,
        details: str = "",
    ) -> None:
        self.log = log
        self.hint = hint
        text = message
        if details.strip():
            text += "\n" + "\n".join(f"  | {line}" for line in details.strip().splitlines())
        if log is not None:
            text += f"\n  log: {log}"
        if hint:
            text += f"\n  try: {hint}"
        super().__init__(text)


def ensure_port_free(part: str, port: int, setting: str, log: Path | None = None) -> None:
    """Fail with one clear message when another program listens on ``port``."""
    if port_open(port):
        raise StackError(
            f"{part} cannot start: 127.0.0.1:{port} ({setting}) is taken by another program",
            log=log,
            hint=f"stop that program, or choose a free port, e.g. `{setting}={port + 1000} "
            "make up` (and the same variable for `make test`)",
        )


def pid_file(pids_dir: Path, name: str) -> Path:
    return pids_dir / f"{name}.pid"


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (exited, not yet reaped) is not alive.
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def read_pid(pids_dir: Path, name: str, marker: str) -> int | None:
    """The pid recorded for ``name`` if that process still runs and its command line
    contains ``marker`` (guards against a recycled pid)."""
    path = pid_file(pids_dir, name)
    try:
        pid = int(path.read_text().strip())
    except (OSError, ValueError):
        return None
    if alive(pid) and marker in cmdline(pid):
        return pid
    return None


def spawn(
    name: str,
    argv: Sequence[str],
    *,
    pids_dir: Path,
    log_file: Path,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> int:
    """Start ``argv`` in its own session (survives our exit), output appended to ``log_file``."""
    pids_dir.mkdir(parents=True, exist_ok=True)
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with open(log_file, "ab") as log, open(os.devnull, "rb") as devnull:
        proc = subprocess.Popen(
            list(argv),
            stdin=devnull,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=dict(env) if env is not None else None,
            cwd=cwd,
            start_new_session=True,
        )
    pid_file(pids_dir, name).write_text(f"{proc.pid}\n")
    return proc.pid


def stop(pid: int, timeout: float = 10.0) -> None:
    """SIGTERM the process group, then SIGKILL if it lingers."""
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            return
        except PermissionError:
            os.kill(pid, sig)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if not alive(pid):
                return
            time.sleep(0.05)
    if alive(pid):
        raise StackError(f"process {pid} did not stop")


def stop_named(pids_dir: Path, name: str, marker: str) -> None:
    """Stop the process recorded for ``name`` (see ``read_pid``) and forget its pid file."""
    pid = read_pid(pids_dir, name, marker)
    if pid is not None:
        stop(pid)
    pid_file(pids_dir, name).unlink(missing_ok=True)


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) == 0


def wait_until(
    ready: Callable[[], bool],
    *,
    part: str,
    log_file: Path,
    timeout: float,
    pid: int | None = None,
) -> None:
    """Poll ``ready`` until true; fail naming the part and its log if it dies or times out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready():
            return
        if pid is not None and not alive(pid):
            raise StackError(
                f"{part} exited during start-up",
                log=log_file,
                details=tail(log_file, 8),
                hint=f"read the log, fix the cause, then `make up` again ({part} restarts)",
            )
        time.sleep(0.05)
    raise StackError(
        f"{part} did not answer within {timeout:.0f}s",
        log=log_file,
        details=tail(log_file, 8),
        hint="the machine may be busy: `make up` again; if it persists, read the log",
    )


def tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


_held: dict[Path, int] = {}


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """An flock on ``path`` (re-entrant within this process) so that two ``up``/``down``
    runs (two people, two test sessions) never race on the same stack."""
    path = path.resolve()
    if path in _held:
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        _held[path] = fd
        yield
    finally:
        _held.pop(path, None)
        os.close(fd)
