-- Tables in the private schema (never exposed by PostgREST)
--
-- Idempotent and readable on its own; the same statements are in the migrations.
-- Edit here, then `make policy-migration NAME=...` writes the migration.
--
-- No client role is granted these tables. RLS is on anyway, and the one policy says in
-- words what the grants already do, so a grant made by mistake still shows no row. The
-- service role (bypassrls) and the security definer helpers (owned by postgres, the tables'
-- owner) are unaffected.

alter table private.rate_limits enable row level security;
drop policy if exists "clients never touch rate limits" on private.rate_limits;
create policy "clients never touch rate limits"
  on private.rate_limits as restrictive for all to anon, authenticated
  using (false) with check (false);

alter table private.integration_credentials enable row level security;
drop policy if exists "clients never touch integration credentials" on private.integration_credentials;
create policy "clients never touch integration credentials"
  on private.integration_credentials as restrictive for all to anon, authenticated
  using (false) with check (false);

alter table private.oauth_states enable row level security;
drop policy if exists "clients never touch oauth states" on private.oauth_states;
create policy "clients never touch oauth states"
  on private.oauth_states as restrictive for all to anon, authenticated
  using (false) with check (false);

alter table private.provider_circuits enable row level security;
drop policy if exists "clients never touch provider circuits" on private.provider_circuits;
create policy "clients never touch provider circuits"
  on private.provider_circuits as restrictive for all to anon, authenticated
  using (false) with check (false);

alter table private.erasure_subjects enable row level security;
drop policy if exists "clients never touch erasure subjects" on private.erasure_subjects;
create policy "clients never touch erasure subjects"
  on private.erasure_subjects as restrictive for all to anon, authenticated
  using (false) with check (false);

alter table private.integration_webhook_secrets enable row level security;
drop policy if exists "clients never touch webhook secrets" on private.integration_webhook_secrets;
create policy "clients never touch webhook secrets"
  on private.integration_webhook_secrets as restrictive for all to anon, authenticated
  using (false) with check (false);

alter table private.webhook_deliveries enable row level security;
drop policy if exists "clients never touch webhook deliveries" on private.webhook_deliveries;
create policy "clients never touch webhook deliveries"
  on private.webhook_deliveries as restrictive for all to anon, authenticated
  using (false) with check (false);
