-- Assets: 3D models and videos generated from a prompt
--
-- The declared source of this domain's tables, helpers, triggers and grants; its policies are
-- in policies/assets.sql. Edit here, then `make migration NAME=...` writes the migration.
--
-- A job is a row of public.asset_jobs on the job pipeline (functions/core/jobs.py):
--   queued -> submitting (the worker creates the provider's task)
--          -> processing (the provider works; a schedule and its webhook advance it)
--          -> succeeded (file_ids: the artefacts, copied into public.files) | failed
--   canceled: asked for by its requester or a project admin (rpc cancel_asset_job).

-- SQL function bodies may name objects declared further down or in a later file.
set check_function_bodies = false;

-- ======================================================================================
-- types
-- ======================================================================================

create type public.asset_kind as enum (
    'model_3d',
    'video'
);

create type public.asset_job_status as enum (
    'queued',
    'submitting',
    'processing',
    'succeeded',
    'failed',
    'canceled'
);

-- ======================================================================================
-- public.asset_jobs
-- ======================================================================================

create table public.asset_jobs (
    id uuid default gen_random_uuid() not null,
    project_id uuid not null,
    requested_by uuid,
    kind public.asset_kind not null,
    prompt text not null,
    options jsonb default '{}'::jsonb not null,
    source_file_id uuid,
    idempotency_key text,
    status public.asset_job_status default 'queued'::public.asset_job_status not null,
    progress integer,
    provider text,
    provider_task_id text,
    providers jsonb default '[]'::jsonb not null,
    file_ids uuid[] default '{}'::uuid[] not null,
    attempts integer default 0 not null,
    error text,
    dispatched_at timestamptz,
    started_at timestamptz,
    submitted_at timestamptz,
    polled_at timestamptz,
    finished_at timestamptz,
    created_at timestamptz default now() not null,
    updated_at timestamptz default now() not null,
    constraint asset_jobs_attempts_not_negative check ((attempts >= 0)),
    constraint asset_jobs_error_length check ((char_length(error) <= 2000)),
    constraint asset_jobs_finished_after_started check ((finished_at >= started_at)),
    constraint asset_jobs_idempotency_key_length check (((char_length(idempotency_key) >= 1) and (char_length(idempotency_key) <= 200))),
    constraint asset_jobs_options_depth check (private.jsonb_depth_below(options, 32)),
    constraint asset_jobs_options_is_object check ((jsonb_typeof(options) = 'object'::text)),
    constraint asset_jobs_options_size check ((pg_column_size(options) <= 8192)),
    constraint asset_jobs_progress_is_percent check (((progress >= 0) and (progress <= 100))),
    constraint asset_jobs_prompt_length check (((char_length(prompt) >= 3) and (char_length(prompt) <= 2000))),
    constraint asset_jobs_provider_length check ((char_length(provider) <= 100)),
    constraint asset_jobs_provider_task_id_length check ((char_length(provider_task_id) <= 200)),
    constraint asset_jobs_providers_is_array check ((jsonb_typeof(providers) = 'array'::text))
);

alter table only public.asset_jobs
    add constraint asset_jobs_pkey primary key (id);

comment on table public.asset_jobs is 'Generation of a 3D model or a video from a prompt (the assets function); the artefacts become files of the project (folder /generated).';

comment on column public.asset_jobs.progress is 'The provider''s percentage while processing (null when the provider does not say).';

comment on column public.asset_jobs.providers is 'Providers tried, in order, and why each was used, failed or skipped (the fallback).';

comment on column public.asset_jobs.file_ids is 'The files (public.files) the artefacts were copied into.';

create index asset_jobs_project_id_created_at_idx on public.asset_jobs using btree (project_id, created_at desc);

create index asset_jobs_requested_by_created_at_idx on public.asset_jobs using btree (requested_by, created_at desc);

create index asset_jobs_source_file_id_idx on public.asset_jobs using btree (source_file_id) where (source_file_id is not null);

create unique index asset_jobs_idempotency_key_idx on public.asset_jobs using btree (project_id, requested_by, idempotency_key) where (idempotency_key is not null);

create index asset_jobs_status_idx on public.asset_jobs using btree (status, created_at) where (status = any (array['queued'::public.asset_job_status, 'submitting'::public.asset_job_status, 'processing'::public.asset_job_status]));

create index asset_jobs_provider_task_idx on public.asset_jobs using btree (provider, provider_task_id) where (provider_task_id is not null);

revoke all on table public.asset_jobs from anon, authenticated;
grant select on table public.asset_jobs to anon;
grant select on table public.asset_jobs to authenticated;
grant all on table public.asset_jobs to service_role;

-- ======================================================================================
-- foreign keys
-- ======================================================================================

alter table only public.asset_jobs
    add constraint asset_jobs_project_id_fkey foreign key (project_id) references public.projects(id) on delete cascade;

alter table only public.asset_jobs
    add constraint asset_jobs_requested_by_fkey foreign key (requested_by) references public.profiles(id) on delete set null;

alter table only public.asset_jobs
    add constraint asset_jobs_source_file_id_fkey foreign key (source_file_id) references public.files(id) on delete set null;

-- ======================================================================================
-- functions
-- ======================================================================================

-- Definer: jobs are written by the service role only; this is the one way a project editor
-- queues one. The daily quotas are counted here, in the same transaction as the insert
-- (a per-project lock orders concurrent requests), so no client gets past them by calling
-- the RPC straight from supabase-js. A repeated idempotency key returns the first job.
create function private.request_asset_generation(project_id uuid, kind public.asset_kind, prompt text, options jsonb, source_file_id uuid, idempotency_key text) returns uuid
    language plpgsql security definer
    set search_path to ''
    as $$
#variable_conflict use_column
declare
  per_user_per_day constant integer := 20;
  per_project_per_day constant integer := 50;
  me uuid := (select auth.uid());
  job uuid;
  used integer;
  oldest timestamptz;
  scope text;
  limit_n integer;
begin
  if not private.can_write() or not private.has_project_role(project_id, 'editor') then
    raise exception 'only project editors can generate assets' using errcode = '42501';
  end if;
  if idempotency_key is not null then
    select j.id into job from public.asset_jobs j
     where j.project_id = request_asset_generation.project_id
       and j.requested_by = me
       and j.idempotency_key = request_asset_generation.idempotency_key;
    if job is not null then
      return job;
    end if;
  end if;
  if char_length(prompt) not between 3 and 2000 then
    raise exception 'prompt must be 3 to 2000 characters' using errcode = '22023';
  end if;
  if source_file_id is not null and not exists (
       select 1 from public.files f
        where f.id = request_asset_generation.source_file_id
          and f.project_id = request_asset_generation.project_id
          and f.deleted_at is null
          and f.status = 'ready'
          and f.mime_type in ('image/png', 'image/jpeg', 'image/webp')) then
    raise exception 'source image % is not a ready PNG, JPEG or WebP file of this project', source_file_id
      using errcode = '22023';
  end if;
  perform pg_advisory_xact_lock(hashtextextended('asset_jobs:' || project_id::text, 0));
  foreach scope in array array['user', 'project'] loop
    if scope = 'user' then
      limit_n := per_user_per_day;
      select count(*), min(j.created_at) into used, oldest from (
        select j2.created_at from public.asset_jobs j2
         where j2.requested_by = me and j2.created_at > now() - interval '1 day'
         order by j2.created_at desc limit per_user_per_day) j;
    else
      limit_n := per_project_per_day;
      select count(*), min(j.created_at) into used, oldest from (
        select j2.created_at from public.asset_jobs j2
         where j2.project_id = request_asset_generation.project_id
           and j2.created_at > now() - interval '1 day'
         order by j2.created_at desc limit per_project_per_day) j;
    end if;
    if used >= limit_n then
      raise sqlstate 'PGRST' using
        message = json_build_object(
          'code', 'PT429',
          'message', format('daily asset quota used: at most %s generations per %s a day', limit_n, scope),
          'details', null,
          'hint', null
        )::text,
        detail = json_build_object(
          'status', 429,
          'headers', json_build_object('Retry-After',
            greatest(1, ceil(extract(epoch from oldest + interval '1 day' - now())))::bigint::text)
        )::text;
    end if;
  end loop;
  insert into public.asset_jobs (project_id, requested_by, kind, prompt, options, source_file_id, idempotency_key)
  values (request_asset_generation.project_id, me, request_asset_generation.kind,
          request_asset_generation.prompt, coalesce(request_asset_generation.options, '{}'::jsonb),
          request_asset_generation.source_file_id, request_asset_generation.idempotency_key)
  on conflict (project_id, requested_by, idempotency_key) where idempotency_key is not null do nothing
  returning id into job;
  if job is null then  -- a concurrent request with the same key won
    select j.id into job from public.asset_jobs j
     where j.project_id = request_asset_generation.project_id
       and j.requested_by = me
       and j.idempotency_key = request_asset_generation.idempotency_key;
  end if;
  return job;
end;
$$;

revoke all on function private.request_asset_generation(project_id uuid, kind public.asset_kind, prompt text, options jsonb, source_file_id uuid, idempotency_key text) from public;
grant all on function private.request_asset_generation(project_id uuid, kind public.asset_kind, prompt text, options jsonb, source_file_id uuid, idempotency_key text) to authenticated;

create function public.request_asset_generation(project_id uuid, kind public.asset_kind, prompt text, options jsonb default '{}'::jsonb, source_file_id uuid default null::uuid, idempotency_key text default null::text) returns uuid
    language sql
    set search_path to ''
    as $$
  select private.request_asset_generation(project_id, kind, prompt, options, source_file_id, idempotency_key)
$$;

comment on function public.request_asset_generation(project_id uuid, kind public.asset_kind, prompt text, options jsonb, source_file_id uuid, idempotency_key text) is 'Queues the generation of a 3D model or a video for a project (editors; daily quotas); returns the job id.';

revoke all on function public.request_asset_generation(project_id uuid, kind public.asset_kind, prompt text, options jsonb, source_file_id uuid, idempotency_key text) from public;
grant all on function public.request_asset_generation(project_id uuid, kind public.asset_kind, prompt text, options jsonb, source_file_id uuid, idempotency_key text) to authenticated;
grant all on function public.request_asset_generation(project_id uuid, kind public.asset_kind, prompt text, options jsonb, source_file_id uuid, idempotency_key text) to service_role;

-- Definer: only the service role writes jobs; the requester or an admin of the project may
-- stop one that has not finished. Returns the status the job has afterwards.
create function private.cancel_asset_job(job_id uuid) returns public.asset_job_status
    language plpgsql security definer
    set search_path to ''
    as $$
declare
  job public.asset_jobs;
begin
  select * into job from public.asset_jobs j where j.id = cancel_asset_job.job_id for update;
  if job.id is null or not private.has_project_role(job.project_id, 'viewer') then
    raise exception 'asset job % not found', job_id using errcode = '22023';
  end if;
  -- coalesce: a job whose requester was erased (null) is the admins' alone
  if not private.can_write()
     or not ((coalesce(job.requested_by = (select auth.uid()), false)
              and private.has_project_role(job.project_id, 'editor'))
             or private.has_project_role(job.project_id, 'admin')) then
    raise exception 'only the requester or a project admin can cancel an asset job' using errcode = '42501';
  end if;
  if job.status in ('queued', 'submitting', 'processing') then
    update public.asset_jobs set status = 'canceled', finished_at = greatest(now(), started_at),
           error = 'canceled'
     where id = job.id;
    return 'canceled';
  end if;
  return job.status;
end;
$$;

revoke all on function private.cancel_asset_job(job_id uuid) from public;
grant all on function private.cancel_asset_job(job_id uuid) to authenticated;

create function public.cancel_asset_job(job_id uuid) returns public.asset_job_status
    language sql
    set search_path to ''
    as $$
  select private.cancel_asset_job(job_id)
$$;

comment on function public.cancel_asset_job(job_id uuid) is 'Cancels an asset job that has not finished (its requester or a project admin); returns its status.';

revoke all on function public.cancel_asset_job(job_id uuid) from public;
grant all on function public.cancel_asset_job(job_id uuid) to authenticated;
grant all on function public.cancel_asset_job(job_id uuid) to service_role;

-- ======================================================================================
-- triggers
-- ======================================================================================

create trigger asset_jobs_guard_worker_columns before insert or update on public.asset_jobs for each row execute function private.guard_job_columns('status=queued', 'attempts=0', 'dispatched_at', 'started_at', 'finished_at', 'error', 'providers=[]', 'progress', 'provider', 'provider_task_id', 'submitted_at', 'polled_at', 'file_ids=[]');

create trigger asset_jobs_set_updated_at before insert or update on public.asset_jobs for each row execute function private.set_updated_at();
