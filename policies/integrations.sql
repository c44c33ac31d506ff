-- Integrations (token material is not exposed at all)
--
-- Idempotent and readable on its own; the same statements are in the migrations.
-- Edit here, then `make policy-migration NAME=...` writes the migration.

alter table public.integrations enable row level security;
alter table public.integration_links enable row level security;
alter table public.integration_syncs enable row level security;

-- public.integrations -------------------------------------------------------
drop policy if exists "people read their own integrations" on public.integrations;
create policy "people read their own integrations"
  on public.integrations for select to authenticated
  using ((select private.is_active_user()) and user_id = (select auth.uid()));

drop policy if exists "people connect integrations for themselves" on public.integrations;
create policy "people connect integrations for themselves"
  on public.integrations for insert to authenticated
  with check (
    (select private.can_write())
    and user_id = (select auth.uid())
    and status = 'pending'
    and (project_id is null or project_id = any (array(select private.my_project_ids_with_role('admin'))))
  );

drop policy if exists "people update their own integrations" on public.integrations;
create policy "people update their own integrations"
  on public.integrations for update to authenticated
  using ((select private.can_write()) and user_id = (select auth.uid()))
  with check (
    (select private.can_write())
    and user_id = (select auth.uid())
    and (project_id is null or project_id = any (array(select private.my_project_ids_with_role('admin'))))
  );

drop policy if exists "people disconnect their own integrations" on public.integrations;
create policy "people disconnect their own integrations"
  on public.integrations for delete to authenticated
  using ((select private.can_write()) and user_id = (select auth.uid()));

-- public.integration_links ----------------------------------------------------
-- written by the integrations function (rpc link_integration_item, the sync worker)
drop policy if exists "members read their projects' integration links" on public.integration_links;
create policy "members read their projects' integration links"
  on public.integration_links for select to authenticated
  using ((select private.is_active_user()) and project_id = any (array(select private.my_project_ids())));

-- public.integration_syncs ----------------------------------------------------
-- sync jobs: rpc queue_integration_sync (the owner), the schedule and the worker write them
drop policy if exists "members read their projects' integration syncs" on public.integration_syncs;
create policy "members read their projects' integration syncs"
  on public.integration_syncs for select to authenticated
  using ((select private.is_active_user()) and project_id = any (array(select private.my_project_ids())));
