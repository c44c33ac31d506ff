-- Activity: who may do what
--
-- The policies of supabase/schemas/activity.sql. Edit here, then `make migration NAME=...`
-- writes the migration.

-- public.activity_events ----------------------------------------------------------------
alter table public.activity_events enable row level security;

create policy "members read their projects' activity"
  on public.activity_events for select to authenticated
  using ((select private.is_active_user()) and project_id = any (array(select private.my_project_ids())));

create policy "editors record manual activity as themselves"
  on public.activity_events for insert to authenticated
  with check (
    (select private.can_write())
    and source = 'manual'
    and actor_id = (select auth.uid())
    and project_id = any (array(select private.my_project_ids_with_role('editor')))
  );

-- public.dashboards ---------------------------------------------------------------------
alter table public.dashboards enable row level security;

create policy "members read their projects' dashboards"
  on public.dashboards for select to authenticated
  using ((select private.is_active_user()) and project_id = any (array(select private.my_project_ids())));

create policy "members create their own dashboards"
  on public.dashboards for insert to authenticated
  with check (
    (select private.can_write())
    and owner_id = (select auth.uid())
    and project_id = any (array(select private.my_project_ids()))
  );

-- only while they are members: someone who left the project no longer changes what its
-- members read (an unfiltered PATCH reached such dashboards; the read policy hid them)
create policy "owners edit their dashboards"
  on public.dashboards for update to authenticated
  using (
    (select private.can_write())
    and owner_id = (select auth.uid())
    and project_id = any (array(select private.my_project_ids()))
  )
  with check (
    (select private.can_write())
    and owner_id = (select auth.uid())
    and project_id = any (array(select private.my_project_ids()))
  );

create policy "owners delete their dashboards"
  on public.dashboards for delete to authenticated
  using (
    (select private.can_write())
    and owner_id = (select auth.uid())
    and project_id = any (array(select private.my_project_ids()))
  );
