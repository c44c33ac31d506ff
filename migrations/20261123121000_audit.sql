-- =============================================================================
-- Audit trail
--
--   1. audit_logs: actor, action, table, target, project, IP, user agent, time
--   2. private.audit(): one trigger function on every table of the data model
--      (IP and user agent from the request headers PostgREST sets)
--   3. append-only for everyone, the service role included: no update, no
--      delete, no truncate (privileges revoked and a trigger that raises)
--   4. policies (policies/audit.sql): people read entries about themselves,
--      project admins their project's, platform admins all
-- =============================================================================

-- -----------------------------------------------------------------------------
-- 1. audit_logs
-- -----------------------------------------------------------------------------
create type public.audit_action as enum ('insert', 'update', 'delete', 'soft_delete', 'restore');

create table public.audit_logs (
  id bigint generated always as identity primary key,
  occurred_at timestamptz not null default now(),
  -- no foreign keys: entries outlive the people and rows they are about
  actor_id uuid,
  actor_role text,
  action public.audit_action not null,
  table_name text not null,
  target_id uuid,
  project_id uuid,
  -- the person the row belongs to (a profile, a member, a notification's user …)
  subject_user_id uuid,
  changed_columns text[],
  ip inet,
  user_agent text,
  request_id text
);
comment on table public.audit_logs is 'Append-only record of every change to the data model, written by triggers.';
create index audit_logs_actor_id_idx on public.audit_logs (actor_id, occurred_at desc);
create index audit_logs_subject_user_id_idx on public.audit_logs (subject_user_id, occurred_at desc);
create index audit_logs_project_id_idx on public.audit_logs (project_id, occurred_at desc);
create index audit_logs_target_id_idx on public.audit_logs (target_id);
alter table public.audit_logs enable row level security;

-- -----------------------------------------------------------------------------
-- 2. the trigger
-- -----------------------------------------------------------------------------
create function private.audit()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  new_row jsonb := case when tg_op <> 'DELETE' then to_jsonb(new) end;
  old_row jsonb := case when tg_op <> 'INSERT' then to_jsonb(old) end;
  row_data jsonb := coalesce(new_row, old_row);
  headers jsonb;
  forwarded text;
  client_ip inet;
  what public.audit_action := lower(tg_op)::public.audit_action;
  changed text[];
begin
  if tg_op = 'UPDATE' then
    select coalesce(array_agg(n.key order by n.key), '{}') into changed
      from jsonb_each(new_row) n
     where n.value is distinct from old_row -> n.key
       and n.key not in ('updated_at', 'search');
    if changed = '{}' then
      return null;
    end if;
    if old_row ? 'deleted_at' then
      if old_row ->> 'deleted_at' is null and new_row ->> 'deleted_at' is not null then
        what := 'soft_delete';
      elsif old_row ->> 'deleted_at' is not null and new_row ->> 'deleted_at' is null then
        what := 'restore';
      end if;
    end if;
  end if;

  begin
    headers := nullif(current_setting('request.headers', true), '')::jsonb;
  exception when others then
    headers := null;
  end;
  forwarded := coalesce(
    btrim(split_part(headers ->> 'x-forwarded-for', ',', 1)),
    headers ->> 'x-real-ip',
    headers ->> 'cf-connecting-ip'
  );
  begin
    client_ip := nullif(forwarded, '')::inet;
  exception when others then
    client_ip := null;
  end;

  insert into public.audit_logs (
    actor_id, actor_role, action, table_name, target_id, project_id, subject_user_id,
    changed_columns, ip, user_agent, request_id
  ) values (
    (select auth.uid()),
    coalesce((select auth.role()), session_user),
    what,
    tg_table_name,
    coalesce(row_data ->> 'id', row_data ->> 'user_id')::uuid,
    case when tg_table_name = 'projects' then (row_data ->> 'id')::uuid
         else (row_data ->> 'project_id')::uuid end,
    case when tg_table_name = 'profiles' then (row_data ->> 'id')::uuid
         else coalesce(row_data ->> 'user_id', row_data ->> 'owner_id', row_data ->> 'author_id')::uuid end,
    changed,
    client_ip,
    left(headers ->> 'user-agent', 500),
    left(coalesce(headers ->> 'x-request-id', headers ->> 'sb-request-id'), 200)
  );
  return null;
end;
$$;
revoke all on function private.audit() from public;

do $$
declare
  t text;
begin
  foreach t in array array[
    'profiles', 'user_roles', 'projects', 'project_members', 'tasks', 'files',
    'conversations', 'conversation_members', 'messages', 'message_attachments',
    'calendar_events', 'calendar_event_attendees', 'documents', 'document_versions',
    'document_jobs', 'integrations', 'activity_events', 'dashboards', 'privacy_requests'
  ] loop
    execute format(
      'create trigger %I after insert or update or delete on public.%I for each row execute function private.audit()',
      t || '_audit', t
    );
  end loop;
end
$$;

-- -----------------------------------------------------------------------------
-- 3. append-only
-- -----------------------------------------------------------------------------
create function private.forbid_audit_changes()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  raise exception 'audit_logs is append-only' using errcode = '42501';
end;
$$;
revoke all on function private.forbid_audit_changes() from public;

create trigger audit_logs_append_only
  before update or delete on public.audit_logs
  for each row execute function private.forbid_audit_changes();
create trigger audit_logs_no_truncate
  before truncate on public.audit_logs
  for each statement execute function private.forbid_audit_changes();

revoke insert, update, delete, truncate on public.audit_logs from anon, authenticated;
revoke update, delete, truncate on public.audit_logs from service_role;

-- -----------------------------------------------------------------------------
-- 4. policies
-- -----------------------------------------------------------------------------

-- project ids where the caller is admin or owner, live or soft-deleted
create function private.my_admin_project_ids_including_deleted()
returns setof uuid
language sql
stable
security definer
set search_path = ''
as $$
  select pm.project_id
    from public.project_members pm
   where pm.user_id = (select auth.uid())
     and pm.role >= 'admin'
$$;
revoke all on function private.my_admin_project_ids_including_deleted() from public;
grant execute on function private.my_admin_project_ids_including_deleted() to authenticated;

create policy "people read their own entries; project admins their project's"
  on public.audit_logs for select to authenticated
  using (
    (select private.is_active_user())
    and (
      actor_id = (select auth.uid())
      or subject_user_id = (select auth.uid())
      or project_id = any (array(select private.my_admin_project_ids_including_deleted()))
      or (select private.authorize('admin'))
    )
  );
