"""The declared schema (supabase/schemas/ + policies/) and migrations/ build the same database,
both ways: a helper, table, grant or policy is never changed in one place only.

Each check builds two scratch databases (devstack/schema.py) and compares their schema dumps.
Fix a failure with `make migration NAME=what_changed`, review the migration, commit both.
"""

from __future__ import annotations

from pathlib import Path

from devstack import schema
from tests.support import Stack


def _declared_with(tmp_path: Path, stack: Stack, name: str, old: str, new: str) -> list[Path]:
    """The declared files with one edit in the file called ``name``."""
    files = []
    for path in schema.declared_files(stack.cfg):
        if path.name == name and path.parent.name == "schemas":
            text = path.read_text()
            assert old in text, f"{old!r} is not in supabase/schemas/{name}"
            path = tmp_path / name
            path.write_text(text.replace(old, new, 1))
        files.append(path)
    return files


def test_migrations_build_the_declared_schema(stack: Stack) -> None:
    difference = schema.compare(stack.cfg)
    assert difference == "", (
        "supabase/schemas/ + policies/ differ from migrations/: run "
        f"`make migration NAME=...` and commit the migration. The difference:\n{difference}"
    )


def test_every_declared_file_is_listed_in_config_toml(stack: Stack) -> None:
    listed = schema.declared_files(stack.cfg)  # raises on a file missing from the order
    names = {(p.parent.name, p.name) for p in listed}
    schemas = {p.name for p in (stack.cfg.root / "supabase" / "schemas").glob("*.sql")}
    # one policies file per domain file: an admin finds "who may do X" beside "what X is"
    assert {p.name for p in stack.cfg.policies_dir.glob("*.sql")} == schemas
    assert len(names) == len(listed)


def test_a_helper_edited_only_in_the_schema_files_is_caught(stack: Stack, tmp_path: Path) -> None:
    # the rule once lost to a later migration: a helper's body changed in one place only
    files = _declared_with(
        tmp_path,
        stack,
        "platform.sql",
        "select coalesce(private.platform_role() >= 'user', false)",
        "select coalesce(private.platform_role() >= 'guest', false)",
    )
    difference = schema.compare(stack.cfg, files)
    assert "+  select coalesce(private.platform_role() >= 'guest', false)" in difference
    assert "-  select coalesce(private.platform_role() >= 'user', false)" in difference


def test_a_migration_the_schema_files_do_not_state_is_caught(stack: Stack, tmp_path: Path) -> None:
    # one sneaky migration touching a helper's settings, a grant, an index and a policy
    sneaky = tmp_path / "zz_sneaky_migration.sql"
    sneaky.write_text(
        "alter function private.can_write() reset search_path;\n"
        "grant execute on function private.can_write() to anon;\n"
        "create index tasks_title_idx on public.tasks (title);\n"
        'alter policy "members read live tasks" on public.tasks using (true);\n'
    )
    difference = schema.compare(stack.cfg, extra_migrations=[sneaky])
    assert "+    SET search_path TO ''" in difference
    assert "-GRANT ALL ON FUNCTION private.can_write() TO anon;" in difference
    assert "-CREATE INDEX tasks_title_idx ON public.tasks USING btree (title);" in difference
    assert "members read live tasks" in difference


def test_make_migration_writes_what_closes_the_gap(stack: Stack, tmp_path: Path) -> None:
    # a new table with its policy and a changed helper: the generated SQL, applied after the
    # migrations, builds exactly the declared schema
    files = _declared_with(
        tmp_path,
        stack,
        "tasks.sql",
        "create trigger tasks_soft_delete",
        "create table public.task_labels (\n"
        "    id uuid default gen_random_uuid() primary key,\n"
        "    task_id uuid not null references public.tasks (id) on delete cascade\n"
        ");\n"
        "create index task_labels_task_id_idx on public.task_labels (task_id);\n"
        "alter table public.task_labels enable row level security;\n"
        'create policy "members read task labels" on public.task_labels for select\n'
        "  to authenticated using (task_id in (select id from public.tasks));\n\n"
        "create trigger tasks_soft_delete",
    )
    sql = schema.diff(stack.cfg, files)
    assert "task_labels" in sql
    generated = tmp_path / "zz_generated.sql"
    generated.write_text(sql)
    assert schema.compare(stack.cfg, files, extra_migrations=[generated]) == ""
