-- Rate limits of the functions
--
-- The declared source of this domain's tables, helpers, triggers and grants; its policies are
-- in policies/rate_limits.sql. Edit here, then `make migration NAME=...` writes the migration.

-- SQL function bodies may name objects declared further down or in a later file.
set check_function_bodies = false;

-- ======================================================================================
-- private.rate_limits
-- ======================================================================================

create table private.rate_limits (
    user_id uuid not null,
    key text not null,
    window_start timestamptz not null,
    hits integer not null
);

alter table only private.rate_limits
    add constraint rate_limits_pkey primary key (user_id, key, window_start);

comment on table private.rate_limits is 'Fixed-window request counters per user and function route; old windows are deleted on the next hit.';

grant select,insert,delete,update on table private.rate_limits to service_role;

-- ======================================================================================
-- functions
-- ======================================================================================

create function public.consume_rate_limit(p_user_id uuid, p_key text, p_limit integer, p_window_seconds integer) returns table(allowed boolean, hits integer, retry_after integer)
    language plpgsql
    set search_path to ''
    as $$
declare
  v_window_start timestamptz;
  v_hits integer;
begin
  if p_limit < 1 or p_window_seconds < 1 then
    raise exception 'limit and window must be positive' using errcode = '22023';
  end if;
  -- a deleted or erased person's unexpired token counts nothing: no counter row comes back
  if private.account_is_gone(p_user_id) then
    raise sqlstate 'PGRST' using
      message = json_build_object(
        'code', 'PT401',
        'message', 'the account of this access token no longer exists',
        'details', null,
        'hint', null
      )::text,
      detail = json_build_object('status', 401, 'headers', json_build_object())::text;
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

comment on function public.consume_rate_limit(p_user_id uuid, p_key text, p_limit integer, p_window_seconds integer) is 'Counts one request of a user against a fixed window; 401 PT401 (nothing counted) when the account is deleted or being erased; service role only.';

revoke all on function public.consume_rate_limit(p_user_id uuid, p_key text, p_limit integer, p_window_seconds integer) from authenticated;
revoke all on function public.consume_rate_limit(p_user_id uuid, p_key text, p_limit integer, p_window_seconds integer) from public;
grant all on function public.consume_rate_limit(p_user_id uuid, p_key text, p_limit integer, p_window_seconds integer) to service_role;
