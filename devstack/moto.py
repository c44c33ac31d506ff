"""moto server: S3, SQS and KMS on loopback (real AWS in production)."""

from __future__ import annotations

import sys
from pathlib import Path

import httpx

from devstack import procs
from devstack.config import Config

NAME = "moto"


def log_file(cfg: Config) -> Path:
    return cfg.logs / "moto.log"


def running_pid(cfg: Config) -> int | None:
    return procs.read_pid(cfg.pids, NAME, NAME)


def ready(cfg: Config) -> bool:
    try:
        return httpx.get(f"{cfg.aws_endpoint_url}/moto-api/", timeout=1.0).status_code < 500
    except httpx.HTTPError:
        return False


def start(cfg: Config, *, wait: bool = True) -> None:
    """Start moto; with ``wait=False`` return at once (``wait_ready`` later)."""
    if running_pid(cfg) is not None:
        if wait:
            wait_ready(cfg)
        return
    procs.ensure_port_free("moto", cfg.aws_port, "AWS_PORT", log_file(cfg))
    procs.spawn(
        NAME,
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(cfg.aws_port)],
        pids_dir=cfg.pids,
        log_file=log_file(cfg),
    )
    if wait:
        wait_ready(cfg)


def wait_ready(cfg: Config) -> None:
    procs.wait_until(
        lambda: ready(cfg), part="moto", log_file=log_file(cfg), timeout=30, pid=running_pid(cfg)
    )


def stop(cfg: Config) -> None:
    procs.stop_named(cfg.pids, NAME, NAME)
