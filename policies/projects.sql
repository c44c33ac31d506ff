-- Projects and their members: who may do what
--
-- The policies of supabase/schemas/projects.sql. Edit here, then `make migration NAME=...`
-- writes the migration.

-- public.projects -----------------------------------------------------------------------
alter table public.projects enable row level security;

create policy "members read their live projects"
  on public.projects for select to authenticated
  using (
    (select private.is_active_user())
    and deleted_at is null
    and (id = any (array(select private.my_project_ids())) or owner_id = (select auth.uid()))
  );

-- anonymous sessions (signInAnonymously) try the product in projects of their own: they
-- never see another person's project (and answer_project_invitation refuses them)
create policy "anonymous people see only the projects they own"
  on public.projects as restrictive for select to authenticated
  using (
    not coalesce(((select auth.jwt()) ->> 'is_anonymous')::boolean, false)
    or owner_id = (select auth.uid())
  );

create policy "users create projects they own"
  on public.projects for insert to authenticated
  with check ((select private.can_write()) and owner_id = (select auth.uid()));

create policy "project admins update projects"
  on public.projects for update to authenticated
  using ((select private.can_write()) and deleted_at is null and id = any (array(select private.my_project_ids_with_role('admin'))))
  with check ((select private.can_write()) and deleted_at is null and id = any (array(select private.my_project_ids_with_role('admin'))));

create policy "owners delete projects"
  on public.projects for delete to authenticated
  using ((select private.can_write()) and deleted_at is null and id = any (array(select private.my_project_ids_with_role('owner'))));

-- public.project_members ----------------------------------------------------------------
alter table public.project_members enable row level security;

-- "Up to their own role": the caller is an admin or the owner (my_project_ids_with_role('admin'))
-- and the row's role is never 'owner', so it is at most admin, at most the caller's own (the
-- enum is ordered viewer < editor < admin < owner); no per-row role check is needed.
create policy "members read their projects' members"
  on public.project_members for select to authenticated
  using ((select private.is_active_user()) and project_id = any (array(select private.my_project_ids())));

-- no client inserts: people join by accepting an invitation (rpc accept_project_invitation);
-- the project's creation and the service role add members too
create policy "admins change roles up to their own, never the owner's"
  on public.project_members for update to authenticated
  using (
    (select private.can_write())
    and project_id = any (array(select private.my_project_ids_with_role('admin')))
    and role <> 'owner'
  )
  with check (
    (select private.can_write())
    and project_id = any (array(select private.my_project_ids_with_role('admin')))
    and role <> 'owner'
  );

create policy "admins remove members below the owner; members leave"
  on public.project_members for delete to authenticated
  using (
    (select private.can_write())
    and role <> 'owner'
    and (
      user_id = (select auth.uid())
      or project_id = any (array(select private.my_project_ids_with_role('admin')))
    )
  );
