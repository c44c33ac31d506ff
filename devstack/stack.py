"""The commands: up, down, status, reset, migrate, token."""

from __future__ import annotations

import contextlib
import shutil
import sys

from devstack import (
    aws_resources,
    fake_llm,
    fake_media,
    fakes_proc,
    gateway_proc,
    inbox_proc,
    moto,
    postgres,
    postgrest,
    supabase_cli,
    web,
)
from devstack.config import Config, format_env, read_env_file
from devstack.procs import StackError, alive, file_lock


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _lock(cfg: Config) -> contextlib.AbstractContextManager[None]:
    return file_lock(cfg.state_dir / "lock")


def migrate_local(cfg: Config) -> str:
    """Bootstrap (local only) then pending migrations via the Supabase CLI; reload PostgREST."""
    with _lock(cfg):
        gone = supabase_cli.unknown(cfg, cfg.db_url())
        if gone:
            raise StackError(
                f"the local database applied {len(gone)} migration(s) that migrations/ no longer "
                f"holds ({gone[0]}…): the history was rewritten (the baseline of 2026-12-03 "
                "replaced the older migrations)",
                hint="`make reset` rebuilds the local database from migrations/ (its data is lost)",
            )
        postgres.apply_bootstrap(cfg)
        # Locally the database follows the files, including ones that arrive out of order.
        output = supabase_cli.db_push(cfg, cfg.db_url(), skip_if_current=True, include_all=True)
        postgres.execute(cfg.db_url(), "notify pgrst, 'reload schema'")
    return output


def migrate(cfg: Config, db_url: str | None = None, *, include_all: bool = False) -> str:
    """``make migrate``: the local database, or any database URL (the bootstrap is never
    applied to a URL you pass: a hosted project already has what it mirrors)."""
    if db_url is None:
        if postgres.running_pid(cfg) is None:
            raise StackError("postgres is not running: `make up` first")
        return migrate_local(cfg)
    return supabase_cli.db_push(cfg, db_url, include_all=include_all)


def _write_env(cfg: Config, env: dict[str, str]) -> None:
    tmp = cfg.env_file.with_suffix(".tmp")
    tmp.write_text(
        "# Local development stack (devstack). LOCAL DEVELOPMENT DEFAULTS, not secrets.\n"
        + format_env(env)
    )
    tmp.chmod(0o600)
    tmp.replace(cfg.env_file)


def up(cfg: Config) -> None:
    """Start every part that is not running (idempotent), then print the status block."""
    cfg.state_dir.mkdir(parents=True, exist_ok=True)
    with _lock(cfg):
        before = part_states(cfg)
        try:
            _up(cfg)
        except MigrationsFailedError:
            raise  # the stack itself is up: keep it, so `make migrate` can follow a fix
        except StackError:
            _stop_started(cfg, before)
            raise


class MigrationsFailedError(StackError):
    """The stack started but a migration failed."""


def _stop_started(cfg: Config, before: dict[str, int | None]) -> None:
    """After a failed ``up``: stop the parts it started, so nothing is left half-running."""
    stops = {
        "gateway": gateway_proc.stop,
        "postgrest": postgrest.stop,
        "moto": moto.stop,
        "fake-llm": fake_llm.stop,
        "fake-media": fake_media.stop,
        "fakes": fakes_proc.stop,
        "inbox": inbox_proc.stop,
        "web": web.stop,
        "postgres": postgres.stop,
    }
    for name, pid in part_states(cfg).items():
        if pid is not None and before.get(name) is None:
            with contextlib.suppress(Exception):
                stops[name](cfg)


def _up(cfg: Config) -> None:
    moto.start(cfg, wait=False)  # its start-up overlaps with the database's
    _say("postgres: starting" if postgres.running_pid(cfg) is None else "postgres: running")
    postgres.start(cfg)
    migration_error: StackError | None = None
    try:
        out = migrate_local(cfg)
        _say("migrations: " + (out.strip().splitlines() or ["up to date"])[-1])
    except StackError as exc:
        migration_error = exc
        _say(f"migrations: FAILED (the rest of the stack starts anyway)\n{exc}")
    if (
        postgrest.running_pid(cfg) is not None
        and postgrest.conf_file(cfg).exists()
        and (postgrest.conf_file(cfg).read_text() != postgrest.render_conf(cfg))
    ):
        _say("postgrest: configuration changed, restarting")
        postgrest.stop(cfg)
    postgrest.start(cfg)
    fakes_proc.start(cfg)
    fake_media.start(cfg)
    inbox_proc.start(cfg)
    moto.wait_ready(cfg)
    fake_llm.start(cfg)
    env = cfg.env()
    env["FAKE_LLM_URL"] = fake_llm.url(cfg)
    env.update(aws_resources.ensure_resources(env))
    if read_env_file(cfg) != env:
        _write_env(cfg, env)
    gateway_proc.start(cfg)
    web.start(cfg)
    status(cfg)
    if migration_error is not None:
        raise MigrationsFailedError(
            f"the stack is up but migrations failed; fix and `make migrate`: {migration_error}"
        )


def down(cfg: Config) -> None:
    """Stop every part; fail if any process is left behind."""
    with _lock(cfg):
        _down(cfg)


def _down(cfg: Config) -> None:
    pids = part_states(cfg)
    web.stop(cfg)
    gateway_proc.stop(cfg)
    fake_llm.stop(cfg)
    fake_media.stop(cfg)
    fakes_proc.stop(cfg)
    inbox_proc.stop(cfg)
    postgrest.stop(cfg)
    moto.stop(cfg)
    postgres.stop(cfg)
    cfg.env_file.unlink(missing_ok=True)
    left = {name: pid for name, pid in pids.items() if pid is not None and alive(pid)}
    if left:
        raise StackError(f"still running after down: {left}")
    stopped = ", ".join(f"{n} ({p})" for n, p in pids.items() if p is not None) or "nothing"
    _say(f"stopped: {stopped}")


def part_states(cfg: Config) -> dict[str, int | None]:
    return {
        "postgres": postgres.running_pid(cfg),
        "postgrest": postgrest.running_pid(cfg),
        "moto": moto.running_pid(cfg),
        "gateway": gateway_proc.running_pid(cfg),
        "fake-llm": fake_llm.running_pid(cfg),
        "fake-media": fake_media.running_pid(cfg),
        "fakes": fakes_proc.running_pid(cfg),
        "inbox": inbox_proc.running_pid(cfg),
        "web": web.running_pid(cfg),
    }


def status(cfg: Config) -> bool:
    """Env lines on stdout (as ``supabase status -o env``), part states on stderr."""
    states = part_states(cfg)
    for name, pid in states.items():
        _say(f"# {name}: " + (f"running (pid {pid})" if pid else "stopped"))
    env = cfg.current_env()
    sys.stdout.write(format_env(env))
    sys.stdout.flush()
    return all(states.values())


def reset(cfg: Config) -> None:
    """Wipe local data (database cluster, in-memory AWS) and start again from scratch."""
    with _lock(cfg):
        down(cfg)
        if cfg.pgdata.exists():
            shutil.rmtree(cfg.pgdata)
        _say(f"removed {cfg.pgdata}")
        up(cfg)


def token(cfg: Config, email: str) -> str:
    """The auth user (created if needed) and an access token on a new session, issued by the
    local Auth's code (devstack/auth/) as a password sign-in issues it: through the custom
    access token hook when supabase/config.toml enables one."""
    from devstack import auth

    if postgres.running_pid(cfg) is None:
        raise StackError("postgres is not running: `make up` first")
    settings = auth.AuthSettings.load(
        db_url=cfg.db_url(),
        jwt_secret=cfg.jwt_secret,
        api_url=cfg.api_url,
        config_toml=cfg.root / "supabase" / "config.toml",
    )
    try:
        return auth.session_token(settings, email)
    except PermissionError as exc:
        raise StackError(str(exc)) from exc
