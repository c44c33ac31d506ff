-- Integrations: who may do what
--
-- The policies of supabase/schemas/integrations.sql. Edit here, then `make migration NAME=...`
-- writes the migration.

-- Tables in the private schema are never exposed by PostgREST and no client role is granted
-- them. RLS is on anyway, and the one restrictive policy says in words what the grants already
-- do, so a grant made by mistake still shows no row. The service role (bypassrls) and the
-- security definer helpers (owned by postgres, the tables' owner) are unaffected.

-- public.integrations -------------------------------------------------------------------
alter table public.integrations enable row level security;

create policy "people read their own integrations"
  on public.integrations for select to authenticated
  using ((select private.is_active_user()) and user_id = (select auth.uid()));

create policy "people connect integrations for themselves"
  on public.integrations for insert to authenticated
  with check (
    (select private.can_write())
    and user_id = (select auth.uid())
    and status = 'pending'
    and (project_id is null or project_id = any (array(select private.my_project_ids_with_role('admin'))))
  );

create policy "people update their own integrations"
  on public.integrations for update to authenticated
  using ((select private.can_write()) and user_id = (select auth.uid()))
  with check (
    (select private.can_write())
    and user_id = (select auth.uid())
    and (project_id is null or project_id = any (array(select private.my_project_ids_with_role('admin'))))
  );

create policy "people disconnect their own integrations"
  on public.integrations for delete to authenticated
  using ((select private.can_write()) and user_id = (select auth.uid()));

-- public.integration_links --------------------------------------------------------------
alter table public.integration_links enable row level security;

-- written by the integrations function (rpc link_integration_item, the sync worker)
create policy "members read their projects' integration links"
  on public.integration_links for select to authenticated
  using ((select private.is_active_user()) and project_id = any (array(select private.my_project_ids())));

-- public.integration_syncs --------------------------------------------------------------
alter table public.integration_syncs enable row level security;

-- sync jobs: rpc queue_integration_sync (the owner), the schedule and the worker write them
create policy "members read their projects' integration syncs"
  on public.integration_syncs for select to authenticated
  using ((select private.is_active_user()) and project_id = any (array(select private.my_project_ids())));

-- private.integration_credentials -------------------------------------------------------
alter table private.integration_credentials enable row level security;

create policy "clients never touch integration credentials"
  on private.integration_credentials as restrictive for all to anon, authenticated
  using (false) with check (false);

-- private.oauth_states ------------------------------------------------------------------
alter table private.oauth_states enable row level security;

create policy "clients never touch oauth states"
  on private.oauth_states as restrictive for all to anon, authenticated
  using (false) with check (false);

-- private.pending_connects -------------------------------------------------------------
alter table private.pending_connects enable row level security;

create policy "clients never touch pending connects"
  on private.pending_connects as restrictive for all to anon, authenticated
  using (false) with check (false);

-- private.integration_webhook_secrets ---------------------------------------------------
alter table private.integration_webhook_secrets enable row level security;

create policy "clients never touch webhook secrets"
  on private.integration_webhook_secrets as restrictive for all to anon, authenticated
  using (false) with check (false);

-- private.webhook_deliveries ------------------------------------------------------------
alter table private.webhook_deliveries enable row level security;

create policy "clients never touch webhook deliveries"
  on private.webhook_deliveries as restrictive for all to anon, authenticated
  using (false) with check (false);
