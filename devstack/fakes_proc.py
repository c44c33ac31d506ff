"""Starting and stopping the fake providers (``python -m devstack.fakes``): GitHub on
FAKE_GITHUB_PORT, Google on FAKE_GOOGLE_PORT, the Web Push service (``devstack/fake_push.py``)
on FAKE_PUSH_PORT, one process."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import httpx

from devstack import procs
from devstack.config import Config

NAME = "fakes"
MARKER = "devstack.fakes"


def log_file(cfg: Config) -> Path:
    return cfg.logs / "fakes.log"


def running_pid(cfg: Config) -> int | None:
    return procs.read_pid(cfg.pids, NAME, MARKER)


def ready(cfg: Config) -> bool:
    try:
        return (
            all(
                httpx.get(f"{url}/_fake/accounts/none", timeout=1.0).status_code == 404
                for url in (cfg.fake_github_url, cfg.fake_google_url)
            )
            and (
                httpx.get(f"{cfg.fake_push_url}/_fake/subscriptions/none/messages", timeout=1.0)
            ).status_code
            == 404
        )
    except httpx.HTTPError:
        return False


def stale(cfg: Config) -> bool:
    """True when devstack/fakes.py (or fake_push.py) changed since the process started."""
    pid_path = procs.pid_file(cfg.pids, NAME)
    sources = [cfg.root / "devstack" / name for name in ("fakes.py", "fake_push.py")]
    return pid_path.exists() and any(
        source.stat().st_mtime > pid_path.stat().st_mtime for source in sources
    )


def start(cfg: Config) -> None:
    pid = running_pid(cfg)
    if pid is not None and not stale(cfg):
        return
    if pid is not None:
        print("fakes: code changed since they started, restarting", file=sys.stderr)
        stop(cfg)
    for port, var in (
        (cfg.fake_github_port, "FAKE_GITHUB_PORT"),
        (cfg.fake_google_port, "FAKE_GOOGLE_PORT"),
        (cfg.fake_push_port, "FAKE_PUSH_PORT"),
    ):
        if procs.port_open(port):
            raise procs.StackError(f"fakes: port {port} is already in use (set {var})")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(cfg.root), env.get("PYTHONPATH", "")) if p)
    env["FAKE_GITHUB_PORT"] = str(cfg.fake_github_port)
    env["FAKE_GOOGLE_PORT"] = str(cfg.fake_google_port)
    env["FAKE_PUSH_PORT"] = str(cfg.fake_push_port)
    pid = procs.spawn(
        NAME,
        [sys.executable, "-m", MARKER],
        pids_dir=cfg.pids,
        log_file=log_file(cfg),
        env=env,
        cwd=cfg.root,
    )
    procs.wait_until(lambda: ready(cfg), part="fakes", log_file=log_file(cfg), timeout=30, pid=pid)


def stop(cfg: Config) -> None:
    procs.stop_named(cfg.pids, NAME, MARKER)
