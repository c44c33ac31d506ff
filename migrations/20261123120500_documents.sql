-- =============================================================================
-- Documents
--
--   1. documents (project, type, title, current_version, soft delete)
--   2. document_versions: append-only; every edit or generation is a new row
--      whose number the database assigns (1, 2, 3 … per document)
--   3. document_jobs: asynchronous generation, written by the service role
--   4. policies (policies/documents.sql)
--   5. RPCs: restore_document_version (a restore is a new version),
--      request_document_generation (queues a job)
-- =============================================================================

-- -----------------------------------------------------------------------------
-- 1. documents
-- -----------------------------------------------------------------------------
create type public.document_type as enum ('prd', 'tech_spec', 'backend_structure', 'custom');

create table public.documents (
  id uuid primary key default gen_random_uuid(),
  project_id uuid not null references public.projects (id) on delete cascade,
  type public.document_type not null default 'custom',
  title text not null,
  current_version int not null default 0,
  created_by uuid default auth.uid() references public.profiles (id) on delete set null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  deleted_at timestamptz,
  constraint documents_title_length check (char_length(btrim(title)) between 1 and 300),
  constraint documents_current_version_not_negative check (current_version >= 0)
);
create index documents_project_id_updated_at_idx on public.documents (project_id, updated_at desc);
create index documents_created_by_idx on public.documents (created_by);
alter table public.documents enable row level security;

create trigger documents_set_updated_at
  before insert or update on public.documents
  for each row execute function private.set_updated_at();
-- current_version moves only when a version is added
create trigger documents_guard_immutable_columns
  before update on public.documents
  for each row execute function private.guard_immutable_columns('id', 'project_id', 'created_by', 'current_version');
create trigger documents_soft_delete
  before delete on public.documents
  for each row execute function private.soft_delete();

-- -----------------------------------------------------------------------------
-- 2. document_versions
-- -----------------------------------------------------------------------------
create table public.document_versions (
  id uuid primary key default gen_random_uuid(),
  document_id uuid not null references public.documents (id) on delete cascade,
  -- copied from the document by trigger, so the policy needs no join
  project_id uuid not null references public.projects (id) on delete cascade,
  version int not null default 0,
  content text not null default '',
  change_summary text,
  author_id uuid references public.profiles (id) on delete set null,
  generated_by text,
  restored_from_version int,
  created_at timestamptz not null default now(),
  constraint document_versions_version_unique unique (document_id, version),
  constraint document_versions_content_length check (char_length(content) <= 1000000),
  constraint document_versions_change_summary_length check (char_length(change_summary) <= 1000),
  constraint document_versions_generated_by_length check (char_length(generated_by) <= 200)
);
create index document_versions_project_id_idx on public.document_versions (project_id);
create index document_versions_author_id_idx on public.document_versions (author_id);
alter table public.document_versions enable row level security;

-- Numbers the version (locking the document, so concurrent edits queue), moves
-- the document's current_version, and takes project and author from the
-- database rather than the client.
create function private.number_document_version()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  next_version int;
  doc_project uuid;
begin
  update public.documents d
     set current_version = d.current_version + 1
   where d.id = new.document_id and d.deleted_at is null
  returning d.current_version, d.project_id into next_version, doc_project;
  if next_version is null then
    raise exception 'document % does not exist', new.document_id using errcode = '23503';
  end if;
  new.version := next_version;
  new.project_id := doc_project;
  new.created_at := now();
  if (select auth.uid()) is not null then
    new.author_id := (select auth.uid());
    new.generated_by := null;
  end if;
  if new.author_id is null and new.generated_by is null then
    raise exception 'a version needs an author or a generator'
      using errcode = '23502', hint = 'set generated_by when the service role writes a version';
  end if;
  return new;
end;
$$;

create trigger document_versions_number_version
  before insert on public.document_versions
  for each row execute function private.number_document_version();

-- Versions are history: nobody (service role included) rewrites or removes
-- one; only deleting the whole document (purge) takes its versions with it.
create function private.forbid_version_changes()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if tg_op = 'DELETE' and pg_trigger_depth() > 1 then
    return old;
  end if;
  raise exception 'document versions are append-only'
    using errcode = '42501', hint = 'add a new version instead (restore_document_version restores an old one)';
end;
$$;

create trigger document_versions_append_only
  before update or delete on public.document_versions
  for each row execute function private.forbid_version_changes();

revoke update, delete on public.document_versions from anon, authenticated, service_role;

-- -----------------------------------------------------------------------------
-- 3. document_jobs
-- -----------------------------------------------------------------------------
create type public.job_status as enum ('queued', 'running', 'succeeded', 'failed');

create table public.document_jobs (
  id uuid primary key default gen_random_uuid(),
  project_id uuid not null references public.projects (id) on delete cascade,
  document_id uuid references public.documents (id) on delete set null,
  document_type public.document_type not null,
  requested_by uuid references public.profiles (id) on delete set null,
  status public.job_status not null default 'queued',
  instructions text,
  error text,
  attempts int not null default 0,
  started_at timestamptz,
  finished_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint document_jobs_instructions_length check (char_length(instructions) <= 20000),
  constraint document_jobs_attempts_not_negative check (attempts >= 0),
  constraint document_jobs_finished_after_started check (finished_at >= started_at)
);
create index document_jobs_project_id_created_at_idx on public.document_jobs (project_id, created_at desc);
create index document_jobs_document_id_idx on public.document_jobs (document_id);
create index document_jobs_requested_by_idx on public.document_jobs (requested_by);
create index document_jobs_status_idx on public.document_jobs (status, created_at) where status in ('queued', 'running');
alter table public.document_jobs enable row level security;

create trigger document_jobs_set_updated_at
  before insert or update on public.document_jobs
  for each row execute function private.set_updated_at();

revoke insert, update, delete on public.document_jobs from anon, authenticated;

create function private.notify_document_job_finished()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  if new.status is distinct from old.status and new.status in ('succeeded', 'failed')
     and new.requested_by is not null then
    insert into public.notifications (user_id, type, payload)
    values (new.requested_by, 'document_ready',
            jsonb_build_object('project_id', new.project_id, 'job_id', new.id,
                               'document_id', new.document_id, 'status', new.status));
  end if;
  return null;
end;
$$;

create trigger document_jobs_notify_requester
  after update of status on public.document_jobs
  for each row execute function private.notify_document_job_finished();

-- -----------------------------------------------------------------------------
-- 4. policies
-- -----------------------------------------------------------------------------
create policy "members read live documents"
  on public.documents for select to authenticated
  using (
    (select private.is_active_user())
    and deleted_at is null
    and project_id = any (array(select private.my_project_ids()))
  );

create policy "editors create documents"
  on public.documents for insert to authenticated
  with check (
    (select private.can_write())
    and created_by = (select auth.uid())
    and project_id = any (array(select private.my_project_ids_with_role('editor')))
  );

create policy "editors rename documents"
  on public.documents for update to authenticated
  using ((select private.can_write()) and project_id = any (array(select private.my_project_ids_with_role('editor'))))
  with check ((select private.can_write()) and project_id = any (array(select private.my_project_ids_with_role('editor'))));

create policy "editors delete documents"
  on public.documents for delete to authenticated
  using ((select private.can_write()) and project_id = any (array(select private.my_project_ids_with_role('editor'))));

create policy "members read document versions"
  on public.document_versions for select to authenticated
  using ((select private.is_active_user()) and project_id = any (array(select private.my_project_ids())));

create policy "editors add versions as themselves"
  on public.document_versions for insert to authenticated
  with check (
    (select private.can_write())
    and author_id = (select auth.uid())
    and project_id = any (array(select private.my_project_ids_with_role('editor')))
  );

create policy "members read their projects' generation jobs"
  on public.document_jobs for select to authenticated
  using ((select private.is_active_user()) and project_id = any (array(select private.my_project_ids())));

-- -----------------------------------------------------------------------------
-- 5. RPCs
-- -----------------------------------------------------------------------------

-- Invoker: reading the old version and adding the new one go through RLS.
create function public.restore_document_version(document_id uuid, version int)
returns public.document_versions
language plpgsql
security invoker
set search_path = ''
as $$
declare
  old_version public.document_versions;
  restored public.document_versions;
begin
  select v.* into old_version
    from public.document_versions v
   where v.document_id = restore_document_version.document_id
     and v.version = restore_document_version.version;
  if not found then
    raise exception 'version % of document % not found', version, document_id
      using errcode = '22023', hint = 'list versions with GET /document_versions?document_id=eq.<id>';
  end if;
  insert into public.document_versions (document_id, project_id, version, content, change_summary, restored_from_version)
  values (old_version.document_id, old_version.project_id, 0, old_version.content,
          format('Restored version %s', old_version.version), old_version.version)
  returning * into restored;
  return restored;
end;
$$;
comment on function public.restore_document_version(uuid, int) is
  'Makes an old version current by adding it again as a new version.';

-- Definer: jobs are written by the service role only; this is the one way a
-- project editor queues one (the worker picks it up from the queue).
create function private.request_document_generation(
  project_id uuid, document_type public.document_type, document_id uuid, instructions text
)
returns uuid
language plpgsql
security definer
set search_path = ''
as $$
declare
  job uuid;
begin
  if not private.can_write() or not private.has_project_role(project_id, 'editor') then
    raise exception 'only project editors can generate documents' using errcode = '42501';
  end if;
  if document_id is not null and not exists (
       select 1 from public.documents d
        where d.id = request_document_generation.document_id
          and d.project_id = request_document_generation.project_id
          and d.deleted_at is null) then
    raise exception 'document % is not in this project', document_id using errcode = '22023';
  end if;
  if char_length(instructions) > 20000 then
    raise exception 'instructions must be at most 20000 characters' using errcode = '22023';
  end if;
  insert into public.document_jobs (project_id, document_id, document_type, requested_by, instructions)
  values (project_id, document_id, document_type, (select auth.uid()), instructions)
  returning id into job;
  return job;
end;
$$;

create function public.request_document_generation(
  project_id uuid, document_type public.document_type, document_id uuid default null, instructions text default null
)
returns uuid
language sql
security invoker
set search_path = ''
as $$
  select private.request_document_generation(project_id, document_type, document_id, instructions)
$$;
comment on function public.request_document_generation(uuid, public.document_type, uuid, text) is
  'Queues an AI generation job for a project document; returns the job id.';

revoke all on function private.number_document_version(), private.forbid_version_changes(),
  private.notify_document_job_finished() from public;
revoke all on function private.request_document_generation(uuid, public.document_type, uuid, text) from public;
grant execute on function private.request_document_generation(uuid, public.document_type, uuid, text) to authenticated;
revoke all on function public.restore_document_version(uuid, int),
  public.request_document_generation(uuid, public.document_type, uuid, text) from public, anon;
grant execute on function public.restore_document_version(uuid, int),
  public.request_document_generation(uuid, public.document_type, uuid, text) to authenticated, service_role;

revoke truncate, references, trigger on all tables in schema public from anon, authenticated;
