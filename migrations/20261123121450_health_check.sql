-- =============================================================================
-- Health check: one round trip through PostgREST into the database, callable
-- with the anon key, so the health function needs no service-role key.
--
--   1. public.health_check()
-- =============================================================================

-- -----------------------------------------------------------------------------
-- 1. health_check() -> true (security invoker; reads nothing)
-- -----------------------------------------------------------------------------
create or replace function public.health_check()
returns boolean
language sql
stable
security invoker
set search_path = ''
as $$
  select true
$$;

comment on function public.health_check() is
  'Answers true from the database; used by the health function through PostgREST.';

revoke execute on function public.health_check() from public;
grant execute on function public.health_check() to anon, authenticated, service_role;
