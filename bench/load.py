"""HTTP load: wrk (Debian's ``wrk``) with a Lua script that rotates requests, so each
connection cycles through several users' tokens and paths; a bounded Python loop when wrk is
missing and cannot be installed. Loopback only, fixed duration and connection count."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import httpx

LUA = Path(__file__).with_name("rotate.lua")


@dataclass(frozen=True)
class Request:
    path: str  # path and query string, e.g. /tasks?select=*&limit=50
    token: str


@dataclass(frozen=True)
class Result:
    requests: int
    seconds: float
    errors: int

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def ensure_wrk() -> str | None:
    """Path of wrk, installing the Debian package when missing (as root, or with sudo)."""
    found = shutil.which("wrk")
    if found or os.environ.get("BENCH_NO_WRK"):
        return found
    sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
    try:
        subprocess.run(
            [*sudo, "env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "install", "-y", "-q",
             "wrk"],
            check=True, capture_output=True, timeout=300,
        )  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None
    return shutil.which("wrk")


def _check_loopback(base_url: str) -> None:
    host = urlparse(base_url).hostname
    if host not in {"127.0.0.1", "localhost", "::1"}:
        raise ValueError(f"load only against loopback, not {host}")


def run(
    base_url: str,
    requests: list[Request],
    *,
    seconds: float,
    connections: int,
    wrk: str | None,
) -> Result:
    _check_loopback(base_url)
    if wrk:
        return _run_wrk(wrk, base_url, requests, seconds=seconds, connections=connections)
    return _run_python(base_url, requests, seconds=seconds, connections=connections)


def _run_wrk(
    wrk: str, base_url: str, requests: list[Request], *, seconds: float, connections: int
) -> Result:
    with tempfile.NamedTemporaryFile("w", suffix=".tsv", delete=False) as f:
        for r in requests:
            f.write(f"{r.path}\t{r.token}\n")
        listing = f.name
    try:
        out = subprocess.run(
            [wrk, "-t1", f"-c{connections}", f"-d{max(int(seconds), 1)}s", "--timeout", "10s",
             "-s", str(LUA), base_url, "--", listing],
            check=True, capture_output=True, text=True, timeout=seconds + 60,
        ).stdout  # fmt: skip
    finally:
        os.unlink(listing)
    total = re.search(r"(\d+) requests in ([\d.]+)(m?s|m)\b", out)
    if not total:
        raise RuntimeError(f"cannot read wrk output:\n{out}")
    unit = {"s": 1.0, "ms": 0.001, "m": 60.0}[total.group(3)]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: (.*)", out)
    errors = int(non2xx.group(1)) if non2xx else 0
    if socket_errors:
        errors += sum(int(n) for n in re.findall(r"\d+", socket_errors.group(1)))
    return Result(int(total.group(1)), float(total.group(2)) * unit, errors)


def _run_python(
    base_url: str, requests: list[Request], *, seconds: float, connections: int
) -> Result:
    """Fallback: ``connections`` threads, each with a keep-alive client, for ``seconds``."""
    done = [0] * connections
    errors = [0] * connections
    deadline = time.monotonic() + seconds

    def worker(n: int) -> None:
        with httpx.Client(base_url=base_url, timeout=10.0) as client:
            i = n
            while time.monotonic() < deadline:
                r = requests[i % len(requests)]
                i += 1
                resp = client.get(r.path, headers={"Authorization": f"Bearer {r.token}"})
                done[n] += 1
                errors[n] += resp.status_code >= 300

    started = time.monotonic()
    threads = [threading.Thread(target=worker, args=(n,)) for n in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return Result(sum(done), time.monotonic() - started, sum(errors))
