-- =============================================================================
-- Files: safe names, message attachments, REST inserts rate-limited
-- (issue 8 section 5 "Files", issue 12 "Files attached to chat messages";
--  amends 20261123110000_files.sql)
--
--   1. folder and name: no `.`/`..` folder segments, no bidirectional-control
--      characters (a name that displays as `invoice‮fdp.exe` is refused)
--   2. a file belongs to a project or to a message, never both; a message's
--      file carries the message's conversation (set by the trigger from the
--      message the caller can read), so its members read it and no one else
--   3. anon may select (and sees no row), as on every other table
--   4. every insert as a signed-in user counts against a per-user limit of
--      60 files a minute, whether it comes through the files function or
--      straight through the REST API
--
-- The policies that use conversation_id are in policies/files.sql (next migration).
-- =============================================================================

-- -----------------------------------------------------------------------------
-- 1. folder and name
-- -----------------------------------------------------------------------------
alter table public.files drop constraint files_name_is_plain;
alter table public.files add constraint files_name_is_plain check (
  length(name) between 1 and 255
  and name !~ '[/\\[:cntrl:]\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]'
  and name not in ('.', '..')
);

alter table public.files drop constraint files_folder_is_path;
alter table public.files add constraint files_folder_is_path check (
  length(folder) <= 1024
  and folder ~ '^(/[^/[:cntrl:]]+)*$'
  and folder !~ '(^|/)\.\.?(/|$)'
  and folder !~ '[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]'
);

-- -----------------------------------------------------------------------------
-- 2. project or message, and the message's conversation
-- -----------------------------------------------------------------------------
alter table public.files
  add column conversation_id uuid references public.conversations (id) on delete cascade;
comment on column public.files.conversation_id is
  'For a message''s file: the message''s conversation (set by the database); its members read the file.';
create index files_conversation_id_idx on public.files (conversation_id, created_at desc)
  where conversation_id is not null;

alter table public.files drop constraint files_attached_to_project_or_message;
alter table public.files add constraint files_attached_to_project_or_message
  check ((project_id is null) <> (message_id is null));

-- Invoker: the message is looked up with the caller's own read rights, so a
-- message they cannot read leaves conversation_id null and the insert policy
-- refuses it exactly as it refuses an id that does not exist.
create or replace function private.files_set_server_fields()
returns trigger
language plpgsql
set search_path = ''
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

-- -----------------------------------------------------------------------------
-- 3. anon reads no file, with 200 [] rather than 401 (no policy is to anon)
-- -----------------------------------------------------------------------------
grant select on public.files to anon;

-- -----------------------------------------------------------------------------
-- 4. per-user insert limit (the files function also limits its uploads)
-- -----------------------------------------------------------------------------
-- Definer: the counters (private.rate_limits) are no client's to touch. The count
-- is part of the insert's transaction, so a refused or failed insert counts nothing.
create or replace function private.files_limit_inserts()
returns trigger
language plpgsql
security definer
set search_path = ''
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

create trigger files_limit_inserts
  before insert on public.files
  for each row execute function private.files_limit_inserts();
