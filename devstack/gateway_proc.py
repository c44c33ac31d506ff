"""Starting and stopping the gateway process (``python -m devstack.gateway``)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import httpx

from devstack import procs
from devstack.config import Config

NAME = "gateway"
MARKER = "devstack.gateway"


def log_file(cfg: Config) -> Path:
    return cfg.logs / "gateway.log"


def running_pid(cfg: Config) -> int | None:
    return procs.read_pid(cfg.pids, NAME, MARKER)


def ready(cfg: Config) -> bool:
    try:
        return httpx.get(f"{cfg.api_url}/health", timeout=1.0).status_code == 200
    except httpx.HTTPError:
        return False


def _newest_source(cfg: Config) -> float:
    paths = [
        *cfg.functions_dir.rglob("*.py"),
        *(cfg.root / "devstack").rglob("*.py"),  # devstack/realtime/ too
        cfg.env_file,
        cfg.root / "supabase" / "config.toml",  # local Auth's settings
        cfg.root / "serverless.yml",  # the schedules the event host runs
    ]
    return max((p.stat().st_mtime for p in paths if p.exists()), default=0.0)


def stale(cfg: Config) -> bool:
    """True when function or gateway code (or the env file, or supabase/config.toml) changed
    since the gateway started."""
    pid_path = procs.pid_file(cfg.pids, NAME)
    return pid_path.exists() and _newest_source(cfg) > pid_path.stat().st_mtime


def start(cfg: Config) -> None:
    pid = running_pid(cfg)
    if pid is not None and not stale(cfg):
        return
    if pid is not None:
        print("gateway: code changed since it started, restarting", file=sys.stderr)
        stop(cfg)
    procs.ensure_port_free("gateway", cfg.api_port, "API_PORT", log_file(cfg))
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(cfg.root), env.get("PYTHONPATH", "")) if p)
    env["DEVSTACK_DIR"] = str(cfg.state_dir)
    pid = procs.spawn(
        NAME,
        [sys.executable, "-m", MARKER],
        pids_dir=cfg.pids,
        log_file=log_file(cfg),
        env=env,
        cwd=cfg.root,
    )
    procs.wait_until(
        lambda: ready(cfg), part="gateway", log_file=log_file(cfg), timeout=60, pid=pid
    )


def stop(cfg: Config) -> None:
    procs.stop_named(cfg.pids, NAME, MARKER)
