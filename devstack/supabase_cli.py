"""The pinned Supabase CLI, used against a database URL (no Docker)."""

from __future__ import annotations

import os
import subprocess
from urllib.parse import urlparse

import psycopg

from devstack.config import Config
from devstack.procs import StackError

LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def _env(db_url: str) -> dict[str, str]:
    env = dict(os.environ)
    host = urlparse(db_url).hostname or ""
    if host in LOOPBACK:
        # The local cluster has no TLS; without this the CLI's TLS warning lands on stdout.
        env["PGSSLMODE"] = "disable"
    env.setdefault("SUPABASE_TELEMETRY_DISABLED", "1")
    env.setdefault("DO_NOT_TRACK", "1")
    return env


def run(cfg: Config, args: list[str], db_url: str) -> subprocess.CompletedProcess[str]:
    if not cfg.supabase_bin.exists():
        raise StackError(f"Supabase CLI missing at {cfg.supabase_bin}: run `make deps`")
    argv = [str(cfg.supabase_bin), *args, "--workdir", str(cfg.root)]
    result = subprocess.run(
        argv,
        env=_env(db_url),
        capture_output=True,
        text=True,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    if result.returncode != 0:
        raise StackError(
            f"supabase {' '.join(args[:2])} failed (exit {result.returncode}):\n"
            f"{result.stderr.strip()}\n{result.stdout.strip()}".strip()
        )
    return result


def has_migrations(cfg: Config) -> bool:
    return any(cfg.migrations_dir.glob("*.sql"))


def migration_files(cfg: Config) -> dict[str, str]:
    """The files of migrations/ by version (the part of the name before the first ``_``)."""
    return {p.name.split("_", 1)[0]: p.name for p in cfg.migrations_dir.glob("*.sql")}


def applied(db_url: str) -> set[str]:
    """The versions in the database's migration history."""
    with psycopg.connect(db_url, connect_timeout=10) as conn:
        exists = conn.execute(
            "select to_regclass('supabase_migrations.schema_migrations') is not null"
        ).fetchone()
        if not (exists and exists[0]):
            return set()
        rows = conn.execute("select version from supabase_migrations.schema_migrations")
        return {row[0] for row in rows}


def pending(cfg: Config, db_url: str) -> list[str]:
    """Migration files whose version is not in the database's history (a quick read; the
    CLI still decides and applies)."""
    done = applied(db_url)
    return sorted(name for version, name in migration_files(cfg).items() if version not in done)


def unknown(cfg: Config, db_url: str) -> list[str]:
    """Versions the database has applied that migrations/ no longer holds (a rewritten
    history, such as the baseline of 2026-12-03 that replaced the 59 migrations before it)."""
    return sorted(applied(db_url) - set(migration_files(cfg)))


def db_push(
    cfg: Config, db_url: str, *, skip_if_current: bool = False, include_all: bool = False
) -> str:
    """Apply pending migrations and record them in supabase_migrations.schema_migrations.

    ``include_all`` also applies files older than the newest applied one (parallel work in
    the timestamp ranges of DEVELOPERS.md produces them); without it the CLI refuses them.
    """
    if not has_migrations(cfg):
        return "No migrations to apply (migrations/ is empty).\n"
    if skip_if_current and not pending(cfg, db_url):
        return "Local database is up to date.\n"
    args = ["db", "push", f"--remote={db_url}", "--yes"]
    if include_all:
        args.append("--include-all")
    result = run(cfg, args, db_url)
    return result.stderr + result.stdout


def migration_list(cfg: Config, db_url: str) -> str:
    return run(cfg, ["migration", "list", f"--remote={db_url}"], db_url).stdout


def db_diff(cfg: Config, from_url: str, to_url: str) -> str:
    """SQL that turns the schema at ``from_url`` into the one at ``to_url``."""
    result = run(cfg, ["db", "diff", "--from", from_url, "--to", to_url], to_url)
    return result.stdout
