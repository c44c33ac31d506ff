-- =============================================================================
-- Files: who may do what (public.files). Idempotent; `make policy-migration`
-- turns an edit here into a migration. Same text as the migrations.
--
-- Members read the live (not trashed) files of their projects; editors and
-- above add, rename, move and trash them (DELETE soft-deletes; restore_deleted
-- undoes it for 30 days). Disabled users read nothing; guests write nothing.
-- Status, object key and bucket are written by the service role only
-- (column privileges in 20261123110000_files.sql).
-- =============================================================================

alter table public.files enable row level security;

drop policy if exists "members read project files" on public.files;
drop policy if exists "editors rename, move and trash project files" on public.files;
drop policy if exists "editors delete project files" on public.files;
-- (the three above are the names before 20261123121100_files_platform_rules.sql)

drop policy if exists "members read live project files" on public.files;
create policy "members read live project files"
  on public.files for select
  to authenticated
  using (
    (select private.is_active_user())
    and deleted_at is null
    and project_id = any(array(select private.my_project_ids()))
  );

drop policy if exists "editors add files to their projects" on public.files;
create policy "editors add files to their projects"
  on public.files for insert
  to authenticated
  with check (
    (select private.can_write())
    and uploaded_by = (select auth.uid())
    and project_id = any(array(select private.my_project_ids_with_role('editor')))
  );

drop policy if exists "editors rename and move project files" on public.files;
create policy "editors rename and move project files"
  on public.files for update
  to authenticated
  using ((select private.can_write()) and deleted_at is null and project_id = any(array(select private.my_project_ids_with_role('editor'))))
  with check ((select private.can_write()) and deleted_at is null and project_id = any(array(select private.my_project_ids_with_role('editor'))));

drop policy if exists "editors trash project files" on public.files;
create policy "editors trash project files"
  on public.files for delete
  to authenticated
  using ((select private.can_write()) and deleted_at is null and project_id = any(array(select private.my_project_ids_with_role('editor'))));
