-- Audit trail: append-only
--
-- The declared source of this domain's tables, helpers, triggers and grants; its policies are
-- in policies/audit.sql. Edit here, then `make migration NAME=...` writes the migration.

-- SQL function bodies may name objects declared further down or in a later file.
set check_function_bodies = false;

-- ======================================================================================
-- types
-- ======================================================================================

create type public.audit_action as enum (
    'insert',
    'update',
    'delete',
    'soft_delete',
    'restore'
);

-- ======================================================================================
-- public.audit_logs
-- ======================================================================================

create table public.audit_logs (
    id bigint not null,
    occurred_at timestamptz default now() not null,
    actor_id uuid,
    actor_role text,
    action public.audit_action not null,
    table_name text not null,
    target_id uuid,
    project_id uuid,
    subject_user_id uuid,
    changed_columns text[],
    request_id text
);

alter table public.audit_logs alter column id add generated always as identity (
    sequence name public.audit_logs_id_seq
    start with 1
    increment by 1
    no minvalue
    no maxvalue
    cache 1
);

alter table only public.audit_logs
    add constraint audit_logs_pkey primary key (id);

comment on table public.audit_logs is 'Append-only record of every change to the data model, written by triggers.';

create index audit_logs_actor_id_idx on public.audit_logs using btree (actor_id, occurred_at desc);

create index audit_logs_project_id_idx on public.audit_logs using btree (project_id, occurred_at desc);

create index audit_logs_subject_user_id_idx on public.audit_logs using btree (subject_user_id, occurred_at desc);

create index audit_logs_target_id_idx on public.audit_logs using btree (target_id);

revoke all on table public.audit_logs from anon, authenticated, service_role;
grant select on table public.audit_logs to anon;
grant select on table public.audit_logs to authenticated;
grant select,insert,references,trigger on table public.audit_logs to service_role;

grant all on sequence public.audit_logs_id_seq to anon;
grant all on sequence public.audit_logs_id_seq to authenticated;
grant all on sequence public.audit_logs_id_seq to service_role;

-- ======================================================================================
-- public.audit_log_origins
-- ======================================================================================

create table public.audit_log_origins (
    audit_log_id bigint not null,
    actor_id uuid,
    occurred_at timestamptz default now() not null,
    ip inet,
    user_agent text
);

alter table only public.audit_log_origins
    add constraint audit_log_origins_pkey primary key (audit_log_id);

comment on table public.audit_log_origins is 'Client address and user agent of an audit entry; read by the actor and platform admins only.';

create index audit_log_origins_actor_id_idx on public.audit_log_origins using btree (actor_id, audit_log_id desc);

revoke all on table public.audit_log_origins from anon, authenticated, service_role;
grant select on table public.audit_log_origins to anon;
grant select on table public.audit_log_origins to authenticated;
grant select,insert,references,trigger on table public.audit_log_origins to service_role;

-- ======================================================================================
-- functions
-- ======================================================================================

create function private.audit() returns trigger
    language plpgsql security definer
    set search_path to ''
    as $$
declare
  new_row jsonb;
  old_row jsonb;
  row_data jsonb;
  headers jsonb;
  client_ip inet;
  agent text;
  entry bigint;
  actor uuid;
  what public.audit_action := lower(tg_op)::public.audit_action;
  changed text[];
begin
  -- an erasure's bulk changes (private.erase_person sets this for its transaction) are
  -- recorded by the request itself (privacy_requests) and by what happens to projects and
  -- memberships, not by one entry per deleted task or message, which the redaction would
  -- then have to rewrite (checked before any row is converted)
  if current_setting('collab.erasing', true) <> ''
     and tg_table_name not in ('projects', 'project_members', 'privacy_requests') then
    return null;
  end if;
  new_row := case when tg_op <> 'DELETE' then to_jsonb(new) end;
  old_row := case when tg_op <> 'INSERT' then to_jsonb(old) end;
  row_data := coalesce(new_row, old_row);
  actor := (select auth.uid());
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
  -- only what the edge sets (see the banner): never x-forwarded-for / x-real-ip
  begin
    client_ip := nullif(btrim(headers ->> 'cf-connecting-ip'), '')::inet;
  exception when others then
    client_ip := null;
  end;
  agent := left(headers ->> 'user-agent', 500);

  insert into public.audit_logs (
    actor_id, actor_role, action, table_name, target_id, project_id, subject_user_id,
    changed_columns, request_id
  ) values (
    actor,
    coalesce((select auth.role()), session_user),
    what,
    tg_table_name,
    coalesce(row_data ->> 'id', row_data ->> 'user_id')::uuid,
    case when tg_table_name = 'projects' then (row_data ->> 'id')::uuid
         else (row_data ->> 'project_id')::uuid end,
    case when tg_table_name = 'profiles' then (row_data ->> 'id')::uuid
         else coalesce(row_data ->> 'user_id', row_data ->> 'owner_id', row_data ->> 'author_id')::uuid end,
    changed,
    left(headers ->> 'sb-request-id', 200)
  )
  returning id into entry;
  if client_ip is not null or agent is not null then
    insert into public.audit_log_origins (audit_log_id, actor_id, ip, user_agent)
    values (entry, actor, client_ip, agent);
  end if;
  return null;
end;
$$;

revoke all on function private.audit() from public;

create function private.forbid_audit_changes() returns trigger
    language plpgsql
    set search_path to ''
    as $$
declare
  redact uuid := nullif(current_setting('collab.audit_redact', true), '')::uuid;
  cutoff timestamptz := nullif(current_setting('collab.audit_retention_cutoff', true), '')::timestamptz;
  ids text[] := array['actor_id', 'subject_user_id', 'target_id'];
begin
  if tg_level = 'ROW' and redact is not null then
    if tg_table_name = 'audit_logs' and tg_op = 'UPDATE' then
      if (to_jsonb(new) - ids) = (to_jsonb(old) - ids)
         and (new.actor_id is not distinct from old.actor_id
              or (new.actor_id is null and old.actor_id = redact))
         and (new.subject_user_id is not distinct from old.subject_user_id
              or (new.subject_user_id is null and old.subject_user_id = redact))
         and (new.target_id is not distinct from old.target_id
              or (new.target_id is null and old.target_id = redact)) then
        return new;
      end if;
    elsif tg_table_name = 'audit_log_origins' and tg_op = 'DELETE' then
      if old.actor_id = redact then
        return old;
      end if;
    end if;
  end if;
  if tg_level = 'ROW' and tg_op = 'DELETE' and cutoff is not null then
    if old.occurred_at < cutoff and old.occurred_at < now() - interval '30 days' then
      return old;
    end if;
  end if;
  raise exception '% is append-only', tg_table_name using errcode = '42501';
end;
$$;

revoke all on function private.forbid_audit_changes() from public;

-- Definer: platform admins read every entry, which no table policy grants;
-- the function checks the caller is one.
create function private.list_audit_logs(before_id bigint, max_rows integer) returns setof public.audit_logs
    language plpgsql stable security definer
    set search_path to ''
    as $$
begin
  if not private.authorize('admin') then
    raise exception 'only platform admins read the whole audit trail' using errcode = '42501';
  end if;
  if not private.mfa_satisfied() then
    raise exception 'the audit trail needs your second factor (aal2)' using errcode = '42501',
      hint = 'verify your TOTP factor (mfa.challengeAndVerify), then retry';
  end if;
  if max_rows is null or max_rows not between 1 and 1000 then
    raise exception 'max_rows must be between 1 and 1000' using errcode = '22023';
  end if;
  return query
    select a.* from public.audit_logs a
     where before_id is null or a.id < before_id
     order by a.id desc
     limit max_rows;
end;
$$;

revoke all on function private.list_audit_logs(before_id bigint, max_rows integer) from public;
grant all on function private.list_audit_logs(before_id bigint, max_rows integer) to authenticated;

create function public.list_audit_logs(before_id bigint default null::bigint, max_rows integer default 100) returns setof public.audit_logs
    language sql stable
    set search_path to ''
    as $$
  select * from private.list_audit_logs(before_id, max_rows)
$$;

comment on function public.list_audit_logs(before_id bigint, max_rows integer) is 'The whole audit trail, newest first (platform admins); page with before_id = the last id seen.';

revoke all on function public.list_audit_logs(before_id bigint, max_rows integer) from public;
grant all on function public.list_audit_logs(before_id bigint, max_rows integer) to authenticated;
grant all on function public.list_audit_logs(before_id bigint, max_rows integer) to service_role;

create function private.delete_archived_audit_logs(through_id bigint, older_than timestamptz) returns bigint
    language plpgsql security definer
    set search_path to ''
    as $$
declare
  n bigint;
begin
  if older_than is null or older_than > now() - interval '30 days' then
    raise exception 'audit entries are kept at least 30 days' using errcode = '22023';
  end if;
  perform set_config('collab.audit_retention_cutoff', older_than::text, true);
  delete from public.audit_log_origins o where o.audit_log_id <= through_id and o.occurred_at < older_than;
  delete from public.audit_logs a where a.id <= through_id and a.occurred_at < older_than;
  get diagnostics n = row_count;
  perform set_config('collab.audit_retention_cutoff', '', true);
  return n;
end;
$$;

revoke all on function private.delete_archived_audit_logs(through_id bigint, older_than timestamptz) from public;
grant all on function private.delete_archived_audit_logs(through_id bigint, older_than timestamptz) to service_role;

create function public.delete_archived_audit_logs(through_id bigint, older_than timestamptz) returns bigint
    language sql
    set search_path to ''
    as $$
  select private.delete_archived_audit_logs(through_id, older_than)
$$;

comment on function public.delete_archived_audit_logs(through_id bigint, older_than timestamptz) is 'Audit retention (service role): deletes entries already archived to S3.';

revoke all on function public.delete_archived_audit_logs(through_id bigint, older_than timestamptz) from authenticated;
revoke all on function public.delete_archived_audit_logs(through_id bigint, older_than timestamptz) from public;
grant all on function public.delete_archived_audit_logs(through_id bigint, older_than timestamptz) to service_role;

-- Definer: the person's entries keep the action, lose the person: their id as
-- actor, subject or target, and where they acted from (IP, user agent).
create function private.redact_person_from_audit(user_id uuid) returns bigint
    language plpgsql security definer
    set search_path to ''
    as $$
declare
  person uuid := redact_person_from_audit.user_id;
  n bigint;
begin
  perform set_config('collab.audit_redact', person::text, true);
  update public.audit_logs a
     set actor_id = case when a.actor_id = person then null else a.actor_id end,
         subject_user_id = case when a.subject_user_id = person then null else a.subject_user_id end,
         target_id = case when a.target_id = person then null else a.target_id end
   where a.actor_id = person or a.subject_user_id = person or a.target_id = person;
  get diagnostics n = row_count;
  delete from public.audit_log_origins o where o.actor_id = person;
  perform set_config('collab.audit_redact', '', true);
  return n;
end;
$$;

revoke all on function private.redact_person_from_audit(user_id uuid) from public;
grant all on function private.redact_person_from_audit(user_id uuid) to service_role;

-- ======================================================================================
-- triggers
-- ======================================================================================

create trigger activity_events_audit after insert or delete or update on public.activity_events for each row execute function private.audit();

create trigger audit_log_origins_append_only before delete or update on public.audit_log_origins for each row execute function private.forbid_audit_changes();

create trigger audit_log_origins_no_truncate before truncate on public.audit_log_origins for each statement execute function private.forbid_audit_changes();

create trigger audit_logs_append_only before delete or update on public.audit_logs for each row execute function private.forbid_audit_changes();

create trigger audit_logs_no_truncate before truncate on public.audit_logs for each statement execute function private.forbid_audit_changes();

create trigger calendar_event_attendees_audit after insert or delete or update on public.calendar_event_attendees for each row execute function private.audit();

create trigger asset_jobs_audit after insert or delete or update on public.asset_jobs for each row execute function private.audit();

create trigger calendar_events_audit after insert or delete or update on public.calendar_events for each row execute function private.audit();

create trigger conversation_members_audit after insert or delete or update on public.conversation_members for each row execute function private.audit();

create trigger conversations_audit after insert or delete or update on public.conversations for each row execute function private.audit();

create trigger dashboards_audit after insert or delete or update on public.dashboards for each row execute function private.audit();

create trigger document_jobs_audit after insert or delete or update on public.document_jobs for each row execute function private.audit();

create trigger document_versions_audit after insert or delete or update on public.document_versions for each row execute function private.audit();

create trigger documents_audit after insert or delete or update on public.documents for each row execute function private.audit();

create trigger files_audit after insert or delete or update on public.files for each row execute function private.audit();

create trigger integrations_audit after insert or delete or update on public.integrations for each row execute function private.audit();

create trigger message_attachments_audit after insert or delete or update on public.message_attachments for each row execute function private.audit();

create trigger messages_audit after insert or delete or update on public.messages for each row execute function private.audit();

create trigger profiles_audit after insert or delete or update on public.profiles for each row execute function private.audit();

create trigger project_invitations_audit after insert or delete or update on public.project_invitations for each row execute function private.audit();

create trigger project_members_audit after insert or delete or update on public.project_members for each row execute function private.audit();

create trigger projects_audit after insert or delete or update on public.projects for each row execute function private.audit();

create trigger tasks_audit after insert or delete or update on public.tasks for each row execute function private.audit();

create trigger user_roles_audit after insert or delete or update on public.user_roles for each row execute function private.audit();
