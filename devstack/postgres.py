"""The PostgreSQL 15 cluster in ``.devstack/pgdata``: initdb, pg_ctl start/stop, psql."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
from pathlib import Path
from typing import Any

import psycopg

from devstack import procs
from devstack.config import DB_PASSWORD, Config

PG_MAJOR = 15
SERVICE_USER = "postgres"  # the OS user the `postgresql` package creates
FALLBACK_USER = "devstack-pg"


def bindir() -> Path:
    """Where initdb/pg_ctl live: PostgreSQL 15 from the OS packages, else whatever is on PATH."""
    preferred = Path(f"/usr/lib/postgresql/{PG_MAJOR}/bin")
    if (preferred / "initdb").exists():
        return preferred
    installed = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    found = str(installed[-1]) if installed else shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    raise procs.StackError(
        "PostgreSQL is not installed (no initdb): run `make deps` "
        "or `apt-get install -y postgresql`"
    )


def os_user() -> pwd.struct_passwd | None:
    """The unprivileged user that owns the cluster when we run as root (initdb refuses root)."""
    if os.geteuid() != 0:
        return None
    for name in (SERVICE_USER, FALLBACK_USER):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    subprocess.run(
        ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", FALLBACK_USER],
        check=True,
    )
    return pwd.getpwnam(FALLBACK_USER)


def _run_as_owner(argv: list[str], cfg: Config, **kwargs: Any) -> subprocess.CompletedProcess[Any]:
    user = os_user()
    extra: dict[str, object] = {}
    if user is not None:
        extra = {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}
    return subprocess.run(argv, cwd=cfg.state_dir, check=True, **extra, **kwargs)  # type: ignore[call-overload]


def _chown(path: Path) -> None:
    user = os_user()
    if user is not None:
        os.chown(path, user.pw_uid, user.pw_gid)


def log_file(cfg: Config) -> Path:
    return cfg.logs / "postgres.log"


def initialized(cfg: Config) -> bool:
    return (cfg.pgdata / "PG_VERSION").exists()


def init_cluster(cfg: Config) -> None:
    """initdb: user postgres (password auth on loopback), UTF8, locale C."""
    cfg.pgdata.mkdir(parents=True, exist_ok=True)
    cfg.pgdata.chmod(0o700)
    _chown(cfg.pgdata)
    pwfile = cfg.state_dir / "pwfile"
    pwfile.write_text(DB_PASSWORD + "\n")
    _chown(pwfile)
    try:
        _run_as_owner(
            [
                str(bindir() / "initdb"),
                f"--pgdata={cfg.pgdata}",
                "--username=postgres",
                f"--pwfile={pwfile}",
                "--auth-host=scram-sha-256",
                "--auth-local=peer",
                "--encoding=UTF8",
                "--locale=C",
            ],
            cfg,
            stdout=subprocess.DEVNULL,
        )
    finally:
        pwfile.unlink(missing_ok=True)
    with open(cfg.pgdata / "postgresql.conf", "a") as conf:
        conf.write("\n# Written by devstack on every start (port, memory, logical WAL).\n")
        conf.write("include_if_exists = 'devstack.conf'\n")


def write_settings(cfg: Config) -> None:
    """Server settings, regenerated on every start so port overrides take effect."""
    settings = {
        "listen_addresses": "'127.0.0.1'",
        "port": str(cfg.db_port),
        "unix_socket_directories": "''",  # TCP on loopback only
        "wal_level": "logical",  # the supabase_realtime publication
        "max_connections": "200",
        # Sized for a 24 GiB development machine that also runs tests and benchmarks.
        "shared_buffers": "'2GB'",
        "effective_cache_size": "'8GB'",
        "work_mem": "'16MB'",
        "maintenance_work_mem": "'512MB'",
        "max_wal_size": "'4GB'",
        "timezone": "'UTC'",
        "log_timezone": "'UTC'",
        "log_min_duration_statement": "'1s'",
    }
    path = cfg.pgdata / "devstack.conf"
    path.write_text("".join(f"{name} = {value}\n" for name, value in settings.items()))
    _chown(path)


def running_pid(cfg: Config) -> int | None:
    """The postmaster's pid, from postmaster.pid, if it is alive."""
    try:
        pid = int((cfg.pgdata / "postmaster.pid").read_text().splitlines()[0])
    except (OSError, ValueError, IndexError):
        return None
    # After a reboot the recorded pid may belong to another process: check it is ours.
    if procs.alive(pid) and str(cfg.pgdata) in procs.cmdline(pid):
        return pid
    return None


def ready(cfg: Config) -> bool:
    result = subprocess.run(
        [str(bindir() / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(cfg.db_port)],
        check=False,
    )
    return result.returncode == 0


def start(cfg: Config) -> None:
    if running_pid(cfg) is not None:
        return
    cfg.state_dir.mkdir(parents=True, exist_ok=True)
    cfg.logs.mkdir(parents=True, exist_ok=True)
    if not initialized(cfg):
        init_cluster(cfg)
    write_settings(cfg)
    log = log_file(cfg)
    log.touch()
    _chown(log)
    if procs.port_open(cfg.db_port):
        raise procs.StackError(f"postgres: port {cfg.db_port} is already in use (set DB_PORT)")
    try:
        _run_as_owner(
            [
                str(bindir() / "pg_ctl"),
                "start",
                "-D",
                str(cfg.pgdata),
                "-l",
                str(log),
                "-w",
                "-t",
                "60",
            ],
            cfg,
            stdout=subprocess.DEVNULL,
            start_new_session=True,
        )
    except subprocess.CalledProcessError as exc:
        raise procs.StackError(f"postgres did not start; see {log}\n{procs.tail(log)}") from exc
    procs.wait_until(lambda: ready(cfg), part="postgres", log_file=log, timeout=30)


def stop(cfg: Config) -> None:
    pid = running_pid(cfg)
    if pid is None:
        return
    try:
        _run_as_owner(
            [
                str(bindir() / "pg_ctl"),
                "stop",
                "-D",
                str(cfg.pgdata),
                "-m",
                "fast",
                "-w",
                "-t",
                "30",
            ],
            cfg,
            stdout=subprocess.DEVNULL,
        )
    except subprocess.CalledProcessError:
        procs.stop(pid)


def psql_file(db_url: str, path: Path) -> None:
    """Run a SQL file with psql, stopping at the first error."""
    result = subprocess.run(
        [
            str(bindir() / "psql"),
            "-X",
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            "-d",
            db_url,
            "-f",
            str(path),
        ],
        env={**os.environ, "PGSSLMODE": "disable", "PGOPTIONS": "-c client_min_messages=warning"},
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise procs.StackError(f"{path.name} failed:\n{result.stderr.strip()}")


def execute(db_url: str, query: str) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(query)  # type: ignore[arg-type]


def apply_bootstrap(cfg: Config, db_url: str | None = None) -> None:
    """The local mirror of the hosted platform (roles, auth, realtime). Never on a hosted DB."""
    psql_file(db_url or cfg.db_url(), cfg.bootstrap_sql)
