-- Assets: who may do what
--
-- The policies of supabase/schemas/assets.sql. Edit here, then `make migration NAME=...`
-- writes the migration.

-- public.asset_jobs ---------------------------------------------------------------------
-- Written by the service role only: editors queue a job through rpc request_asset_generation,
-- the requester or an admin cancels one through rpc cancel_asset_job.
alter table public.asset_jobs enable row level security;

create policy "members read their projects' asset jobs"
  on public.asset_jobs for select to authenticated
  using ((select private.is_active_user()) and project_id = any (array(select private.my_project_ids())));
