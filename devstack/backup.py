"""``make backup`` and ``make restore``: a logical backup of the database and the drill that
proves it restores.

* :func:`backup` runs ``pg_dump --format=custom`` and stores the dump, named by its UTC time
  (``db/20261130T020000Z.dump``), in the backup bucket (``BACKUP_BUCKET``: moto locally, S3
  with server-side encryption in production) or, with ``BACKUP_DIR``, in a folder; then it
  deletes the dumps older than the retention (``BACKUP_RETENTION_DAYS``, 30).
* :func:`restore` fetches a dump (``s3://bucket/key``, a key in the backup bucket, or a file)
  and ``pg_restore``s it into a **new** database (``DB_URL`` names it; by default
  ``restore_<time>`` on the local cluster), never over an existing one.

pg_dump/pg_restore are the PostgreSQL 15 client programs from the OS packages. The target
server must already have the platform roles (``anon``, ``authenticated``, ``service_role``
...): the local cluster has them from the bootstrap, a hosted Supabase project has them.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg

from devstack.config import Config
from devstack.postgres import bindir
from devstack.procs import StackError

PREFIX = "db/"
_NAME = re.compile(r"(\d{8}T\d{6}Z)\.dump$")


@dataclass(frozen=True)
class Backup:
    location: str  # s3://bucket/key or a path
    size_bytes: int
    deleted: list[str]  # older than the retention, removed by this run


def _stamp(now: datetime) -> str:
    return now.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _taken_at(name: str) -> datetime | None:
    match = _NAME.search(name)
    if not match:
        return None
    return datetime.strptime(match.group(1), "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)


def _s3(env: dict[str, str]) -> Any:
    import boto3

    kwargs: dict[str, Any] = {"region_name": env.get("AWS_DEFAULT_REGION", "us-east-1")}
    if env.get("AWS_ENDPOINT_URL"):  # moto: any credentials
        kwargs.update(
            endpoint_url=env["AWS_ENDPOINT_URL"],
            aws_access_key_id="test",
            aws_secret_access_key="test",
        )
    return boto3.client("s3", **kwargs)


def _program(name: str) -> str:
    path = bindir() / name
    return str(path) if path.exists() else (shutil.which(name) or name)


def _run(argv: list[str], db_url: str) -> None:
    # the URL carries the password; pg_dump/pg_restore read it from the URL itself
    env = {**os.environ, "PGSSLMODE": os.environ.get("PGSSLMODE", "prefer")}
    if "127.0.0.1" in db_url or "localhost" in db_url:
        env["PGSSLMODE"] = "disable"
    done = subprocess.run(argv, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise StackError(f"{Path(argv[0]).name} failed: {done.stderr.strip()[-2000:]}")


def backup(
    cfg: Config,
    env: dict[str, str],
    *,
    db_url: str | None = None,
    backup_dir: str | None = None,
    retention_days: int = 30,
    now: datetime | None = None,
    snapshot: str | None = None,
) -> Backup:
    """Dump the database, store the dump, delete dumps past the retention. ``snapshot``: an
    exported snapshot to dump as of (``pg_export_snapshot()``), so another session can read
    exactly what the dump holds."""
    if retention_days < 1:
        raise StackError("the retention must be at least one day")
    now = now or datetime.now(UTC)
    db_url = db_url or env.get("DB_URL") or cfg.db_url()
    name = f"{_stamp(now)}.dump"
    cutoff = now - timedelta(days=retention_days)
    with tempfile.TemporaryDirectory(prefix="backup-") as tmp:
        dump = Path(tmp) / name
        argv = [_program("pg_dump"), "--format=custom", "--no-password", f"--file={dump}"]
        if snapshot:
            argv.append(f"--snapshot={snapshot}")
        _run([*argv, f"--dbname={db_url}"], db_url)
        size = dump.stat().st_size
        deleted: list[str] = []
        if backup_dir:
            folder = Path(backup_dir)
            folder.mkdir(parents=True, exist_ok=True)
            target = folder / name
            shutil.move(str(dump), target)
            for old in folder.glob("*.dump"):
                taken = _taken_at(old.name)
                if taken and taken < cutoff:
                    old.unlink()
                    deleted.append(str(old))
            return Backup(str(target), size, deleted)
        bucket = env.get("BACKUP_BUCKET")
        if not bucket:
            raise StackError("no BACKUP_BUCKET (or BACKUP_DIR) to store the backup in")
        s3 = _s3(env)
        key = PREFIX + name
        s3.upload_file(str(dump), bucket, key, ExtraArgs={"ServerSideEncryption": "AES256"})
    paginator = s3.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=PREFIX):
        for obj in page.get("Contents", []):
            taken = _taken_at(obj["Key"])
            if taken and taken < cutoff:
                s3.delete_object(Bucket=bucket, Key=obj["Key"])
                deleted.append(f"s3://{bucket}/{obj['Key']}")
    return Backup(f"s3://{bucket}/{key}", size, deleted)


def list_backups(env: dict[str, str], backup_dir: str | None = None) -> list[str]:
    if backup_dir:
        return sorted(str(p) for p in Path(backup_dir).glob("*.dump"))
    bucket = env["BACKUP_BUCKET"]
    pages = _s3(env).get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=PREFIX)
    return sorted(f"s3://{bucket}/{o['Key']}" for p in pages for o in p.get("Contents", []))


def _with_database(db_url: str, dbname: str) -> str:
    parts = urlsplit(db_url)
    return urlunsplit(parts._replace(path=f"/{dbname}"))


def _fetch(env: dict[str, str], source: str, into: Path) -> Path:
    if source.startswith("s3://"):
        bucket, _, key = source.removeprefix("s3://").partition("/")
    elif Path(source).exists():
        return Path(source)
    elif env.get("BACKUP_BUCKET"):
        bucket, key = env["BACKUP_BUCKET"], source
    else:
        raise StackError(f"no such backup: {source}")
    target = into / Path(key).name
    _s3(env).download_file(bucket, key, str(target))
    return target


def restore(
    cfg: Config,
    env: dict[str, str],
    source: str,
    *,
    db_url: str | None = None,
    now: datetime | None = None,
) -> str:
    """Restore a dump into a new database; returns its URL."""
    if db_url is None:
        base = env.get("DB_URL") or cfg.db_url()
        db_url = _with_database(base, f"restore_{_stamp(now or datetime.now(UTC)).lower()}")
    dbname = urlsplit(db_url).path.lstrip("/")
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", dbname):
        raise StackError(f"restore into a plain database name, not {dbname!r}")
    with psycopg.connect(_with_database(db_url, "postgres"), autocommit=True) as conn:
        exists = conn.execute("select 1 from pg_database where datname = %s", (dbname,)).fetchone()
        if exists:
            raise StackError(f"database {dbname} exists; restore only into a new database")
        conn.execute(f'create database "{dbname}"')
    with tempfile.TemporaryDirectory(prefix="restore-") as tmp:
        dump = _fetch(env, source, Path(tmp))
        _run([_program("pg_restore"), "--no-password", "--exit-on-error", f"--dbname={db_url}",
              str(dump)], db_url)  # fmt: skip
    return db_url
