-- private_tables_rls: from policies/private.sql.
-- The private schema's tables get RLS and one restrictive deny policy for the client roles:
-- no client role is granted them, and a grant made by mistake would still show no row. The
-- service role (bypassrls) and the security definer helpers (owned by postgres, the tables'
-- owner) are unaffected.

alter table private.rate_limits enable row level security;
create policy "clients never touch rate limits"
  on private.rate_limits as restrictive for all to anon, authenticated
  using (false) with check (false);

alter table private.integration_credentials enable row level security;
create policy "clients never touch integration credentials"
  on private.integration_credentials as restrictive for all to anon, authenticated
  using (false) with check (false);

alter table private.oauth_states enable row level security;
create policy "clients never touch oauth states"
  on private.oauth_states as restrictive for all to anon, authenticated
  using (false) with check (false);
