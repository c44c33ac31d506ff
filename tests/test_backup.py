"""`make backup` / `make restore`: a dump in the backup bucket restores into a new database
with the same rows (counts of every table, checksums of a few), and old dumps are deleted."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from devstack import backup
from tests.support import Stack

CHECKSUMMED = ("auth.users", "public.profiles", "public.projects", "public.audit_logs")

_TABLES = """
    select n.nspname || '.' || c.relname as name
      from pg_class c join pg_namespace n on n.oid = c.relnamespace
     where c.relkind in ('r', 'p') and not c.relispartition
       and n.nspname not in ('pg_catalog', 'information_schema')
       and n.nspname not like 'pg_toast%'
     order by 1
"""


def _fingerprint(conn: psycopg.Connection[Any]) -> dict[str, Any]:
    counts = {}
    for row in conn.execute(_TABLES).fetchall():
        schema, table = row["name"].split(".", 1)
        counts[row["name"]] = conn.execute(
            f'select count(*) as n from "{schema}"."{table}"'
        ).fetchone()["n"]
    sums = {}
    for name in CHECKSUMMED:
        schema, table = name.split(".", 1)
        sums[name] = conn.execute(
            f"select md5(coalesce(string_agg(t::text, E'\\n' order by t::text), '')) as s"
            f' from "{schema}"."{table}" t'
        ).fetchone()["s"]
    return {"counts": counts, "checksums": sums}


def test_a_backup_restores_into_a_new_database_with_the_same_rows(stack: Stack) -> None:
    stack.new_user()  # at least some rows
    env = stack.env
    with psycopg.connect(env["DB_URL"], row_factory=dict_row) as conn:
        conn.execute("set transaction isolation level repeatable read")
        snapshot = conn.execute("select pg_export_snapshot() as s").fetchone()["s"]
        made = backup.backup(stack.cfg, env, snapshot=snapshot)
        source = _fingerprint(conn)
        conn.rollback()
    assert made.location.startswith(f"s3://{env['BACKUP_BUCKET']}/db/")
    assert made.size_bytes > 0

    target = backup._with_database(env["DB_URL"], f"restore_test_{uuid.uuid4().hex[:12]}")
    try:
        assert backup.restore(stack.cfg, env, made.location, db_url=target) == target
        with psycopg.connect(target, row_factory=dict_row) as conn:
            restored = _fingerprint(conn)
        assert len(source["counts"]) > 20
        assert restored == source
        # never over an existing database
        with pytest.raises(backup.StackError, match="exists"):
            backup.restore(stack.cfg, env, made.location, db_url=target)
    finally:
        with psycopg.connect(
            backup._with_database(env["DB_URL"], "postgres"), autocommit=True
        ) as conn:
            conn.execute(f'drop database if exists "{target.rsplit("/", 1)[1]}"')


def test_a_backup_deletes_dumps_past_the_retention(stack: Stack, tmp_path: Any) -> None:
    now = datetime.now(UTC)
    old = tmp_path / f"{(now - timedelta(days=31)).strftime('%Y%m%dT%H%M%SZ')}.dump"
    kept = tmp_path / f"{(now - timedelta(days=29)).strftime('%Y%m%dT%H%M%SZ')}.dump"
    old.write_bytes(b"old")
    kept.write_bytes(b"kept")
    made = backup.backup(stack.cfg, stack.env, backup_dir=str(tmp_path), now=now)
    assert made.deleted == [str(old)]
    assert not old.exists() and kept.exists()
    assert made.location == str(tmp_path / f"{now.strftime('%Y%m%dT%H%M%SZ')}.dump")


def test_the_bucket_keeps_30_days_of_dumps(stack: Stack) -> None:
    from tests.functions.conftest import s3_client

    s3 = s3_client(stack.env)
    bucket = stack.env["BACKUP_BUCKET"]
    stale = "db/20200101T000000Z.dump"
    s3.put_object(Bucket=bucket, Key=stale, Body=b"stale")
    made = backup.backup(stack.cfg, stack.env)
    assert f"s3://{bucket}/{stale}" in made.deleted
    assert made.location in backup.list_backups(stack.env)
    assert (
        s3.head_object(Bucket=bucket, Key=made.location.split("/", 3)[3])["ServerSideEncryption"]
        == "AES256"
    )
