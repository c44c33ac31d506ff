-- Rate limits of the functions: who may do what
--
-- The policies of supabase/schemas/rate_limits.sql. Edit here, then `make migration NAME=...`
-- writes the migration.

-- Tables in the private schema are never exposed by PostgREST and no client role is granted
-- them. RLS is on anyway, and the one restrictive policy says in words what the grants already
-- do, so a grant made by mistake still shows no row. The service role (bypassrls) and the
-- security definer helpers (owned by postgres, the tables' owner) are unaffected.

-- private.rate_limits -------------------------------------------------------------------
alter table private.rate_limits enable row level security;

create policy "clients never touch rate limits"
  on private.rate_limits as restrictive for all to anon, authenticated
  using (false) with check (false);
