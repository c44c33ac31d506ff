-- Tasks: who may do what
--
-- The policies of supabase/schemas/tasks.sql. Edit here, then `make migration NAME=...`
-- writes the migration.

-- public.tasks --------------------------------------------------------------------------
alter table public.tasks enable row level security;

-- (my_project_ids() is empty for a disabled user: no is_active_user() needed)
create policy "members read live tasks"
  on public.tasks for select to authenticated
  using (
    deleted_at is null
    and project_id = any (array(select private.my_project_ids()))
  );

create policy "editors create tasks"
  on public.tasks for insert to authenticated
  with check (
    (select private.can_write())
    and project_id = any (array(select private.my_project_ids_with_role('editor')))
    and created_by = (select auth.uid())
  );

create policy "editors update tasks"
  on public.tasks for update to authenticated
  using ((select private.can_write()) and deleted_at is null and project_id = any (array(select private.my_project_ids_with_role('editor'))))
  with check ((select private.can_write()) and deleted_at is null and project_id = any (array(select private.my_project_ids_with_role('editor'))));

create policy "editors delete tasks"
  on public.tasks for delete to authenticated
  using ((select private.can_write()) and deleted_at is null and project_id = any (array(select private.my_project_ids_with_role('editor'))));
