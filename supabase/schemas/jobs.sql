-- Jobs: what every background job table shares, and the providers' circuit breakers
--
-- The declared source of this domain's tables, helpers, triggers and grants; its policies are
-- in policies/jobs.sql. Edit here, then `make migration NAME=...` writes the migration.

-- SQL function bodies may name objects declared further down or in a later file.
set check_function_bodies = false;

-- ======================================================================================
-- types
-- ======================================================================================

create type public.job_status as enum (
    'queued',
    'running',
    'succeeded',
    'failed'
);

-- ======================================================================================
-- private.provider_circuits
-- ======================================================================================

create table private.provider_circuits (
    key text not null,
    failures integer default 0 not null,
    open_until timestamptz,
    last_error text,
    updated_at timestamptz default now() not null,
    constraint provider_circuits_failures_not_negative check ((failures >= 0)),
    constraint provider_circuits_last_error_length check ((char_length(last_error) <= 500))
);

alter table only private.provider_circuits
    add constraint provider_circuits_pkey primary key (key);

comment on table private.provider_circuits is 'Circuit breaker state per AI provider and model; written by the documents worker (service role).';

grant select,insert,update on table private.provider_circuits to service_role;

-- ======================================================================================
-- functions
-- ======================================================================================

-- Arguments name the worker-only columns. For a client role:
--   insert: `col` must be null, `col=value` must equal value (compared as text:
--           'status=queued', 'attempts=0', 'providers=[]'), else 42501;
--   update: none of the columns may change, else 42501.
-- The service role and definer code paths (which run as their owner) pass.
create function private.guard_job_columns() returns trigger
    language plpgsql
    set search_path to ''
    as $$
declare
  arg text;
  col text;
  expected text;
  new_row jsonb;
  old_row jsonb;
begin
  if current_user not in ('anon', 'authenticated') then
    return new;
  end if;
  new_row := to_jsonb(new);
  if tg_op = 'UPDATE' then
    old_row := to_jsonb(old);
  end if;
  foreach arg in array tg_argv loop
    col := split_part(arg, '=', 1);
    expected := case when position('=' in arg) > 0 then substr(arg, position('=' in arg) + 1) end;
    if tg_op = 'INSERT' and (new_row ->> col) is distinct from expected then
      raise exception '%.% is set by the job worker, not by clients', tg_table_name, col
        using errcode = '42501',
              hint = case when expected is null then 'leave it out'
                          else format('leave it out (it starts as %s)', expected) end;
    elsif tg_op = 'UPDATE' and (new_row -> col) is distinct from (old_row -> col) then
      raise exception '%.% is set by the job worker, not by clients', tg_table_name, col
        using errcode = '42501';
    end if;
  end loop;
  return new;
end;
$$;

comment on function private.guard_job_columns() is 'Trigger: the listed job columns (col or col=initial value) are written by the worker only.';

revoke all on function private.guard_job_columns() from public;

-- Is the circuit open? (closed when there is no row or open_until has passed: the
-- next call is the half-open probe)
create function public.provider_circuit_open_until(p_key text) returns timestamptz
    language sql stable
    set search_path to ''
    as $$
  select c.open_until from private.provider_circuits c
   where c.key = p_key and c.open_until > clock_timestamp()
$$;

comment on function public.provider_circuit_open_until(p_key text) is 'When an open provider circuit closes again (null: closed); service role only.';

revoke all on function public.provider_circuit_open_until(p_key text) from authenticated;
revoke all on function public.provider_circuit_open_until(p_key text) from public;
grant all on function public.provider_circuit_open_until(p_key text) to service_role;

-- Record one call: success closes the circuit; the threshold-th failure in a row
-- (or any failure of the half-open probe) opens it for p_open_seconds.
create function public.record_provider_outcome(p_key text, p_ok boolean, p_threshold integer, p_open_seconds integer, p_error text default null::text) returns table(failures integer, open_until timestamptz)
    language plpgsql
    set search_path to ''
    as $$
begin
  if p_threshold < 1 or p_open_seconds < 1 then
    raise exception 'threshold and open seconds must be positive' using errcode = '22023';
  end if;
  insert into private.provider_circuits as c (key, failures, open_until, last_error, updated_at)
  values (p_key,
          case when p_ok then 0 else 1 end,
          case when not p_ok and p_threshold <= 1
               then clock_timestamp() + make_interval(secs => p_open_seconds) end,
          case when p_ok then null else left(p_error, 500) end,
          clock_timestamp())
  on conflict (key) do update set
    failures = case when p_ok then 0 else c.failures + 1 end,
    open_until = case
      when p_ok then null
      when c.failures + 1 >= p_threshold then clock_timestamp() + make_interval(secs => p_open_seconds)
      else c.open_until end,
    last_error = case when p_ok then c.last_error else left(p_error, 500) end,
    updated_at = clock_timestamp();
  return query select c.failures, c.open_until from private.provider_circuits c where c.key = p_key;
end;
$$;

comment on function public.record_provider_outcome(p_key text, p_ok boolean, p_threshold integer, p_open_seconds integer, p_error text) is 'Counts a provider call for its circuit breaker; service role only.';

revoke all on function public.record_provider_outcome(p_key text, p_ok boolean, p_threshold integer, p_open_seconds integer, p_error text) from authenticated;
revoke all on function public.record_provider_outcome(p_key text, p_ok boolean, p_threshold integer, p_open_seconds integer, p_error text) from public;
grant all on function public.record_provider_outcome(p_key text, p_ok boolean, p_threshold integer, p_open_seconds integer, p_error text) to service_role;
