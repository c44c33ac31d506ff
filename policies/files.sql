-- =============================================================================
-- Files: who may do what (public.files). Idempotent; `make policy-migration`
-- turns an edit here into a migration. Same text as the migrations.
--
-- Members read the files of their projects; editors and above add, rename,
-- move, trash and delete them. Status, object key and bucket are written by
-- the service role only (column privileges in 20261123110000_files.sql).
-- =============================================================================

alter table public.files enable row level security;

drop policy if exists "members read project files" on public.files;
create policy "members read project files"
  on public.files for select
  to authenticated
  using (project_id = any(array(select private.my_project_ids())));

drop policy if exists "editors add files to their projects" on public.files;
create policy "editors add files to their projects"
  on public.files for insert
  to authenticated
  with check (
    uploaded_by = (select auth.uid())
    and project_id = any(array(select private.my_project_ids_with_role('editor')))
  );

drop policy if exists "editors rename, move and trash project files" on public.files;
create policy "editors rename, move and trash project files"
  on public.files for update
  to authenticated
  using (project_id = any(array(select private.my_project_ids_with_role('editor'))))
  with check (project_id = any(array(select private.my_project_ids_with_role('editor'))));

drop policy if exists "editors delete project files" on public.files;
create policy "editors delete project files"
  on public.files for delete
  to authenticated
  using (project_id = any(array(select private.my_project_ids_with_role('editor'))));
