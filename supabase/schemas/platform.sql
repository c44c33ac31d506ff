-- Platform: the private schema, shared trigger helpers, platform roles and the access token hook, request limits
--
-- The declared source of this domain's tables, helpers, triggers and grants; its policies are
-- in policies/platform.sql. Edit here, then `make migration NAME=...` writes the migration.

-- SQL function bodies may name objects declared further down or in a later file.
set check_function_bodies = false;

-- ======================================================================================
-- schemas and default privileges
-- ======================================================================================

create schema private;

grant usage on schema private to authenticated;
grant usage on schema private to service_role;
grant usage on schema private to anon;

grant usage on schema public to supabase_auth_admin;

-- what new objects grant: functions are never executable by default
alter default privileges in schema private revoke execute on functions from public;
alter default privileges in schema public revoke execute on functions from public, anon;

-- statement timeouts per API role (a role setting: pg_dump does not carry it)
alter role anon set statement_timeout = '3s';
alter role authenticated set statement_timeout = '8s';
alter role service_role set statement_timeout = '15min';

-- ======================================================================================
-- types
-- ======================================================================================

create type public.platform_role as enum (
    'guest',
    'user',
    'admin'
);

-- ======================================================================================
-- public.user_roles
-- ======================================================================================

create table public.user_roles (
    user_id uuid not null,
    role public.platform_role default 'user'::public.platform_role not null,
    disabled_at timestamptz,
    disabled_reason text,
    created_at timestamptz default now() not null,
    updated_at timestamptz default now() not null,
    constraint user_roles_disabled_reason_length check ((char_length(disabled_reason) <= 500))
);

alter table only public.user_roles
    add constraint user_roles_pkey primary key (user_id);

comment on table public.user_roles is 'Platform role (admin / user / guest) and disabled state; only platform admins change it. Read by public.custom_access_token_hook into the user_role claim.';

revoke all on table public.user_roles from anon, authenticated;
grant select,insert,delete,update on table public.user_roles to anon;
grant select,insert,delete,update on table public.user_roles to authenticated;
grant all on table public.user_roles to service_role;
grant select on table public.user_roles to supabase_auth_admin;

-- ======================================================================================
-- functions
-- ======================================================================================

-- created_at is fixed at insert, updated_at follows every update; clients
-- cannot forge either.
create function private.set_updated_at() returns trigger
    language plpgsql
    set search_path to ''
    as $$
begin
  if tg_op = 'INSERT' then
    new.created_at := now();
  else
    new.created_at := old.created_at;
  end if;
  new.updated_at := now();
  return new;
end;
$$;

revoke all on function private.set_updated_at() from public;
grant all on function private.set_updated_at() to authenticated;
grant all on function private.set_updated_at() to service_role;

-- The function is a definer (its update must pass whatever the caller's update
-- policy says), so current_user is its owner here; the role PostgREST switched
-- to is in the `role` setting.
create function private.soft_delete() returns trigger
    language plpgsql security definer
    set search_path to ''
    as $_$
begin
  if pg_trigger_depth() > 1 then
    return old;  -- a cascade from a parent being deleted for real (the purge)
  end if;
  if current_setting('collab.erasing', true) <> '' then
    return old;  -- an erasure (private.erase_person) deletes for real, in one statement
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
$_$;

revoke all on function private.soft_delete() from public;
grant all on function private.soft_delete() to authenticated;
grant all on function private.soft_delete() to service_role;

create function private.guard_deleted_at() returns trigger
    language plpgsql
    set search_path to ''
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

create function private.guard_immutable_columns() returns trigger
    language plpgsql
    set search_path to ''
    as $$
declare
  col text;
  old_row jsonb;
  new_row jsonb;
begin
  if current_user not in ('anon', 'authenticated') then
    return new;
  end if;
  old_row := to_jsonb(old);
  new_row := to_jsonb(new);
  foreach col in array tg_argv loop
    if (new_row -> col) is distinct from (old_row -> col) then
      raise exception '%.% cannot be changed', tg_table_name, col
        using errcode = '42501',
              hint = case when tg_table_name = 'projects' and col = 'owner_id'
                          then 'use rpc transfer_project_ownership'
                          else 'create a new row instead' end;
    end if;
  end loop;
  return new;
end;
$$;

revoke all on function private.guard_immutable_columns() from public;
grant all on function private.guard_immutable_columns() to authenticated;
grant all on function private.guard_immutable_columns() to service_role;

create function private.set_server_columns_on_insert() returns trigger
    language plpgsql
    set search_path to ''
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

-- Invoker: "can the caller see a row with this id" is the caller's own SELECT policy.
create function private.fresh_id_for_unseen_row() returns trigger
    language plpgsql
    set search_path to ''
    as $_$
declare
  seen boolean;
begin
  if current_user not in ('anon', 'authenticated') or new.id is null then
    return new;
  end if;
  execute format('select exists (select 1 from %I.%I t where t.id = $1)', tg_table_schema, tg_table_name)
    into seen using new.id;
  if not seen then
    new.id := gen_random_uuid();
  end if;
  return new;
end;
$_$;

revoke all on function private.fresh_id_for_unseen_row() from public;
grant all on function private.fresh_id_for_unseen_row() to anon;
grant all on function private.fresh_id_for_unseen_row() to authenticated;

create function private.limit_bulk_insert() returns trigger
    language plpgsql
    set search_path to ''
    as $$
declare
  n bigint;
begin
  if current_user not in ('anon', 'authenticated') then
    return null;
  end if;
  select count(*) into n from inserted;
  if n > tg_argv[0]::int then
    raise sqlstate 'PGRST'
      using message = json_build_object(
              'code', 'bulk_insert_too_large',
              'message', format('one request inserts at most %s rows into %s (this one: %s)',
                                tg_argv[0], tg_table_name, n),
              'hint', 'send the rows in smaller batches')::text,
            detail = json_build_object('status', 413, 'headers', json_build_object())::text;
  end if;
  return null;
end;
$$;

revoke all on function private.limit_bulk_insert() from public;
grant all on function private.limit_bulk_insert() to anon;
grant all on function private.limit_bulk_insert() to authenticated;

-- true when nothing in value is nested max_depth levels deep (the root is level 0);
-- the path stops descending at that level, so a deep value costs no more than a flat one
create function private.jsonb_depth_below(value jsonb, max_depth integer) returns boolean
    language sql immutable parallel safe
    set search_path to ''
    as $_$
  select not jsonb_path_exists(value, ('strict $.**{' || max_depth || '}')::jsonpath)
$_$;

revoke all on function private.jsonb_depth_below(value jsonb, max_depth integer) from public;
grant all on function private.jsonb_depth_below(value jsonb, max_depth integer) to anon;
grant all on function private.jsonb_depth_below(value jsonb, max_depth integer) to authenticated;
grant all on function private.jsonb_depth_below(value jsonb, max_depth integer) to service_role;

-- true when the caller's effective platform role is at least min_role
create function private.authorize(min_role public.platform_role) returns boolean
    language sql stable security definer
    set search_path to ''
    as $$
  select coalesce(private.platform_role() >= min_role, false)
$$;

revoke all on function private.authorize(min_role public.platform_role) from public;
grant all on function private.authorize(min_role public.platform_role) to authenticated;
grant all on function private.authorize(min_role public.platform_role) to service_role;

-- The caller's effective platform role: the lesser of the stored role and the
-- user_role claim the access token hook put in the token (a demotion counts
-- before the old token expires). null for anon and for disabled users.
create function private.platform_role() returns public.platform_role
    language sql stable security definer
    set search_path to ''
    as $$
  select case
           when claim.role is null then ur.role
           else least(ur.role, claim.role)
         end
    from public.user_roles ur
    left join lateral (
      select case when (select auth.jwt() ->> 'user_role') in ('guest', 'user', 'admin')
                  then (select auth.jwt() ->> 'user_role')::public.platform_role end as role
    ) claim on true
   where ur.user_id = (select auth.uid())
     and ur.disabled_at is null
$$;

revoke all on function private.platform_role() from public;
grant all on function private.platform_role() to authenticated;
grant all on function private.platform_role() to service_role;

create function private.is_active_user() returns boolean
    language plpgsql stable security definer
    set search_path to ''
    as $$
begin
  return exists (
    select 1 from public.user_roles ur
     where ur.user_id = (select auth.uid())
       and ur.disabled_at is null
  );
end;
$$;

revoke all on function private.is_active_user() from public;
grant all on function private.is_active_user() to authenticated;
grant all on function private.is_active_user() to service_role;

-- true when the caller may write at all: active and not a guest
-- Whether the caller's session is as strong as their account asks: a person with a
-- verified second factor (auth.mfa_factors) must be at aal2; everyone else passes. The
-- restrictive policies on platform-admin actions, the audit trail and erasure use it
-- (Supabase's documented pattern; docs/signin.md).
create function private.mfa_satisfied() returns boolean
    language sql stable security definer
    set search_path to ''
    as $$
  select coalesce((select auth.jwt() ->> 'aal'), 'aal1') = 'aal2'
      or not exists (
        select 1 from auth.mfa_factors f
         where f.user_id = (select auth.uid()) and f.status = 'verified'
      )
$$;

revoke all on function private.mfa_satisfied() from public;
grant all on function private.mfa_satisfied() to authenticated;
grant all on function private.mfa_satisfied() to service_role;

create function private.can_write() returns boolean
    language sql stable security definer
    set search_path to ''
    as $$
  select coalesce(private.platform_role() >= 'user', false)
$$;

revoke all on function private.can_write() from public;
grant all on function private.can_write() to authenticated;
grant all on function private.can_write() to service_role;

create function public.custom_access_token_hook(event jsonb) returns jsonb
    language plpgsql stable
    set search_path to ''
    as $$
declare
  claims jsonb := coalesce(event -> 'claims', '{}'::jsonb);
  stored_role public.platform_role;
  disabled timestamptz;
begin
  select ur.role, ur.disabled_at
    into stored_role, disabled
    from public.user_roles ur
   where ur.user_id = (event ->> 'user_id')::uuid;

  if disabled is not null then
    return jsonb_build_object(
      'error', jsonb_build_object('http_code', 403, 'message', 'This account is disabled.')
    );
  end if;

  -- no row (should not happen: a trigger makes one per user): least privilege
  stored_role := coalesce(stored_role, 'guest');
  claims := jsonb_set(claims, '{user_role}', to_jsonb(stored_role));
  claims := jsonb_set(
    claims, '{app_metadata}',
    coalesce(claims -> 'app_metadata', '{}'::jsonb) || jsonb_build_object('platform_role', stored_role)
  );
  return jsonb_set(event, '{claims}', claims);
end;
$$;

comment on function public.custom_access_token_hook(event jsonb) is 'Supabase custom access token hook: puts the platform role into the user_role claim; disabled users get no token.';

revoke all on function public.custom_access_token_hook(event jsonb) from authenticated, service_role;
revoke all on function public.custom_access_token_hook(event jsonb) from public;
grant all on function public.custom_access_token_hook(event jsonb) to supabase_auth_admin;

-- A disabled user is also banned in auth, so Supabase Auth stops refreshing
-- their session; policies refuse their current token through is_active_user().
create function private.sync_auth_ban() returns trigger
    language plpgsql security definer
    set search_path to ''
    as $$
begin
  if new.disabled_at is distinct from old.disabled_at then
    update auth.users
       set banned_until = case when new.disabled_at is null then null else 'infinity'::timestamptz end
     where id = new.user_id;
  end if;
  return new;
end;
$$;

revoke all on function private.sync_auth_ban() from public;
grant all on function private.sync_auth_ban() to authenticated;
grant all on function private.sync_auth_ban() to service_role;

create function public.health_check() returns boolean
    language sql stable
    set search_path to ''
    as $$
  select true
$$;

comment on function public.health_check() is 'Answers true from the database; used by the health function through PostgREST.';

revoke all on function public.health_check() from public;
grant all on function public.health_check() to authenticated;
grant all on function public.health_check() to service_role;
grant all on function public.health_check() to anon;

create function private.limit_concurrent_requests() returns void
    language plpgsql
    set search_path to ''
    as $$
declare
  -- at most this many requests of one user run in the database at once
  slots constant integer := 4;
  who text;
  key integer;
  gone boolean := false;
begin
  if current_user = 'service_role' then
    return;
  end if;
  who := nullif(current_setting('request.jwt.claims', true), '')::json ->> 'sub';
  -- a signed-in user's token stops at once when the account is deleted or its erasure has
  -- begun, though the token has not expired (one primary-key lookup)
  -- (nested: an expression naming the helper needs its grant even when not evaluated)
  if current_user = 'authenticated' then
    if who is null
       or who !~ '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$' then
      gone := true;
    else
      gone := private.account_is_gone(who::uuid);
    end if;
  end if;
  if gone then
    raise sqlstate 'PGRST' using
      message = json_build_object(
        'code', 'PT401',
        'message', 'the account of this access token no longer exists',
        'details', null,
        'hint', 'sign in again'
      )::text,
      detail = json_build_object('status', 401, 'headers', json_build_object(
        'WWW-Authenticate', 'Bearer error="invalid_token"'))::text;
  end if;
  if who is not null then
    -- auth.uid() reads this setting before it parses the claims (Supabase's definition),
    -- so the policies' helpers skip one JSON parse each; the value comes from the same
    -- verified claims and lives for this request's transaction only
    perform set_config('request.jwt.claim.sub', who, true);
  end if;
  key := hashtext('request slot ' || coalesce(who, 'anon'));
  for slot in 1 .. slots loop
    if pg_catalog.pg_try_advisory_xact_lock(key, slot) then
      return;
    end if;
  end loop;
  raise sqlstate 'PGRST' using
    message = json_build_object(
      'code', 'PT429',
      'message', format('too many requests at once: at most %s of yours run at the same time', slots),
      'details', null,
      'hint', 'wait for your other requests to finish, then retry'
    )::text,
    detail = json_build_object('status', 429, 'headers', json_build_object('Retry-After', '1'))::text;
end;
$$;

comment on function private.limit_concurrent_requests() is 'PostgREST db-pre-request: 401 PT401 for a signed-in token whose account is deleted or being erased; at most 4 requests of one user (all anonymous ones together) in the database at once; 429 PT429 beyond that.';

revoke all on function private.limit_concurrent_requests() from public;
grant all on function private.limit_concurrent_requests() to anon;
grant all on function private.limit_concurrent_requests() to authenticated;
grant all on function private.limit_concurrent_requests() to service_role;

-- user ids whose platform role the caller may read: their own, all for admins
create function private.visible_user_role_ids() returns setof uuid
    language plpgsql stable security definer
    set search_path to ''
    as $$
begin
  if private.authorize('admin') then
    return query select ur.user_id from public.user_roles ur;
  else
    return query select (select auth.uid());
  end if;
end;
$$;

revoke all on function private.visible_user_role_ids() from public;
grant all on function private.visible_user_role_ids() to authenticated;
grant all on function private.visible_user_role_ids() to service_role;

-- ======================================================================================
-- triggers
-- ======================================================================================

create trigger user_roles_guard_immutable_columns before update on public.user_roles for each row execute function private.guard_immutable_columns('user_id');

create trigger user_roles_limit_bulk_insert after insert on public.user_roles referencing new table as inserted for each statement execute function private.limit_bulk_insert('1000');

create trigger user_roles_set_updated_at before insert or update on public.user_roles for each row execute function private.set_updated_at();

create trigger user_roles_sync_auth_ban after update of disabled_at on public.user_roles for each row execute function private.sync_auth_ban();
