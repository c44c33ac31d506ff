-- =============================================================================
-- Files: metadata of objects stored in S3, attached to a project (or, once the
-- chat tables exist, to a message).
--
--   1. Status type
--   2. Table, limits (named check constraints), indexes
--   3. Trigger: the database, not the client, decides key, status and uploader
--   4. Privileges: clients may only write the columns that are theirs
--   5. Policies: members read; editors and above write
--
-- The functions platform (functions/files) inserts the `pending` row *as the
-- caller* so these policies decide who may upload; the S3 event handler marks
-- the row `ready` or `failed` with the service role.
-- =============================================================================

-- -----------------------------------------------------------------------------
-- 1. Status type
-- -----------------------------------------------------------------------------
create type public.file_status as enum ('pending', 'ready', 'failed');

-- -----------------------------------------------------------------------------
-- 2. Table
-- -----------------------------------------------------------------------------
create table public.files (
  id uuid primary key default gen_random_uuid(),
  project_id uuid references public.projects (id) on delete cascade,
  -- The chat migration adds the foreign key to public.messages.
  message_id uuid,
  folder text not null default '',
  name text not null,
  mime_type text not null,
  size_bytes bigint not null,
  -- SHA-256 of the content as the uploader declared it (lowercase hex).
  checksum_sha256 text not null,
  bucket text not null,
  object_key text not null,
  status public.file_status not null default 'pending',
  failure_reason text,
  uploaded_by uuid not null default auth.uid() references auth.users (id) on delete cascade,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  deleted_at timestamptz,
  constraint files_object_key_unique unique (object_key),
  constraint files_attached_to_project_or_message
    check (project_id is not null or message_id is not null),
  -- Limits, the same as the files function enforces (functions/core/limits.py).
  constraint files_size_within_limit check (size_bytes between 1 and 52428800),
  constraint files_mime_type_allowed check (mime_type in (
    'image/png', 'image/jpeg', 'image/gif', 'image/webp', 'image/svg+xml',
    'application/pdf', 'text/plain', 'text/markdown', 'text/csv', 'application/json',
    'application/zip',
    'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
    'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
    'application/vnd.openxmlformats-officedocument.presentationml.presentation'
  )),
  constraint files_name_is_plain
    check (length(name) between 1 and 255 and name !~ '[/\\[:cntrl:]]' and name not in ('.', '..')),
  constraint files_folder_is_path
    check (length(folder) <= 1024 and folder ~ '^(/[^/[:cntrl:]]+)*$'),
  constraint files_checksum_is_sha256_hex check (checksum_sha256 ~ '^[0-9a-f]{64}$')
);

comment on table public.files is
  'Files in S3 attached to a project or a message. Rows are created pending by the files function and become ready after the S3 object-created event verified the object.';

create index files_project_id_idx on public.files (project_id, created_at desc);
create index files_message_id_idx on public.files (message_id) where message_id is not null;
create index files_uploaded_by_idx on public.files (uploaded_by);

-- -----------------------------------------------------------------------------
-- 3. Trigger: key, status and uploader are not the client's to choose
-- -----------------------------------------------------------------------------
create or replace function private.files_set_server_fields()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  new.status := 'pending';
  new.failure_reason := null;
  new.uploaded_by := coalesce((select auth.uid()), new.uploaded_by);
  new.object_key := 'files/' || coalesce(new.project_id, new.message_id)::text || '/' || new.id::text;
  return new;
end;
$$;

create trigger files_set_server_fields
  before insert on public.files
  for each row execute function private.files_set_server_fields();

create trigger files_set_updated_at
  before update on public.files
  for each row execute function private.set_updated_at();

-- -----------------------------------------------------------------------------
-- 4. Privileges: clients write only their own columns; status, key and size
--    after upload are written by the service role (the S3 event handler).
-- -----------------------------------------------------------------------------
alter table public.files enable row level security;

revoke all on public.files from anon, authenticated;
grant select, delete on public.files to authenticated;
grant insert (project_id, message_id, folder, name, mime_type, size_bytes, checksum_sha256, bucket)
  on public.files to authenticated;
grant update (folder, name, deleted_at) on public.files to authenticated;
grant all on public.files to service_role;

-- -----------------------------------------------------------------------------
-- 5. Policies
-- -----------------------------------------------------------------------------
create policy "members read project files"
  on public.files for select
  to authenticated
  using (project_id = any(array(select private.my_project_ids())));

create policy "editors add files to their projects"
  on public.files for insert
  to authenticated
  with check (
    uploaded_by = (select auth.uid())
    and project_id = any(array(select private.my_project_ids_with_role('editor')))
  );

create policy "editors rename, move and trash project files"
  on public.files for update
  to authenticated
  using (project_id = any(array(select private.my_project_ids_with_role('editor'))))
  with check (project_id = any(array(select private.my_project_ids_with_role('editor'))));

create policy "editors delete project files"
  on public.files for delete
  to authenticated
  using (project_id = any(array(select private.my_project_ids_with_role('editor'))));
