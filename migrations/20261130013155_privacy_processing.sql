-- =============================================================================
-- Privacy processing: the export and erasure jobs (functions/privacy)
--
--   1. privacy_requests as a job: attempts, dispatched_at, started_at (the
--      service role's; clients cannot set them), and an erasure needs an
--      access token issued in the last 10 minutes
--   2. the person catalog: every column that refers to a person, derived from
--      the foreign keys to auth.users / profiles (followed through composite
--      keys such as tasks.assignee_id -> project_members.user_id), plus the
--      columns listed here that hold a person without a key (audit trail,
--      rate limits); the export and the erasure are both driven by it
--   3. export pages: the rows of one table about one person, keyset-paged by
--      the primary key, as JSON (service role)
--   4. erasure: private.erase_person(user_id) hands owned projects to the
--      longest-standing admin (else deletes them), deletes the person's
--      messages, scrubs them from other people's notifications and returns the
--      S3 objects to delete; delete_auth_user() is the local stand-in for
--      DELETE /auth/v1/admin/users/{id}; redact_person_from_audit() strips the
--      person from the audit trail afterwards
--   5. audit trail: redaction and retention are the only changes the
--      append-only trigger lets through, and only from these functions
-- =============================================================================

-- -----------------------------------------------------------------------------
-- 1. privacy_requests as a job
-- -----------------------------------------------------------------------------
alter table public.privacy_requests
  add column attempts integer not null default 0,
  add column dispatched_at timestamptz,
  add column started_at timestamptz,
  add constraint privacy_requests_attempts_not_negative check (attempts >= 0);

-- the dispatcher's scan: open requests, oldest first
create index privacy_requests_open_idx on public.privacy_requests (status, created_at)
  where status in ('pending', 'processing');

-- The job columns are the service role's. An erasure filed by a client needs an
-- access token issued in the last 10 minutes (the function checks it too and
-- answers 403 reauthentication_required; this keeps a direct insert honest).
create function private.privacy_request_job_guard()
returns trigger
language plpgsql
set search_path = ''
as $$
declare
  issued_at text;
begin
  if current_user not in ('anon', 'authenticated') then
    return new;
  end if;
  new.attempts := 0;
  new.dispatched_at := null;
  new.started_at := null;
  if new.kind = 'erasure' then
    issued_at := (select auth.jwt()) ->> 'iat';
    if issued_at is null or issued_at !~ '^[0-9]{1,12}(\.[0-9]+)?$'
       or to_timestamp(issued_at::double precision) < now() - interval '10 minutes' then
      raise exception 'reauthentication_required: an erasure needs an access token issued in the last 10 minutes'
        using errcode = '42501', hint = 'sign in again, then ask for the erasure';
    end if;
  end if;
  return new;
end;
$$;
revoke all on function private.privacy_request_job_guard() from public;

create trigger privacy_requests_job_guard
  before insert on public.privacy_requests
  for each row execute function private.privacy_request_job_guard();

-- -----------------------------------------------------------------------------
-- 2. the person catalog
-- -----------------------------------------------------------------------------

-- Columns that hold a person's id without a foreign key (entries outlive people
-- on purpose). Anything else that refers to a person must have a foreign key;
-- tests/functions/test_privacy_catalog.py fails on a uuid column that is
-- neither.
create function private.person_columns_without_key()
returns table (table_schema text, table_name text, column_name text)
language sql
immutable
set search_path = ''
as $$
  values ('public', 'audit_logs', 'actor_id'),
         ('public', 'audit_logs', 'subject_user_id'),
         ('public', 'audit_logs', 'target_id'),
         ('private', 'rate_limits', 'user_id'),
         ('private', 'erasure_subjects', 'user_id')
$$;

-- Every column (any schema but pg_catalog) that refers to a person: the key of
-- auth.users, every column with a foreign key to a person column (recursively),
-- and the listed ones. how = 'key' | 'foreign key' | 'listed'.
create function private.person_columns()
returns table (table_schema text, table_name text, column_name text, how text)
language sql
stable
security definer
set search_path = ''
as $$
  with recursive fk_pairs as (
    select c.conrelid as relid, a.attname::text collate "default" as col, c.confrelid as frelid,
           fa.attname::text collate "default" as fcol
      from pg_catalog.pg_constraint c
      cross join lateral unnest(c.conkey, c.confkey) as k (attnum, fattnum)
      join pg_catalog.pg_attribute a on a.attrelid = c.conrelid and a.attnum = k.attnum
      join pg_catalog.pg_attribute fa on fa.attrelid = c.confrelid and fa.attnum = k.fattnum
     where c.contype = 'f'
  ), person (relid, col, how) as (
    select 'auth.users'::regclass::oid, 'id'::text, 'key'::text
    union
    select f.relid, f.col, 'foreign key'
      from fk_pairs f
      join person p on p.relid = f.frelid and p.col = f.fcol
  )
  select n.nspname::text, c.relname::text, p.col, min(p.how)
    from person p
    join pg_catalog.pg_class c on c.oid = p.relid
    join pg_catalog.pg_namespace n on n.oid = c.relnamespace
   group by 1, 2, 3
  union
  select l.table_schema, l.table_name, l.column_name, 'listed'
    from private.person_columns_without_key() l
$$;

-- What the export reads: the exposed tables (schema public) with a person column,
-- plus auth.users (the sign-in email). Secrets are never exported: token
-- material and OAuth state live in private; auth.users gives only the columns
-- named here; tsvector columns (search indexes) are left out.
create function private.person_export_tables()
returns table (
  table_schema text, table_name text, person_columns text[], key_columns text[], exported_columns text[]
)
language sql
stable
security definer
set search_path = ''
as $$
  with cols as (
    select pc.table_schema, pc.table_name, array_agg(pc.column_name order by pc.column_name) as person_columns
      from private.person_columns() pc
     where pc.table_schema = 'public' or (pc.table_schema = 'auth' and pc.table_name = 'users')
     group by 1, 2
  )
  select cols.table_schema, cols.table_name, cols.person_columns,
         (select array_agg(a.attname::text order by k.ord)
            from pg_catalog.pg_index i
            cross join lateral unnest(i.indkey) with ordinality as k (attnum, ord)
            join pg_catalog.pg_attribute a on a.attrelid = i.indrelid and a.attnum = k.attnum
           where i.indrelid = format('%I.%I', cols.table_schema, cols.table_name)::regclass
             and i.indisprimary),
         (select array_agg(a.attname::text order by a.attnum)
            from pg_catalog.pg_attribute a
           where a.attrelid = format('%I.%I', cols.table_schema, cols.table_name)::regclass
             and a.attnum > 0 and not a.attisdropped
             and a.atttypid <> 'pg_catalog.tsvector'::regtype
             and (cols.table_schema <> 'auth' or a.attname in (
               'id', 'email', 'phone', 'created_at', 'updated_at', 'last_sign_in_at',
               'email_confirmed_at', 'phone_confirmed_at', 'raw_user_meta_data', 'raw_app_meta_data')))
    from cols
   order by 1, 2
$$;

create function public.privacy_export_tables()
returns table (
  table_schema text, table_name text, person_columns text[], key_columns text[], exported_columns text[]
)
language sql
stable
security invoker
set search_path = ''
as $$
  select * from private.person_export_tables()
$$;
comment on function public.privacy_export_tables() is
  'The tables a privacy export reads, with the columns that refer to the person (service role).';

-- -----------------------------------------------------------------------------
-- 3. export pages
-- -----------------------------------------------------------------------------

-- Definer: reads rows about one person across RLS (and auth.users); service
-- role only. One page: rows where any person column is the person, ordered by
-- the primary key, after after_key (the last key of the previous page).
create function private.privacy_export_page(
  user_id uuid, table_schema text, table_name text, after_key jsonb, page_size integer
)
returns jsonb
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  t record;
  filter text;
  keyset text := 'true';
  key_order text;
  key_order_desc text;
  key_object text;
  excluded text[];
  result jsonb;
begin
  if page_size is null or page_size < 1 or page_size > 5000 then
    raise exception 'page_size must be between 1 and 5000' using errcode = '22023';
  end if;
  select * into t from private.person_export_tables() e
   where e.table_schema = privacy_export_page.table_schema and e.table_name = privacy_export_page.table_name;
  if not found then
    raise exception '%.% is not a table the export reads', table_schema, table_name using errcode = '22023';
  end if;
  if t.key_columns is null then
    raise exception '%.% has no primary key to page by', table_schema, table_name using errcode = '22023';
  end if;
  select string_agg(format('t.%I = $1', c), ' or ') into filter from unnest(t.person_columns) c;
  select string_agg(format('t.%I', c), ', '),
         string_agg(format('t.%I desc', c), ', '),
         string_agg(format('%L, t.%I', c, c), ', ')
    into key_order, key_order_desc, key_object
    from unnest(t.key_columns) c;
  if after_key is not null then
    select format('(%s) > (%s)', key_order,
                  string_agg(format('($2 ->> %L)::%s', c, format_type(a.atttypid, a.atttypmod)), ', ' order by k.ord))
      into keyset
      from unnest(t.key_columns) with ordinality k (c, ord)
      join pg_catalog.pg_attribute a
        on a.attrelid = format('%I.%I', t.table_schema, t.table_name)::regclass and a.attname = k.c;
  end if;
  select coalesce(array_agg(a.attname::text), '{}') into excluded
    from pg_catalog.pg_attribute a
   where a.attrelid = format('%I.%I', t.table_schema, t.table_name)::regclass
     and a.attnum > 0 and not a.attisdropped and a.attname <> all (t.exported_columns);
  execute format(
    'with page as (
       select to_jsonb(t) - $4 as row_data, jsonb_build_object(%s) as row_key, %s
         from %I.%I t
        where (%s) and %s
        order by %s
        limit $3
     )
     select jsonb_build_object(
       ''rows'', coalesce(jsonb_agg(p.row_data order by %s), ''[]''::jsonb),
       ''last_key'', (array_agg(p.row_key order by %s))[1]
     ) from page p',
    key_object, key_order, t.table_schema, t.table_name, filter, keyset, key_order,
    replace(key_order, 't.', 'p.'), replace(key_order_desc, 't.', 'p.')
  ) into result using privacy_export_page.user_id, after_key, page_size, excluded;
  return result;
end;
$$;

create function public.privacy_export_page(
  user_id uuid, table_schema text, table_name text, after_key jsonb default null, page_size integer default 500
)
returns jsonb
language sql
stable
security invoker
set search_path = ''
as $$
  select private.privacy_export_page(user_id, table_schema, table_name, after_key, page_size)
$$;
comment on function public.privacy_export_page(uuid, text, text, jsonb, integer) is
  'One keyset page of the rows of a table about a person: {rows, last_key} (service role: the export job).';

-- -----------------------------------------------------------------------------
-- 4. erasure
-- -----------------------------------------------------------------------------

-- While an erasure runs, the person's id and email wait here: deleting the auth
-- user empties privacy_requests.user_id, and a retried job still needs them to
-- finish (the audit trail is redacted last). finish_erasure() deletes the row.
create table private.erasure_subjects (
  request_id uuid primary key references public.privacy_requests (id) on delete cascade,
  user_id uuid not null,
  email text,
  created_at timestamptz not null default now()
);
comment on table private.erasure_subjects is
  'The person an erasure in progress is about; deleted when the erasure finishes.';
revoke all on private.erasure_subjects from public, anon, authenticated;
-- as every private table (policies/private.sql)
alter table private.erasure_subjects enable row level security;
create policy "clients never touch erasure subjects"
  on private.erasure_subjects as restrictive for all to anon, authenticated
  using (false) with check (false);

-- Definer: the person an erasure request is about, remembered for its retries;
-- no row when there is nothing left to do (finished, or the person is gone).
create function private.begin_erasure(request_id uuid)
returns table (user_id uuid, email text)
language plpgsql
security definer
set search_path = ''
as $$
begin
  insert into private.erasure_subjects (request_id, user_id, email)
  select r.id, r.user_id, u.email
    from public.privacy_requests r
    left join auth.users u on u.id = r.user_id
   where r.id = begin_erasure.request_id and r.kind = 'erasure' and r.user_id is not null
  on conflict on constraint erasure_subjects_pkey do nothing;
  return query select s.user_id, s.email from private.erasure_subjects s
                where s.request_id = begin_erasure.request_id;
end;
$$;

-- Definer: changes other people's projects and notifications. Idempotent: a
-- second run finds nothing left to do. Returns the file objects whose rows it
-- removed (or that deleting the auth user will remove), for the worker to
-- delete from S3.
create function private.erase_person(user_id uuid, email text)
returns table (bucket text, object_key text)
language plpgsql
security definer
set search_path = ''
as $$
declare
  person uuid := erase_person.user_id;
  owned record;
  heir uuid;
begin
  -- projects they own: the longest-standing admin takes over, else the project goes
  for owned in select p.id from public.projects p where p.owner_id = person order by p.id for update loop
    select pm.user_id into heir
      from public.project_members pm
     where pm.project_id = owned.id and pm.user_id <> person and pm.role = 'admin'
     order by pm.created_at, pm.id
     limit 1;
    if heir is null then
      return query select f.bucket, f.object_key from public.files f where f.project_id = owned.id;
      -- a soft delete first, then the real one (the trigger hard-deletes what is already deleted)
      delete from public.projects p where p.id = owned.id;
      delete from public.projects p where p.id = owned.id;
    else
      update public.project_members pm set role = 'owner'
       where pm.project_id = owned.id and pm.user_id = heir;
      update public.projects p set owner_id = heir where p.id = owned.id;
      update public.project_members pm set role = 'admin'
       where pm.project_id = owned.id and pm.user_id = person;
    end if;
  end loop;

  -- their files go with the auth user (files.uploaded_by cascades); their objects with them
  return query select f.bucket, f.object_key from public.files f where f.uploaded_by = person;

  -- their messages are deleted, not anonymised (soft first: the trigger then lets the delete through)
  update public.messages m set deleted_at = coalesce(m.deleted_at, now()) where m.author_id = person;
  delete from public.messages m where m.author_id = person;

  -- other people's notifications: those quoting their messages go; ids of them become null
  delete from public.notifications n
   where n.type = 'message' and n.payload ->> 'author_id' = person::text;
  update public.notifications n
     set payload = (select jsonb_object_agg(e.key, case when e.value = to_jsonb(person::text)
                                                        then 'null'::jsonb else e.value end)
                      from jsonb_each(n.payload) e)
   where n.user_id <> person
     and jsonb_path_exists(n.payload, '$.* ? (@ == $id)', jsonb_build_object('id', person::text));

  -- the name an outside source gave, when it is their address
  if erase_person.email is not null then
    update public.activity_events a set actor = null where lower(a.actor) = lower(erase_person.email);
  end if;

  -- direct conversations are keyed by the pair's ids; the other person keeps theirs
  update public.conversations c set direct_key = 'erased:' || c.id::text
   where c.kind = 'direct' and strpos(c.direct_key, person::text) > 0;

  -- their export archives are deleted by the job; the requests keep no pointer to them
  update public.privacy_requests r set result_location = null
   where r.user_id = person and r.result_location is not null;

  delete from private.rate_limits r where r.user_id = person;
end;
$$;

-- Definer: the local stand-in for Auth's DELETE /auth/v1/admin/users/{id}
-- (the worker calls the admin API instead when PRIVACY_AUTH_ADMIN_URL is set).
-- Deleting the auth user cascades to the profile and everything keyed to it.
-- Returns whether a row was deleted (false: already gone).
create function private.delete_auth_user(user_id uuid)
returns boolean
language plpgsql
security definer
set search_path = ''
as $$
declare
  n integer;
begin
  delete from auth.users u where u.id = delete_auth_user.user_id;
  get diagnostics n = row_count;
  return n > 0;
end;
$$;

-- Definer: the last step, after the auth user is gone (its deletion writes audit
-- entries about the person): strip them from the audit trail, forget them.
-- Returns the audit entries changed; null when there was nothing to finish.
create function private.finish_erasure(request_id uuid)
returns bigint
language plpgsql
security definer
set search_path = ''
as $$
declare
  subject record;
  n bigint;
begin
  select s.user_id, s.email into subject from private.erasure_subjects s
   where s.request_id = finish_erasure.request_id;
  if not found then
    return null;
  end if;
  if exists (select 1 from auth.users u where u.id = subject.user_id) then
    raise exception 'the auth user still exists; delete it first' using errcode = '55000';
  end if;
  n := private.redact_person_from_audit(subject.user_id);
  delete from private.erasure_subjects s where s.request_id = finish_erasure.request_id;
  return n;
end;
$$;

-- Exposed wrappers for the erasure job (service role only)
create function public.begin_erasure(request_id uuid)
returns table (user_id uuid, email text)
language sql
security invoker
set search_path = ''
as $$
  select * from private.begin_erasure(request_id)
$$;
comment on function public.begin_erasure(uuid) is
  'Erasure job, step 1 (service role): the person the request is about; no row when nothing is left to do.';

create function public.erase_person(user_id uuid, email text)
returns table (bucket text, object_key text)
language sql
security invoker
set search_path = ''
as $$
  select * from private.erase_person(user_id, email)
$$;
comment on function public.erase_person(uuid, text) is
  'Erasure job, step 2 (service role): hands on or deletes owned projects, deletes messages, scrubs '
  'notifications; returns the S3 objects to delete.';

create function public.delete_auth_user(user_id uuid)
returns boolean
language sql
security invoker
set search_path = ''
as $$
  select private.delete_auth_user(user_id)
$$;
comment on function public.delete_auth_user(uuid) is
  'Erasure job, step 3 without the Auth admin API (service role): deletes the auth user.';

create function public.finish_erasure(request_id uuid)
returns bigint
language sql
security invoker
set search_path = ''
as $$
  select private.finish_erasure(request_id)
$$;
comment on function public.finish_erasure(uuid) is
  'Erasure job, last step (service role): strips the person from the audit trail.';

-- -----------------------------------------------------------------------------
-- 5. audit trail: redaction and retention
-- -----------------------------------------------------------------------------

-- The append-only trigger, as before, except for two changes made only by the
-- functions below (they set the transaction-local settings it checks; no
-- client, and not the service role, holds update or delete on audit_logs):
--   * collab.audit_redact = <uuid>: actor_id, subject_user_id, target_id
--     equal to that person, and ip/user_agent, may become null; nothing else
--   * collab.audit_retention_cutoff = <timestamptz>: entries older than it
--     (and than 30 days) may be deleted
create or replace function private.forbid_audit_changes()
returns trigger
language plpgsql
set search_path = ''
as $$
declare
  redact text := nullif(current_setting('collab.audit_redact', true), '');
  cutoff text := nullif(current_setting('collab.audit_retention_cutoff', true), '');
  stripped text[] := array['actor_id', 'subject_user_id', 'target_id', 'ip', 'user_agent'];
begin
  if tg_op = 'UPDATE' and redact is not null
     and (to_jsonb(new) - stripped) = (to_jsonb(old) - stripped)
     and (new.actor_id is not distinct from old.actor_id or (new.actor_id is null and old.actor_id = redact::uuid))
     and (new.subject_user_id is not distinct from old.subject_user_id
          or (new.subject_user_id is null and old.subject_user_id = redact::uuid))
     and (new.target_id is not distinct from old.target_id or (new.target_id is null and old.target_id = redact::uuid))
     and (new.ip is not distinct from old.ip or new.ip is null)
     and (new.user_agent is not distinct from old.user_agent or new.user_agent is null) then
    return new;
  end if;
  if tg_op = 'DELETE' and cutoff is not null
     and old.occurred_at < cutoff::timestamptz
     and old.occurred_at < now() - interval '30 days' then
    return old;
  end if;
  raise exception 'audit_logs is append-only' using errcode = '42501';
end;
$$;

-- Definer: the person's entries keep the action, lose the person: their id as
-- actor, subject or target, and the IP and user agent of what they did.
create function private.redact_person_from_audit(user_id uuid)
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
         target_id = case when a.target_id = person then null else a.target_id end,
         ip = case when a.actor_id = person then null else a.ip end,
         user_agent = case when a.actor_id = person then null else a.user_agent end
   where a.actor_id = person or a.subject_user_id = person or a.target_id = person;
  get diagnostics n = row_count;
  perform set_config('collab.audit_redact', '', true);
  return n;
end;
$$;

-- Definer: deletes audit entries the retention job has archived (ids up to
-- through_id and older than the cutoff, which must be at least 30 days ago).
create function private.delete_archived_audit_logs(through_id bigint, older_than timestamptz)
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
  delete from public.audit_logs a where a.id <= through_id and a.occurred_at < older_than;
  get diagnostics n = row_count;
  perform set_config('collab.audit_retention_cutoff', '', true);
  return n;
end;
$$;

create function public.delete_archived_audit_logs(through_id bigint, older_than timestamptz)
returns bigint
language sql
security invoker
set search_path = ''
as $$
  select private.delete_archived_audit_logs(through_id, older_than)
$$;
comment on function public.delete_archived_audit_logs(bigint, timestamptz) is
  'Audit retention (service role): deletes entries already archived to S3.';

-- -----------------------------------------------------------------------------
-- 6. the person hears when their export is ready (or failed)
-- -----------------------------------------------------------------------------
create function private.notify_privacy_request_done()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  if new.status is distinct from old.status and new.status in ('completed', 'failed')
     and new.user_id is not null then
    insert into public.notifications (user_id, type, payload)
    values (new.user_id, 'privacy_request',
            jsonb_build_object('request_id', new.id, 'kind', new.kind, 'status', new.status,
                               'expires_at', new.expires_at));
  end if;
  return null;
end;
$$;
revoke all on function private.notify_privacy_request_done() from public;

create trigger privacy_requests_notify_done
  after update of status on public.privacy_requests
  for each row execute function private.notify_privacy_request_done();

-- -----------------------------------------------------------------------------
-- 7. the earlier one-shot RPCs
-- -----------------------------------------------------------------------------
-- export_user_data built the whole export as one JSON value in memory, from a
-- hand-kept list of tables; the export job pages through privacy_export_page.
drop function public.export_user_data(uuid);
drop function private.export_user_data(uuid);

-- erase_user(user_id): the database side of an erasure in one transaction
-- (operators, tests): the same steps as the job, without S3 and the Auth API.
create or replace function private.erase_user(user_id uuid)
returns void
language plpgsql
security definer
set search_path = ''
as $$
begin
  perform private.erase_person(erase_user.user_id,
                               (select u.email from auth.users u where u.id = erase_user.user_id));
  perform private.delete_auth_user(erase_user.user_id);
  perform private.redact_person_from_audit(erase_user.user_id);
end;
$$;
comment on function public.erase_user(uuid) is
  'GDPR erasure of the database side in one transaction (service role): owned projects to the '
  'longest-standing admin or deleted, the person and their rows deleted, the audit trail redacted. '
  'S3 objects are not touched: the privacy erasure job does that.';

-- -----------------------------------------------------------------------------
-- grants: every function above is the service role's alone
-- -----------------------------------------------------------------------------
revoke all on function
  private.person_columns_without_key(), private.person_columns(), private.person_export_tables(),
  private.privacy_export_page(uuid, text, text, jsonb, integer), private.begin_erasure(uuid),
  private.erase_person(uuid, text), private.delete_auth_user(uuid), private.finish_erasure(uuid),
  private.redact_person_from_audit(uuid), private.delete_archived_audit_logs(bigint, timestamptz)
  from public, anon, authenticated;
grant execute on function
  private.person_columns_without_key(), private.person_columns(), private.person_export_tables(),
  private.privacy_export_page(uuid, text, text, jsonb, integer), private.begin_erasure(uuid),
  private.erase_person(uuid, text), private.delete_auth_user(uuid), private.finish_erasure(uuid),
  private.redact_person_from_audit(uuid), private.delete_archived_audit_logs(bigint, timestamptz)
  to service_role;
revoke all on function
  public.privacy_export_tables(), public.privacy_export_page(uuid, text, text, jsonb, integer),
  public.begin_erasure(uuid), public.erase_person(uuid, text), public.delete_auth_user(uuid),
  public.finish_erasure(uuid), public.delete_archived_audit_logs(bigint, timestamptz)
  from public, anon, authenticated;
grant execute on function
  public.privacy_export_tables(), public.privacy_export_page(uuid, text, text, jsonb, integer),
  public.begin_erasure(uuid), public.erase_person(uuid, text), public.delete_auth_user(uuid),
  public.finish_erasure(uuid), public.delete_archived_audit_logs(bigint, timestamptz)
  to service_role;
