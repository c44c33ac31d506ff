-- =============================================================================
-- Rate limits for the Lambda functions, shared by every instance.
--
--   1. Counter table (schema private: not exposed through PostgREST)
--   2. public.consume_rate_limit(): one atomic fixed-window hit
--
-- Called by the functions with the service-role key, passing the caller's
-- user id. It is security invoker and executable by service_role only, so
-- no client can call it, read the counters or reset them (and the Supabase
-- linter has no definer function in an exposed schema to flag).
-- =============================================================================

-- -----------------------------------------------------------------------------
-- 1. Counters
-- -----------------------------------------------------------------------------
create table private.rate_limits (
  user_id uuid not null,
  key text not null,
  window_start timestamptz not null,
  hits integer not null,
  constraint rate_limits_pkey primary key (user_id, key, window_start)
);

comment on table private.rate_limits is
  'Fixed-window request counters per user and function route; old windows are deleted on the next hit.';

revoke all on private.rate_limits from public, anon, authenticated;
grant usage on schema private to service_role;
grant select, insert, update, delete on private.rate_limits to service_role;

-- -----------------------------------------------------------------------------
-- 2. consume_rate_limit(user, key, limit, window) -> (allowed, hits, retry_after)
-- -----------------------------------------------------------------------------
create or replace function public.consume_rate_limit(
  p_user_id uuid,
  p_key text,
  p_limit integer,
  p_window_seconds integer
)
returns table (allowed boolean, hits integer, retry_after integer)
language plpgsql
volatile
security invoker
set search_path = ''
as $$
declare
  v_window_start timestamptz;
  v_hits integer;
begin
  if p_limit < 1 or p_window_seconds < 1 then
    raise exception 'limit and window must be positive' using errcode = '22023';
  end if;
  v_window_start := to_timestamp(
    floor(extract(epoch from clock_timestamp()) / p_window_seconds) * p_window_seconds
  );
  insert into private.rate_limits as r (user_id, key, window_start, hits)
  values (p_user_id, p_key, v_window_start, 1)
  on conflict (user_id, key, window_start) do update set hits = r.hits + 1
  returning r.hits into v_hits;

  delete from private.rate_limits r
  where r.user_id = p_user_id and r.key = p_key and r.window_start < v_window_start;

  return query select
    v_hits <= p_limit,
    v_hits,
    greatest(1, ceil(extract(epoch from
      (v_window_start + make_interval(secs => p_window_seconds)) - clock_timestamp()))::integer);
end;
$$;

comment on function public.consume_rate_limit(uuid, text, integer, integer) is
  'Counts one request of a user against a fixed window; service role only.';

revoke execute on function public.consume_rate_limit(uuid, text, integer, integer)
  from public, anon, authenticated;
grant execute on function public.consume_rate_limit(uuid, text, integer, integer) to service_role;
