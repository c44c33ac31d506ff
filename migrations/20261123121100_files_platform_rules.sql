-- =============================================================================
-- Files under the platform-wide rules (amends 20261123110000_files.sql)
--
--   1. a disabled user's token reads nothing and a guest writes nothing
--      (is_active_user / can_write, as on every other table)
--   2. trashed files vanish from reads: DELETE through the API soft-deletes
--      (files_soft_delete, 20261123120900) and restore_deleted brings a file
--      back within 30 days; purge_soft_deleted removes it and its object
--
-- The same policies are in policies/files.sql.
-- =============================================================================

drop policy "members read project files" on public.files;
drop policy "editors add files to their projects" on public.files;
drop policy "editors rename, move and trash project files" on public.files;
drop policy "editors delete project files" on public.files;

create policy "members read live project files"
  on public.files for select
  to authenticated
  using (
    (select private.is_active_user())
    and deleted_at is null
    and project_id = any(array(select private.my_project_ids()))
  );

create policy "editors add files to their projects"
  on public.files for insert
  to authenticated
  with check (
    (select private.can_write())
    and uploaded_by = (select auth.uid())
    and project_id = any(array(select private.my_project_ids_with_role('editor')))
  );

create policy "editors rename and move project files"
  on public.files for update
  to authenticated
  using ((select private.can_write()) and project_id = any(array(select private.my_project_ids_with_role('editor'))))
  with check ((select private.can_write()) and project_id = any(array(select private.my_project_ids_with_role('editor'))));

create policy "editors trash project files"
  on public.files for delete
  to authenticated
  using ((select private.can_write()) and project_id = any(array(select private.my_project_ids_with_role('editor'))));
