-- Documents: versions and generation jobs
--
-- The declared source of this domain's tables, helpers, triggers and grants; its policies are
-- in policies/documents.sql. Edit here, then `make migration NAME=...` writes the migration.

-- SQL function bodies may name objects declared further down or in a later file.
set check_function_bodies = false;

-- ======================================================================================
-- types
-- ======================================================================================

create type public.document_type as enum (
    'prd',
    'tech_spec',
    'backend_structure',
    'custom'
);

-- ======================================================================================
-- public.documents
-- ======================================================================================

create table public.documents (
    id uuid default gen_random_uuid() not null,
    project_id uuid not null,
    type public.document_type default 'custom'::public.document_type not null,
    title text not null,
    current_version integer default 0 not null,
    created_by uuid default auth.uid(),
    created_at timestamptz default now() not null,
    updated_at timestamptz default now() not null,
    deleted_at timestamptz,
    constraint documents_current_version_not_negative check ((current_version >= 0)),
    constraint documents_title_length check (((char_length(btrim(title)) >= 1) and (char_length(btrim(title)) <= 300)))
);

alter table only public.documents
    add constraint documents_pkey primary key (id);

create index documents_created_by_idx on public.documents using btree (created_by);

create index documents_project_id_deleted_idx on public.documents using btree (project_id) where (deleted_at is not null);

create index documents_project_id_updated_at_idx on public.documents using btree (project_id, updated_at desc);

revoke all on table public.documents from anon, authenticated;
grant select,insert,delete,update on table public.documents to anon;
grant select,insert,delete,update on table public.documents to authenticated;
grant all on table public.documents to service_role;

-- ======================================================================================
-- public.document_versions
-- ======================================================================================

create table public.document_versions (
    id uuid default gen_random_uuid() not null,
    document_id uuid not null,
    project_id uuid not null,
    version integer default 0 not null,
    content text default ''::text not null,
    change_summary text,
    author_id uuid,
    generated_by text,
    restored_from_version integer,
    created_at timestamptz default now() not null,
    job_id uuid,
    constraint document_versions_change_summary_length check ((char_length(change_summary) <= 1000)),
    constraint document_versions_content_length check ((char_length(content) <= 1000000)),
    constraint document_versions_generated_by_length check ((char_length(generated_by) <= 200)),
    constraint document_versions_has_author_or_generator check (((author_id is not null) or (generated_by is not null)))
);

alter table only public.document_versions
    add constraint document_versions_pkey primary key (id);

alter table only public.document_versions
    add constraint document_versions_version_unique unique (document_id, version);

comment on column public.document_versions.job_id is 'The generation job that wrote this version (null for edits and restores).';

create index document_versions_author_id_idx on public.document_versions using btree (author_id);

create unique index document_versions_job_id_key on public.document_versions using btree (job_id);

create index document_versions_project_id_idx on public.document_versions using btree (project_id);

revoke all on table public.document_versions from anon, authenticated, service_role;
grant select,insert on table public.document_versions to anon;
grant select,insert on table public.document_versions to authenticated;
grant select,insert,references,trigger,truncate on table public.document_versions to service_role;

-- ======================================================================================
-- public.document_jobs
-- ======================================================================================

create table public.document_jobs (
    id uuid default gen_random_uuid() not null,
    project_id uuid not null,
    document_id uuid,
    document_type public.document_type not null,
    requested_by uuid,
    status public.job_status default 'queued'::public.job_status not null,
    instructions text,
    error text,
    attempts integer default 0 not null,
    started_at timestamptz,
    finished_at timestamptz,
    created_at timestamptz default now() not null,
    updated_at timestamptz default now() not null,
    dispatched_at timestamptz,
    providers jsonb default '[]'::jsonb not null,
    version integer,
    constraint document_jobs_attempts_not_negative check ((attempts >= 0)),
    constraint document_jobs_error_length check ((char_length(error) <= 2000)),
    constraint document_jobs_finished_after_started check ((finished_at >= started_at)),
    constraint document_jobs_instructions_length check ((char_length(instructions) <= 20000)),
    constraint document_jobs_providers_is_array check ((jsonb_typeof(providers) = 'array'::text)),
    constraint document_jobs_version_positive check ((version > 0))
);

alter table only public.document_jobs
    add constraint document_jobs_pkey primary key (id);

comment on column public.document_jobs.dispatched_at is 'When the job was last sent to the queue by the dispatcher (null: never by it).';

comment on column public.document_jobs.providers is 'Providers tried for the last attempt, in order, and why each was used, failed or skipped.';

create index document_jobs_document_id_idx on public.document_jobs using btree (document_id);

create index document_jobs_project_id_created_at_idx on public.document_jobs using btree (project_id, created_at desc);

create index document_jobs_requested_by_idx on public.document_jobs using btree (requested_by);

create index document_jobs_status_idx on public.document_jobs using btree (status, created_at) where (status = any (array['queued'::public.job_status, 'running'::public.job_status]));

revoke all on table public.document_jobs from anon, authenticated;
grant select on table public.document_jobs to anon;
grant select on table public.document_jobs to authenticated;
grant all on table public.document_jobs to service_role;

-- ======================================================================================
-- foreign keys
-- ======================================================================================

alter table only public.document_jobs
    add constraint document_jobs_document_id_fkey foreign key (document_id) references public.documents(id) on delete set null;

alter table only public.document_jobs
    add constraint document_jobs_project_id_fkey foreign key (project_id) references public.projects(id) on delete cascade;

alter table only public.document_jobs
    add constraint document_jobs_requested_by_fkey foreign key (requested_by) references public.profiles(id) on delete set null;

alter table only public.document_versions
    add constraint document_versions_author_id_fkey foreign key (author_id) references public.profiles(id) on delete set null;

alter table only public.document_versions
    add constraint document_versions_document_id_fkey foreign key (document_id) references public.documents(id) on delete cascade;

alter table only public.document_versions
    add constraint document_versions_project_id_fkey foreign key (project_id) references public.projects(id) on delete cascade;

alter table only public.documents
    add constraint documents_created_by_fkey foreign key (created_by) references public.profiles(id) on delete set null;

alter table only public.documents
    add constraint documents_project_id_fkey foreign key (project_id) references public.projects(id) on delete cascade;

-- ======================================================================================
-- functions
-- ======================================================================================

create function private.number_document_version() returns trigger
    language plpgsql security definer
    set search_path to ''
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
  return new;
end;
$$;

revoke all on function private.number_document_version() from public;

create function private.forbid_version_changes() returns trigger
    language plpgsql
    set search_path to ''
    as $$
begin
  if tg_op = 'DELETE' and pg_trigger_depth() > 1 then
    return old;
  end if;
  -- an erasure takes the person's name out of generated text (private.erase_person): only
  -- that replacement, nothing else
  if tg_op = 'UPDATE' and nullif(current_setting('collab.erase_name', true), '') is not null
     and old.generated_by is not null
     and new.content = private.without_name(old.content, current_setting('collab.erase_name', true))
     and (to_jsonb(new) - 'content') = (to_jsonb(old) - 'content') then
    return new;
  end if;
  if tg_op = 'UPDATE' and pg_trigger_depth() > 1
     and old.author_id is not null and new.author_id is null
     and (to_jsonb(new) - 'author_id') = (to_jsonb(old) - 'author_id')
     and not exists (select 1 from public.profiles p where p.id = old.author_id) then
    new.generated_by := coalesce(old.generated_by, 'erased user');
    return new;
  end if;
  raise exception 'document versions are append-only'
    using errcode = '42501', hint = 'add a new version instead (restore_document_version restores an old one)';
end;
$$;

revoke all on function private.forbid_version_changes() from public;

-- The text with every whole occurrence of a person's name replaced by 'A former member'
-- (the erasure's redaction of generated documents; the name is matched literally).
create function private.without_name(content text, name text) returns text
    language sql immutable
    set search_path to ''
    as $$
  select case
           when name is null or char_length(btrim(name)) < 2 then content
           else regexp_replace(
             content,
             '(?<![[:alnum:]_])'
               || regexp_replace(btrim(name), '([\\.^$|()\[\]{}*+?\-])', '\\\1', 'g')
               || '(?![[:alnum:]_])',
             'A former member', 'g')
         end
$$;

revoke all on function private.without_name(content text, name text) from public;

-- Invoker, and named to fire before document_versions_number_version (which would
-- otherwise answer 23503 for a missing document, or touch another project's one).
create function private.refuse_version_of_unseen_document() returns trigger
    language plpgsql
    set search_path to ''
    as $$
begin
  if current_user in ('anon', 'authenticated')
     and not exists (select 1 from public.documents d where d.id = new.document_id) then
    raise exception 'new row violates row-level security policy for table "document_versions"'
      using errcode = '42501';
  end if;
  return new;
end;
$$;

revoke all on function private.refuse_version_of_unseen_document() from public;
grant all on function private.refuse_version_of_unseen_document() to anon;
grant all on function private.refuse_version_of_unseen_document() to authenticated;

-- Invoker: reading the old version and adding the new one go through RLS.
create function public.restore_document_version(document_id uuid, version integer) returns public.document_versions
    language plpgsql
    set search_path to ''
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

comment on function public.restore_document_version(document_id uuid, version integer) is 'Makes an old version current by adding it again as a new version.';

revoke all on function public.restore_document_version(document_id uuid, version integer) from public;
grant all on function public.restore_document_version(document_id uuid, version integer) to authenticated;
grant all on function public.restore_document_version(document_id uuid, version integer) to service_role;

-- Definer: jobs are written by the service role only; this is the one way a
-- project editor queues one (the worker picks it up from the queue).
create function private.request_document_generation(project_id uuid, document_type public.document_type, document_id uuid, instructions text) returns uuid
    language plpgsql security definer
    set search_path to ''
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

revoke all on function private.request_document_generation(project_id uuid, document_type public.document_type, document_id uuid, instructions text) from public;
grant all on function private.request_document_generation(project_id uuid, document_type public.document_type, document_id uuid, instructions text) to authenticated;

create function public.request_document_generation(project_id uuid, document_type public.document_type, document_id uuid default null::uuid, instructions text default null::text) returns uuid
    language sql
    set search_path to ''
    as $$
  select private.request_document_generation(project_id, document_type, document_id, instructions)
$$;

comment on function public.request_document_generation(project_id uuid, document_type public.document_type, document_id uuid, instructions text) is 'Queues an AI generation job for a project document; returns the job id.';

revoke all on function public.request_document_generation(project_id uuid, document_type public.document_type, document_id uuid, instructions text) from public;
grant all on function public.request_document_generation(project_id uuid, document_type public.document_type, document_id uuid, instructions text) to authenticated;
grant all on function public.request_document_generation(project_id uuid, document_type public.document_type, document_id uuid, instructions text) to service_role;

create function private.notify_document_job_finished() returns trigger
    language plpgsql security definer
    set search_path to ''
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

revoke all on function private.notify_document_job_finished() from public;

-- soft-deleted documents of the caller's live projects
create function private.my_deleted_document_ids() returns setof uuid
    language plpgsql stable security definer
    set search_path to ''
    as $$
begin
  return query
    select d.id
      from public.documents d
     where d.deleted_at is not null
       and d.project_id in (select private.my_project_ids());
end;
$$;

revoke all on function private.my_deleted_document_ids() from public;
grant all on function private.my_deleted_document_ids() to authenticated;
grant all on function private.my_deleted_document_ids() to service_role;

-- ======================================================================================
-- triggers
-- ======================================================================================

create trigger document_jobs_guard_worker_columns before insert or update on public.document_jobs for each row execute function private.guard_job_columns('status=queued', 'attempts=0', 'dispatched_at', 'started_at', 'finished_at', 'error', 'providers=[]', 'version');

create trigger document_jobs_notify_requester after update of status on public.document_jobs for each row execute function private.notify_document_job_finished();

create trigger document_jobs_set_updated_at before insert or update on public.document_jobs for each row execute function private.set_updated_at();

create trigger document_versions_append_only before delete or update on public.document_versions for each row execute function private.forbid_version_changes();

create trigger document_versions_check_document_is_visible before insert on public.document_versions for each row execute function private.refuse_version_of_unseen_document();

create trigger document_versions_fresh_id_for_unseen_row before insert on public.document_versions for each row execute function private.fresh_id_for_unseen_row();

create trigger document_versions_limit_bulk_insert after insert on public.document_versions referencing new table as inserted for each statement execute function private.limit_bulk_insert('1000');

create trigger document_versions_number_version before insert on public.document_versions for each row execute function private.number_document_version();

create trigger document_versions_set_server_columns before insert on public.document_versions for each row execute function private.set_server_columns_on_insert();

create trigger documents_fresh_id_for_unseen_row before insert on public.documents for each row execute function private.fresh_id_for_unseen_row();

create trigger documents_guard_deleted_at before insert or update on public.documents for each row execute function private.guard_deleted_at();

create trigger documents_guard_immutable_columns before update on public.documents for each row execute function private.guard_immutable_columns('id', 'project_id', 'created_by', 'current_version');

create trigger documents_limit_bulk_insert after insert on public.documents referencing new table as inserted for each statement execute function private.limit_bulk_insert('1000');

create trigger documents_set_server_columns before insert on public.documents for each row execute function private.set_server_columns_on_insert();

create trigger documents_set_updated_at before insert or update on public.documents for each row execute function private.set_updated_at();

create trigger documents_soft_delete before delete on public.documents for each row execute function private.soft_delete();
