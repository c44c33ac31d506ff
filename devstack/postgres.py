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
from devstack.config import CLUSTER_OS_USERS, DB_PASSWORD, Config, cluster_os_user

PG_MAJOR = 15
FALLBACK_USER = CLUSTER_OS_USERS[-1]  # made when the `postgresql` package's user is missing


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
    found = cluster_os_user()
    if found is not None:
        return found
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
    return subprocess.run(argv, cwd=cfg.pg_home, check=True, **extra, **kwargs)  # type: ignore[call-overload]


def _chown(path: Path) -> None:
    user = os_user()
    if user is not None:
        os.chown(path, user.pw_uid, user.pw_gid)


def log_file(cfg: Config) -> Path:
    """In the logs folder, unless the cluster lives outside the project (see
    ``Config.pg_home``): then beside it, where its OS user can write."""
    if cfg.pg_home != cfg.state_dir:
        return cfg.pg_home / "postgres.log"
    return cfg.logs / "postgres.log"


def make_home(cfg: Config) -> None:
    """The cluster's folder, owned by its OS user; outside the project it also records which
    project it belongs to."""
    home = cfg.pg_home
    if home == cfg.state_dir:
        home.mkdir(parents=True, exist_ok=True)
        return
    home.parent.mkdir(parents=True, exist_ok=True, mode=0o711)
    home.mkdir(exist_ok=True, mode=0o700)
    _chown(home)
    (home / "project").write_text(f"{cfg.state_dir}\n")


def initialized(cfg: Config) -> bool:
    return (cfg.pgdata / "PG_VERSION").exists()


def init_cluster(cfg: Config) -> None:
    """initdb: user postgres (password auth on loopback), UTF8, locale C."""
    make_home(cfg)
    cfg.pgdata.mkdir(parents=True, exist_ok=True)
    cfg.pgdata.chmod(0o700)
    _chown(cfg.pgdata)
    pwfile = cfg.pg_home / "pwfile"
    pwfile.write_text(DB_PASSWORD + "\n")
    _chown(pwfile)
    initdb_log = cfg.pg_home / "initdb.log"
    log = open(initdb_log, "w")  # noqa: SIM115 - closed below; written through our descriptor
    user = os_user()
    owner = user.pw_name if user is not None else pwd.getpwuid(os.geteuid()).pw_name
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
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    except subprocess.CalledProcessError as exc:
        raise procs.StackError(
            f"initdb could not create the database cluster in {cfg.pgdata}",
            log=initdb_log,
            details=procs.tail(initdb_log, 8),
            hint=f"check that the OS user {owner} can write {cfg.pg_home}",
        ) from exc
    finally:
        log.close()
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
    procs.ensure_port_free("postgres", cfg.db_port, "DB_PORT", log)
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
        raise procs.StackError(
            "postgres did not start",
            log=log,
            details=procs.tail(log, 8),
            hint="read the log; `make reset` starts from an empty cluster if this one is damaged",
        ) from exc
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
