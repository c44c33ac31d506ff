-- Files: S3 objects' metadata
--
-- The declared source of this domain's tables, helpers, triggers and grants; its policies are
-- in policies/files.sql. Edit here, then `make migration NAME=...` writes the migration.

-- SQL function bodies may name objects declared further down or in a later file.
set check_function_bodies = false;

-- ======================================================================================
-- types
-- ======================================================================================

create type public.file_status as enum (
    'pending',
    'ready',
    'failed'
);

-- ======================================================================================
-- public.files
-- ======================================================================================

create table public.files (
    id uuid default gen_random_uuid() not null,
    project_id uuid,
    message_id uuid,
    folder text default ''::text not null,
    name text not null,
    mime_type text not null,
    size_bytes bigint not null,
    checksum_sha256 text not null,
    bucket text not null,
    object_key text not null,
    status public.file_status default 'pending'::public.file_status not null,
    failure_reason text,
    uploaded_by uuid default auth.uid() not null,
    created_at timestamptz default now() not null,
    updated_at timestamptz default now() not null,
    deleted_at timestamptz,
    conversation_id uuid,
    constraint files_attached_to_project_or_message check (((project_id is null) <> (message_id is null))),
    constraint files_checksum_is_sha256_hex check ((checksum_sha256 ~ '^[0-9a-f]{64}$'::text)),
    constraint files_folder_is_path check (((length(folder) <= 1024) and (folder ~ '^(/[^/[:cntrl:]]+)*$'::text) and (folder !~ '(^|/)\.\.?(/|$)'::text) and (folder !~ '[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]'::text))),
    constraint files_mime_type_allowed check ((mime_type = any (array['image/png'::text, 'image/jpeg'::text, 'image/gif'::text, 'image/webp'::text, 'image/svg+xml'::text, 'application/pdf'::text, 'text/plain'::text, 'text/markdown'::text, 'text/csv'::text, 'application/json'::text, 'application/zip'::text, 'application/vnd.openxmlformats-officedocument.wordprocessingml.document'::text, 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet'::text, 'application/vnd.openxmlformats-officedocument.presentationml.presentation'::text, 'model/gltf-binary'::text, 'model/vnd.usdz+zip'::text, 'video/mp4'::text]))),
    constraint files_name_is_plain check ((((length(name) >= 1) and (length(name) <= 255)) and (name !~ '[/\\[:cntrl:]\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]'::text) and (name <> all (array['.'::text, '..'::text])))),
    constraint files_size_within_limit check (((size_bytes >= 1) and (size_bytes <= 52428800)))
);

alter table only public.files
    add constraint files_object_key_unique unique (object_key);

alter table only public.files
    add constraint files_pkey primary key (id);

comment on table public.files is 'Files in S3 attached to a project or a message. Rows are created pending by the files function and become ready after the S3 object-created event verified the object.';

comment on column public.files.conversation_id is 'For a message''s file: the message''s conversation (set by the database); its members read the file.';

create index files_conversation_id_idx on public.files using btree (conversation_id, created_at desc) where (conversation_id is not null);

create index files_message_id_idx on public.files using btree (message_id) where (message_id is not null);

create index files_project_id_idx on public.files using btree (project_id, created_at desc);

create index files_uploaded_by_idx on public.files using btree (uploaded_by);

revoke all on table public.files from anon, authenticated;
grant all on table public.files to service_role;
grant select,delete on table public.files to authenticated;
grant select on table public.files to anon;

grant insert(project_id) on table public.files to authenticated;

grant insert(message_id) on table public.files to authenticated;

grant insert(folder),update(folder) on table public.files to authenticated;

grant insert(name),update(name) on table public.files to authenticated;

grant insert(mime_type) on table public.files to authenticated;

grant insert(size_bytes) on table public.files to authenticated;

grant insert(checksum_sha256) on table public.files to authenticated;

grant insert(bucket) on table public.files to authenticated;

-- ======================================================================================
-- foreign keys
-- ======================================================================================

alter table only public.files
    add constraint files_conversation_id_fkey foreign key (conversation_id) references public.conversations(id) on delete cascade;

alter table only public.files
    add constraint files_message_id_fkey foreign key (message_id) references public.messages(id) on delete cascade;

alter table only public.files
    add constraint files_project_id_fkey foreign key (project_id) references public.projects(id) on delete cascade;

alter table only public.files
    add constraint files_uploaded_by_fkey foreign key (uploaded_by) references auth.users(id) on delete cascade;

alter table only public.message_attachments
    add constraint message_attachments_file_id_fkey foreign key (file_id) references public.files(id) on delete cascade;

-- ======================================================================================
-- functions
-- ======================================================================================

-- Definer: the counters (private.rate_limits) are no client's to touch. The count
-- is part of the insert's transaction, so a refused or failed insert counts nothing.
create function private.files_limit_inserts() returns trigger
    language plpgsql security definer
    set search_path to ''
    as $$
declare
  per_minute constant integer := 60;
  me uuid := (select auth.uid());
  verdict record;
begin
  if me is null then
    return new;  -- the service role (background jobs)
  end if;
  select * into verdict from public.consume_rate_limit(me, 'files:inserts', per_minute, 60);
  if not verdict.allowed then
    raise sqlstate 'PGRST' using
      message = json_build_object(
        'code', 'PT429',
        'message', format('too many files: at most %s a minute; retry in %s s', per_minute, verdict.retry_after),
        'details', null,
        'hint', null
      )::text,
      detail = json_build_object(
        'status', 429, 'headers', json_build_object('Retry-After', verdict.retry_after::text)
      )::text;
  end if;
  return new;
end;
$$;

revoke all on function private.files_limit_inserts() from public;

-- Invoker: the message is looked up with the caller's own read rights, so a
-- message they cannot read leaves conversation_id null and the insert policy
-- refuses it exactly as it refuses an id that does not exist.
create function private.files_set_server_fields() returns trigger
    language plpgsql
    set search_path to ''
    as $$
begin
  new.status := 'pending';
  new.failure_reason := null;
  new.uploaded_by := coalesce((select auth.uid()), new.uploaded_by);
  new.conversation_id := case
    when new.message_id is null then null
    else (select m.conversation_id from public.messages m where m.id = new.message_id)
  end;
  new.object_key := 'files/' || coalesce(new.project_id, new.message_id)::text || '/' || new.id::text;
  return new;
end;
$$;

-- the caller uploaded the file (attachments may only point at one's own files)
create function private.is_my_file(file_id uuid) returns boolean
    language sql stable security definer
    set search_path to ''
    as $$
  select exists (
    select 1 from public.files f
     where f.id = is_my_file.file_id
       and f.uploaded_by = (select auth.uid())
  )
$$;

revoke all on function private.is_my_file(file_id uuid) from public;
grant all on function private.is_my_file(file_id uuid) to authenticated;
grant all on function private.is_my_file(file_id uuid) to service_role;

-- ======================================================================================
-- triggers
-- ======================================================================================

create trigger files_guard_deleted_at before insert or update on public.files for each row execute function private.guard_deleted_at();

create trigger files_limit_inserts before insert on public.files for each row execute function private.files_limit_inserts();

create trigger files_set_server_fields before insert on public.files for each row execute function private.files_set_server_fields();

create trigger files_set_updated_at before update on public.files for each row execute function private.set_updated_at();

create trigger files_soft_delete before delete on public.files for each row execute function private.soft_delete();
