"""The export and the erasure are driven by the catalog (private.person_columns()); these
tests keep that catalog honest: every column of an exposed table that refers to a person is
read by the export, and a uuid column that might be a person but has no foreign key fails
until it is classified."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.rows import dict_row

from tests.support import Stack

# uuid columns of exposed tables with neither a primary key nor a foreign key, that do not
# refer to a person (each with why). A person column without a key belongs in
# private.person_columns_without_key() instead.
NOT_A_PERSON = {
    ("audit_logs", "project_id"): "a project's id; entries outlive their projects, so no key",
    ("asset_jobs", "file_ids"): (
        "the files an asset job produced (an array: no key); the files carry their uploader"
    ),
    ("document_versions", "job_id"): (
        "the document job that wrote the version; no key: versions are append-only history"
    ),
}

_FK_PAIRS = """
    select tn.nspname || '.' || t.relname as tbl, a.attname as col,
           fn.nspname || '.' || f.relname as ftbl, fa.attname as fcol
      from pg_constraint c
      join pg_class t on t.oid = c.conrelid
      join pg_namespace tn on tn.oid = t.relnamespace
      join pg_class f on f.oid = c.confrelid
      join pg_namespace fn on fn.oid = f.relnamespace
      cross join lateral unnest(c.conkey, c.confkey) as k (attnum, fattnum)
      join pg_attribute a on a.attrelid = c.conrelid and a.attnum = k.attnum
      join pg_attribute fa on fa.attrelid = c.confrelid and fa.attnum = k.fattnum
     where c.contype = 'f'
"""

_UUID_COLUMNS = """
    select c.relname as tbl, a.attname as col,
           exists (select 1 from pg_constraint k
                    where k.conrelid = c.oid and k.contype = 'f'
                      and a.attnum = any (k.conkey)) as has_fk
      from pg_class c
      join pg_namespace n on n.oid = c.relnamespace
      join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
     where n.nspname = 'public' and c.relkind in ('r', 'p')
       and a.atttypid in ('uuid'::regtype, 'uuid[]'::regtype)
"""


def _person_columns_by_hand(rows: list[dict[str, Any]]) -> set[tuple[str, str]]:
    """Columns that reach auth.users.id through foreign keys, computed here (a fixpoint over
    the pairs), independently of the SQL the export uses."""
    person = {("auth.users", "id")}
    while True:
        more = {(r["tbl"], r["col"]) for r in rows if (r["ftbl"], r["fcol"]) in person}
        if more <= person:
            return person
        person |= more


def _unclassified(conn: psycopg.Connection[Any]) -> list[tuple[str, str]]:
    listed = {
        (r["table_name"], r["column_name"])
        for r in conn.execute(
            "select table_name, column_name from private.person_columns_without_key()"
            " where table_schema = 'public'"
        ).fetchall()
    }
    return sorted(
        (r["tbl"], r["col"])
        for r in conn.execute(_UUID_COLUMNS).fetchall()
        if not r["has_fk"]
        and r["col"] != "id"
        and (r["tbl"], r["col"]) not in listed
        and (r["tbl"], r["col"]) not in NOT_A_PERSON
    )


def _exported(conn: psycopg.Connection[Any]) -> set[tuple[str, str]]:
    return {
        (f"{r['table_schema']}.{r['table_name']}", c)
        for r in conn.execute("select * from public.privacy_export_tables()").fetchall()
        for c in r["person_columns"]
    }


def _connect(stack: Stack) -> psycopg.Connection[Any]:
    return psycopg.connect(stack.env["DB_URL"], row_factory=dict_row)


def test_every_person_column_of_an_exposed_table_is_read_by_the_export(stack: Stack) -> None:
    with _connect(stack) as conn:
        by_hand = _person_columns_by_hand(conn.execute(_FK_PAIRS).fetchall())
        exposed = {(t, c) for t, c in by_hand if t.startswith("public.")}
        missing = exposed - _exported(conn)
    assert ("public.tasks", "assignee_id") in exposed  # through project_members (composite key)
    assert not missing, f"person columns the export does not read: {sorted(missing)}"


def test_person_columns_without_a_key_are_read_by_the_export(stack: Stack) -> None:
    with _connect(stack) as conn:
        exported = _exported(conn)
        listed = conn.execute(
            "select table_name, column_name from private.person_columns_without_key()"
            " where table_schema = 'public'"
        ).fetchall()
    assert listed
    for row in listed:
        assert (f"public.{row['table_name']}", row["column_name"]) in exported


def test_every_uuid_column_of_an_exposed_table_has_a_key_or_is_classified(stack: Stack) -> None:
    with _connect(stack) as conn:
        unclassified = _unclassified(conn)
    assert not unclassified, (
        "uuid columns with no foreign key: add the key, or list a person column in "
        "private.person_columns_without_key(), or say why it is not a person in NOT_A_PERSON: "
        f"{unclassified}"
    )


def test_emails_and_addresses_of_exposed_tables_are_in_exported_tables(stack: Stack) -> None:
    with _connect(stack) as conn:
        tables = {t for t, _ in _exported(conn)}
        personal = conn.execute(
            """
            select c.relname as tbl, a.attname as col
              from pg_class c join pg_namespace n on n.oid = c.relnamespace
              join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
             where n.nspname = 'public' and c.relkind = 'r'
               and (a.atttypid = 'inet'::regtype or a.attname like '%%email%%'
                    or a.attname in ('user_agent', 'full_name', 'phone'))
            """
        ).fetchall()
    assert {("audit_log_origins", "ip"), ("profiles", "email")} <= {
        (r["tbl"], r["col"]) for r in personal
    }
    for row in personal:
        assert f"public.{row['tbl']}" in tables, row


def test_a_new_person_column_is_exported_with_a_key_and_fails_the_check_without(
    stack: Stack,
) -> None:
    """The checks above can fail: a column added without a key is caught; one added with a
    key is read by the export with no other change. (Rolled back.)"""
    with _connect(stack) as conn:
        conn.execute("alter table public.tasks add column reviewer_id uuid")
        assert ("tasks", "reviewer_id") in _unclassified(conn)
        conn.execute(
            "alter table public.tasks add column approver_id uuid references public.profiles (id)"
        )
        assert ("public.tasks", "approver_id") in _exported(conn)
        conn.rollback()


def test_the_export_matches_rows_by_the_persons_id_never_by_an_address(stack: Stack) -> None:
    """Holding an address proves nothing (anyone may sign up with it, and addresses are
    reused): the export reads rows by the person's id alone; an invitation to an address
    becomes theirs when they answer it with its link's token (it then names their id)."""
    with _connect(stack) as conn:
        source = conn.execute(
            "select pg_get_functiondef('private.privacy_export_page(uuid, text, text, jsonb,"
            " integer)'::regprocedure) as body"
        ).fetchone()
        gone = conn.execute(
            "select to_regprocedure('private.person_email_columns()') is null as gone"
        ).fetchone()
    assert source and "email" not in source["body"].replace("an address", "")
    assert gone and gone["gone"]
