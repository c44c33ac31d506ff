"""The RLS matrix: every (exposed relation x operation x kind of row x role) cell of
spec.py, checked over HTTP through PostgREST with real tokens, plus the catalog checks
that keep the spec complete.

Each refused cell requires the database's own refusal (SQLSTATE 42501 in the body, or an
empty answer where RLS hides the row) and checks in SQL that nothing changed: a broken
token, a gateway error or a validation error does not pass for a refusal. A refused insert is
also sent with ``return=minimal`` (no SELECT policy involved) and inside a bulk array.
Unfiltered writes, upserts and the guarded columns are in test_matrix_writes.py."""

from __future__ import annotations

from typing import Any

import pytest

from tests.rls.rows import EXISTING, KEY, NEW, change
from tests.rls.spec import HAS_NO_SUCH_ROW, IN_P, OPERATIONS, ROLES, SPEC, cells
from tests.rls.world import PROJECT_ROLES, World
from tests.support import REPRESENTATION, Stack

MINIMAL = {"Prefer": "return=minimal"}

EXPOSED_RELATIONS = """
select c.relname as name, c.relkind as kind, c.relrowsecurity as rls,
       coalesce(c.reloptions::text like '%%security_invoker=true%%', false) as invoker_view
  from pg_class c
  join pg_namespace n on n.oid = c.relnamespace
 where n.nspname = 'public'
   and c.relkind in ('r', 'p', 'v', 'm', 'f')
   and exists (
     select 1 from unnest(array['anon', 'authenticated']) r(role)
      where has_table_privilege(r.role, c.oid, 'select, insert, update, delete')
         or has_any_column_privilege(r.role, c.oid, 'select, insert, update')
   )
 order by 1
"""


def exposed(stack: Stack) -> list[dict[str, Any]]:
    return stack.sql(EXPOSED_RELATIONS)


def test_every_relation_postgrest_exposes_is_in_the_spec(stack: Stack) -> None:
    names = {row["name"] for row in exposed(stack)}
    missing = sorted(names - SPEC.keys())
    assert not missing, f"exposed through PostgREST but not in tests/rls/spec.py: {missing}"
    stale = sorted(SPEC.keys() - names)
    assert not stale, f"in tests/rls/spec.py but not exposed (renamed or dropped?): {stale}"


def test_every_exposed_table_has_rls_and_every_view_runs_as_the_caller(stack: Stack) -> None:
    for row in exposed(stack):
        if row["kind"] in ("r", "p"):
            assert row["rls"], f"public.{row['name']} is exposed without row level security"
        elif row["kind"] == "v":
            assert row["invoker_view"], f"view public.{row['name']} must be security_invoker"
        else:
            pytest.fail(f"public.{row['name']} (relkind {row['kind']}) cannot carry RLS")


def test_the_spec_names_every_operation_and_can_make_every_kind_of_row() -> None:
    for relation, ops in SPEC.items():
        assert set(ops) == set(OPERATIONS), relation
        for op, kinds in ops.items():
            makers = NEW[relation] if op == "insert" else EXISTING[relation]
            assert set(kinds) <= set(makers), (relation, op, set(kinds) - set(makers))
            for roles in kinds.values():
                assert set(roles) <= set(ROLES), (relation, op, set(roles) - set(ROLES))
    for (relation, kind), roles in HAS_NO_SUCH_ROW.items():
        assert kind in EXISTING[relation], (relation, kind)
        assert set(roles) <= set(ROLES), (relation, kind, set(roles) - set(ROLES))
        # a cell left out must be one the spec refuses anyway (no hidden permission)
        for op in OPERATIONS:
            assert not roles & SPEC[relation][op].get(kind, frozenset()), (relation, op, kind)
    # the spec's people in P are the world's
    assert set(PROJECT_ROLES) & set(ROLES) == IN_P


def _current(world: World, relation: str, key: str, value: str) -> dict[str, Any] | None:
    rows = world.sql(
        f"select to_jsonb(t) as row from public.{relation} t where {key} = %s",
        (value,),
    )
    return rows[0]["row"] if rows else None


def _count(world: World, relation: str) -> int:
    return int(world.one(f"select count(*) from public.{relation}"))


def _has_values(world: World, relation: str, key: str, value: str, patch: dict[str, Any]) -> bool:
    where = " and ".join(f"{col} = %s" for col in patch)
    return bool(
        world.one(
            f"select count(*) from public.{relation} where {key} = %s and {where}",
            (value, *patch.values()),
        )
    )


def database_refused(response: Any, said: str) -> None:
    """401/403 carrying the database's 42501 (privilege or policy), nothing else."""
    assert response.status_code in (401, 403), f"{said}: {response.status_code} {response.text}"
    assert response.json().get("code") == "42501", f"{said}: {response.text}"


def refused_or_hidden(response: Any, said: str, hidden: tuple[int, ...]) -> None:
    """The database's refusal, or a ``hidden`` status (RLS let no row through)."""
    if response.status_code not in hidden:
        database_refused(response, said)


def allowed_insert_body(world: World, relation: str, role: str) -> dict[str, Any] | None:
    for kind, roles in SPEC[relation]["insert"].items():
        if role in roles:
            return NEW[relation][kind](world, role)
    return None


def _cell_id(cell: tuple[str, str, str, str, bool]) -> str:
    relation, op, kind, role, allowed = cell
    verdict = "may" if allowed else "may_not"
    return f"{role}_{verdict}_{op}_{relation}_{kind.replace(' ', '_')}"


@pytest.mark.parametrize(
    ("relation", "op", "kind", "role", "allowed"),
    [pytest.param(*cell, id=_cell_id(cell)) for cell in cells()],
)
def test_rls_matrix(
    world: World, relation: str, op: str, kind: str, role: str, allowed: bool
) -> None:
    http = world.client(role)
    key = KEY.get(relation, "id")
    url = f"/{relation}"
    said = f"{role} {op} {kind} {relation}"

    if op == "insert":
        body = NEW[relation][kind](world, role)
        if allowed:
            response = http.post(url, json=body, headers=REPRESENTATION)
            assert response.status_code == 201, f"{role} should insert {kind}: {response.text}"
            assert len(response.json()) == 1
            return
        before = _count(world, relation)
        response = http.post(url, json=body, headers=REPRESENTATION)
        database_refused(response, said)
        # without the read-back, only the insert rule can refuse it
        response = http.post(url, json=NEW[relation][kind](world, role), headers=MINIMAL)
        database_refused(response, f"{said} (return=minimal)")
        # one refused row refuses the whole array, next to a row the role may insert
        bulk = [
            NEW[relation][kind](world, role),
            allowed_insert_body(world, relation, role) or NEW[relation][kind](world, role),
        ]
        columns = ",".join(sorted({col for row in bulk for col in row}))
        response = http.post(
            url,
            params={"columns": columns},
            json=bulk,
            headers={"Prefer": "return=minimal, missing=default"},
        )
        database_refused(response, f"{said} (bulk)")
        assert _count(world, relation) == before, f"{said}: a refused insert wrote a row"
        return

    made = EXISTING[relation][kind](world, role)
    assert made is not None, f"no row of kind '{kind}' in {relation} for {role}"
    value = str(made)
    where = {key: f"eq.{value}"}
    before_row = _current(world, relation, key, value)

    if op == "select":
        response = http.get(url, params={**where, "select": key})
        if allowed:
            assert response.status_code == 200, response.text
            assert len(response.json()) == 1, f"{role} cannot read {kind} {relation}"
        else:
            refused_or_hidden(response, said, hidden=(200,))
            if response.status_code == 200:
                assert response.json() == [], f"{role} can read {kind} {relation}"

    elif op == "update":
        patch = change(relation, kind, role)
        response = http.patch(url, params=where, json=patch, headers=REPRESENTATION)
        if allowed:
            assert response.status_code == 200, response.text
            assert len(response.json()) == 1, f"{role} updated nothing: {response.text}"
            assert _has_values(world, relation, key, value, patch)
        else:
            refused_or_hidden(response, said, hidden=(200,))
            if response.status_code == 200:
                assert response.json() == [], f"{role} updated {kind} {relation}"
            assert _current(world, relation, key, value) == before_row, f"{said} changed it"

    else:  # delete (projects, tasks, files, messages, documents: soft delete)
        response = http.delete(url, params=where, headers=MINIMAL)
        row = _current(world, relation, key, value)
        if allowed:
            assert response.status_code == 204, response.text
            assert row is None or (
                before_row is not None
                and before_row.get("deleted_at") is None
                and row.get("deleted_at") is not None
            ), f"{role} could not delete {kind} {relation}"
        else:
            refused_or_hidden(response, said, hidden=(204,))
            assert row == before_row, f"{role} could delete {kind} {relation}"
