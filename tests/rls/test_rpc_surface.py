"""The callable surface: every function PostgREST exposes to anon or authenticated has a
decision in rpc_spec.py, and every (function, role) answer is checked over HTTP."""

from __future__ import annotations

import pytest

from tests.rls.rpc_spec import EXPOSED_SCHEMAS, RPCS, Outcome
from tests.rls.spec import ROLES
from tests.rls.world import World
from tests.support import Stack

CALLABLE = """
select n.nspname || '.' || p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')'
       as identity
  from pg_proc p
  join pg_namespace n on n.oid = p.pronamespace
 where n.nspname = any(%s)
   and p.prokind in ('f', 'p')
   and (has_function_privilege('anon', p.oid, 'execute')
        or has_function_privilege('authenticated', p.oid, 'execute'))
 order by 1
"""


def test_every_function_anon_or_authenticated_may_call_has_a_decision(stack: Stack) -> None:
    callable_now = {row["identity"] for row in stack.sql(CALLABLE, (list(EXPOSED_SCHEMAS),))}
    undecided = sorted(callable_now - RPCS.keys())
    assert not undecided, (
        "callable through PostgREST but not in tests/rls/rpc_spec.py (decide who may call "
        f"it): {undecided}"
    )
    stale = sorted(RPCS.keys() - callable_now)
    assert not stale, f"in tests/rls/rpc_spec.py but not callable (renamed or revoked?): {stale}"


def test_every_rpc_names_an_answer_for_every_role() -> None:
    for identity, rpc in RPCS.items():
        assert set(rpc.answers) == set(ROLES), identity


def _call_id(identity: str, role: str) -> str:
    return f"{role}_calls_{identity.split('(')[0].split('.')[-1]}"


@pytest.mark.parametrize(
    ("identity", "role"),
    [
        pytest.param(identity, role, id=_call_id(identity, role))
        for identity in RPCS
        for role in ROLES
    ],
)
def test_rpc_answers(world: World, identity: str, role: str) -> None:
    rpc = RPCS[identity]
    expected: Outcome = rpc.answers[role]
    name = identity.split("(")[0].split(".")[-1]
    args = rpc.args(world, role)
    response = world.client(role).post(f"/rpc/{name}", json=args)
    body = response.json() if response.content else None
    said = f"{role} calling {name}: {response.status_code} {response.text}"

    if expected.kind in ("ok", "empty"):
        assert response.status_code in (200, 204), said
        found = body not in (None, [])
        if expected.kind == "empty":
            assert not found, said
        elif rpc.check is not None:
            rpc.check(world, role, args, body)
        else:
            assert found, said
        return

    assert 400 <= response.status_code < 500, said
    assert isinstance(body, dict) and body.get("code") == expected.code, said
    no_privilege = "permission denied for function" in body.get("message", "")
    # the database's refusal, and the one the spec names: EXECUTE withheld vs the function's own
    assert no_privilege == (expected.kind == "no execute"), said
