-- =============================================================================
-- The job pipeline (functions/core/jobs.py; contract in PIPELINE.md)
--
--   1. private.guard_job_columns(): the worker's columns of a job table are the
--      service role's; clients (anon, authenticated) can neither set them on
--      insert nor change them on update. Generic: every job table attaches it
--      with its own column list.
--   2. document_jobs: the columns the pipeline and the documents worker need
--      (dispatched_at, providers, version), the dispatcher's index, the guard,
--      and the supabase_realtime publication (progress in the UI).
-- =============================================================================

-- -----------------------------------------------------------------------------
-- 1. guard_job_columns(<col>[=<value>], ...)
-- -----------------------------------------------------------------------------
-- Arguments name the worker-only columns. For a client role:
--   insert: `col` must be null, `col=value` must equal value (compared as text:
--           'status=queued', 'attempts=0', 'providers=[]'), else 42501;
--   update: none of the columns may change, else 42501.
-- The service role and definer code paths (which run as their owner) pass.
create function private.guard_job_columns()
returns trigger
language plpgsql
set search_path = ''
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
revoke all on function private.guard_job_columns() from public;
comment on function private.guard_job_columns() is
  'Trigger: the listed job columns (col or col=initial value) are written by the worker only.';

-- -----------------------------------------------------------------------------
-- 2. document_jobs
-- -----------------------------------------------------------------------------
alter table public.document_jobs
  add column dispatched_at timestamptz,
  -- one entry per provider the worker considered: {"provider", "model", "outcome",
  -- "reason", "attempts", "ms"}; outcome is used | failed | skipped
  add column providers jsonb not null default '[]'::jsonb,
  -- the document version the job wrote (with document_id)
  add column version int,
  add constraint document_jobs_providers_is_array check (jsonb_typeof(providers) = 'array'),
  add constraint document_jobs_error_length check (char_length(error) <= 2000),
  add constraint document_jobs_version_positive check (version > 0);

comment on column public.document_jobs.dispatched_at is
  'When the job was last sent to the queue by the dispatcher (null: never by it).';
comment on column public.document_jobs.providers is
  'Providers tried for the last attempt, in order, and why each was used, failed or skipped.';

create trigger document_jobs_guard_worker_columns
  before insert or update on public.document_jobs
  for each row execute function private.guard_job_columns(
    'status=queued', 'attempts=0', 'dispatched_at', 'started_at', 'finished_at', 'error',
    'providers=[]', 'version'
  );

alter publication supabase_realtime add table public.document_jobs;
