-- =============================================================================
-- Document generation (functions/documents)
--
--   1. document_versions.job_id: the generation job that wrote a version, unique,
--      so a job can never write two versions (even a worker that re-runs a job
--      after a crash finds the version it wrote instead of adding another)
--   2. Circuit breakers of the AI providers, shared by every Lambda container:
--      private.provider_circuits (not exposed) and two service-role-only RPCs
--      (security invoker, like consume_rate_limit)
-- =============================================================================

-- -----------------------------------------------------------------------------
-- 1. document_versions.job_id
-- -----------------------------------------------------------------------------
-- No foreign key: versions are append-only (a `set null` on job deletion would be
-- an update the append-only trigger refuses), and the job id is history.
alter table public.document_versions add column job_id uuid;
create unique index document_versions_job_id_key on public.document_versions (job_id);
comment on column public.document_versions.job_id is
  'The generation job that wrote this version (null for edits and restores).';

-- -----------------------------------------------------------------------------
-- 2. Provider circuit breakers
-- -----------------------------------------------------------------------------
create table private.provider_circuits (
  key text primary key,                 -- provider:model
  failures integer not null default 0,  -- failed calls in a row
  open_until timestamptz,               -- skipped until then (null: closed)
  last_error text,
  updated_at timestamptz not null default now(),
  constraint provider_circuits_failures_not_negative check (failures >= 0),
  constraint provider_circuits_last_error_length check (char_length(last_error) <= 500)
);
alter table private.provider_circuits enable row level security;
comment on table private.provider_circuits is
  'Circuit breaker state per AI provider and model; written by the documents worker (service role).';

revoke all on private.provider_circuits from public, anon, authenticated;
grant select, insert, update on private.provider_circuits to service_role;

-- Is the circuit open? (closed when there is no row or open_until has passed: the
-- next call is the half-open probe)
create function public.provider_circuit_open_until(p_key text)
returns timestamptz
language sql
stable
security invoker
set search_path = ''
as $$
  select c.open_until from private.provider_circuits c
   where c.key = p_key and c.open_until > clock_timestamp()
$$;

-- Record one call: success closes the circuit; the threshold-th failure in a row
-- (or any failure of the half-open probe) opens it for p_open_seconds.
create function public.record_provider_outcome(
  p_key text, p_ok boolean, p_threshold integer, p_open_seconds integer, p_error text default null
)
returns table (failures integer, open_until timestamptz)
language plpgsql
volatile
security invoker
set search_path = ''
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

comment on function public.provider_circuit_open_until(text) is
  'When an open provider circuit closes again (null: closed); service role only.';
comment on function public.record_provider_outcome(text, boolean, integer, integer, text) is
  'Counts a provider call for its circuit breaker; service role only.';

revoke execute on function public.provider_circuit_open_until(text),
  public.record_provider_outcome(text, boolean, integer, integer, text) from public, anon, authenticated;
grant execute on function public.provider_circuit_open_until(text),
  public.record_provider_outcome(text, boolean, integer, integer, text) to service_role;
