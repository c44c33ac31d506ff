"""The bench database and its own PostgREST, beside (never instead of) the dev stack.

The database ``bench`` lives on the local cluster (``make up`` must have started it) and is
built like the dev database: ``devstack/bootstrap.sql`` then every migration through the
Supabase CLI. A second PostgREST, configured like devstack's (same JWT secret, pool, schemas)
plus ``db-plan-enabled`` so ``explain`` can be asked for over HTTP, serves it on its own
loopback port.
"""

from __future__ import annotations

import os

import psycopg

from devstack import postgres, postgrest, procs, supabase_cli
from devstack.config import Config

DB_NAME = os.environ.get("BENCH_DB", "bench")
# Below Linux's ephemeral range (32768-60999): a port in it can be taken at any moment by a
# client connection's local end, and then PostgREST cannot bind it.
PORT = int(os.environ.get("BENCH_POSTGREST_PORT") or 30335)
NAME = "bench-postgrest"


def admin_url(cfg: Config) -> str:
    return cfg.db_url()


def url(cfg: Config) -> str:
    return cfg.db_url(DB_NAME)


def exists(cfg: Config) -> bool:
    with psycopg.connect(admin_url(cfg), autocommit=True) as conn:
        row = conn.execute("select 1 from pg_database where datname = %s", (DB_NAME,)).fetchone()
    return row is not None


def drop(cfg: Config) -> None:
    if DB_NAME == "postgres":
        raise procs.StackError("refusing to drop the dev database")
    postgres.execute(admin_url(cfg), f'drop database if exists "{DB_NAME}" with (force)')


def ensure(cfg: Config) -> None:
    """Create the database if missing, then bootstrap (idempotent) and pending migrations."""
    if DB_NAME == "postgres":
        raise procs.StackError("BENCH_DB must not be the dev database")
    if postgres.running_pid(cfg) is None and not postgres.ready(cfg):
        raise procs.StackError("postgres is not running: `make up` first")
    if not exists(cfg):
        postgres.execute(admin_url(cfg), f'create database "{DB_NAME}"')
    postgres.apply_bootstrap(cfg, url(cfg))
    forget_unknown_migrations(cfg)
    # --include-all: a migration that lands with an older timestamp than the newest one
    # applied here (parallel work) is applied too instead of stopping the benchmark.
    supabase_cli.db_push(cfg, url(cfg), include_all=True)


def forget_unknown_migrations(cfg: Config) -> None:
    """Drop history rows of migrations no longer in migrations/ (renamed while this database
    lived), as `supabase migration repair --status reverted` would, so the push goes on.
    Their objects stay: after a migration was removed rather than renamed, use --rebuild."""
    local = sorted(supabase_cli.migration_files(cfg))
    with psycopg.connect(url(cfg), autocommit=True) as conn:
        known = conn.execute("select to_regclass('supabase_migrations.schema_migrations')")
        if known.fetchone() == (None,):
            return
        gone = conn.execute(
            "delete from supabase_migrations.schema_migrations"
            " where not (version = any(%s)) returning version",
            (local,),
        ).fetchall()
    if gone:
        print(f"bench: forgot migrations no longer in migrations/: {[g[0] for g in gone]}")


# -- PostgREST ------------------------------------------------------------------------------


def base_url() -> str:
    return f"http://127.0.0.1:{PORT}"


def render_conf(cfg: Config) -> str:
    """devstack's PostgREST config, pointed at the bench database and port."""
    return postgrest.render_conf(
        cfg,
        dbname=DB_NAME,
        port=PORT,
        application_name=NAME,
        extra={"db-plan-enabled": "true", "server-timing-enabled": "true"},
        # BENCH_REQUEST_LIMITS=0: without the per-user cap (db-pre-request), to price it
        request_limits=os.environ.get("BENCH_REQUEST_LIMITS", "1") != "0",
    )


def start(cfg: Config) -> int:
    stop(cfg)
    return postgrest.launch(
        cfg, NAME, render_conf(cfg), port=PORT, port_setting="BENCH_POSTGREST_PORT", timeout=60
    )


def stop(cfg: Config) -> None:
    postgrest.stop(cfg, NAME)
