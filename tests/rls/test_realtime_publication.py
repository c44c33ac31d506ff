"""What a UI watches is published for Realtime, and RLS still decides who receives it.

Supabase Realtime delivers a row change to a subscriber only when the table's select policy,
run as that subscriber (role ``authenticated``, their JWT claims), returns the row. The local
Realtime server (devstack/realtime/) runs that check on real changes (tests/realtime/); this
test runs the same check in SQL for each published UI table: the row's member / owner would
receive it, someone outside would not.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import jwt
import pytest
from psycopg import sql

from tests.rls.world import World

UI_TABLES = ("files", "activity_events", "privacy_requests", "integrations")


def _published(w: World) -> set[str]:
    rows = w.sql(
        "select tablename from pg_publication_tables"
        " where pubname = 'supabase_realtime' and schemaname = 'public'"
    )
    return {r["tablename"] for r in rows}


def test_ui_tables_are_in_the_realtime_publication(world: World) -> None:
    assert set(UI_TABLES) <= _published(world)


def test_every_published_table_has_rls_and_a_select_policy_for_signed_in_users(
    world: World,
) -> None:
    for table in sorted(_published(world)):
        rls = world.one(
            "select relrowsecurity from pg_class where oid = %s::regclass", (f"public.{table}",)
        )
        assert rls is True, f"{table} is published without RLS"
        policies = world.one(
            "select count(*) from pg_policies where schemaname = 'public' and tablename = %s"
            " and cmd in ('SELECT', 'ALL') and 'authenticated' = any(roles)",
            (table,),
        )
        assert policies >= 1, f"{table} is published with no select policy for authenticated"


def _receives(w: World, role: str, table: str, row_id: str) -> bool:
    """Realtime's check for one change: the subscriber's select policy returns the row."""
    claims = jwt.decode(w.tokens[role] or "", options={"verify_signature": False})
    with w.db.transaction():
        w.sql(
            "select set_config('role', 'authenticated', true),"
            " set_config('request.jwt.claims', %s, true)",
            (json.dumps(claims),),
        )
        found = w.one(
            sql.SQL("select count(*) from public.{} where id = %s").format(sql.Identifier(table)),
            (row_id,),
        )
        w.sql("reset role")
    return found == 1


ROWS: dict[str, tuple[str, Callable[[World], str], Callable[[World], str]]] = {
    # table: (subscriber role, a row they may read, a row they may not)
    "files": (
        "viewer",
        lambda w: w.file(w.project_p, w.uid("owner")),
        lambda w: w.file(w.project_q, w.uid("stranger")),
    ),
    "activity_events": (
        "viewer",
        lambda w: w.activity(w.project_p),
        lambda w: w.activity(w.project_q),
    ),
    "privacy_requests": (
        "editor",
        lambda w: w.privacy_request(w.uid("editor")),
        lambda w: w.privacy_request(w.uid("teammate")),
    ),
    "integrations": (
        "editor",
        lambda w: w.integration(w.uid("editor")),
        lambda w: w.integration(w.uid("teammate")),
    ),
}


@pytest.mark.parametrize("table", UI_TABLES)
def test_realtime_delivers_a_change_only_to_whom_rls_lets_read_it(world: World, table: str) -> None:
    role, readable, unreadable = ROWS[table]
    mine, theirs = readable(world), unreadable(world)
    assert _receives(world, role, table, mine), f"{role} would not receive their {table} row"
    assert not _receives(world, role, table, theirs), f"{role} would receive another's {table} row"
    assert not _receives(world, "outsider", table, mine), f"an outsider would receive {table}"
