"""The writes the filtered matrix cannot see (issue 8, section 6), for every table and role:

- unfiltered ``PATCH`` and ``DELETE`` with ``Prefer: return=minimal``: no column is read, so
  no SELECT policy applies; after each, SQL proves every row the role may not touch is
  unchanged and every row it may touch changed;
- upserts (``on_conflict`` + ``resolution=merge-duplicates``) onto rows the role may not
  update, by a role that may insert: the row is unchanged; a row the role can see is refused
  (42501), one it cannot see gets the answer of an id that exists nowhere (a fresh id);
- every guarded column (the ``guard_immutable_columns`` / ``guard_deleted_at`` triggers), every
  ``deleted_at`` and every scope column (a foreign key to a project, conversation, document,
  message or event), read from the catalog, tried by every role that may update the row.

Unfiltered writes reach every row their sender may touch, so they run in worlds of their own
(fresh people): one per table whose writes change the world itself (projects, memberships,
conversations), one shared by the tables whose writes stay in their own rows. The other
checks use the session's world.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.rls.rows import EXISTING, KEY, NEW, change
from tests.rls.spec import HAS_NO_SUCH_ROW, ROLES, SPEC
from tests.rls.test_matrix import database_refused, refused_or_hidden
from tests.rls.world import World, build_world
from tests.support import Stack

MINIMAL = {"Prefer": "return=minimal"}
UPSERT = {"Prefer": "resolution=merge-duplicates, return=minimal"}
LONG_AGO = "2000-01-01T00:00:00+00:00"

# The one change an unfiltered PATCH sends per table is change(relation, first kind); for
# project_members that is "make myself owner", so unfiltered it sends the teammate's change
# (viewer -> editor), which an admin may also apply to their own row (stepping down).
UNFILTERED_CHANGE: dict[str, dict[str, Any]] = {"project_members": {"role": "editor"}}
UNFILTERED_ALLOWED: dict[tuple[str, str, str], frozenset[str]] = {
    ("project_members", "update", "mine"): frozenset({"project_admin"}),
}

# Scope columns a client may change on purpose: the row belongs to a person, the project is
# a link they choose (the update policies require rights in the new project).
MOVABLE_LINKS: dict[tuple[str, str], str] = {
    ("calendar_events", "project_id"): "an event is its owner's; the project is optional context",
    ("integrations", "project_id"): "an integration is its owner's; linking a project is a feature",
}
SCOPE_TABLES = ("projects", "conversations", "documents", "messages", "calendar_events")


def _row(world: World, relation: str, key: str, value: str) -> dict[str, Any] | None:
    rows = world.sql(
        f"select to_jsonb(t) as row from public.{relation} t where {key} = %s", (value,)
    )
    return rows[0]["row"] if rows else None


def _count(world: World, relation: str) -> int:
    return int(world.one(f"select count(*) from public.{relation}"))


def _kinds(relation: str, op: str, role: str) -> dict[str, bool]:
    """kind -> allowed, for the kinds of row this role can have."""
    out = {}
    for kind, roles in SPEC[relation][op].items():
        if role in HAS_NO_SUCH_ROW.get((relation, kind), ()):
            continue
        out[kind] = role in UNFILTERED_ALLOWED.get((relation, op, kind), roles)
    return out


# unfiltered writes to these change who is in P and C (or P and C themselves)
CHANGE_THE_WORLD = frozenset(
    {"projects", "project_members", "conversations", "conversation_members"}
)


@pytest.fixture(scope="module")
def fresh_world(stack: Stack) -> Iterator[Callable[[str], World]]:
    worlds: dict[str, World] = {}

    def get(relation: str) -> World:
        name = relation if relation in CHANGE_THE_WORLD else "shared"
        if name not in worlds:
            worlds[name] = build_world(stack)
        return worlds[name]

    yield get
    for w in worlds.values():
        for client in w.clients.values():
            client.close()
        w.db.close()


# -- unfiltered PATCH and DELETE ------------------------------------------------------------------


@pytest.mark.parametrize("relation", sorted(SPEC))
def test_unfiltered_writes_touch_only_what_each_role_may(
    fresh_world: Callable[[str], World], relation: str
) -> None:
    w = fresh_world(relation)
    key = KEY.get(relation, "id")
    first_kind = next(iter(SPEC[relation]["update"]))
    patch = UNFILTERED_CHANGE.get(relation) or change(relation, first_kind, "viewer")
    failures: list[str] = []
    for op in ("update", "delete"):
        for role in ROLES:
            kinds = _kinds(relation, op, role)
            made = {kind: str(EXISTING[relation][kind](w, role)) for kind in kinds}
            before = {kind: _row(w, relation, key, value) for kind, value in made.items()}
            http = w.client(role)
            if op == "update":
                response = http.patch(f"/{relation}", json=patch, headers=MINIMAL)
            else:
                response = http.delete(f"/{relation}", headers=MINIMAL)
            said = f"{role} unfiltered {op} {relation}"
            if any(kinds.values()):
                if response.status_code != 204:
                    failures.append(f"{said}: {response.status_code} {response.text}")
                    continue
            else:
                try:
                    refused_or_hidden(response, said, hidden=(204,))
                except AssertionError as error:
                    failures.append(str(error))
            for kind, allowed in kinds.items():
                after = _row(w, relation, key, made[kind])
                if not allowed:
                    if after != before[kind]:
                        failures.append(f"{said} changed '{kind}' rows it may not touch")
                elif op == "update":
                    if after is None or any(after.get(c) != v for c, v in patch.items()):
                        failures.append(f"{said} did not change '{kind}' (allowed): {after}")
                elif after is not None and after.get("deleted_at") is None:
                    failures.append(f"{said} did not delete '{kind}' (allowed)")
    assert not failures, "\n".join(failures)


# -- upserts ---------------------------------------------------------------------------------


def _insert_body(world: World, relation: str, role: str) -> dict[str, Any] | None:
    for kind, roles in SPEC[relation]["insert"].items():
        if role in roles:
            return NEW[relation][kind](world, role)
    return None


def _answer(response: Any) -> tuple[int, str | None]:
    body = response.json() if response.content else {}
    return response.status_code, body.get("code") if isinstance(body, dict) else None


@pytest.mark.parametrize("relation", sorted(SPEC))
def test_an_upsert_never_updates_a_row_the_role_may_not_update(world: World, relation: str) -> None:
    """The row is unchanged in SQL whatever the answer. A row the role can see is refused
    with the database's 42501. A row it cannot see is answered like an id that exists
    nowhere (``<table>_fresh_id_for_unseen_row`` gives the new row a fresh id; a table the
    role may not update at all refuses every upsert), so the answer does not tell that the
    row is there."""
    key = KEY.get(relation, "id")
    inserters = {role for roles in SPEC[relation]["insert"].values() for role in roles}
    if not inserters:
        pytest.skip(f"nobody inserts into {relation}: the matrix's insert cells refuse upserts")
    for role in ROLES:
        if role not in inserters:
            continue
        for kind, allowed in _kinds(relation, "update", role).items():
            if allowed:
                continue
            said = f"{role} upsert onto {kind} {relation}"
            target = str(EXISTING[relation][kind](world, role))
            before, count = _row(world, relation, key, target), _count(world, relation)
            body = {**(_insert_body(world, relation, role) or {}), key: target}
            response = world.client(role).post(
                f"/{relation}", params={"on_conflict": key}, json=body, headers=UPSERT
            )
            assert _row(world, relation, key, target) == before, f"{said} changed the row"
            if role in SPEC[relation]["select"][kind]:
                database_refused(response, said)
                assert _count(world, relation) == count, f"{said} added a row"
                continue
            # unseen: the answer of the same upsert naming an id that exists nowhere, which
            # is a new row with a fresh id, or 42501 where the role may update no row at all
            nowhere = {**(_insert_body(world, relation, role) or {}), key: str(uuid.uuid4())}
            control = world.client(role).post(
                f"/{relation}", params={"on_conflict": key}, json=nowhere, headers=UPSERT
            )
            assert _answer(response) == _answer(control), (
                f"{said} answers unlike no row: {response.text} / {control.text}"
            )
            if response.status_code == 201:
                assert _count(world, relation) == count + 2, f"{said}: no row with a fresh id"
            else:
                database_refused(response, said)
                assert _count(world, relation) == count, f"{said} added a row"


# -- guarded and scope columns, from the catalog -----------------------------------------------

GUARDS = """
select c.relname as relation, p.proname as guard, t.tgargs as args
  from pg_trigger t
  join pg_class c on c.oid = t.tgrelid
  join pg_namespace n on n.oid = c.relnamespace
  join pg_proc p on p.oid = t.tgfoid
 where n.nspname = 'public' and not t.tgisinternal
   and p.proname in ('guard_immutable_columns', 'guard_deleted_at')
"""

SCOPE_COLUMNS = """
select c.relname as relation, a.attname as col, f.relname as target
  from pg_constraint k
  join pg_class c on c.oid = k.conrelid
  join pg_namespace n on n.oid = c.relnamespace
  join pg_class f on f.oid = k.confrelid
  join pg_namespace fn on fn.oid = f.relnamespace
  join pg_attribute a on a.attrelid = k.conrelid and a.attnum = any(k.conkey)
 where k.contype = 'f' and n.nspname = 'public' and fn.nspname = 'public'
   and f.relname = any(%s)
"""

COLUMN_INFO = """
select a.attname as col, format_type(a.atttypid, a.atttypmod) as type, t.typtype,
       (select f.relname from pg_constraint k join pg_class f on f.oid = k.confrelid
         where k.conrelid = a.attrelid and k.contype = 'f' and k.conkey = array[a.attnum]
         limit 1) as target,
       array(select e.enumlabel::text from pg_enum e where e.enumtypid = a.atttypid
              order by e.enumsortorder) as labels
  from pg_attribute a
  join pg_type t on t.oid = a.atttypid
 where a.attrelid = ('public.' || %s)::regclass and a.attnum > 0 and not a.attisdropped
"""


def guarded_columns(world: World) -> dict[str, set[str]]:
    """relation -> columns a trigger refuses to let clients change."""
    out: dict[str, set[str]] = {}
    for row in world.sql(GUARDS):
        if row["guard"] == "guard_deleted_at":
            cols = {"deleted_at"}
        else:
            cols = {a.decode() for a in bytes(row["args"]).split(b"\x00") if a}
        out.setdefault(row["relation"], set()).update(cols)
    return out


def scope_columns(world: World) -> dict[str, set[str]]:
    """relation -> columns that say which project / conversation / ... a row belongs to."""
    out: dict[str, set[str]] = {}
    for row in world.sql(SCOPE_COLUMNS, (list(SCOPE_TABLES),)):
        if row["relation"] != row["target"]:
            out.setdefault(row["relation"], set()).add(row["col"])
    return out


def clients_may_update(world: World, relation: str, col: str) -> bool:
    """The client roles hold UPDATE on the column and some UPDATE policy could let it pass."""
    privileged = world.one(
        "select bool_or(has_column_privilege(r, ('public.' || %s)::regclass, %s, 'update'))"
        " from unnest(array['anon', 'authenticated']) r",
        (relation, col),
    )
    policy = world.one(
        "select count(*) from pg_policies where schemaname = 'public' and tablename = %s"
        " and cmd in ('UPDATE', 'ALL')",
        (relation,),
    )
    return bool(privileged) and bool(policy)


def test_every_scope_column_is_guarded_or_not_updatable_by_clients(world: World) -> None:
    guarded = guarded_columns(world)
    loose = []
    for relation, cols in sorted(scope_columns(world).items()):
        for col in sorted(cols):
            if (relation, col) in MOVABLE_LINKS or col in guarded.get(relation, set()):
                continue
            if clients_may_update(world, relation, col):
                loose.append(f"{relation}.{col}")
    assert not loose, f"rows could move between projects/conversations through: {loose}"
    for relation, col in MOVABLE_LINKS:
        assert col in scope_columns(world).get(relation, set()), (relation, col)


def _other_value(world: World, role: str, info: dict[str, Any], current: Any) -> Any:
    """A valid value of the column's type, different from the current one."""
    target = info["target"]
    makers: dict[str, Callable[[], Any]] = {
        "projects": world.member_project,
        "conversations": world.member_conversation,
        "profiles": world.new_person,
        "users": world.new_person,
        "documents": lambda: world.document(world.project_p),
        "messages": lambda: world.message(world.conversation_c, world.uid(role)),
        "calendar_events": lambda: world.event(world.uid(role)),
        "files": lambda: world.file(world.project_p, world.uid(role)),
    }
    if target:
        assert target in makers, f"no value maker for a reference to {target}: add one"
        return makers[target]()
    if info["labels"]:
        return next(label for label in info["labels"] if label != current)
    kind = info["type"]
    if kind == "uuid":
        return str(uuid.uuid4())
    if kind.startswith("timestamp"):
        return LONG_AGO
    if kind in ("integer", "bigint", "smallint"):
        return (current or 0) + 7
    if kind == "text[]":
        return ["forged"]
    if kind == "jsonb":
        return {"forged": True}
    if kind == "text":
        return f"forged-{uuid.uuid4().hex[:6]}@example.test"
    raise AssertionError(f"no value maker for type {kind}: add one")


def _updaters() -> list[tuple[str, str]]:
    out = []
    for relation, ops in SPEC.items():
        roles = {role for roles in ops["update"].values() for role in roles}
        out += [(relation, role) for role in sorted(roles)]
    return out


@pytest.mark.parametrize(
    ("relation", "role"),
    [pytest.param(r, role, id=f"{role}_{r}") for r, role in _updaters()],
)
def test_guarded_and_scope_columns_refuse_every_role_that_may_update_the_row(
    fresh_world: Callable[[str], World], relation: str, role: str
) -> None:
    # Unfiltered (a filter reads a column, and then the SELECT policy could refuse the new
    # row in the guard's place), so in the table's own world.
    w = fresh_world(relation)
    key = KEY.get(relation, "id")
    info = {row["col"]: row for row in w.sql(COLUMN_INFO, (relation,))}
    cols = guarded_columns(w).get(relation, set()) | scope_columns(w).get(relation, set())
    cols |= {"deleted_at"} & info.keys()  # only DELETE and rpc restore_deleted write it
    cols = {col for col in cols if (relation, col) not in MOVABLE_LINKS}
    if not cols:
        pytest.skip(f"{relation} has no guarded or scope column")
    for kind, roles in SPEC[relation]["update"].items():
        if role not in roles:
            continue
        target = str(EXISTING[relation][kind](w, role))  # a refused change leaves it as is
        for col in sorted(cols):
            before = _row(w, relation, key, target)
            assert before is not None
            value = _other_value(w, role, info[col], before.get(col))
            response = w.client(role).patch(f"/{relation}", json={col: value}, headers=MINIMAL)
            database_refused(response, f"{role} changing {relation}.{col} ({kind}), unfiltered")
            assert _row(w, relation, key, target) == before, f"{role} changed {col}"


# -- soft-deleting tables, from the catalog -----------------------------------------------------


def test_every_soft_deleting_table_keeps_deleted_rows_out_of_client_writes(world: World) -> None:
    tables = [
        row["table_name"]
        for row in world.sql(
            "select table_name from information_schema.columns where table_schema = 'public'"
            " and column_name = 'deleted_at' order by 1"
        )
    ]
    assert tables, "no soft-deleting table found"
    for table in tables:
        triggers = {
            (row["fn"], row["events"])
            for row in world.sql(
                "select p.proname as fn, (t.tgtype & 28) as events from pg_trigger t"
                " join pg_proc p on p.oid = t.tgfoid"
                " where t.tgrelid = ('public.' || %s)::regclass and not t.tgisinternal",
                (table,),
            )
        }
        # tgtype bits: 4 insert, 8 delete, 16 update
        assert ("soft_delete", 8) in triggers, f"{table}: DELETE does not soft-delete"
        assert ("guard_deleted_at", 20) in triggers, f"{table}: clients could write deleted_at"
        for policy in world.sql(
            "select policyname, cmd, qual from pg_policies where schemaname = 'public'"
            " and tablename = %s and cmd in ('UPDATE', 'DELETE', 'ALL')",
            (table,),
        ):
            assert "deleted_at IS NULL" in (policy["qual"] or ""), (
                f"{table}: policy {policy['policyname']!r} lets clients touch deleted rows"
            )
        for op in ("select", "update", "delete"):
            deleted = [kind for kind in SPEC[table][op] if kind.startswith("deleted")]
            assert deleted, f"spec.py: {table} needs a 'deleted ...' kind for {op}"
            assert all(not SPEC[table][op][kind] for kind in deleted), (table, op)


# -- what counts as a refusal ------------------------------------------------------------------


def test_a_broken_token_is_not_taken_for_the_databases_refusal(world: World) -> None:
    """A refused cell passes on 42501 only: a token PostgREST rejects (401 PGRST301) is not
    the database saying no, so a broken fixture cannot pass an anon or disabled cell."""
    broken = world.tokens["disabled"] or ""
    client = world.client("disabled")
    response = client.delete(
        "/tasks", headers={**MINIMAL, "Authorization": f"Bearer {broken[:-4]}xxxx"}
    )
    assert response.status_code == 401, response.text
    with pytest.raises(AssertionError):
        database_refused(response, "broken token")
    with pytest.raises(AssertionError):
        refused_or_hidden(response, "broken token", hidden=(204,))
