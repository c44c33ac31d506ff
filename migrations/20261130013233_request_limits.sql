-- =============================================================================
-- One user cannot stall everyone (issue 8, section 4)
--
--   1. Statement timeouts of the API roles, as on the hosted platform
--   2. private.limit_concurrent_requests(): PostgREST's db-pre-request hook, a
--      per-user cap on requests running in the database at once (429)
--
-- A request that backtracks in a regex filter or plans a deep embedding holds
-- its pool connection until the statement timeout. The timeout bounds how long
-- one request holds it; the cap bounds how many one person holds at once, so
-- the rest of the pool (and CPU) stays with everyone else.
--
-- The hook is configured in devstack/postgrest.py (`db-pre-request`) and, on a
-- hosted project, by the statements in README.md ("Request limits").
-- =============================================================================

-- -----------------------------------------------------------------------------
-- 1. Statement timeouts (the hosted defaults: anon 3 s, authenticated 8 s).
--    PostgREST applies a role's settings in each request's transaction, so a
--    timed-out request answers 500 with code 57014 ("canceling statement due
--    to statement timeout"); the functions answer it as 504 database_timeout.
-- -----------------------------------------------------------------------------
alter role anon set statement_timeout = '3s';
alter role authenticated set statement_timeout = '8s';

-- -----------------------------------------------------------------------------
-- 2. Per-user concurrency cap
--
-- Each request tries the caller's slots in turn with a transaction-level
-- advisory lock (released at commit or rollback, also when the statement is
-- cancelled by the timeout). When all are taken the request is refused before
-- its query runs: HTTP 429, code PT429, `Retry-After: 1`. Signed-in users have
-- their own slots (keyed by the token's sub); anonymous requests share one set.
-- The service role (background jobs) is not limited.
--
-- Cost per request: one parse of the claims, one hash and one lock on the first
-- free slot. It also sets request.jwt.claim.sub, which auth.uid() reads before
-- parsing the claims itself, so the helpers every policy calls parse them no
-- more (bench/README.md and bench/helper_cost.sql price both).
-- -----------------------------------------------------------------------------
grant usage on schema private to anon;

create or replace function private.limit_concurrent_requests()
returns void
language plpgsql
volatile
set search_path = ''
as $$
declare
  -- at most this many requests of one user run in the database at once
  slots constant integer := 4;
  who text;
  key integer;
begin
  if current_user = 'service_role' then
    return;
  end if;
  who := nullif(current_setting('request.jwt.claims', true), '')::json ->> 'sub';
  if who is not null then
    -- auth.uid() reads this setting before it parses the claims (Supabase's definition),
    -- so the policies' helpers skip one JSON parse each; the value comes from the same
    -- verified claims and lives for this request's transaction only
    perform set_config('request.jwt.claim.sub', who, true);
  end if;
  key := hashtext('request slot ' || coalesce(who, 'anon'));
  for slot in 1 .. slots loop
    if pg_catalog.pg_try_advisory_xact_lock(key, slot) then
      return;
    end if;
  end loop;
  raise sqlstate 'PGRST' using
    message = json_build_object(
      'code', 'PT429',
      'message', format('too many requests at once: at most %s of yours run at the same time', slots),
      'details', null,
      'hint', 'wait for your other requests to finish, then retry'
    )::text,
    detail = json_build_object('status', 429, 'headers', json_build_object('Retry-After', '1'))::text;
end;
$$;

comment on function private.limit_concurrent_requests() is
  'PostgREST db-pre-request: at most 4 requests of one user (all anonymous ones together) in the database at once; 429 PT429 beyond that.';

revoke all on function private.limit_concurrent_requests() from public;
grant execute on function private.limit_concurrent_requests() to anon, authenticated, service_role;
