-- Privacy: export, erasure, soft-delete restore and purge
--
-- The declared source of this domain's tables, helpers, triggers and grants; its policies are
-- in policies/privacy.sql. Edit here, then `make migration NAME=...` writes the migration.

-- SQL function bodies may name objects declared further down or in a later file.
set check_function_bodies = false;

-- ======================================================================================
-- types
-- ======================================================================================

create type public.privacy_request_kind as enum (
    'export',
    'erasure'
);

-- PostgREST's media type handler for raw text (PostgREST 12): a function returning this domain
-- answers `Accept: text/plain` with its value as the body, unescaped (the export's batches)
create domain public."text/plain" as text;

comment on domain public."text/plain" is 'Raw text bodies for PostgREST (Accept: text/plain), e.g. rpc/privacy_export_batch.';

create type public.privacy_request_status as enum (
    'pending',
    'processing',
    'completed',
    'failed',
    'cancelled'
);

-- ======================================================================================
-- public.privacy_requests
-- ======================================================================================

create table public.privacy_requests (
    id uuid default gen_random_uuid() not null,
    user_id uuid default auth.uid(),
    kind public.privacy_request_kind not null,
    status public.privacy_request_status default 'pending'::public.privacy_request_status not null,
    result_location text,
    error text,
    requested_at timestamptz default now() not null,
    completed_at timestamptz,
    expires_at timestamptz,
    created_at timestamptz default now() not null,
    updated_at timestamptz default now() not null,
    attempts integer default 0 not null,
    dispatched_at timestamptz,
    started_at timestamptz,
    constraint privacy_requests_attempts_not_negative check ((attempts >= 0)),
    constraint privacy_requests_completed_when_done check (((status = any (array['completed'::public.privacy_request_status, 'failed'::public.privacy_request_status])) = (completed_at is not null))),
    constraint privacy_requests_error_length check ((char_length(error) <= 2000)),
    constraint privacy_requests_result_location_length check ((char_length(result_location) <= 2048)),
    constraint privacy_requests_result_only_for_exports check (((result_location is null) or (kind = 'export'::public.privacy_request_kind)))
);

alter table only public.privacy_requests
    add constraint privacy_requests_pkey primary key (id);

create unique index privacy_requests_one_open_per_kind on public.privacy_requests using btree (user_id, kind) where (status = any (array['pending'::public.privacy_request_status, 'processing'::public.privacy_request_status]));

create index privacy_requests_open_idx on public.privacy_requests using btree (status, created_at) where (status = any (array['pending'::public.privacy_request_status, 'processing'::public.privacy_request_status]));

create index privacy_requests_user_id_idx on public.privacy_requests using btree (user_id, requested_at desc);

revoke all on table public.privacy_requests from anon, authenticated;
grant select,insert on table public.privacy_requests to anon;
grant select,insert on table public.privacy_requests to authenticated;
grant all on table public.privacy_requests to service_role;

-- ======================================================================================
-- private.erasure_subjects
-- ======================================================================================

-- While an erasure runs, the person's id and email wait here: deleting the auth
-- user empties privacy_requests.user_id, and a retried job still needs them to
-- finish (the audit trail is redacted last). finish_erasure() deletes the row.
create table private.erasure_subjects (
    request_id uuid not null,
    user_id uuid not null,
    email text,
    created_at timestamptz default now() not null
);

alter table only private.erasure_subjects
    add constraint erasure_subjects_pkey primary key (request_id);

comment on table private.erasure_subjects is 'The person an erasure in progress is about; deleted when the erasure finishes.';

create index erasure_subjects_user_id_idx on private.erasure_subjects using btree (user_id);

-- ======================================================================================
-- foreign keys
-- ======================================================================================

alter table only private.erasure_subjects
    add constraint erasure_subjects_request_id_fkey foreign key (request_id) references public.privacy_requests(id) on delete cascade;

alter table only public.privacy_requests
    add constraint privacy_requests_user_id_fkey foreign key (user_id) references public.profiles(id) on delete set null;

-- ======================================================================================
-- functions
-- ======================================================================================

-- Definer: true when a token's account is gone (deleted, soft-deleted by Auth) or its
-- erasure has begun. PostgREST's db-pre-request hook, the functions' rate-limit step and the
-- local Realtime server refuse such a token at once, though it has not expired.
create function private.account_is_gone(user_id uuid) returns boolean
    language sql stable security definer
    set search_path to ''
    as $$
  select not exists (select 1 from auth.users u
                      where u.id = account_is_gone.user_id and u.deleted_at is null)
      or exists (select 1 from private.erasure_subjects s where s.user_id = account_is_gone.user_id)
$$;

revoke all on function private.account_is_gone(user_id uuid) from public;
grant all on function private.account_is_gone(user_id uuid) to authenticated;
grant all on function private.account_is_gone(user_id uuid) to service_role;

-- Definer: the person an erasure request is about, remembered for its retries;
-- no row when there is nothing left to do (finished, or the person is gone).
create function private.begin_erasure(request_id uuid) returns table(user_id uuid, email text)
    language plpgsql security definer
    set search_path to ''
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

revoke all on function private.begin_erasure(request_id uuid) from public;
grant all on function private.begin_erasure(request_id uuid) to service_role;

-- Exposed wrappers for the erasure job (service role only)
create function public.begin_erasure(request_id uuid) returns table(user_id uuid, email text)
    language sql
    set search_path to ''
    as $$
  select * from private.begin_erasure(request_id)
$$;

comment on function public.begin_erasure(request_id uuid) is 'Erasure job, step 1 (service role): the person the request is about; no row when nothing is left to do.';

revoke all on function public.begin_erasure(request_id uuid) from authenticated;
revoke all on function public.begin_erasure(request_id uuid) from public;
grant all on function public.begin_erasure(request_id uuid) to service_role;

-- Definer: the last step, after the auth user is gone (its deletion writes audit
-- entries about the person): strip them from the audit trail, forget them.
-- Returns the audit entries changed; null when there was nothing to finish.
create function private.finish_erasure(request_id uuid) returns bigint
    language plpgsql security definer
    set search_path to ''
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

revoke all on function private.finish_erasure(request_id uuid) from public;
grant all on function private.finish_erasure(request_id uuid) to service_role;

create function public.finish_erasure(request_id uuid) returns bigint
    language sql
    set search_path to ''
    as $$
  select private.finish_erasure(request_id)
$$;

comment on function public.finish_erasure(request_id uuid) is 'Erasure job, last step (service role): strips the person from the audit trail.';

revoke all on function public.finish_erasure(request_id uuid) from authenticated;
revoke all on function public.finish_erasure(request_id uuid) from public;
grant all on function public.finish_erasure(request_id uuid) to service_role;

-- Definer: changes other people's projects and notifications. Idempotent: a
-- second run finds nothing left to do. Returns the file objects whose rows it
-- removed (or that deleting the auth user will remove), for the worker to
-- delete from S3.
create function private.erase_person(user_id uuid, email text) returns table(bucket text, object_key text)
    language plpgsql security definer
    set search_path to ''
    as $_$
declare
  person uuid := erase_person.user_id;
  owned record;
  heir uuid;
  name text;
  handle text;
begin
  -- the audit trail records the erasure, not each row it removes (private.audit)
  perform set_config('collab.erasing', person::text, true);
  select p.full_name, p.username into name, handle from public.profiles p where p.id = person;
  -- their name in the generated text of the projects they belong to (the template's member
  -- list, what a model wrote from it): members and their documents stay, the name goes
  -- (forbid_version_changes lets exactly this replacement through)
  if coalesce(name, handle) is not null then
    perform set_config('collab.erase_name', coalesce(name, handle), true);
    update public.document_versions v
       set content = private.without_name(v.content, coalesce(name, handle))
     where v.project_id = any (array(select pm.project_id from public.project_members pm
                                      where pm.user_id = person))
       and v.generated_by is not null
       and v.content <> private.without_name(v.content, coalesce(name, handle));
    perform set_config('collab.erase_name', '', true);
  end if;

  -- projects they own: the longest-standing admin takes over, else the project goes
  for owned in select p.id from public.projects p where p.owner_id = person order by p.id for update loop
    select pm.user_id into heir
      from public.project_members pm
     where pm.project_id = owned.id and pm.user_id <> person and pm.role = 'admin'
     order by pm.created_at, pm.id
     limit 1;
    if heir is null then
      return query select f.bucket, f.object_key from public.files f where f.project_id = owned.id;
      -- for real: private.soft_delete lets an erasure's deletes through
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

  -- their messages are deleted, not anonymised, in one statement (private.soft_delete lets an
  -- erasure's deletes through: no soft delete first, no preview refresh per message)
  delete from public.messages m where m.author_id = person;

  -- other people's notifications: those quoting their messages go; ids of them become null
  delete from public.notifications n
   where n.type = 'message' and n.payload ->> 'author_id' = person::text;
  -- (and so is their name or username beside it: invited_by_name, ...)
  update public.notifications n
     set payload = (select jsonb_object_agg(e.key, case when e.value = to_jsonb(person::text)
                                                          or e.value = to_jsonb(name)
                                                          or e.value = to_jsonb(handle)
                                                        then 'null'::jsonb else e.value end)
                      from jsonb_each(n.payload) e)
   where n.user_id <> person
     and jsonb_path_exists(n.payload, '$.* ? (@ == $id)', jsonb_build_object('id', person::text));

  -- the name an outside source gave, when it is an address of theirs: the current one or one
  -- they had before (private.former_emails; an unconfirmed new address is not yet theirs)
  update public.activity_events a set actor = null
   where lower(a.actor) = any (array(
           select lower(erase_person.email)
           union select lower(u.email) from auth.users u where u.id = person
           union select fe.email from private.former_emails fe where fe.user_id = person));

  -- direct conversations are keyed by the pair's ids; the other person keeps theirs
  update public.conversations c set direct_key = 'erased:' || c.id::text
   where c.kind = 'direct' and strpos(c.direct_key, person::text) > 0;

  -- their export archives are deleted by the job; the requests keep no pointer to them
  update public.privacy_requests r set result_location = null
   where r.user_id = person and r.result_location is not null;

  delete from private.rate_limits r where r.user_id = person;
  -- what the account's deletion would cascade to row by row, at once: their notifications
  delete from public.notifications n where n.user_id = person;
end;
$_$;

revoke all on function private.erase_person(user_id uuid, email text) from public;
grant all on function private.erase_person(user_id uuid, email text) to service_role;

create function public.erase_person(user_id uuid, email text) returns table(bucket text, object_key text)
    language sql
    set search_path to ''
    as $$
  select * from private.erase_person(user_id, email)
$$;

comment on function public.erase_person(user_id uuid, email text) is 'Erasure job, step 2 (service role): hands on or deletes owned projects, deletes messages, scrubs notifications; returns the S3 objects to delete.';

revoke all on function public.erase_person(user_id uuid, email text) from authenticated;
revoke all on function public.erase_person(user_id uuid, email text) from public;
grant all on function public.erase_person(user_id uuid, email text) to service_role;

-- erase_user(user_id): the database side of an erasure in one transaction
-- (operators, tests): the same steps as the job, without S3 and the Auth API.
create function private.erase_user(user_id uuid) returns void
    language plpgsql security definer
    set search_path to ''
    as $$
begin
  perform private.erase_person(erase_user.user_id,
                               (select u.email from auth.users u where u.id = erase_user.user_id));
  perform private.delete_auth_user(erase_user.user_id);
  perform private.redact_person_from_audit(erase_user.user_id);
end;
$$;

revoke all on function private.erase_user(user_id uuid) from public;
grant all on function private.erase_user(user_id uuid) to service_role;

create function public.erase_user(user_id uuid) returns void
    language sql
    set search_path to ''
    as $$
  select private.erase_user(user_id)
$$;

comment on function public.erase_user(user_id uuid) is 'GDPR erasure of the database side in one transaction (service role): owned projects to the longest-standing admin or deleted, the person and their rows deleted, the audit trail redacted. S3 objects are not touched: the privacy erasure job does that.';

revoke all on function public.erase_user(user_id uuid) from authenticated;
revoke all on function public.erase_user(user_id uuid) from public;
grant all on function public.erase_user(user_id uuid) to service_role;

-- Definer: the local stand-in for Auth's DELETE /auth/v1/admin/users/{id}
-- (the worker calls the admin API instead when PRIVACY_AUTH_ADMIN_URL is set).
-- Deleting the auth user cascades to the profile and everything keyed to it.
-- Returns whether a row was deleted (false: already gone).
create function private.delete_auth_user(user_id uuid) returns boolean
    language plpgsql security definer
    set search_path to ''
    as $$
declare
  n integer;
begin
  perform set_config('collab.erasing', delete_auth_user.user_id::text, true);
  delete from auth.users u where u.id = delete_auth_user.user_id;
  get diagnostics n = row_count;
  return n > 0;
end;
$$;

revoke all on function private.delete_auth_user(user_id uuid) from public;
grant all on function private.delete_auth_user(user_id uuid) to service_role;

create function public.delete_auth_user(user_id uuid) returns boolean
    language sql
    set search_path to ''
    as $$
  select private.delete_auth_user(user_id)
$$;

comment on function public.delete_auth_user(user_id uuid) is 'Erasure job, step 3 without the Auth admin API (service role): deletes the auth user.';

revoke all on function public.delete_auth_user(user_id uuid) from authenticated;
revoke all on function public.delete_auth_user(user_id uuid) from public;
grant all on function public.delete_auth_user(user_id uuid) to service_role;

-- Every column (any schema but pg_catalog) that refers to a person: the key of
-- auth.users, every column with a foreign key to a person column (recursively),
-- and the listed ones. how = 'key' | 'foreign key' | 'listed'.
create function private.person_columns() returns table(table_schema text, table_name text, column_name text, how text)
    language sql stable security definer
    set search_path to ''
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

revoke all on function private.person_columns() from public;
grant all on function private.person_columns() to service_role;

create function private.person_columns_without_key() returns table(table_schema text, table_name text, column_name text)
    language sql immutable
    set search_path to ''
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

revoke all on function private.person_columns_without_key() from public;
grant all on function private.person_columns_without_key() to service_role;

-- What the export reads: the exposed tables (schema public) with a person column,
-- plus auth.users (the sign-in email). Secrets are never exported: token
-- material and OAuth state live in private; auth.users gives only the columns
-- named here; tsvector columns (search indexes) are left out.
create function private.person_export_tables() returns table(table_schema text, table_name text, person_columns text[], key_columns text[], exported_columns text[])
    language sql stable security definer
    set search_path to ''
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

revoke all on function private.person_export_tables() from public;
grant all on function private.person_export_tables() to service_role;

-- One keyset page of a table's rows that refer to the person by id.
create function private.privacy_export_page(user_id uuid, table_schema text, table_name text, after_key jsonb, page_size integer) returns jsonb
    language plpgsql stable security definer
    set search_path to ''
    as $_$
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
  -- by their id only: an invitation to an address is theirs once they answered it with its
  -- link's token (answer_project_invitation sets invitee_id); before that, holding the
  -- address proves nothing (a reused address would show its previous holder's invitations)
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
$_$;

revoke all on function private.privacy_export_page(user_id uuid, table_schema text, table_name text, after_key jsonb, page_size integer) from public;
grant all on function private.privacy_export_page(user_id uuid, table_schema text, table_name text, after_key jsonb, page_size integer) to service_role;

create function public.privacy_export_page(user_id uuid, table_schema text, table_name text, after_key jsonb default null::jsonb, page_size integer default 500) returns jsonb
    language sql stable
    set search_path to ''
    as $$
  select private.privacy_export_page(user_id, table_schema, table_name, after_key, page_size)
$$;

comment on function public.privacy_export_page(user_id uuid, table_schema text, table_name text, after_key jsonb, page_size integer) is 'One keyset page of the rows of a table about a person: {rows, last_key} (service role: the export job).';

revoke all on function public.privacy_export_page(user_id uuid, table_schema text, table_name text, after_key jsonb, page_size integer) from authenticated;
revoke all on function public.privacy_export_page(user_id uuid, table_schema text, table_name text, after_key jsonb, page_size integer) from public;
grant all on function public.privacy_export_page(user_id uuid, table_schema text, table_name text, after_key jsonb, page_size integer) to service_role;

-- One batch of the export: up to max_rows rows about the person, table after table from
-- (after_table, after_key) on, in the order of person_export_tables(), each table's rows
-- already serialized as JSON text (to_json of the exported columns) joined by ",\n": neither
-- PostgREST nor the worker builds an object per row, and one round trip carries many tables.
-- Every table visited has a segment, an empty one too. The answer is raw text: one line of
-- JSON {"segments": [{"table", "count", "bytes"}], "next_table", "next_key", "done"}, a
-- newline, then each segment's rows (its "bytes" long, UTF-8) one after another; nothing is
-- escaped a second time. Pass next_table / next_key back.
create function private.privacy_export_batch(user_id uuid, after_table integer, after_key jsonb, max_rows integer) returns text
    language plpgsql stable security definer
    set search_path to ''
    as $_$
declare
  t record;
  filter text;
  keyset text;
  table_order text;
  key_order text;
  key_order_desc text;
  key_object text;
  columns text;
  key jsonb := after_key;
  remaining integer := max_rows;
  rows_text text;
  n integer;
  last_key jsonb;
  segments json[] := '{}';
  body text[] := '{}';
begin
  if max_rows is null or max_rows < 1 or max_rows > 20000 then
    raise exception 'max_rows must be between 1 and 20000' using errcode = '22023';
  end if;
  if after_table is null or after_table < 0 then
    raise exception 'after_table must be 0 or more' using errcode = '22023';
  end if;
  for t in select e.*, (row_number() over (order by e.table_schema, e.table_name) - 1)::integer as idx
             from private.person_export_tables() e
            order by e.table_schema, e.table_name
           offset after_table loop
    if t.key_columns is null then
      raise exception '%.% has no primary key to page by', t.table_schema, t.table_name using errcode = '22023';
    end if;
    select string_agg(format('t.%I = $1', c), ' or ') into filter from unnest(t.person_columns) c;
    select string_agg(format('t.%I', c), ', ' order by o),
           string_agg(format('r.%I', c), ', ' order by o),
           string_agg(format('r.%I desc', c), ', ' order by o),
           string_agg(format('%L, r.%I', c, c), ', ' order by o)
      into table_order, key_order, key_order_desc, key_object
      from unnest(t.key_columns) with ordinality k (c, o);
    if key is not null then
      select format('(%s) > (%s)', table_order,
                    string_agg(format('($2 ->> %L)::%s', k.c, format_type(a.atttypid, a.atttypmod)), ', ' order by k.o))
        into keyset
        from unnest(t.key_columns) with ordinality k (c, o)
        join pg_catalog.pg_attribute a
          on a.attrelid = format('%I.%I', t.table_schema, t.table_name)::regclass and a.attname = k.c;
    else
      keyset := 'true';
    end if;
    select string_agg(format('t.%I', c), ', ' order by o) into columns
      from unnest(t.exported_columns) with ordinality e (c, o);
    execute format(
      'select string_agg(to_json(r)::text, E'',\n'' order by %s), count(*)::integer,
              (array_agg(jsonb_build_object(%s) order by %s))[1]
         from (select %s from %I.%I t where (%s) and %s order by %s limit $3) r',
      key_order, key_object, key_order_desc, columns, t.table_schema, t.table_name, filter,
      keyset, table_order
    ) into rows_text, n, last_key using privacy_export_batch.user_id, key, remaining;
    segments := segments || json_build_object(
      'table', t.table_schema || '.' || t.table_name, 'count', n,
      'bytes', coalesce(octet_length(rows_text), 0));
    body := body || coalesce(rows_text, '');
    remaining := remaining - n;
    if remaining <= 0 then
      -- full: this table may have more; the next batch goes on after its last row
      return json_build_object('segments', array_to_json(segments), 'next_table', t.idx,
                               'next_key', last_key, 'done', false)::text
             || E'\n' || array_to_string(body, '');
    end if;
    key := null;
  end loop;
  return json_build_object('segments', array_to_json(segments), 'next_table', null,
                           'next_key', null, 'done', true)::text
         || E'\n' || array_to_string(body, '');
end;
$_$;

revoke all on function private.privacy_export_batch(user_id uuid, after_table integer, after_key jsonb, max_rows integer) from public;
grant all on function private.privacy_export_batch(user_id uuid, after_table integer, after_key jsonb, max_rows integer) to service_role;

create function public.privacy_export_batch(user_id uuid, after_table integer default 0, after_key jsonb default null::jsonb, max_rows integer default 10000) returns public."text/plain"
    language sql stable
    set search_path to ''
    as $$
  select private.privacy_export_batch(user_id, after_table, after_key, max_rows)::public."text/plain"
$$;

comment on function public.privacy_export_batch(user_id uuid, after_table integer, after_key jsonb, max_rows integer) is 'One batch of a privacy export: up to max_rows rows about a person across tables, serialized, as raw text (Accept: text/plain; service role: the export job).';

revoke all on function public.privacy_export_batch(user_id uuid, after_table integer, after_key jsonb, max_rows integer) from authenticated;
revoke all on function public.privacy_export_batch(user_id uuid, after_table integer, after_key jsonb, max_rows integer) from public;
grant all on function public.privacy_export_batch(user_id uuid, after_table integer, after_key jsonb, max_rows integer) to service_role;

create function public.privacy_export_tables() returns table(table_schema text, table_name text, person_columns text[], key_columns text[], exported_columns text[])
    language sql stable
    set search_path to ''
    as $$
  select * from private.person_export_tables()
$$;

comment on function public.privacy_export_tables() is 'The tables a privacy export reads, with the columns that refer to the person (service role).';

revoke all on function public.privacy_export_tables() from authenticated;
revoke all on function public.privacy_export_tables() from public;
grant all on function public.privacy_export_tables() to service_role;

create function public.purge_soft_deleted(older_than interval default '30 days'::interval) returns table(table_name text, purged bigint, object_keys text[])
    language plpgsql
    set search_path to ''
    as $$
declare
  cutoff timestamptz;
  n bigint;
  keys text[];
begin
  if older_than is null or older_than < interval '30 days' then
    raise exception 'older_than must be at least 30 days' using errcode = '22023';
  end if;
  cutoff := now() - older_than;

  delete from public.messages m where m.deleted_at < cutoff;
  get diagnostics n = row_count;
  table_name := 'messages'; purged := n; object_keys := '{}'; return next;

  -- a conversation's messages (and their attachments) go with it
  delete from public.conversations c where c.deleted_at < cutoff;
  get diagnostics n = row_count;
  table_name := 'conversations'; purged := n; object_keys := '{}'; return next;

  delete from public.tasks t where t.deleted_at < cutoff;
  get diagnostics n = row_count;
  table_name := 'tasks'; purged := n; object_keys := '{}'; return next;

  with gone as (delete from public.files f where f.deleted_at < cutoff returning f.object_key)
  select count(*), coalesce(array_agg(object_key), '{}') into n, keys from gone;
  table_name := 'files'; purged := n; object_keys := keys; return next;

  delete from public.documents d where d.deleted_at < cutoff;
  get diagnostics n = row_count;
  table_name := 'documents'; purged := n; object_keys := '{}'; return next;

  with gone as (
    select f.object_key from public.files f
      join public.projects p on p.id = f.project_id
     where p.deleted_at < cutoff
  ), dropped as (
    delete from public.projects p where p.deleted_at < cutoff returning p.id
  )
  select (select count(*) from dropped), coalesce((select array_agg(object_key) from gone), '{}') into n, keys;
  table_name := 'projects'; purged := n; object_keys := keys; return next;
end;
$$;

comment on function public.purge_soft_deleted(older_than interval) is 'Hard-deletes rows soft-deleted longer ago than older_than (>= 30 days); service role only.';

revoke all on function public.purge_soft_deleted(older_than interval) from authenticated;
revoke all on function public.purge_soft_deleted(older_than interval) from public;
grant all on function public.purge_soft_deleted(older_than interval) to service_role;

-- restore: a conversation comes back by its admin (the group's creator), within 30 days
create function private.restore_deleted(target_table text, target_id uuid) returns void
    language plpgsql security definer
    set search_path to ''
    as $_$
declare
  me uuid := (select auth.uid());
  row_deleted_at timestamptz;
  row_project uuid;
  row_owner uuid;
  allowed boolean;
begin
  if me is null or not private.can_write() then
    raise exception 'not allowed to restore' using errcode = '42501';
  end if;
  case target_table
    when 'projects' then
      select p.deleted_at, p.id, p.owner_id into row_deleted_at, row_project, row_owner
        from public.projects p where p.id = target_id;
      allowed := row_owner = me;
    when 'tasks' then
      select t.deleted_at, t.project_id into row_deleted_at, row_project
        from public.tasks t where t.id = target_id;
      allowed := private.has_project_role(row_project, 'admin');
    when 'files' then
      select f.deleted_at, f.project_id into row_deleted_at, row_project
        from public.files f where f.id = target_id;
      allowed := private.has_project_role(row_project, 'admin');
    when 'documents' then
      select d.deleted_at, d.project_id into row_deleted_at, row_project
        from public.documents d where d.id = target_id;
      allowed := private.has_project_role(row_project, 'admin');
    when 'messages' then
      select m.deleted_at, m.author_id into row_deleted_at, row_owner
        from public.messages m where m.id = target_id;
      allowed := row_owner = me and private.is_conversation_member(
        (select m.conversation_id from public.messages m where m.id = target_id));
    when 'conversations' then
      select c.deleted_at, c.created_by into row_deleted_at, row_owner
        from public.conversations c where c.id = target_id and c.kind = 'group';
      allowed := row_owner = me and private.is_conversation_member(target_id);
    else
      raise exception 'cannot restore rows of %', target_table
        using errcode = '22023',
              hint = 'target_table is one of projects, tasks, files, documents, messages, conversations';
  end case;
  if not coalesce(allowed, false) then
    raise exception 'nothing of yours to restore in % with id %', target_table, target_id using errcode = '42501';
  end if;
  if row_deleted_at is null then
    raise exception '% % is not deleted', target_table, target_id using errcode = '22023';
  end if;
  if row_deleted_at < now() - interval '30 days' then
    raise exception '% % was deleted more than 30 days ago', target_table, target_id
      using errcode = '22023', hint = 'rows can be restored for 30 days';
  end if;
  execute format('update public.%I set deleted_at = null where id = $1', target_table) using target_id;
end;
$_$;

revoke all on function private.restore_deleted(target_table text, target_id uuid) from public;
grant all on function private.restore_deleted(target_table text, target_id uuid) to authenticated;

create function public.restore_deleted(target_table text, target_id uuid) returns void
    language sql
    set search_path to ''
    as $$
  select private.restore_deleted(target_table, target_id)
$$;

comment on function public.restore_deleted(target_table text, target_id uuid) is 'Brings back a soft-deleted project, task, file, document, message or conversation within 30 days.';

revoke all on function public.restore_deleted(target_table text, target_id uuid) from public;
grant all on function public.restore_deleted(target_table text, target_id uuid) to authenticated;
grant all on function public.restore_deleted(target_table text, target_id uuid) to service_role;

create function private.notify_privacy_request_done() returns trigger
    language plpgsql security definer
    set search_path to ''
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

-- what a client sends is a kind; the rest is the processor's
create function private.privacy_request_defaults() returns trigger
    language plpgsql
    set search_path to ''
    as $$
begin
  if current_user in ('anon', 'authenticated') then
    new.status := 'pending';
    new.result_location := null;
    new.error := null;
    new.completed_at := null;
    new.expires_at := null;
    new.requested_at := now();
  end if;
  return new;
end;
$$;

revoke all on function private.privacy_request_defaults() from public;

-- The job columns are the service role's. An erasure filed by a client needs a
-- sign-in in the last 10 minutes: the newest amr timestamp of the token (when it has
-- the claim, as every Auth token does), not its iat, since a refresh mints a new iat
-- without proving anything (the function checks it too and answers 403
-- reauthentication_required; this keeps a direct insert honest).
create function private.privacy_request_job_guard() returns trigger
    language plpgsql
    set search_path to ''
    as $_$
declare
  claims jsonb;
  authenticated_at text;
begin
  if current_user not in ('anon', 'authenticated') then
    return new;
  end if;
  new.attempts := 0;
  new.dispatched_at := null;
  new.started_at := null;
  if new.kind = 'erasure' then
    claims := (select auth.jwt());
    if jsonb_typeof(claims -> 'amr') = 'array' then
      select (max((a ->> 'timestamp')::bigint)
                filter (where (a ->> 'timestamp') ~ '^[0-9]{1,12}$'))::text
        into authenticated_at
        from jsonb_array_elements(claims -> 'amr') a
       where jsonb_typeof(a) = 'object';
    else
      authenticated_at := claims ->> 'iat';
    end if;
    if authenticated_at is null or authenticated_at !~ '^[0-9]{1,12}(\.[0-9]+)?$'
       or to_timestamp(authenticated_at::double precision) < now() - interval '10 minutes' then
      raise exception 'reauthentication_required: an erasure needs an access token issued in the last 10 minutes'
        using errcode = '42501', hint = 'sign in again, then ask for the erasure';
    end if;
  end if;
  return new;
end;
$_$;

revoke all on function private.privacy_request_job_guard() from public;

-- ======================================================================================
-- triggers
-- ======================================================================================

create trigger privacy_requests_audit after insert or delete or update on public.privacy_requests for each row execute function private.audit();

create trigger privacy_requests_defaults before insert on public.privacy_requests for each row execute function private.privacy_request_defaults();

create trigger privacy_requests_fresh_id_for_unseen_row before insert on public.privacy_requests for each row execute function private.fresh_id_for_unseen_row();

create trigger privacy_requests_job_guard before insert on public.privacy_requests for each row execute function private.privacy_request_job_guard();

create trigger privacy_requests_limit_bulk_insert after insert on public.privacy_requests referencing new table as inserted for each statement execute function private.limit_bulk_insert('1000');

create trigger privacy_requests_notify_done after update of status on public.privacy_requests for each row execute function private.notify_privacy_request_done();

create trigger privacy_requests_set_updated_at before insert or update on public.privacy_requests for each row execute function private.set_updated_at();
