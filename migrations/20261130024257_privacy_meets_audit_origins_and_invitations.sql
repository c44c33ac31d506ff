-- =============================================================================
-- Privacy processing (20261130013155) meets the audit origins and invitations
-- (20261130013300, 20261130013500), made on parallel branches:
--   1. the audit trail's IP and user agent now live in audit_log_origins: the
--      append-only trigger lets an erasure delete the person's origins and the
--      retention job delete archived ones; nothing else changes either table
--   2. redact_person_from_audit() and delete_archived_audit_logs() handle both
--      tables
--   3. the person catalog knows the id columns that have no foreign key on
--      purpose: audit_log_origins.actor_id, project_invitations.invitee_id
--   4. the single-JSON export is gone (the paged export replaced it);
--      20261130021600 had redefined it after its removal
-- =============================================================================

-- 1. ---------------------------------------------------------------------------
create or replace function private.forbid_audit_changes()
returns trigger
language plpgsql
set search_path = ''
as $$
declare
  redact uuid := nullif(current_setting('collab.audit_redact', true), '')::uuid;
  cutoff timestamptz := nullif(current_setting('collab.audit_retention_cutoff', true), '')::timestamptz;
  ids text[] := array['actor_id', 'subject_user_id', 'target_id'];
begin
  if tg_table_name = 'audit_logs' and tg_op = 'UPDATE' and redact is not null
     and (to_jsonb(new) - ids) = (to_jsonb(old) - ids)
     and (new.actor_id is not distinct from old.actor_id or (new.actor_id is null and old.actor_id = redact))
     and (new.subject_user_id is not distinct from old.subject_user_id
          or (new.subject_user_id is null and old.subject_user_id = redact))
     and (new.target_id is not distinct from old.target_id or (new.target_id is null and old.target_id = redact)) then
    return new;
  end if;
  if tg_table_name = 'audit_log_origins' and tg_op = 'DELETE' and redact is not null
     and old.actor_id = redact then
    return old;
  end if;
  if tg_op = 'DELETE' and cutoff is not null
     and old.occurred_at < cutoff
     and old.occurred_at < now() - interval '30 days' then
    return old;
  end if;
  raise exception '% is append-only', tg_table_name using errcode = '42501';
end;
$$;

-- 2. ---------------------------------------------------------------------------
-- Definer: the person's entries keep the action, lose the person: their id as
-- actor, subject or target, and where they acted from (IP, user agent).
create or replace function private.redact_person_from_audit(user_id uuid)
returns bigint
language plpgsql
security definer
set search_path = ''
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

create or replace function private.delete_archived_audit_logs(through_id bigint, older_than timestamptz)
returns bigint
language plpgsql
security definer
set search_path = ''
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

-- 3. ---------------------------------------------------------------------------
create or replace function private.person_columns_without_key()
returns table (table_schema text, table_name text, column_name text)
language sql
immutable
set search_path = ''
as $$
  values ('public', 'audit_logs', 'actor_id'),
         ('public', 'audit_logs', 'subject_user_id'),
         ('public', 'audit_logs', 'target_id'),
         -- the actor of the entry, kept without a key like audit_logs.actor_id
         ('public', 'audit_log_origins', 'actor_id'),
         -- an invited id is stored unchecked, so an inviter cannot probe which ids exist
         ('public', 'project_invitations', 'invitee_id'),
         ('private', 'rate_limits', 'user_id'),
         ('private', 'erasure_subjects', 'user_id')
$$;

-- 4. ---------------------------------------------------------------------------
drop function if exists private.export_user_data(uuid);
drop function if exists public.export_user_data(uuid);
