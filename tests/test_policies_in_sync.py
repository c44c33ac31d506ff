"""policies/ and migrations/ say the same thing, both ways: a policy is never changed in one
place only, and no migration creates a policy policies/ does not state.

The diff is `supabase db diff` between a scratch database built from the migrations and one
built from the migrations plus policies/ (devstack/policies.py). Fix a failure with
`make policy-migration NAME=what_changed`, review the new migration, commit both.
"""

from __future__ import annotations

from pathlib import Path

from devstack import policies
from tests.support import Stack


def test_policies_and_migrations_agree(stack: Stack) -> None:
    difference = policies.diff(stack.cfg)
    assert difference == "", (
        "policies/ differs from migrations/; run `make policy-migration NAME=...` "
        f"and commit the migration. The difference:\n{difference}"
    )


def test_a_new_policy_in_policies_is_caught(stack: Stack, tmp_path: Path) -> None:
    toy = tmp_path / "zz_toy.sql"
    toy.write_text(
        "create table public.devstack_toy (id int primary key, owner uuid);\n"
        "alter table public.devstack_toy enable row level security;\n"
        'create policy "owners read toys" on public.devstack_toy for select to authenticated\n'
        "  using (owner = (select auth.uid()));\n"
    )
    difference = policies.diff(stack.cfg, [*policies.policy_files(stack.cfg), toy])
    assert 'CREATE POLICY "owners read toys"' in difference


def test_an_edited_policy_is_caught(stack: Stack, tmp_path: Path) -> None:
    rows = stack.sql(
        "select schemaname, tablename, policyname from pg_policies "
        "where schemaname = 'public' order by 1, 2, 3 limit 1"
    )
    assert rows, "no policies in public: the migrations define the project's RLS policies"
    row = rows[0]
    edit = tmp_path / "zz_edit.sql"
    edit.write_text(
        f'alter policy "{row["policyname"]}" on "{row["schemaname"]}"."{row["tablename"]}" '
        "to service_role;\n"
    )
    difference = policies.diff(stack.cfg, [*policies.policy_files(stack.cfg), edit])
    assert row["policyname"] in difference


def test_a_policy_only_a_migration_creates_or_changes_is_caught(
    stack: Stack, tmp_path: Path
) -> None:
    # one diff for both cases (each diff builds two scratch databases)
    sneaky = tmp_path / "zz_sneaky_migration.sql"
    sneaky.write_text(
        'create policy "anyone reads every task" on public.tasks for select to authenticated\n'
        "  using (true);\n"
        'alter policy "members read live tasks" on public.tasks using (true);\n'
    )
    difference = policies.diff(stack.cfg, extra_migrations=[sneaky])
    assert 'DROP POLICY "anyone reads every task"' in difference
    assert "members read live tasks" in difference
