"""Starting and stopping the local inbox (``python -m devstack.inbox``): SMTP on SMTP_PORT,
Mailpit's HTTP API and page on MAILPIT_PORT, one process."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import httpx

from devstack import procs
from devstack.config import Config

NAME = "inbox"
MARKER = "devstack.inbox"


def log_file(cfg: Config) -> Path:
    return cfg.logs / "inbox.log"


def running_pid(cfg: Config) -> int | None:
    return procs.read_pid(cfg.pids, NAME, MARKER)


def ready(cfg: Config) -> bool:
    """Both sides answer: the HTTP API's /readyz and the SMTP port."""
    try:
        ok = httpx.get(f"{cfg.mailpit_url}/readyz", timeout=1.0).status_code == 200
    except httpx.HTTPError:
        return False
    return ok and procs.port_open(cfg.smtp_port)


def stale(cfg: Config) -> bool:
    """True when devstack/inbox.py changed since the process started."""
    pid_path = procs.pid_file(cfg.pids, NAME)
    source = cfg.root / "devstack" / "inbox.py"
    return pid_path.exists() and source.stat().st_mtime > pid_path.stat().st_mtime


def start(cfg: Config) -> None:
    pid = running_pid(cfg)
    if pid is not None and not stale(cfg):
        return
    if pid is not None:
        print("inbox: code changed since it started, restarting", file=sys.stderr)
        stop(cfg)
    procs.ensure_port_free("inbox (SMTP)", cfg.smtp_port, "SMTP_PORT", log_file(cfg))
    procs.ensure_port_free("inbox (Mailpit API)", cfg.mailpit_port, "MAILPIT_PORT", log_file(cfg))
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(cfg.root), env.get("PYTHONPATH", "")) if p)
    pid = procs.spawn(
        NAME,
        [
            sys.executable,
            "-m",
            MARKER,
            "--smtp-port",
            str(cfg.smtp_port),
            "--http-port",
            str(cfg.mailpit_port),
        ],
        pids_dir=cfg.pids,
        log_file=log_file(cfg),
        env=env,
        cwd=cfg.root,
    )
    procs.wait_until(lambda: ready(cfg), part="inbox", log_file=log_file(cfg), timeout=30, pid=pid)


def stop(cfg: Config) -> None:
    procs.stop_named(cfg.pids, NAME, MARKER)
