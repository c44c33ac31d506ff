-- =============================================================================
-- Writes keep to the rules whatever the request looks like (issue 8, sections 1,
-- 2 and the "forged metadata" part of 5)
--
-- A PATCH or DELETE with no filter and `Prefer: return=minimal` reads no column,
-- so PostgreSQL applies no SELECT policy to it, and the `deleted_at is null` of
-- the read policies did not protect deleted rows from writes. The rules below
-- hold without any read policy:
--
--   1. deleted_at is the database's: clients never write it (only DELETE through
--      private.soft_delete() and rpc restore_deleted, both definer, with the
--      database clock); a trigger on every soft-deleting table refuses it
--      (42501) on insert and update from the client roles
--   2. a second DELETE of a soft-deleted row by a client does nothing; only the
--      purge (service role) and cascades delete for real. (The update and delete
--      policies also exclude deleted rows: policies/*.sql, next migration.)
--   3. rows keep their project: tasks.project_id joins the guarded columns
--      (every other scope column already was guarded, or is not updatable by
--      clients; tests/rls/test_write_paths.py proves it from the catalog)
--   4. metadata the database sets on insert, whatever the client sent:
--      messages.edited_at (empty), documents.current_version (0),
--      activity_events.occurred_at / actor / actor_id (now, none, the caller),
--      calendar_event_attendees.response ('pending': the invitee answers), and
--      document_versions.restored_from_version only when it names an earlier
--      version of the same document with the same content
-- =============================================================================

-- -----------------------------------------------------------------------------
-- 1. deleted_at
-- -----------------------------------------------------------------------------
create function private.guard_deleted_at()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if current_user not in ('anon', 'authenticated') then
    return new;
  end if;
  if (tg_op = 'INSERT' and new.deleted_at is not null)
     or (tg_op = 'UPDATE' and new.deleted_at is distinct from old.deleted_at) then
    raise exception '%.deleted_at cannot be written', tg_table_name
      using errcode = '42501',
            hint = 'DELETE the row to delete it; rpc restore_deleted brings it back';
  end if;
  return new;
end;
$$;
revoke all on function private.guard_deleted_at() from public;

create trigger projects_guard_deleted_at
  before insert or update on public.projects
  for each row execute function private.guard_deleted_at();
create trigger tasks_guard_deleted_at
  before insert or update on public.tasks
  for each row execute function private.guard_deleted_at();
create trigger files_guard_deleted_at
  before insert or update on public.files
  for each row execute function private.guard_deleted_at();
create trigger messages_guard_deleted_at
  before insert or update on public.messages
  for each row execute function private.guard_deleted_at();
create trigger documents_guard_deleted_at
  before insert or update on public.documents
  for each row execute function private.guard_deleted_at();

-- files had a column grant for it (trash by PATCH); DELETE is the way now
revoke update (deleted_at) on public.files from authenticated;

-- -----------------------------------------------------------------------------
-- 2. soft delete: deleting a deleted row again does nothing for a client
-- -----------------------------------------------------------------------------
-- The function is a definer (its update must pass whatever the caller's update
-- policy says), so current_user is its owner here; the role PostgREST switched
-- to is in the `role` setting.
create or replace function private.soft_delete()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  if pg_trigger_depth() > 1 then
    return old;  -- a cascade from a parent being deleted for real (the purge)
  end if;
  if old.deleted_at is null then
    execute format('update %I.%I set deleted_at = now() where id = $1', tg_table_schema, tg_table_name)
      using old.id;
    return null;
  end if;
  if current_setting('role', true) in ('anon', 'authenticated') then
    return null;  -- already deleted: only the purge deletes it for real
  end if;
  return old;
end;
$$;

-- -----------------------------------------------------------------------------
-- 3. scope columns
-- -----------------------------------------------------------------------------
drop trigger tasks_guard_immutable_columns on public.tasks;
create trigger tasks_guard_immutable_columns
  before update on public.tasks
  for each row execute function private.guard_immutable_columns('id', 'project_id', 'created_by');

-- -----------------------------------------------------------------------------
-- 4. metadata the database sets on insert
-- -----------------------------------------------------------------------------
create function private.set_server_columns_on_insert()
returns trigger
language plpgsql
set search_path = ''
as $$
declare
  api_role boolean := current_user in ('anon', 'authenticated');
begin
  case tg_table_name
    when 'messages' then
      new.edited_at := null;  -- a new message has not been edited
    when 'documents' then
      new.current_version := 0;  -- moved by each version added (number_document_version)
    when 'activity_events' then
      if api_role then  -- a manual event is the caller's, now; ingestion sets its own
        new.actor_id := (select auth.uid());
        new.actor := null;
        new.occurred_at := now();
      end if;
    when 'calendar_event_attendees' then
      if api_role then
        new.response := 'pending';  -- only the attendee answers (update policy)
      end if;
    when 'document_versions' then
      if new.restored_from_version is not null and not exists (
           select 1 from public.document_versions v
            where v.document_id = new.document_id
              and v.version = new.restored_from_version
              and v.content = new.content) then
        raise exception 'restored_from_version must name an earlier version of this document with the same content'
          using errcode = '22023', hint = 'use rpc restore_document_version';
      end if;
  end case;
  return new;
end;
$$;
revoke all on function private.set_server_columns_on_insert() from public;

create trigger messages_set_server_columns
  before insert on public.messages
  for each row execute function private.set_server_columns_on_insert();
create trigger documents_set_server_columns
  before insert on public.documents
  for each row execute function private.set_server_columns_on_insert();
create trigger activity_events_set_server_columns
  before insert on public.activity_events
  for each row execute function private.set_server_columns_on_insert();
create trigger calendar_event_attendees_set_server_columns
  before insert on public.calendar_event_attendees
  for each row execute function private.set_server_columns_on_insert();
create trigger document_versions_set_server_columns
  before insert on public.document_versions
  for each row execute function private.set_server_columns_on_insert();
