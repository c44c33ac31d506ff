"""The checked-in types (types/) match the schema the migrations build."""

from __future__ import annotations

from tests.rls.test_matrix import EXPOSED_RELATIONS
from tests.support import Stack
from tests.typegen import OUTPUTS, generate, types_dir


def test_checked_in_types_match_the_database(stack: Stack) -> None:
    fresh = generate(stack.cfg, stack.env["DB_URL"])
    assert set(fresh) == {name for name, _ in OUTPUTS.values()}
    for name, text in fresh.items():
        path = types_dir(stack.cfg) / name
        assert path.exists(), f"{path} is missing: run `make types`"
        assert path.read_text() == text, f"{path} is stale: run `make types` and commit it"


def test_the_types_describe_every_exposed_table(stack: Stack) -> None:
    text = (types_dir(stack.cfg) / "database.ts").read_text()
    exposed = [row["name"] for row in stack.sql(EXPOSED_RELATIONS)]
    assert exposed, "the catalog lists no exposed relation"
    missing = [name for name in exposed if f'"{name}": {{' not in text]
    assert not missing, f"types/database.ts lacks exposed relations: {missing}"
    # token material lives in a schema the API does not expose
    assert '"integration_credentials": {' not in text
