-- baseline: the whole schema as declared on 2026-12-03, generated from supabase/schemas/ and
-- policies/ (their concatenation, in the order of supabase/config.toml's schema_paths).
-- It replaces the 59 migrations of 2026-11-23..30, which were never applied outside local
-- stacks. From here on `make migration NAME=...` writes each change; never edit this file.

-- ######################################################################################
-- supabase/schemas/platform.sql
-- ######################################################################################

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
begin
  if current_user = 'service_role' then
    return;
  end if;
  who := nullif(current_setting('request.jwt.claims', true), '')::json ->> 'sub';
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

comment on function private.limit_concurrent_requests() is 'PostgREST db-pre-request: at most 4 requests of one user (all anonymous ones together) in the database at once; 429 PT429 beyond that.';

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

-- ######################################################################################
-- supabase/schemas/accounts.sql
-- ######################################################################################

-- Accounts: one profile per auth user
--
-- The declared source of this domain's tables, helpers, triggers and grants; its policies are
-- in policies/accounts.sql. Edit here, then `make migration NAME=...` writes the migration.

-- SQL function bodies may name objects declared further down or in a later file.
set check_function_bodies = false;

-- ======================================================================================
-- types
-- ======================================================================================

create type public.persona as enum (
    'solo_entrepreneur',
    'team_collaborator',
    'project_admin'
);

-- ======================================================================================
-- public.profiles
-- ======================================================================================

create table public.profiles (
    id uuid not null,
    email text,
    username text,
    full_name text,
    avatar_url text,
    persona public.persona,
    created_at timestamptz default now() not null,
    updated_at timestamptz default now() not null,
    constraint profiles_avatar_url_is_http check (((avatar_url ~ '^https?://'::text) and (char_length(avatar_url) <= 2048))),
    constraint profiles_full_name_length check ((char_length(full_name) <= 200)),
    constraint profiles_username_format check ((username ~ '^[a-z0-9_]{3,32}$'::text))
);

alter table only public.profiles
    add constraint profiles_pkey primary key (id);

comment on table public.profiles is 'One row per auth user, made by a trigger on auth.users.';

create unique index profiles_username_key on public.profiles using btree (username);

revoke all on table public.profiles from anon, authenticated;
grant select,insert,delete,update on table public.profiles to anon;
grant select,insert,delete,update on table public.profiles to authenticated;
grant all on table public.profiles to service_role;

-- ======================================================================================
-- foreign keys
-- ======================================================================================

alter table only public.profiles
    add constraint profiles_id_fkey foreign key (id) references auth.users(id) on delete cascade;

alter table only public.user_roles
    add constraint user_roles_user_id_fkey foreign key (user_id) references public.profiles(id) on delete cascade;

-- ======================================================================================
-- functions
-- ======================================================================================

create function private.handle_new_user() returns trigger
    language plpgsql security definer
    set search_path to ''
    as $_$
declare
  meta jsonb := coalesce(new.raw_user_meta_data, '{}'::jsonb);
  wanted_username text := lower(nullif(btrim(meta ->> 'username'), ''));
  granted_username text;
  refused_because text;
  wanted_persona text := meta ->> 'persona';
  persona public.persona;
begin
  if wanted_username is not null then
    if wanted_username !~ '^[a-z0-9_]{3,32}$' then
      refused_because := 'invalid';
    elsif exists (select 1 from public.profiles p where p.username = wanted_username) then
      refused_because := 'taken';
    else
      granted_username := wanted_username;
    end if;
  end if;
  if wanted_persona = any (enum_range(null::public.persona)::text[]) then
    persona := wanted_persona::public.persona;
  end if;

  begin
    insert into public.profiles (id, email, username, full_name, avatar_url, persona)
    values (
      new.id,
      new.email,
      granted_username,
      left(meta ->> 'full_name', 200),
      case when meta ->> 'avatar_url' ~ '^https?://' then left(meta ->> 'avatar_url', 2048) end,
      persona
    );
  exception when unique_violation then
    -- another sign-up took the username between the check and the insert
    refused_because := 'taken';
    insert into public.profiles (id, email, username, full_name, avatar_url, persona)
    values (
      new.id,
      new.email,
      null,
      left(meta ->> 'full_name', 200),
      case when meta ->> 'avatar_url' ~ '^https?://' then left(meta ->> 'avatar_url', 2048) end,
      persona
    );
  end;
  insert into public.user_roles (user_id) values (new.id);

  if refused_because is not null then
    insert into public.notifications (user_id, type, payload)
    values (
      new.id,
      'system',
      jsonb_build_object(
        'kind', 'username_unavailable',
        'username', wanted_username,
        'reason', refused_because,
        'message', case refused_because
          when 'taken' then format('The username "%s" is taken: choose another in your profile.', wanted_username)
          else format('The username "%s" is not valid (3-32 of a-z, 0-9, _): choose another in your profile.', wanted_username)
        end
      )
    );
  end if;
  return new;
end;
$_$;

revoke all on function private.handle_new_user() from public;
grant all on function private.handle_new_user() to authenticated;
grant all on function private.handle_new_user() to service_role;

create function private.handle_user_email_change() returns trigger
    language plpgsql security definer
    set search_path to ''
    as $$
begin
  update public.profiles set email = new.email where id = new.id;
  return new;
end;
$$;

revoke all on function private.handle_user_email_change() from public;
grant all on function private.handle_user_email_change() to authenticated;
grant all on function private.handle_user_email_change() to service_role;

-- the caller's sign-in address, only once confirmed (an unconfirmed sign-up cannot
-- claim another person's invitations)
create function private.my_confirmed_email() returns text
    language plpgsql stable security definer
    set search_path to ''
    as $$
begin
  return (
    select lower(u.email) from auth.users u
     where u.id = (select auth.uid()) and u.email_confirmed_at is not null
  );
end;
$$;

revoke all on function private.my_confirmed_email() from public;
grant all on function private.my_confirmed_email() to authenticated;
grant all on function private.my_confirmed_email() to service_role;

-- profile ids the caller may read: their own, their contacts', everyone's for
-- platform admins
create function private.visible_profile_ids() returns setof uuid
    language plpgsql stable security definer
    set search_path to ''
    as $$
begin
  if private.authorize('admin') then
    return query select p.id from public.profiles p;
  else
    return query
      select (select auth.uid())
      union
      select private.my_contact_ids();
  end if;
end;
$$;

revoke all on function private.visible_profile_ids() from public;
grant all on function private.visible_profile_ids() to authenticated;
grant all on function private.visible_profile_ids() to service_role;

-- ======================================================================================
-- triggers
-- ======================================================================================

create trigger on_auth_user_created after insert on auth.users for each row execute function private.handle_new_user();

create trigger on_auth_user_email_changed after update of email on auth.users for each row when (((new.email)::text is distinct from (old.email)::text)) execute function private.handle_user_email_change();

create trigger profiles_guard_immutable_columns before update on public.profiles for each row execute function private.guard_immutable_columns('id', 'email');

create trigger profiles_limit_bulk_insert after insert on public.profiles referencing new table as inserted for each statement execute function private.limit_bulk_insert('1000');

create trigger profiles_set_updated_at before insert or update on public.profiles for each row execute function private.set_updated_at();

-- ######################################################################################
-- supabase/schemas/projects.sql
-- ######################################################################################

-- Projects and their members
--
-- The declared source of this domain's tables, helpers, triggers and grants; its policies are
-- in policies/projects.sql. Edit here, then `make migration NAME=...` writes the migration.

-- SQL function bodies may name objects declared further down or in a later file.
set check_function_bodies = false;

-- ======================================================================================
-- types
-- ======================================================================================

create type public.product_type as enum (
    'physical_product',
    'software',
    'service'
);

create type public.project_role as enum (
    'viewer',
    'editor',
    'admin',
    'owner'
);

create type public.project_status as enum (
    'draft',
    'active',
    'archived'
);

-- ======================================================================================
-- public.projects
-- ======================================================================================

create table public.projects (
    id uuid default gen_random_uuid() not null,
    name text not null,
    description text,
    product_type public.product_type,
    status public.project_status default 'draft'::public.project_status not null,
    owner_id uuid default auth.uid() not null,
    settings jsonb default '{}'::jsonb not null,
    filters jsonb default '{}'::jsonb not null,
    created_at timestamptz default now() not null,
    updated_at timestamptz default now() not null,
    deleted_at timestamptz,
    constraint projects_description_length check ((char_length(description) <= 10000)),
    constraint projects_filters_depth check (private.jsonb_depth_below(filters, 32)),
    constraint projects_filters_is_object check ((jsonb_typeof(filters) = 'object'::text)),
    constraint projects_filters_size check ((pg_column_size(filters) <= 262144)),
    constraint projects_name_length check (((char_length(btrim(name)) >= 1) and (char_length(btrim(name)) <= 200))),
    constraint projects_settings_depth check (private.jsonb_depth_below(settings, 32)),
    constraint projects_settings_is_object check ((jsonb_typeof(settings) = 'object'::text)),
    constraint projects_settings_size check ((pg_column_size(settings) <= 262144))
);

alter table only public.projects
    add constraint projects_pkey primary key (id);

comment on column public.projects.owner_id is 'The owner; changed only by rpc transfer_project_ownership. Mirrored by the owner row in project_members.';

create index projects_deleted_at_idx on public.projects using btree (deleted_at) where (deleted_at is not null);

create index projects_owner_id_idx on public.projects using btree (owner_id);

revoke all on table public.projects from anon, authenticated;
grant select,insert,delete,update on table public.projects to anon;
grant select,insert,delete,update on table public.projects to authenticated;
grant all on table public.projects to service_role;

-- ======================================================================================
-- public.project_members
-- ======================================================================================

create table public.project_members (
    id uuid default gen_random_uuid() not null,
    project_id uuid not null,
    user_id uuid not null,
    role public.project_role default 'viewer'::public.project_role not null,
    invited_by uuid default auth.uid(),
    created_at timestamptz default now() not null,
    updated_at timestamptz default now() not null
);

alter table only public.project_members
    add constraint project_members_one_row_per_user unique (project_id, user_id);

alter table only public.project_members
    add constraint project_members_pkey primary key (id);

create index project_members_invited_by_idx on public.project_members using btree (invited_by);

create index project_members_user_id_idx on public.project_members using btree (user_id, project_id);

revoke all on table public.project_members from anon, authenticated;
grant select,delete,update on table public.project_members to anon;
grant select,delete,update on table public.project_members to authenticated;
grant all on table public.project_members to service_role;

-- ======================================================================================
-- foreign keys
-- ======================================================================================

alter table only public.project_members
    add constraint project_members_invited_by_fkey foreign key (invited_by) references public.profiles(id) on delete set null;

alter table only public.project_members
    add constraint project_members_project_id_fkey foreign key (project_id) references public.projects(id) on delete cascade;

alter table only public.project_members
    add constraint project_members_user_id_fkey foreign key (user_id) references public.profiles(id) on delete cascade;

alter table only public.projects
    add constraint projects_owner_id_fkey foreign key (owner_id) references public.profiles(id) on delete restrict;

-- ======================================================================================
-- functions
-- ======================================================================================

-- live (not soft-deleted) projects of the caller; none while the caller is disabled
create function private.my_project_ids() returns setof uuid
    language plpgsql stable security definer
    set search_path to ''
    as $$
begin
  return query
    select pm.project_id
      from public.project_members pm
      join public.projects p on p.id = pm.project_id
     where pm.user_id = (select auth.uid())
       and p.deleted_at is null
       and exists (  -- uncorrelated: checked once per call, not once per row
         select 1 from public.user_roles ur
          where ur.user_id = (select auth.uid()) and ur.disabled_at is null
       );
end;
$$;

revoke all on function private.my_project_ids() from public;
grant all on function private.my_project_ids() to authenticated;
grant all on function private.my_project_ids() to service_role;

create function private.my_project_ids_with_role(min_role public.project_role) returns setof uuid
    language sql stable security definer
    set search_path to ''
    as $$
  select pm.project_id
    from public.project_members pm
    join public.projects p on p.id = pm.project_id
   where pm.user_id = (select auth.uid())
     and pm.role >= min_role
     and p.deleted_at is null
$$;

revoke all on function private.my_project_ids_with_role(min_role public.project_role) from public;
grant all on function private.my_project_ids_with_role(min_role public.project_role) to authenticated;
grant all on function private.my_project_ids_with_role(min_role public.project_role) to service_role;

create function private.has_project_role(project_id uuid, min_role public.project_role) returns boolean
    language sql stable security definer
    set search_path to ''
    as $$
  select exists (
    select 1
      from public.project_members pm
      join public.projects p on p.id = pm.project_id
     where pm.project_id = has_project_role.project_id
       and pm.user_id = (select auth.uid())
       and pm.role >= min_role
       and p.deleted_at is null
  )
$$;

revoke all on function private.has_project_role(project_id uuid, min_role public.project_role) from public;
grant all on function private.has_project_role(project_id uuid, min_role public.project_role) to authenticated;
grant all on function private.has_project_role(project_id uuid, min_role public.project_role) to service_role;

-- Creating a project makes its creator its owner member, in the same statement.
create function private.add_project_owner() returns trigger
    language plpgsql security definer
    set search_path to ''
    as $$
begin
  insert into public.project_members (project_id, user_id, role, invited_by)
  values (new.id, new.owner_id, 'owner', new.owner_id);
  return null;
end;
$$;

revoke all on function private.add_project_owner() from public;
grant all on function private.add_project_owner() to authenticated;
grant all on function private.add_project_owner() to service_role;

-- Owner transfer must bypass RLS (it writes the owner rows no policy allows),
-- so the work is a definer function in private; the exposed RPC is invoker.
create function private.transfer_project_ownership(project_id uuid, new_owner_id uuid) returns void
    language plpgsql security definer
    set search_path to ''
    as $$
declare
  caller uuid := (select auth.uid());
  current_owner uuid;
begin
  if caller is null or not private.can_write() then
    raise exception 'not allowed to transfer project ownership' using errcode = '42501';
  end if;
  select p.owner_id into current_owner
    from public.projects p
   where p.id = transfer_project_ownership.project_id and p.deleted_at is null
   for update;
  if current_owner is null or current_owner <> caller then
    raise exception 'only the project owner can transfer ownership' using errcode = '42501';
  end if;
  if new_owner_id is null or new_owner_id = caller then
    raise exception 'new_owner_id must be another member of the project' using errcode = '22023';
  end if;
  if not exists (select 1 from public.project_members pm
                  where pm.project_id = transfer_project_ownership.project_id
                    and pm.user_id = new_owner_id) then
    raise exception 'new owner is not a member of this project'
      using errcode = '22023', hint = 'add them as a member first';
  end if;
  update public.project_members pm set role = 'admin'
   where pm.project_id = transfer_project_ownership.project_id and pm.user_id = caller;
  update public.project_members pm set role = 'owner'
   where pm.project_id = transfer_project_ownership.project_id and pm.user_id = new_owner_id;
  update public.projects p set owner_id = new_owner_id
   where p.id = transfer_project_ownership.project_id;
end;
$$;

revoke all on function private.transfer_project_ownership(project_id uuid, new_owner_id uuid) from public;
grant all on function private.transfer_project_ownership(project_id uuid, new_owner_id uuid) to authenticated;

create function public.transfer_project_ownership(project_id uuid, new_owner_id uuid) returns void
    language sql
    set search_path to ''
    as $$
  select private.transfer_project_ownership(project_id, new_owner_id)
$$;

comment on function public.transfer_project_ownership(project_id uuid, new_owner_id uuid) is 'The project owner hands ownership to another member; the old owner becomes an admin.';

revoke all on function public.transfer_project_ownership(project_id uuid, new_owner_id uuid) from public;
grant all on function public.transfer_project_ownership(project_id uuid, new_owner_id uuid) to authenticated;
grant all on function public.transfer_project_ownership(project_id uuid, new_owner_id uuid) to service_role;

-- project ids where the caller is admin or owner, live or soft-deleted
create function private.my_admin_project_ids_including_deleted() returns setof uuid
    language sql stable security definer
    set search_path to ''
    as $$
  select pm.project_id
    from public.project_members pm
   where pm.user_id = (select auth.uid())
     and pm.role >= 'admin'
$$;

revoke all on function private.my_admin_project_ids_including_deleted() from public;
grant all on function private.my_admin_project_ids_including_deleted() to authenticated;

-- Joining by accepting is the member's own act: nobody is notified of it. Members
-- the service role adds are notified as before.
create function private.notify_project_member_added() returns trigger
    language plpgsql security definer
    set search_path to ''
    as $$
begin
  if new.user_id is distinct from new.invited_by
     and new.user_id is distinct from (select auth.uid()) then
    insert into public.notifications (user_id, type, payload)
    values (new.user_id, 'project_member_added',
            jsonb_build_object('project_id', new.project_id, 'role', new.role, 'invited_by', new.invited_by));
  end if;
  return null;
end;
$$;

revoke all on function private.notify_project_member_added() from public;

-- people the caller shares a live project with (who they may start a chat with)
create function private.my_project_contact_ids() returns setof uuid
    language sql stable security definer
    set search_path to ''
    as $$
  select distinct other.user_id
    from public.project_members other
   where other.project_id in (select private.my_project_ids())
$$;

revoke all on function private.my_project_contact_ids() from public;
grant all on function private.my_project_contact_ids() to authenticated;
grant all on function private.my_project_contact_ids() to service_role;

-- ======================================================================================
-- triggers
-- ======================================================================================

create trigger project_members_guard_immutable_columns before update on public.project_members for each row execute function private.guard_immutable_columns('id', 'project_id', 'user_id');

create trigger project_members_notify_added after insert on public.project_members for each row execute function private.notify_project_member_added();

create trigger project_members_set_updated_at before insert or update on public.project_members for each row execute function private.set_updated_at();

create trigger projects_add_owner_member after insert on public.projects for each row execute function private.add_project_owner();

create trigger projects_fresh_id_for_unseen_row before insert on public.projects for each row execute function private.fresh_id_for_unseen_row();

create trigger projects_guard_deleted_at before insert or update on public.projects for each row execute function private.guard_deleted_at();

create trigger projects_guard_immutable_columns before update on public.projects for each row execute function private.guard_immutable_columns('id', 'owner_id');

create trigger projects_limit_bulk_insert after insert on public.projects referencing new table as inserted for each statement execute function private.limit_bulk_insert('1000');

create trigger projects_set_updated_at before insert or update on public.projects for each row execute function private.set_updated_at();

create trigger projects_soft_delete before delete on public.projects for each row execute function private.soft_delete();

-- ######################################################################################
-- supabase/schemas/invitations.sql
-- ######################################################################################

-- Invitations: membership is consent
--
-- The declared source of this domain's tables, helpers, triggers and grants; its policies are
-- in policies/invitations.sql. Edit here, then `make migration NAME=...` writes the migration.

-- SQL function bodies may name objects declared further down or in a later file.
set check_function_bodies = false;

-- ======================================================================================
-- types
-- ======================================================================================

create type public.invitation_status as enum (
    'pending',
    'accepted',
    'declined',
    'revoked',
    'expired'
);

-- ======================================================================================
-- public.project_invitations
-- ======================================================================================

create table public.project_invitations (
    id uuid default gen_random_uuid() not null,
    project_id uuid not null,
    project_name text not null,
    role public.project_role default 'viewer'::public.project_role not null,
    invitee_id uuid,
    email text,
    invited_by uuid,
    status public.invitation_status default 'pending'::public.invitation_status not null,
    expires_at timestamptz default (now() + '14 days'::interval) not null,
    responded_at timestamptz,
    created_at timestamptz default now() not null,
    updated_at timestamptz default now() not null,
    constraint project_invitations_email_format check (((email = lower(email)) and (char_length(email) <= 320) and (email ~ '^[^@[:space:]]+@[^@[:space:]]+$'::text))),
    constraint project_invitations_invitee_or_email check (((invitee_id is not null) or (email is not null))),
    constraint project_invitations_role_below_owner check ((role <> 'owner'::public.project_role))
);

alter table only public.project_invitations
    add constraint project_invitations_pkey primary key (id);

comment on table public.project_invitations is 'An invitation to join a project; made, answered and revoked through the invitation RPCs.';

create index project_invitations_email_idx on public.project_invitations using btree (email);

create index project_invitations_invited_by_idx on public.project_invitations using btree (invited_by);

create index project_invitations_invitee_id_idx on public.project_invitations using btree (invitee_id);

create unique index project_invitations_one_pending_per_email on public.project_invitations using btree (project_id, email) where (status = 'pending'::public.invitation_status);

create unique index project_invitations_one_pending_per_invitee on public.project_invitations using btree (project_id, invitee_id) where ((status = 'pending'::public.invitation_status) and (email is null));

create index project_invitations_project_id_idx on public.project_invitations using btree (project_id, created_at desc);

revoke all on table public.project_invitations from anon, authenticated;
grant select on table public.project_invitations to anon;
grant select on table public.project_invitations to authenticated;
grant all on table public.project_invitations to service_role;

-- ======================================================================================
-- foreign keys
-- ======================================================================================

alter table only public.project_invitations
    add constraint project_invitations_invited_by_fkey foreign key (invited_by) references public.profiles(id) on delete set null;

alter table only public.project_invitations
    add constraint project_invitations_project_id_fkey foreign key (project_id) references public.projects(id) on delete cascade;

-- ======================================================================================
-- functions
-- ======================================================================================

-- Definer: the invitation is written by no policy, and whether the invitee exists is
-- looked up across RLS without telling the caller.
create function private.invite_project_member(project_id uuid, role public.project_role, user_id uuid, email text) returns public.project_invitations
    language plpgsql security definer
    set search_path to ''
    as $_$
declare
  me uuid := (select auth.uid());
  address text := lower(btrim(invite_project_member.email));
  my_role public.project_role;
  project_title text;
  invitation public.project_invitations;
begin
  if me is null or not private.can_write() then
    raise exception 'not allowed to invite members' using errcode = '42501';
  end if;
  select pm.role, p.name into my_role, project_title
    from public.project_members pm
    join public.projects p on p.id = pm.project_id
   where pm.project_id = invite_project_member.project_id and pm.user_id = me
     and p.deleted_at is null;
  -- the same answer for a project that does not exist and one the caller does not manage
  if my_role is null or my_role < 'admin' then
    raise exception 'only the project''s owner and admins invite members' using errcode = '42501';
  end if;
  if invite_project_member.role is null then
    raise exception 'role is required' using errcode = '22023', hint = 'one of viewer, editor, admin';
  end if;
  if invite_project_member.role = 'owner' or invite_project_member.role > my_role then
    raise exception 'you can invite members up to your own role, never as owner' using errcode = '42501',
      hint = 'ownership moves with rpc transfer_project_ownership';
  end if;
  if (user_id is null) = (address is null) then
    raise exception 'give exactly one of user_id and email' using errcode = '22023';
  end if;
  if address is not null
     and (char_length(address) > 320 or address !~ '^[^@[:space:]]+@[^@[:space:]]+$') then
    raise exception 'email is not an address' using errcode = '22023';
  end if;
  if user_id = me or address = private.my_confirmed_email() then
    raise exception 'you are already a member of this project' using errcode = '23505';
  end if;
  -- members are visible to the admin already, so saying so tells them nothing new
  if exists (
    select 1 from public.project_members pm
      join public.profiles pr on pr.id = pm.user_id
     where pm.project_id = invite_project_member.project_id
       and (pm.user_id = invite_project_member.user_id or lower(pr.email) = address)
  ) then
    raise exception 'already a member of this project' using errcode = '23505';
  end if;

  -- lazy expiry: an open invitation past its date no longer counts
  update public.project_invitations i set status = 'expired'
   where i.project_id = invite_project_member.project_id and i.status = 'pending'
     and i.expires_at <= now()
     and (i.invitee_id = invite_project_member.user_id or i.email = address);

  if exists (
    select 1 from public.project_invitations i
     where i.project_id = invite_project_member.project_id and i.status = 'declined'
       and i.responded_at > now() - interval '30 days'
       and ((address is null and i.invitee_id = invite_project_member.user_id and i.email is null)
            or i.email = address)
  ) then
    raise exception 'they declined an invitation to this project in the last 30 days'
      using errcode = '42501', hint = 'a declined invitation cannot be repeated for 30 days';
  end if;

  -- inviting again while one is open changes its role and extends it (no new notification)
  update public.project_invitations i
     set role = invite_project_member.role, invited_by = me, expires_at = now() + interval '14 days'
   where i.project_id = invite_project_member.project_id and i.status = 'pending'
     and ((address is null and i.invitee_id = invite_project_member.user_id and i.email is null)
          or i.email = address)
  returning i.* into invitation;
  if invitation.id is not null then
    return invitation;
  end if;

  -- no endless notifications: a person is invited to a project at most 3 times a week
  -- (revoking and inviting again counts), and a project has at most 500 open invitations
  if (select count(*) from public.project_invitations i
       where i.project_id = invite_project_member.project_id
         and i.created_at > now() - interval '7 days'
         and ((address is null and i.invitee_id = invite_project_member.user_id and i.email is null)
              or i.email = address)) >= 3
     or (select count(*) from public.project_invitations i
          where i.project_id = invite_project_member.project_id and i.status = 'pending'
            and i.expires_at > now()) >= 500 then
    raise sqlstate 'PGRST'
      using message = json_build_object(
              'code', 'too_many_invitations',
              'message', 'a person is invited to a project at most 3 times a week, '
                         'and a project has at most 500 open invitations',
              'hint', 'wait for the invitations to be answered, or try again next week')::text,
            detail = json_build_object('status', 429, 'headers', json_build_object())::text;
  end if;

  insert into public.project_invitations (project_id, project_name, role, invitee_id, email, invited_by)
  values (invite_project_member.project_id, project_title, invite_project_member.role,
          case when address is null then invite_project_member.user_id end, address, me)
  returning * into invitation;
  perform private.notify_project_invitation(invitation);
  return invitation;
end;
$_$;

revoke all on function private.invite_project_member(project_id uuid, role public.project_role, user_id uuid, email text) from public;
grant all on function private.invite_project_member(project_id uuid, role public.project_role, user_id uuid, email text) to authenticated;

create function public.invite_project_member(project_id uuid, role public.project_role, user_id uuid default null::uuid, email text default null::text) returns public.project_invitations
    language sql
    set search_path to ''
    as $$
  select * from private.invite_project_member(project_id, role, user_id, email)
$$;

comment on function public.invite_project_member(project_id uuid, role public.project_role, user_id uuid, email text) is 'A project admin invites a person (by user id or by email) in a role up to their own; the invitee becomes a member only by accepting.';

revoke all on function public.invite_project_member(project_id uuid, role public.project_role, user_id uuid, email text) from public;
grant all on function public.invite_project_member(project_id uuid, role public.project_role, user_id uuid, email text) to authenticated;
grant all on function public.invite_project_member(project_id uuid, role public.project_role, user_id uuid, email text) to service_role;

create function public.accept_project_invitation(invitation_id uuid) returns public.project_invitations
    language sql
    set search_path to ''
    as $$
  select * from private.answer_project_invitation(invitation_id, true)
$$;

comment on function public.accept_project_invitation(invitation_id uuid) is 'The invitee accepts: they become a member in the invited role, atomically.';

revoke all on function public.accept_project_invitation(invitation_id uuid) from public;
grant all on function public.accept_project_invitation(invitation_id uuid) to authenticated;
grant all on function public.accept_project_invitation(invitation_id uuid) to service_role;

create function public.decline_project_invitation(invitation_id uuid) returns public.project_invitations
    language sql
    set search_path to ''
    as $$
  select * from private.answer_project_invitation(invitation_id, false)
$$;

comment on function public.decline_project_invitation(invitation_id uuid) is 'The invitee declines; the project cannot invite them again for 30 days.';

revoke all on function public.decline_project_invitation(invitation_id uuid) from public;
grant all on function public.decline_project_invitation(invitation_id uuid) to authenticated;
grant all on function public.decline_project_invitation(invitation_id uuid) to service_role;

-- Definer: no client policy updates invitations.
create function private.revoke_project_invitation(invitation_id uuid) returns public.project_invitations
    language plpgsql security definer
    set search_path to ''
    as $$
declare
  invitation public.project_invitations;
begin
  if (select auth.uid()) is null or not private.can_write() then
    raise exception 'not allowed to revoke invitations' using errcode = '42501';
  end if;
  select i.* into invitation
    from public.project_invitations i
   where i.id = revoke_project_invitation.invitation_id
     and private.has_project_role(i.project_id, 'admin')
   for update;
  if invitation.id is null then
    raise exception 'no invitation % in a project you manage', invitation_id using errcode = '42501';
  end if;
  if invitation.status <> 'pending' then
    raise exception 'this invitation is %', invitation.status using errcode = '22023';
  end if;
  update public.project_invitations i set status = 'revoked', responded_at = now()
   where i.id = invitation.id
  returning i.* into invitation;
  return invitation;
end;
$$;

revoke all on function private.revoke_project_invitation(invitation_id uuid) from public;
grant all on function private.revoke_project_invitation(invitation_id uuid) to authenticated;

create function public.revoke_project_invitation(invitation_id uuid) returns public.project_invitations
    language sql
    set search_path to ''
    as $$
  select * from private.revoke_project_invitation(invitation_id)
$$;

comment on function public.revoke_project_invitation(invitation_id uuid) is 'A project admin withdraws an invitation that has not been answered.';

revoke all on function public.revoke_project_invitation(invitation_id uuid) from public;
grant all on function public.revoke_project_invitation(invitation_id uuid) to authenticated;
grant all on function public.revoke_project_invitation(invitation_id uuid) to service_role;

-- Service role (a schedule, or by hand): marks every open invitation past its date expired.
-- Expiry does not wait for it: accepting an invitation past expires_at is refused anyway.
create function public.expire_project_invitations() returns bigint
    language plpgsql
    set search_path to ''
    as $$
declare
  n bigint;
begin
  update public.project_invitations i set status = 'expired'
   where i.status = 'pending' and i.expires_at <= now();
  get diagnostics n = row_count;
  return n;
end;
$$;

comment on function public.expire_project_invitations() is 'Marks open invitations past expires_at as expired; service role only.';

revoke all on function public.expire_project_invitations() from authenticated;
revoke all on function public.expire_project_invitations() from public;
grant all on function public.expire_project_invitations() to service_role;

-- Definer: the membership row is written by no client policy. The invitation row is
-- locked, so two accepts (or an accept and a revoke) cannot both succeed.
create function private.answer_project_invitation(invitation_id uuid, accept boolean) returns public.project_invitations
    language plpgsql security definer
    set search_path to ''
    as $$
declare
  me uuid := (select auth.uid());
  invitation public.project_invitations;
begin
  if me is null or not private.is_active_user() then
    raise exception 'not allowed to answer invitations' using errcode = '42501';
  end if;
  select i.* into invitation
    from public.project_invitations i
   where i.id = answer_project_invitation.invitation_id
     and (i.invitee_id = me or i.email = private.my_confirmed_email())
   for update;
  -- an invitation to someone else answers like one that does not exist
  if invitation.id is null then
    raise exception 'no invitation % for you', invitation_id using errcode = '42501';
  end if;
  if invitation.status <> 'pending' then
    raise exception 'this invitation is %', invitation.status using errcode = '22023';
  end if;
  if invitation.expires_at <= now() then
    raise exception 'this invitation expired on %', invitation.expires_at using errcode = '22023',
      hint = 'ask a project admin to invite you again';
  end if;
  if accept then
    if not exists (select 1 from public.projects p where p.id = invitation.project_id and p.deleted_at is null) then
      raise exception 'the project no longer exists' using errcode = '22023';
    end if;
    -- whoever invited must still be allowed to: an admin demoted (or gone) since cannot
    -- bring people in, nor in a role above the one they have now
    if not exists (
      select 1 from public.project_members pm
       where pm.project_id = invitation.project_id and pm.user_id = invitation.invited_by
         and pm.role >= 'admin' and pm.role >= invitation.role
    ) then
      raise exception 'this invitation is no longer valid: whoever sent it no longer manages the project'
        using errcode = '22023', hint = 'ask a project admin to invite you again';
    end if;
    insert into public.project_members (project_id, user_id, role, invited_by)
    values (invitation.project_id, me, invitation.role, invitation.invited_by)
    on conflict (project_id, user_id) do nothing;
  end if;
  update public.project_invitations i
     set status = case when accept then 'accepted' else 'declined' end::public.invitation_status,
         responded_at = now(),
         invitee_id = me
   where i.id = invitation.id
  returning i.* into invitation;
  return invitation;
end;
$$;

revoke all on function private.answer_project_invitation(invitation_id uuid, accept boolean) from public;
grant all on function private.answer_project_invitation(invitation_id uuid, accept boolean) to authenticated;

-- invitations addressed to the caller (by user id or by their confirmed address)
create function private.my_invitation_ids() returns setof uuid
    language plpgsql stable security definer
    set search_path to ''
    as $$
begin
  return query
    select i.id from public.project_invitations i where i.invitee_id = (select auth.uid())
    union
    select i.id from public.project_invitations i where i.email = private.my_confirmed_email();
end;
$$;

revoke all on function private.my_invitation_ids() from public;
grant all on function private.my_invitation_ids() to authenticated;
grant all on function private.my_invitation_ids() to service_role;

-- The invitee's notification: for an invitation by user id, that user (if the id is
-- an account); by email, the account with that confirmed address (if any).
create function private.notify_project_invitation(invitation public.project_invitations) returns void
    language plpgsql security definer
    set search_path to ''
    as $$
begin
  insert into public.notifications (user_id, type, payload)
  select u.id, 'project_invitation',
         jsonb_build_object('invitation_id', invitation.id, 'project_id', invitation.project_id,
                            'project_name', invitation.project_name, 'role', invitation.role,
                            'invited_by', invitation.invited_by,
                            'invited_by_name', (select p.full_name from public.profiles p
                                                 where p.id = invitation.invited_by),
                            'expires_at', invitation.expires_at)
    from auth.users u
   where case when invitation.email is null then u.id = invitation.invitee_id
              else lower(u.email) = invitation.email and u.email_confirmed_at is not null end;
end;
$$;

revoke all on function private.notify_project_invitation(invitation public.project_invitations) from public;

-- An address with no account signs up (or confirms it later): the invitations kept
-- for it become visible to them (my_invitation_ids) and are notified now.
create function private.notify_invitations_on_confirmed_email() returns trigger
    language plpgsql security definer
    set search_path to ''
    as $$
declare
  invitation public.project_invitations;
begin
  if new.email_confirmed_at is null
     or (tg_op = 'UPDATE' and old.email_confirmed_at is not null
         and lower(old.email) is not distinct from lower(new.email)) then
    return null;
  end if;
  for invitation in
    select i.* from public.project_invitations i
     where i.email = lower(new.email) and i.status = 'pending' and i.expires_at > now()
  loop
    perform private.notify_project_invitation(invitation);
  end loop;
  return null;
end;
$$;

revoke all on function private.notify_invitations_on_confirmed_email() from public;

create function private.delete_invitations_of_deleted_profile() returns trigger
    language plpgsql security definer
    set search_path to ''
    as $$
begin
  delete from public.project_invitations i
   where i.invitee_id = old.id or i.email = lower(old.email);
  return null;
end;
$$;

revoke all on function private.delete_invitations_of_deleted_profile() from public;

-- ======================================================================================
-- triggers
-- ======================================================================================

create trigger on_auth_user_email_confirmed_notify_invitations after insert or update of email, email_confirmed_at on auth.users for each row execute function private.notify_invitations_on_confirmed_email();

create trigger profiles_delete_invitations after delete on public.profiles for each row execute function private.delete_invitations_of_deleted_profile();

create trigger project_invitations_set_updated_at before insert or update on public.project_invitations for each row execute function private.set_updated_at();

-- ######################################################################################
-- supabase/schemas/tasks.sql
-- ######################################################################################

-- Tasks
--
-- The declared source of this domain's tables, helpers, triggers and grants; its policies are
-- in policies/tasks.sql. Edit here, then `make migration NAME=...` writes the migration.

-- SQL function bodies may name objects declared further down or in a later file.
set check_function_bodies = false;

-- ======================================================================================
-- types
-- ======================================================================================

create type public.task_status as enum (
    'todo',
    'in_progress',
    'done'
);

-- ======================================================================================
-- public.tasks
-- ======================================================================================

create table public.tasks (
    id uuid default gen_random_uuid() not null,
    project_id uuid not null,
    title text not null,
    description text,
    status public.task_status default 'todo'::public.task_status not null,
    assignee_id uuid,
    due_at timestamptz,
    created_by uuid default auth.uid(),
    created_at timestamptz default now() not null,
    updated_at timestamptz default now() not null,
    deleted_at timestamptz,
    constraint tasks_description_length check ((char_length(description) <= 20000)),
    constraint tasks_title_length check (((char_length(btrim(title)) >= 1) and (char_length(btrim(title)) <= 500)))
);

alter table only public.tasks
    add constraint tasks_pkey primary key (id);

create index tasks_assignee_id_idx on public.tasks using btree (assignee_id, created_at desc);

create index tasks_created_by_idx on public.tasks using btree (created_by);

create index tasks_project_id_assignee_id_idx on public.tasks using btree (project_id, assignee_id);

create index tasks_project_id_created_at_idx on public.tasks using btree (project_id, created_at desc);

revoke all on table public.tasks from anon, authenticated;
grant select,insert,delete,update on table public.tasks to anon;
grant select,insert,delete,update on table public.tasks to authenticated;
grant all on table public.tasks to service_role;

-- ======================================================================================
-- foreign keys
-- ======================================================================================

alter table only public.tasks
    add constraint tasks_assignee_is_project_member foreign key (project_id, assignee_id) references public.project_members(project_id, user_id) on delete set null (assignee_id);

alter table only public.tasks
    add constraint tasks_created_by_fkey foreign key (created_by) references public.profiles(id) on delete set null;

alter table only public.tasks
    add constraint tasks_project_id_fkey foreign key (project_id) references public.projects(id) on delete cascade;

-- ======================================================================================
-- functions
-- ======================================================================================

create function private.notify_task_assigned() returns trigger
    language plpgsql security definer
    set search_path to ''
    as $$
begin
  if new.assignee_id is not null
     and new.assignee_id is distinct from (select auth.uid())
     and (tg_op = 'INSERT' or new.assignee_id is distinct from old.assignee_id) then
    insert into public.notifications (user_id, type, payload)
    values (new.assignee_id, 'task_assigned',
            jsonb_build_object('project_id', new.project_id, 'task_id', new.id,
                               'title', left(new.title, 140), 'assigned_by', (select auth.uid())));
  end if;
  return null;
end;
$$;

revoke all on function private.notify_task_assigned() from public;

-- ======================================================================================
-- triggers
-- ======================================================================================

create trigger tasks_fresh_id_for_unseen_row before insert on public.tasks for each row execute function private.fresh_id_for_unseen_row();

create trigger tasks_guard_deleted_at before insert or update on public.tasks for each row execute function private.guard_deleted_at();

create trigger tasks_guard_immutable_columns before update on public.tasks for each row execute function private.guard_immutable_columns('id', 'project_id', 'created_by');

create trigger tasks_limit_bulk_insert after insert on public.tasks referencing new table as inserted for each statement execute function private.limit_bulk_insert('1000');

create trigger tasks_notify_assignee after insert or update of assignee_id on public.tasks for each row execute function private.notify_task_assigned();

create trigger tasks_set_updated_at before insert or update on public.tasks for each row execute function private.set_updated_at();

create trigger tasks_soft_delete before delete on public.tasks for each row execute function private.soft_delete();

-- ######################################################################################
-- supabase/schemas/chat.sql
-- ######################################################################################

-- Chat: conversations, members, messages, attachments
--
-- The declared source of this domain's tables, helpers, triggers and grants; its policies are
-- in policies/chat.sql. Edit here, then `make migration NAME=...` writes the migration.

-- SQL function bodies may name objects declared further down or in a later file.
set check_function_bodies = false;

-- ======================================================================================
-- types
-- ======================================================================================

create type public.conversation_kind as enum (
    'direct',
    'group'
);

-- ======================================================================================
-- public.conversations
-- ======================================================================================

create table public.conversations (
    id uuid default gen_random_uuid() not null,
    kind public.conversation_kind default 'group'::public.conversation_kind not null,
    title text,
    project_id uuid,
    created_by uuid default auth.uid(),
    direct_key text,
    created_at timestamptz default now() not null,
    updated_at timestamptz default now() not null,
    deleted_at timestamptz,
    constraint conversations_direct_key_only_for_direct check (((kind = 'direct'::public.conversation_kind) = (direct_key is not null))),
    constraint conversations_title_length check ((char_length(title) <= 200))
);

alter table only public.conversations
    add constraint conversations_direct_key_unique unique (direct_key);

alter table only public.conversations
    add constraint conversations_pkey primary key (id);

create index conversations_created_by_idx on public.conversations using btree (created_by);

create index conversations_deleted_at_idx on public.conversations using btree (deleted_at) where (deleted_at is not null);

create index conversations_project_id_idx on public.conversations using btree (project_id);

revoke all on table public.conversations from anon, authenticated;
grant select,insert,delete,update on table public.conversations to anon;
grant select,insert,delete,update on table public.conversations to authenticated;
grant all on table public.conversations to service_role;

-- ======================================================================================
-- public.conversation_members
-- ======================================================================================

create table public.conversation_members (
    id uuid default gen_random_uuid() not null,
    conversation_id uuid not null,
    user_id uuid not null,
    last_read_at timestamptz,
    created_at timestamptz default now() not null,
    updated_at timestamptz default now() not null
);

alter table only public.conversation_members
    add constraint conversation_members_one_row_per_user unique (conversation_id, user_id);

alter table only public.conversation_members
    add constraint conversation_members_pkey primary key (id);

create index conversation_members_user_id_idx on public.conversation_members using btree (user_id, conversation_id);

revoke all on table public.conversation_members from anon, authenticated;
grant select,insert,delete,update on table public.conversation_members to anon;
grant select,insert,delete,update on table public.conversation_members to authenticated;
grant all on table public.conversation_members to service_role;

-- ======================================================================================
-- public.messages
-- ======================================================================================

create table public.messages (
    id uuid default gen_random_uuid() not null,
    conversation_id uuid not null,
    author_id uuid default auth.uid(),
    content text not null,
    edited_at timestamptz,
    deleted_at timestamptz,
    created_at timestamptz default now() not null,
    updated_at timestamptz default now() not null,
    search tsvector generated always as (to_tsvector('english'::regconfig, content)) stored,
    constraint messages_content_length check (((char_length(btrim(content)) >= 1) and (char_length(btrim(content)) <= 10000)))
);

alter table only public.messages
    add constraint messages_id_conversation_id_key unique (id, conversation_id);

alter table only public.messages
    add constraint messages_pkey primary key (id);

create index messages_author_id_idx on public.messages using btree (author_id);

create index messages_conversation_id_created_at_idx on public.messages using btree (conversation_id, created_at desc);

create index messages_conversation_id_deleted_idx on public.messages using btree (conversation_id) where (deleted_at is not null);

create index messages_search_idx on public.messages using gin (search);

revoke all on table public.messages from anon, authenticated;
grant select,insert,delete,update on table public.messages to anon;
grant select,insert,delete,update on table public.messages to authenticated;
grant all on table public.messages to service_role;

-- ======================================================================================
-- public.message_attachments
-- ======================================================================================

create table public.message_attachments (
    id uuid default gen_random_uuid() not null,
    message_id uuid not null,
    conversation_id uuid not null,
    file_id uuid not null,
    created_at timestamptz default now() not null,
    updated_at timestamptz default now() not null
);

alter table only public.message_attachments
    add constraint message_attachments_one_row_per_file unique (message_id, file_id);

alter table only public.message_attachments
    add constraint message_attachments_pkey primary key (id);

create index message_attachments_conversation_id_idx on public.message_attachments using btree (conversation_id, message_id);

create index message_attachments_file_id_idx on public.message_attachments using btree (file_id);

create index message_attachments_message_id_conversation_id_idx on public.message_attachments using btree (message_id, conversation_id);

revoke all on table public.message_attachments from anon, authenticated;
grant select,insert,delete,update on table public.message_attachments to anon;
grant select,insert,delete,update on table public.message_attachments to authenticated;
grant all on table public.message_attachments to service_role;

-- ======================================================================================
-- foreign keys
-- ======================================================================================

alter table only public.conversation_members
    add constraint conversation_members_conversation_id_fkey foreign key (conversation_id) references public.conversations(id) on delete cascade;

alter table only public.conversation_members
    add constraint conversation_members_user_id_fkey foreign key (user_id) references public.profiles(id) on delete cascade;

alter table only public.conversations
    add constraint conversations_created_by_fkey foreign key (created_by) references public.profiles(id) on delete set null;

alter table only public.conversations
    add constraint conversations_project_id_fkey foreign key (project_id) references public.projects(id) on delete cascade;

alter table only public.message_attachments
    add constraint message_attachments_message_in_conversation foreign key (message_id, conversation_id) references public.messages(id, conversation_id) on delete cascade;

alter table only public.messages
    add constraint messages_author_id_fkey foreign key (author_id) references public.profiles(id) on delete set null;

alter table only public.messages
    add constraint messages_conversation_id_fkey foreign key (conversation_id) references public.conversations(id) on delete cascade;

-- ======================================================================================
-- functions
-- ======================================================================================

create function private.my_conversation_ids() returns setof uuid
    language plpgsql stable security definer
    set search_path to ''
    as $$
begin
  return query
    select cm.conversation_id
      from public.conversation_members cm
      join public.conversations c on c.id = cm.conversation_id
     where cm.user_id = (select auth.uid())
       and c.deleted_at is null
       and exists (  -- uncorrelated: checked once per call, not once per row
         select 1 from public.user_roles ur
          where ur.user_id = (select auth.uid()) and ur.disabled_at is null
       );
end;
$$;

revoke all on function private.my_conversation_ids() from public;
grant all on function private.my_conversation_ids() to authenticated;
grant all on function private.my_conversation_ids() to service_role;

-- conversations the caller may post in: live groups they are in, and live direct
-- conversations whose other person still shares a live project with them
create function private.my_open_conversation_ids() returns setof uuid
    language plpgsql stable security definer
    set search_path to ''
    as $$
begin
  return query
    select cm.conversation_id
      from public.conversation_members cm
      join public.conversations c on c.id = cm.conversation_id
     where cm.user_id = (select auth.uid())
       and c.deleted_at is null
       and (
         c.kind = 'group'
         or exists (
           select 1 from public.conversation_members other
            where other.conversation_id = c.id
              and other.user_id <> (select auth.uid())
              and other.user_id in (select private.my_project_contact_ids())
         )
       );
end;
$$;

revoke all on function private.my_open_conversation_ids() from public;
grant all on function private.my_open_conversation_ids() to authenticated;
grant all on function private.my_open_conversation_ids() to service_role;

-- live group conversations the caller created (they are its admin: they manage its
-- members, rename, delete and restore it)
create function private.my_group_conversation_ids() returns setof uuid
    language sql stable security definer
    set search_path to ''
    as $$
  select c.id
    from public.conversations c
   where c.created_by = (select auth.uid())
     and c.kind = 'group'
     and c.deleted_at is null
$$;

revoke all on function private.my_group_conversation_ids() from public;
grant all on function private.my_group_conversation_ids() to authenticated;
grant all on function private.my_group_conversation_ids() to service_role;

create function private.is_conversation_member(conversation_id uuid) returns boolean
    language sql stable security definer
    set search_path to ''
    as $$
  select exists (
    select 1 from public.conversation_members cm
     where cm.conversation_id = is_conversation_member.conversation_id
       and cm.user_id = (select auth.uid())
  )
$$;

revoke all on function private.is_conversation_member(conversation_id uuid) from public;
grant all on function private.is_conversation_member(conversation_id uuid) to authenticated;
grant all on function private.is_conversation_member(conversation_id uuid) to service_role;

-- people the caller shares a live project or a conversation with
create function private.my_contact_ids() returns setof uuid
    language sql stable security definer
    set search_path to ''
    as $$
  select other.user_id
    from public.project_members other
   where other.project_id in (select private.my_project_ids())
  union
  select other.user_id
    from public.conversation_members other
   where other.conversation_id in (select private.my_conversation_ids())
$$;

revoke all on function private.my_contact_ids() from public;
grant all on function private.my_contact_ids() to authenticated;
grant all on function private.my_contact_ids() to service_role;

-- Definer: the conversation and both member rows are written before the caller can
-- see them, which no policy allows; the checks are here. Sharing a live project is
-- required every time: an existing conversation with someone no longer shared with
-- stays closed.
create function private.get_or_create_direct_conversation(other_user_id uuid) returns uuid
    language plpgsql security definer
    set search_path to ''
    as $$
declare
  me uuid := (select auth.uid());
  key text;
  conversation uuid;
begin
  if me is null or not private.can_write() then
    raise exception 'not allowed to start conversations' using errcode = '42501';
  end if;
  if other_user_id is null or other_user_id = me then
    raise exception 'other_user_id must be another person' using errcode = '22023';
  end if;
  if not exists (select 1 from private.my_project_contact_ids() c where c = other_user_id) then
    raise exception 'you can only talk directly with someone you share a project with'
      using errcode = '42501';
  end if;
  key := least(me, other_user_id)::text || ':' || greatest(me, other_user_id)::text;
  insert into public.conversations (kind, created_by, direct_key)
  values ('direct', me, key)
  on conflict (direct_key) do nothing
  returning id into conversation;
  if conversation is null then
    select c.id into conversation from public.conversations c where c.direct_key = key;
    -- a direct conversation one of them deleted comes back for both
    update public.conversations c set deleted_at = null where c.id = conversation and c.deleted_at is not null;
    insert into public.conversation_members (conversation_id, user_id)
    values (conversation, me), (conversation, other_user_id)
    on conflict (conversation_id, user_id) do nothing;
  else
    insert into public.conversation_members (conversation_id, user_id)
    values (conversation, me), (conversation, other_user_id);
  end if;
  return conversation;
end;
$$;

revoke all on function private.get_or_create_direct_conversation(other_user_id uuid) from public;
grant all on function private.get_or_create_direct_conversation(other_user_id uuid) to authenticated;

create function public.get_or_create_direct_conversation(other_user_id uuid) returns uuid
    language sql
    set search_path to ''
    as $$
  select private.get_or_create_direct_conversation(other_user_id)
$$;

comment on function public.get_or_create_direct_conversation(other_user_id uuid) is 'The one direct conversation between the caller and another person they share a project with; made on first call.';

revoke all on function public.get_or_create_direct_conversation(other_user_id uuid) from public;
grant all on function public.get_or_create_direct_conversation(other_user_id uuid) to authenticated;
grant all on function public.get_or_create_direct_conversation(other_user_id uuid) to service_role;

-- Definer for the same reason as above.
create function private.create_group_conversation(title text, member_ids uuid[], project_id uuid) returns uuid
    language plpgsql security definer
    set search_path to ''
    as $$
declare
  me uuid := (select auth.uid());
  conversation uuid;
  stranger uuid;
begin
  if me is null or not private.can_write() then
    raise exception 'not allowed to start conversations' using errcode = '42501';
  end if;
  if title is null or char_length(btrim(title)) not between 1 and 200 then
    raise exception 'title must be 1 to 200 characters' using errcode = '22023';
  end if;
  if coalesce(cardinality(member_ids), 0) > 200 then
    raise exception 'a group has at most 200 members' using errcode = '22023';
  end if;
  if project_id is not null and not private.has_project_role(project_id, 'viewer') then
    raise exception 'you are not a member of this project' using errcode = '42501';
  end if;
  select m into stranger
    from unnest(coalesce(member_ids, '{}')) m
   where m <> me
     and case when create_group_conversation.project_id is null
              then not exists (select 1 from private.my_project_contact_ids() c where c = m)
              else not exists (select 1 from public.project_members pm
                                where pm.project_id = create_group_conversation.project_id and pm.user_id = m)
         end
   limit 1;
  if stranger is not null then
    raise exception 'member % does not share a project with you', stranger
      using errcode = '22023', hint = 'group members must be members of the project (or of one of your projects)';
  end if;
  insert into public.conversations (kind, title, project_id, created_by)
  values ('group', btrim(title), create_group_conversation.project_id, me)
  returning id into conversation;
  insert into public.conversation_members (conversation_id, user_id)
  select conversation, m from (select me as m union select unnest(coalesce(member_ids, '{}'))) people;
  return conversation;
end;
$$;

revoke all on function private.create_group_conversation(title text, member_ids uuid[], project_id uuid) from public;
grant all on function private.create_group_conversation(title text, member_ids uuid[], project_id uuid) to authenticated;

create function public.create_group_conversation(title text, member_ids uuid[], project_id uuid default null::uuid) returns uuid
    language sql
    set search_path to ''
    as $$
  select private.create_group_conversation(title, member_ids, project_id)
$$;

comment on function public.create_group_conversation(title text, member_ids uuid[], project_id uuid) is 'A group conversation with the caller and the given people (who must share a project with the caller).';

revoke all on function public.create_group_conversation(title text, member_ids uuid[], project_id uuid) from public;
grant all on function public.create_group_conversation(title text, member_ids uuid[], project_id uuid) to authenticated;
grant all on function public.create_group_conversation(title text, member_ids uuid[], project_id uuid) to service_role;

-- Invoker: RLS on messages decides what is found.
create function public.search_messages(query text, in_conversation uuid default null::uuid, max_rows integer default 50) returns setof public.messages
    language plpgsql stable
    set search_path to ''
    as $$
begin
  if query is null or char_length(btrim(query)) not between 1 and 200 then
    raise exception 'query must be 1 to 200 characters' using errcode = '22023';
  end if;
  if max_rows is null or max_rows not between 1 and 200 then
    raise exception 'max_rows must be between 1 and 200' using errcode = '22023';
  end if;
  return query
    select m.*
      from public.messages m
     where m.search @@ websearch_to_tsquery('english'::regconfig, query)
       and (in_conversation is null or m.conversation_id = in_conversation)
     order by m.created_at desc
     limit max_rows;
end;
$$;

comment on function public.search_messages(query text, in_conversation uuid, max_rows integer) is 'Full-text search over the messages the caller may read, newest first.';

revoke all on function public.search_messages(query text, in_conversation uuid, max_rows integer) from public;
grant all on function public.search_messages(query text, in_conversation uuid, max_rows integer) to authenticated;
grant all on function public.search_messages(query text, in_conversation uuid, max_rows integer) to service_role;

create function private.set_message_edited_at() returns trigger
    language plpgsql
    set search_path to ''
    as $$
begin
  if new.content is distinct from old.content then
    new.edited_at := now();
  end if;
  return new;
end;
$$;

revoke all on function private.set_message_edited_at() from public;

create function private.notify_message_posted() returns trigger
    language plpgsql security definer
    set search_path to ''
    as $$
begin
  insert into public.notifications (user_id, type, payload)
  select cm.user_id, 'message',
         jsonb_build_object('conversation_id', new.conversation_id, 'message_id', new.id,
                            'author_id', new.author_id, 'preview', left(new.content, 140))
    from public.conversation_members cm
   where cm.conversation_id = new.conversation_id
     and cm.user_id is distinct from new.author_id;
  return null;
end;
$$;

revoke all on function private.notify_message_posted() from public;

create function private.refresh_message_previews() returns trigger
    language plpgsql security definer
    set search_path to ''
    as $$
begin
  if new.deleted_at is not null and old.deleted_at is null then
    update public.notifications n
       set payload = (n.payload - 'preview') || jsonb_build_object('deleted', true)
     where n.type = 'message' and n.payload ->> 'message_id' = new.id::text;
  elsif new.deleted_at is null and (old.deleted_at is not null or new.content is distinct from old.content) then
    update public.notifications n
       set payload = (n.payload - 'deleted')
                     || jsonb_build_object('preview', left(new.content, 140), 'edited', new.edited_at is not null)
     where n.type = 'message' and n.payload ->> 'message_id' = new.id::text;
  end if;
  return null;
end;
$$;

revoke all on function private.refresh_message_previews() from public;

-- soft-deleted messages of the caller's conversations
create function private.my_deleted_message_ids() returns setof uuid
    language plpgsql stable security definer
    set search_path to ''
    as $$
begin
  return query
    select m.id
      from public.messages m
     where m.deleted_at is not null
       and m.conversation_id in (select private.my_conversation_ids());
end;
$$;

revoke all on function private.my_deleted_message_ids() from public;
grant all on function private.my_deleted_message_ids() to authenticated;
grant all on function private.my_deleted_message_ids() to service_role;

-- ======================================================================================
-- triggers
-- ======================================================================================

create trigger conversation_members_fresh_id_for_unseen_row before insert on public.conversation_members for each row execute function private.fresh_id_for_unseen_row();

create trigger conversation_members_guard_immutable_columns before update on public.conversation_members for each row execute function private.guard_immutable_columns('id', 'conversation_id', 'user_id');

create trigger conversation_members_limit_bulk_insert after insert on public.conversation_members referencing new table as inserted for each statement execute function private.limit_bulk_insert('1000');

create trigger conversation_members_set_updated_at before insert or update on public.conversation_members for each row execute function private.set_updated_at();

create trigger conversations_fresh_id_for_unseen_row before insert on public.conversations for each row execute function private.fresh_id_for_unseen_row();

create trigger conversations_guard_deleted_at before insert or update on public.conversations for each row execute function private.guard_deleted_at();

create trigger conversations_guard_immutable_columns before update on public.conversations for each row execute function private.guard_immutable_columns('id', 'kind', 'project_id', 'created_by', 'direct_key');

create trigger conversations_limit_bulk_insert after insert on public.conversations referencing new table as inserted for each statement execute function private.limit_bulk_insert('1000');

create trigger conversations_set_updated_at before insert or update on public.conversations for each row execute function private.set_updated_at();

create trigger conversations_soft_delete before delete on public.conversations for each row execute function private.soft_delete();

create trigger message_attachments_fresh_id_for_unseen_row before insert on public.message_attachments for each row execute function private.fresh_id_for_unseen_row();

create trigger message_attachments_limit_bulk_insert after insert on public.message_attachments referencing new table as inserted for each statement execute function private.limit_bulk_insert('1000');

create trigger message_attachments_set_updated_at before insert or update on public.message_attachments for each row execute function private.set_updated_at();

create trigger messages_fresh_id_for_unseen_row before insert on public.messages for each row execute function private.fresh_id_for_unseen_row();

create trigger messages_guard_deleted_at before insert or update on public.messages for each row execute function private.guard_deleted_at();

create trigger messages_guard_immutable_columns before update on public.messages for each row execute function private.guard_immutable_columns('id', 'conversation_id', 'author_id', 'edited_at');

create trigger messages_limit_bulk_insert after insert on public.messages referencing new table as inserted for each statement execute function private.limit_bulk_insert('1000');

create trigger messages_notify_members after insert on public.messages for each row execute function private.notify_message_posted();

create trigger messages_refresh_notification_previews after update of content, deleted_at on public.messages for each row execute function private.refresh_message_previews();

create trigger messages_set_edited_at before update on public.messages for each row execute function private.set_message_edited_at();

create trigger messages_set_server_columns before insert on public.messages for each row execute function private.set_server_columns_on_insert();

create trigger messages_set_updated_at before insert or update on public.messages for each row execute function private.set_updated_at();

create trigger messages_soft_delete before delete on public.messages for each row execute function private.soft_delete();

-- ######################################################################################
-- supabase/schemas/files.sql
-- ######################################################################################

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
    constraint files_mime_type_allowed check ((mime_type = any (array['image/png'::text, 'image/jpeg'::text, 'image/gif'::text, 'image/webp'::text, 'image/svg+xml'::text, 'application/pdf'::text, 'text/plain'::text, 'text/markdown'::text, 'text/csv'::text, 'application/json'::text, 'application/zip'::text, 'application/vnd.openxmlformats-officedocument.wordprocessingml.document'::text, 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet'::text, 'application/vnd.openxmlformats-officedocument.presentationml.presentation'::text]))),
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

-- ######################################################################################
-- supabase/schemas/notifications.sql
-- ######################################################################################

-- Notifications
--
-- The declared source of this domain's tables, helpers, triggers and grants; its policies are
-- in policies/notifications.sql. Edit here, then `make migration NAME=...` writes the migration.

-- SQL function bodies may name objects declared further down or in a later file.
set check_function_bodies = false;

-- ======================================================================================
-- types
-- ======================================================================================

create type public.notification_type as enum (
    'message',
    'task_assigned',
    'project_member_added',
    'document_ready',
    'privacy_request',
    'system',
    'project_invitation'
);

-- ======================================================================================
-- public.notifications
-- ======================================================================================

create table public.notifications (
    id uuid default gen_random_uuid() not null,
    user_id uuid not null,
    type public.notification_type not null,
    payload jsonb default '{}'::jsonb not null,
    read_at timestamptz,
    created_at timestamptz default now() not null,
    updated_at timestamptz default now() not null,
    constraint notifications_payload_is_object check ((jsonb_typeof(payload) = 'object'::text)),
    constraint notifications_payload_size check ((pg_column_size(payload) <= 65536))
);

alter table only public.notifications
    add constraint notifications_pkey primary key (id);

create index notifications_message_id_idx on public.notifications using btree (((payload ->> 'message_id'::text))) where (type = 'message'::public.notification_type);

create index notifications_user_id_created_at_idx on public.notifications using btree (user_id, created_at desc);

create index notifications_user_id_unread_idx on public.notifications using btree (user_id, created_at desc) where (read_at is null);

revoke all on table public.notifications from anon, authenticated;
grant select,delete,update on table public.notifications to anon;
grant select,delete,update on table public.notifications to authenticated;
grant all on table public.notifications to service_role;

-- ======================================================================================
-- foreign keys
-- ======================================================================================

alter table only public.notifications
    add constraint notifications_user_id_fkey foreign key (user_id) references public.profiles(id) on delete cascade;

-- ======================================================================================
-- triggers
-- ======================================================================================

create trigger notifications_guard_immutable_columns before update on public.notifications for each row execute function private.guard_immutable_columns('id', 'user_id', 'type', 'payload');

create trigger notifications_set_updated_at before insert or update on public.notifications for each row execute function private.set_updated_at();

-- ######################################################################################
-- supabase/schemas/calendar.sql
-- ######################################################################################

-- Calendar
--
-- The declared source of this domain's tables, helpers, triggers and grants; its policies are
-- in policies/calendar.sql. Edit here, then `make migration NAME=...` writes the migration.

-- SQL function bodies may name objects declared further down or in a later file.
set check_function_bodies = false;

-- ======================================================================================
-- types
-- ======================================================================================

create type public.attendee_response as enum (
    'pending',
    'accepted',
    'declined',
    'tentative'
);

-- ======================================================================================
-- public.calendar_events
-- ======================================================================================

create table public.calendar_events (
    id uuid default gen_random_uuid() not null,
    owner_id uuid default auth.uid() not null,
    project_id uuid,
    title text not null,
    description text,
    location text,
    starts_at timestamptz not null,
    ends_at timestamptz not null,
    created_at timestamptz default now() not null,
    updated_at timestamptz default now() not null,
    constraint calendar_events_description_length check ((char_length(description) <= 10000)),
    constraint calendar_events_ends_after_starts check ((ends_at > starts_at)),
    constraint calendar_events_location_length check ((char_length(location) <= 500)),
    constraint calendar_events_title_length check (((char_length(btrim(title)) >= 1) and (char_length(btrim(title)) <= 200)))
);

alter table only public.calendar_events
    add constraint calendar_events_pkey primary key (id);

create index calendar_events_owner_id_starts_at_idx on public.calendar_events using btree (owner_id, starts_at);

create index calendar_events_project_id_starts_at_idx on public.calendar_events using btree (project_id, starts_at);

revoke all on table public.calendar_events from anon, authenticated;
grant select,insert,delete,update on table public.calendar_events to anon;
grant select,insert,delete,update on table public.calendar_events to authenticated;
grant all on table public.calendar_events to service_role;

-- ======================================================================================
-- public.calendar_event_attendees
-- ======================================================================================

create table public.calendar_event_attendees (
    id uuid default gen_random_uuid() not null,
    event_id uuid not null,
    user_id uuid not null,
    response public.attendee_response default 'pending'::public.attendee_response not null,
    created_at timestamptz default now() not null,
    updated_at timestamptz default now() not null
);

alter table only public.calendar_event_attendees
    add constraint calendar_event_attendees_one_row_per_user unique (event_id, user_id);

alter table only public.calendar_event_attendees
    add constraint calendar_event_attendees_pkey primary key (id);

create index calendar_event_attendees_user_id_idx on public.calendar_event_attendees using btree (user_id, event_id);

revoke all on table public.calendar_event_attendees from anon, authenticated;
grant select,insert,delete,update on table public.calendar_event_attendees to anon;
grant select,insert,delete,update on table public.calendar_event_attendees to authenticated;
grant all on table public.calendar_event_attendees to service_role;

-- ======================================================================================
-- foreign keys
-- ======================================================================================

alter table only public.calendar_event_attendees
    add constraint calendar_event_attendees_event_id_fkey foreign key (event_id) references public.calendar_events(id) on delete cascade;

alter table only public.calendar_event_attendees
    add constraint calendar_event_attendees_user_id_fkey foreign key (user_id) references public.profiles(id) on delete cascade;

alter table only public.calendar_events
    add constraint calendar_events_owner_id_fkey foreign key (owner_id) references public.profiles(id) on delete cascade;

alter table only public.calendar_events
    add constraint calendar_events_project_id_fkey foreign key (project_id) references public.projects(id) on delete cascade;

-- ======================================================================================
-- functions
-- ======================================================================================

-- events the caller owns, attends, or sees through a project
create function private.my_calendar_event_ids() returns setof uuid
    language sql stable security definer
    set search_path to ''
    as $$
  select e.id from public.calendar_events e where e.owner_id = (select auth.uid())
  union
  select a.event_id from public.calendar_event_attendees a where a.user_id = (select auth.uid())
  union
  select e.id from public.calendar_events e where e.project_id in (select private.my_project_ids())
$$;

revoke all on function private.my_calendar_event_ids() from public;
grant all on function private.my_calendar_event_ids() to authenticated;
grant all on function private.my_calendar_event_ids() to service_role;

create function private.my_owned_calendar_event_ids() returns setof uuid
    language sql stable security definer
    set search_path to ''
    as $$
  select e.id from public.calendar_events e where e.owner_id = (select auth.uid())
$$;

revoke all on function private.my_owned_calendar_event_ids() from public;
grant all on function private.my_owned_calendar_event_ids() to authenticated;
grant all on function private.my_owned_calendar_event_ids() to service_role;

-- ======================================================================================
-- triggers
-- ======================================================================================

create trigger calendar_event_attendees_fresh_id_for_unseen_row before insert on public.calendar_event_attendees for each row execute function private.fresh_id_for_unseen_row();

create trigger calendar_event_attendees_guard_immutable_columns before update on public.calendar_event_attendees for each row execute function private.guard_immutable_columns('id', 'event_id', 'user_id');

create trigger calendar_event_attendees_limit_bulk_insert after insert on public.calendar_event_attendees referencing new table as inserted for each statement execute function private.limit_bulk_insert('1000');

create trigger calendar_event_attendees_set_server_columns before insert on public.calendar_event_attendees for each row execute function private.set_server_columns_on_insert();

create trigger calendar_event_attendees_set_updated_at before insert or update on public.calendar_event_attendees for each row execute function private.set_updated_at();

create trigger calendar_events_fresh_id_for_unseen_row before insert on public.calendar_events for each row execute function private.fresh_id_for_unseen_row();

create trigger calendar_events_guard_immutable_columns before update on public.calendar_events for each row execute function private.guard_immutable_columns('id', 'owner_id');

create trigger calendar_events_limit_bulk_insert after insert on public.calendar_events referencing new table as inserted for each statement execute function private.limit_bulk_insert('1000');

create trigger calendar_events_set_updated_at before insert or update on public.calendar_events for each row execute function private.set_updated_at();

-- ######################################################################################
-- supabase/schemas/jobs.sql
-- ######################################################################################

-- Jobs: what every background job table shares, and the providers' circuit breakers
--
-- The declared source of this domain's tables, helpers, triggers and grants; its policies are
-- in policies/jobs.sql. Edit here, then `make migration NAME=...` writes the migration.

-- SQL function bodies may name objects declared further down or in a later file.
set check_function_bodies = false;

-- ======================================================================================
-- types
-- ======================================================================================

create type public.job_status as enum (
    'queued',
    'running',
    'succeeded',
    'failed'
);

-- ======================================================================================
-- private.provider_circuits
-- ======================================================================================

create table private.provider_circuits (
    key text not null,
    failures integer default 0 not null,
    open_until timestamptz,
    last_error text,
    updated_at timestamptz default now() not null,
    constraint provider_circuits_failures_not_negative check ((failures >= 0)),
    constraint provider_circuits_last_error_length check ((char_length(last_error) <= 500))
);

alter table only private.provider_circuits
    add constraint provider_circuits_pkey primary key (key);

comment on table private.provider_circuits is 'Circuit breaker state per AI provider and model; written by the documents worker (service role).';

grant select,insert,update on table private.provider_circuits to service_role;

-- ======================================================================================
-- functions
-- ======================================================================================

-- Arguments name the worker-only columns. For a client role:
--   insert: `col` must be null, `col=value` must equal value (compared as text:
--           'status=queued', 'attempts=0', 'providers=[]'), else 42501;
--   update: none of the columns may change, else 42501.
-- The service role and definer code paths (which run as their owner) pass.
create function private.guard_job_columns() returns trigger
    language plpgsql
    set search_path to ''
    as $$
declare
  arg text;
  col text;
  expected text;
  new_row jsonb;
  old_row jsonb;
begin
  if current_user not in ('anon', 'authenticated') then
    return new;
  end if;
  new_row := to_jsonb(new);
  if tg_op = 'UPDATE' then
    old_row := to_jsonb(old);
  end if;
  foreach arg in array tg_argv loop
    col := split_part(arg, '=', 1);
    expected := case when position('=' in arg) > 0 then substr(arg, position('=' in arg) + 1) end;
    if tg_op = 'INSERT' and (new_row ->> col) is distinct from expected then
      raise exception '%.% is set by the job worker, not by clients', tg_table_name, col
        using errcode = '42501',
              hint = case when expected is null then 'leave it out'
                          else format('leave it out (it starts as %s)', expected) end;
    elsif tg_op = 'UPDATE' and (new_row -> col) is distinct from (old_row -> col) then
      raise exception '%.% is set by the job worker, not by clients', tg_table_name, col
        using errcode = '42501';
    end if;
  end loop;
  return new;
end;
$$;

comment on function private.guard_job_columns() is 'Trigger: the listed job columns (col or col=initial value) are written by the worker only.';

revoke all on function private.guard_job_columns() from public;

-- Is the circuit open? (closed when there is no row or open_until has passed: the
-- next call is the half-open probe)
create function public.provider_circuit_open_until(p_key text) returns timestamptz
    language sql stable
    set search_path to ''
    as $$
  select c.open_until from private.provider_circuits c
   where c.key = p_key and c.open_until > clock_timestamp()
$$;

comment on function public.provider_circuit_open_until(p_key text) is 'When an open provider circuit closes again (null: closed); service role only.';

revoke all on function public.provider_circuit_open_until(p_key text) from authenticated;
revoke all on function public.provider_circuit_open_until(p_key text) from public;
grant all on function public.provider_circuit_open_until(p_key text) to service_role;

-- Record one call: success closes the circuit; the threshold-th failure in a row
-- (or any failure of the half-open probe) opens it for p_open_seconds.
create function public.record_provider_outcome(p_key text, p_ok boolean, p_threshold integer, p_open_seconds integer, p_error text default null::text) returns table(failures integer, open_until timestamptz)
    language plpgsql
    set search_path to ''
    as $$
begin
  if p_threshold < 1 or p_open_seconds < 1 then
    raise exception 'threshold and open seconds must be positive' using errcode = '22023';
  end if;
  insert into private.provider_circuits as c (key, failures, open_until, last_error, updated_at)
  values (p_key,
          case when p_ok then 0 else 1 end,
          case when not p_ok and p_threshold <= 1
               then clock_timestamp() + make_interval(secs => p_open_seconds) end,
          case when p_ok then null else left(p_error, 500) end,
          clock_timestamp())
  on conflict (key) do update set
    failures = case when p_ok then 0 else c.failures + 1 end,
    open_until = case
      when p_ok then null
      when c.failures + 1 >= p_threshold then clock_timestamp() + make_interval(secs => p_open_seconds)
      else c.open_until end,
    last_error = case when p_ok then c.last_error else left(p_error, 500) end,
    updated_at = clock_timestamp();
  return query select c.failures, c.open_until from private.provider_circuits c where c.key = p_key;
end;
$$;

comment on function public.record_provider_outcome(p_key text, p_ok boolean, p_threshold integer, p_open_seconds integer, p_error text) is 'Counts a provider call for its circuit breaker; service role only.';

revoke all on function public.record_provider_outcome(p_key text, p_ok boolean, p_threshold integer, p_open_seconds integer, p_error text) from authenticated;
revoke all on function public.record_provider_outcome(p_key text, p_ok boolean, p_threshold integer, p_open_seconds integer, p_error text) from public;
grant all on function public.record_provider_outcome(p_key text, p_ok boolean, p_threshold integer, p_open_seconds integer, p_error text) to service_role;

-- ######################################################################################
-- supabase/schemas/documents.sql
-- ######################################################################################

-- Documents: versions and generation jobs
--
-- The declared source of this domain's tables, helpers, triggers and grants; its policies are
-- in policies/documents.sql. Edit here, then `make migration NAME=...` writes the migration.

-- SQL function bodies may name objects declared further down or in a later file.
set check_function_bodies = false;

-- ======================================================================================
-- types
-- ======================================================================================

create type public.document_type as enum (
    'prd',
    'tech_spec',
    'backend_structure',
    'custom'
);

-- ======================================================================================
-- public.documents
-- ======================================================================================

create table public.documents (
    id uuid default gen_random_uuid() not null,
    project_id uuid not null,
    type public.document_type default 'custom'::public.document_type not null,
    title text not null,
    current_version integer default 0 not null,
    created_by uuid default auth.uid(),
    created_at timestamptz default now() not null,
    updated_at timestamptz default now() not null,
    deleted_at timestamptz,
    constraint documents_current_version_not_negative check ((current_version >= 0)),
    constraint documents_title_length check (((char_length(btrim(title)) >= 1) and (char_length(btrim(title)) <= 300)))
);

alter table only public.documents
    add constraint documents_pkey primary key (id);

create index documents_created_by_idx on public.documents using btree (created_by);

create index documents_project_id_deleted_idx on public.documents using btree (project_id) where (deleted_at is not null);

create index documents_project_id_updated_at_idx on public.documents using btree (project_id, updated_at desc);

revoke all on table public.documents from anon, authenticated;
grant select,insert,delete,update on table public.documents to anon;
grant select,insert,delete,update on table public.documents to authenticated;
grant all on table public.documents to service_role;

-- ======================================================================================
-- public.document_versions
-- ======================================================================================

create table public.document_versions (
    id uuid default gen_random_uuid() not null,
    document_id uuid not null,
    project_id uuid not null,
    version integer default 0 not null,
    content text default ''::text not null,
    change_summary text,
    author_id uuid,
    generated_by text,
    restored_from_version integer,
    created_at timestamptz default now() not null,
    job_id uuid,
    constraint document_versions_change_summary_length check ((char_length(change_summary) <= 1000)),
    constraint document_versions_content_length check ((char_length(content) <= 1000000)),
    constraint document_versions_generated_by_length check ((char_length(generated_by) <= 200)),
    constraint document_versions_has_author_or_generator check (((author_id is not null) or (generated_by is not null)))
);

alter table only public.document_versions
    add constraint document_versions_pkey primary key (id);

alter table only public.document_versions
    add constraint document_versions_version_unique unique (document_id, version);

comment on column public.document_versions.job_id is 'The generation job that wrote this version (null for edits and restores).';

create index document_versions_author_id_idx on public.document_versions using btree (author_id);

create unique index document_versions_job_id_key on public.document_versions using btree (job_id);

create index document_versions_project_id_idx on public.document_versions using btree (project_id);

revoke all on table public.document_versions from anon, authenticated, service_role;
grant select,insert on table public.document_versions to anon;
grant select,insert on table public.document_versions to authenticated;
grant select,insert,references,trigger,truncate on table public.document_versions to service_role;

-- ======================================================================================
-- public.document_jobs
-- ======================================================================================

create table public.document_jobs (
    id uuid default gen_random_uuid() not null,
    project_id uuid not null,
    document_id uuid,
    document_type public.document_type not null,
    requested_by uuid,
    status public.job_status default 'queued'::public.job_status not null,
    instructions text,
    error text,
    attempts integer default 0 not null,
    started_at timestamptz,
    finished_at timestamptz,
    created_at timestamptz default now() not null,
    updated_at timestamptz default now() not null,
    dispatched_at timestamptz,
    providers jsonb default '[]'::jsonb not null,
    version integer,
    constraint document_jobs_attempts_not_negative check ((attempts >= 0)),
    constraint document_jobs_error_length check ((char_length(error) <= 2000)),
    constraint document_jobs_finished_after_started check ((finished_at >= started_at)),
    constraint document_jobs_instructions_length check ((char_length(instructions) <= 20000)),
    constraint document_jobs_providers_is_array check ((jsonb_typeof(providers) = 'array'::text)),
    constraint document_jobs_version_positive check ((version > 0))
);

alter table only public.document_jobs
    add constraint document_jobs_pkey primary key (id);

comment on column public.document_jobs.dispatched_at is 'When the job was last sent to the queue by the dispatcher (null: never by it).';

comment on column public.document_jobs.providers is 'Providers tried for the last attempt, in order, and why each was used, failed or skipped.';

create index document_jobs_document_id_idx on public.document_jobs using btree (document_id);

create index document_jobs_project_id_created_at_idx on public.document_jobs using btree (project_id, created_at desc);

create index document_jobs_requested_by_idx on public.document_jobs using btree (requested_by);

create index document_jobs_status_idx on public.document_jobs using btree (status, created_at) where (status = any (array['queued'::public.job_status, 'running'::public.job_status]));

revoke all on table public.document_jobs from anon, authenticated;
grant select on table public.document_jobs to anon;
grant select on table public.document_jobs to authenticated;
grant all on table public.document_jobs to service_role;

-- ======================================================================================
-- foreign keys
-- ======================================================================================

alter table only public.document_jobs
    add constraint document_jobs_document_id_fkey foreign key (document_id) references public.documents(id) on delete set null;

alter table only public.document_jobs
    add constraint document_jobs_project_id_fkey foreign key (project_id) references public.projects(id) on delete cascade;

alter table only public.document_jobs
    add constraint document_jobs_requested_by_fkey foreign key (requested_by) references public.profiles(id) on delete set null;

alter table only public.document_versions
    add constraint document_versions_author_id_fkey foreign key (author_id) references public.profiles(id) on delete set null;

alter table only public.document_versions
    add constraint document_versions_document_id_fkey foreign key (document_id) references public.documents(id) on delete cascade;

alter table only public.document_versions
    add constraint document_versions_project_id_fkey foreign key (project_id) references public.projects(id) on delete cascade;

alter table only public.documents
    add constraint documents_created_by_fkey foreign key (created_by) references public.profiles(id) on delete set null;

alter table only public.documents
    add constraint documents_project_id_fkey foreign key (project_id) references public.projects(id) on delete cascade;

-- ======================================================================================
-- functions
-- ======================================================================================

create function private.number_document_version() returns trigger
    language plpgsql security definer
    set search_path to ''
    as $$
declare
  next_version int;
  doc_project uuid;
begin
  update public.documents d
     set current_version = d.current_version + 1
   where d.id = new.document_id and d.deleted_at is null
  returning d.current_version, d.project_id into next_version, doc_project;
  if next_version is null then
    raise exception 'document % does not exist', new.document_id using errcode = '23503';
  end if;
  new.version := next_version;
  new.project_id := doc_project;
  new.created_at := now();
  if (select auth.uid()) is not null then
    new.author_id := (select auth.uid());
    new.generated_by := null;
  end if;
  return new;
end;
$$;

revoke all on function private.number_document_version() from public;

create function private.forbid_version_changes() returns trigger
    language plpgsql
    set search_path to ''
    as $$
begin
  if tg_op = 'DELETE' and pg_trigger_depth() > 1 then
    return old;
  end if;
  if tg_op = 'UPDATE' and pg_trigger_depth() > 1
     and old.author_id is not null and new.author_id is null
     and (to_jsonb(new) - 'author_id') = (to_jsonb(old) - 'author_id')
     and not exists (select 1 from public.profiles p where p.id = old.author_id) then
    new.generated_by := coalesce(old.generated_by, 'erased user');
    return new;
  end if;
  raise exception 'document versions are append-only'
    using errcode = '42501', hint = 'add a new version instead (restore_document_version restores an old one)';
end;
$$;

revoke all on function private.forbid_version_changes() from public;

-- Invoker, and named to fire before document_versions_number_version (which would
-- otherwise answer 23503 for a missing document, or touch another project's one).
create function private.refuse_version_of_unseen_document() returns trigger
    language plpgsql
    set search_path to ''
    as $$
begin
  if current_user in ('anon', 'authenticated')
     and not exists (select 1 from public.documents d where d.id = new.document_id) then
    raise exception 'new row violates row-level security policy for table "document_versions"'
      using errcode = '42501';
  end if;
  return new;
end;
$$;

revoke all on function private.refuse_version_of_unseen_document() from public;
grant all on function private.refuse_version_of_unseen_document() to anon;
grant all on function private.refuse_version_of_unseen_document() to authenticated;

-- Invoker: reading the old version and adding the new one go through RLS.
create function public.restore_document_version(document_id uuid, version integer) returns public.document_versions
    language plpgsql
    set search_path to ''
    as $$
declare
  old_version public.document_versions;
  restored public.document_versions;
begin
  select v.* into old_version
    from public.document_versions v
   where v.document_id = restore_document_version.document_id
     and v.version = restore_document_version.version;
  if not found then
    raise exception 'version % of document % not found', version, document_id
      using errcode = '22023', hint = 'list versions with GET /document_versions?document_id=eq.<id>';
  end if;
  insert into public.document_versions (document_id, project_id, version, content, change_summary, restored_from_version)
  values (old_version.document_id, old_version.project_id, 0, old_version.content,
          format('Restored version %s', old_version.version), old_version.version)
  returning * into restored;
  return restored;
end;
$$;

comment on function public.restore_document_version(document_id uuid, version integer) is 'Makes an old version current by adding it again as a new version.';

revoke all on function public.restore_document_version(document_id uuid, version integer) from public;
grant all on function public.restore_document_version(document_id uuid, version integer) to authenticated;
grant all on function public.restore_document_version(document_id uuid, version integer) to service_role;

-- Definer: jobs are written by the service role only; this is the one way a
-- project editor queues one (the worker picks it up from the queue).
create function private.request_document_generation(project_id uuid, document_type public.document_type, document_id uuid, instructions text) returns uuid
    language plpgsql security definer
    set search_path to ''
    as $$
declare
  job uuid;
begin
  if not private.can_write() or not private.has_project_role(project_id, 'editor') then
    raise exception 'only project editors can generate documents' using errcode = '42501';
  end if;
  if document_id is not null and not exists (
       select 1 from public.documents d
        where d.id = request_document_generation.document_id
          and d.project_id = request_document_generation.project_id
          and d.deleted_at is null) then
    raise exception 'document % is not in this project', document_id using errcode = '22023';
  end if;
  if char_length(instructions) > 20000 then
    raise exception 'instructions must be at most 20000 characters' using errcode = '22023';
  end if;
  insert into public.document_jobs (project_id, document_id, document_type, requested_by, instructions)
  values (project_id, document_id, document_type, (select auth.uid()), instructions)
  returning id into job;
  return job;
end;
$$;

revoke all on function private.request_document_generation(project_id uuid, document_type public.document_type, document_id uuid, instructions text) from public;
grant all on function private.request_document_generation(project_id uuid, document_type public.document_type, document_id uuid, instructions text) to authenticated;

create function public.request_document_generation(project_id uuid, document_type public.document_type, document_id uuid default null::uuid, instructions text default null::text) returns uuid
    language sql
    set search_path to ''
    as $$
  select private.request_document_generation(project_id, document_type, document_id, instructions)
$$;

comment on function public.request_document_generation(project_id uuid, document_type public.document_type, document_id uuid, instructions text) is 'Queues an AI generation job for a project document; returns the job id.';

revoke all on function public.request_document_generation(project_id uuid, document_type public.document_type, document_id uuid, instructions text) from public;
grant all on function public.request_document_generation(project_id uuid, document_type public.document_type, document_id uuid, instructions text) to authenticated;
grant all on function public.request_document_generation(project_id uuid, document_type public.document_type, document_id uuid, instructions text) to service_role;

create function private.notify_document_job_finished() returns trigger
    language plpgsql security definer
    set search_path to ''
    as $$
begin
  if new.status is distinct from old.status and new.status in ('succeeded', 'failed')
     and new.requested_by is not null then
    insert into public.notifications (user_id, type, payload)
    values (new.requested_by, 'document_ready',
            jsonb_build_object('project_id', new.project_id, 'job_id', new.id,
                               'document_id', new.document_id, 'status', new.status));
  end if;
  return null;
end;
$$;

revoke all on function private.notify_document_job_finished() from public;

-- soft-deleted documents of the caller's live projects
create function private.my_deleted_document_ids() returns setof uuid
    language plpgsql stable security definer
    set search_path to ''
    as $$
begin
  return query
    select d.id
      from public.documents d
     where d.deleted_at is not null
       and d.project_id in (select private.my_project_ids());
end;
$$;

revoke all on function private.my_deleted_document_ids() from public;
grant all on function private.my_deleted_document_ids() to authenticated;
grant all on function private.my_deleted_document_ids() to service_role;

-- ======================================================================================
-- triggers
-- ======================================================================================

create trigger document_jobs_guard_worker_columns before insert or update on public.document_jobs for each row execute function private.guard_job_columns('status=queued', 'attempts=0', 'dispatched_at', 'started_at', 'finished_at', 'error', 'providers=[]', 'version');

create trigger document_jobs_notify_requester after update of status on public.document_jobs for each row execute function private.notify_document_job_finished();

create trigger document_jobs_set_updated_at before insert or update on public.document_jobs for each row execute function private.set_updated_at();

create trigger document_versions_append_only before delete or update on public.document_versions for each row execute function private.forbid_version_changes();

create trigger document_versions_check_document_is_visible before insert on public.document_versions for each row execute function private.refuse_version_of_unseen_document();

create trigger document_versions_fresh_id_for_unseen_row before insert on public.document_versions for each row execute function private.fresh_id_for_unseen_row();

create trigger document_versions_limit_bulk_insert after insert on public.document_versions referencing new table as inserted for each statement execute function private.limit_bulk_insert('1000');

create trigger document_versions_number_version before insert on public.document_versions for each row execute function private.number_document_version();

create trigger document_versions_set_server_columns before insert on public.document_versions for each row execute function private.set_server_columns_on_insert();

create trigger documents_fresh_id_for_unseen_row before insert on public.documents for each row execute function private.fresh_id_for_unseen_row();

create trigger documents_guard_deleted_at before insert or update on public.documents for each row execute function private.guard_deleted_at();

create trigger documents_guard_immutable_columns before update on public.documents for each row execute function private.guard_immutable_columns('id', 'project_id', 'created_by', 'current_version');

create trigger documents_limit_bulk_insert after insert on public.documents referencing new table as inserted for each statement execute function private.limit_bulk_insert('1000');

create trigger documents_set_server_columns before insert on public.documents for each row execute function private.set_server_columns_on_insert();

create trigger documents_set_updated_at before insert or update on public.documents for each row execute function private.set_updated_at();

create trigger documents_soft_delete before delete on public.documents for each row execute function private.soft_delete();

-- ######################################################################################
-- supabase/schemas/integrations.sql
-- ######################################################################################

-- Integrations: connections, links, syncs, token material, webhooks
--
-- The declared source of this domain's tables, helpers, triggers and grants; its policies are
-- in policies/integrations.sql. Edit here, then `make migration NAME=...` writes the migration.

-- SQL function bodies may name objects declared further down or in a later file.
set check_function_bodies = false;

-- ======================================================================================
-- types
-- ======================================================================================

create type public.integration_provider as enum (
    'github',
    'gitlab',
    'google_docs',
    'jira',
    'linear',
    'hubspot',
    'salesforce'
);

create type public.integration_status as enum (
    'pending',
    'connected',
    'syncing',
    'error',
    'revoked'
);

-- ======================================================================================
-- public.integrations
-- ======================================================================================

create table public.integrations (
    id uuid default gen_random_uuid() not null,
    user_id uuid default auth.uid() not null,
    project_id uuid,
    provider public.integration_provider not null,
    external_account_id text,
    external_account_name text,
    scopes text[] default '{}'::text[] not null,
    status public.integration_status default 'pending'::public.integration_status not null,
    last_synced_at timestamptz,
    last_error text,
    created_at timestamptz default now() not null,
    updated_at timestamptz default now() not null,
    constraint integrations_external_account_id_length check ((char_length(external_account_id) <= 200)),
    constraint integrations_external_account_name_length check ((char_length(external_account_name) <= 200)),
    constraint integrations_last_error_length check ((char_length(last_error) <= 2000)),
    constraint integrations_scopes_count check ((cardinality(scopes) <= 50))
);

alter table only public.integrations
    add constraint integrations_one_per_external_account unique (user_id, provider, external_account_id);

alter table only public.integrations
    add constraint integrations_pkey primary key (id);

create index integrations_project_id_idx on public.integrations using btree (project_id);

create index integrations_user_id_idx on public.integrations using btree (user_id, provider);

revoke all on table public.integrations from anon, authenticated;
grant select,insert,delete,update on table public.integrations to anon;
grant select,insert,delete,update on table public.integrations to authenticated;
grant all on table public.integrations to service_role;

-- ======================================================================================
-- public.integration_links
-- ======================================================================================

create table public.integration_links (
    id uuid default gen_random_uuid() not null,
    integration_id uuid not null,
    project_id uuid not null,
    kind text not null,
    external_id text not null,
    name text,
    url text,
    document_id uuid,
    sync_cursor jsonb default '{}'::jsonb not null,
    last_synced_at timestamptz,
    created_by uuid default auth.uid(),
    created_at timestamptz default now() not null,
    updated_at timestamptz default now() not null,
    constraint integration_links_external_id_length check (((char_length(external_id) >= 1) and (char_length(external_id) <= 300))),
    constraint integration_links_kind_known check ((kind = any (array['repository'::text, 'document'::text]))),
    constraint integration_links_name_length check ((char_length(name) <= 300)),
    constraint integration_links_sync_cursor_is_object check ((jsonb_typeof(sync_cursor) = 'object'::text)),
    constraint integration_links_url_length check ((char_length(url) <= 2000))
);

alter table only public.integration_links
    add constraint integration_links_one_per_item unique (integration_id, external_id);

alter table only public.integration_links
    add constraint integration_links_pkey primary key (id);

create index integration_links_created_by_idx on public.integration_links using btree (created_by);

create index integration_links_document_id_idx on public.integration_links using btree (document_id);

create index integration_links_project_id_idx on public.integration_links using btree (project_id);

revoke all on table public.integration_links from anon, authenticated;
grant select on table public.integration_links to anon;
grant select on table public.integration_links to authenticated;
grant all on table public.integration_links to service_role;

-- ======================================================================================
-- public.integration_syncs
-- ======================================================================================

create table public.integration_syncs (
    id uuid default gen_random_uuid() not null,
    integration_id uuid not null,
    project_id uuid not null,
    requested_by uuid,
    reason text default 'manual'::text not null,
    status public.job_status default 'queued'::public.job_status not null,
    attempts integer default 0 not null,
    dispatched_at timestamptz,
    started_at timestamptz,
    finished_at timestamptz,
    error text,
    events_written integer default 0 not null,
    provider_requests integer default 0 not null,
    created_at timestamptz default now() not null,
    updated_at timestamptz default now() not null,
    constraint integration_syncs_attempts_not_negative check ((attempts >= 0)),
    constraint integration_syncs_error_length check ((char_length(error) <= 2000)),
    constraint integration_syncs_finished_after_started check ((finished_at >= started_at)),
    constraint integration_syncs_reason_known check ((reason = any (array['manual'::text, 'schedule'::text, 'webhook'::text])))
);

alter table only public.integration_syncs
    add constraint integration_syncs_pkey primary key (id);

create index integration_syncs_integration_id_idx on public.integration_syncs using btree (integration_id, created_at desc);

create unique index integration_syncs_one_active_idx on public.integration_syncs using btree (integration_id) where (status = any (array['queued'::public.job_status, 'running'::public.job_status]));

create index integration_syncs_project_id_created_at_idx on public.integration_syncs using btree (project_id, created_at desc);

create index integration_syncs_requested_by_idx on public.integration_syncs using btree (requested_by);

create index integration_syncs_status_idx on public.integration_syncs using btree (status, created_at) where (status = any (array['queued'::public.job_status, 'running'::public.job_status]));

revoke all on table public.integration_syncs from anon, authenticated;
grant select on table public.integration_syncs to anon;
grant select on table public.integration_syncs to authenticated;
grant all on table public.integration_syncs to service_role;

-- ======================================================================================
-- private.integration_credentials
-- ======================================================================================

create table private.integration_credentials (
    integration_id uuid not null,
    access_token_ciphertext text not null,
    refresh_token_ciphertext text,
    key_id text not null,
    expires_at timestamptz,
    created_at timestamptz default now() not null,
    updated_at timestamptz default now() not null,
    data_key_ciphertext text
);

alter table only private.integration_credentials
    add constraint integration_credentials_pkey primary key (integration_id);

comment on table private.integration_credentials is 'OAuth tokens, encrypted by the integration functions; readable by the service role only.';

comment on column private.integration_credentials.data_key_ciphertext is 'The AES-256 data key of the envelope, encrypted by KMS (GenerateDataKey); never its plaintext.';

grant select,insert,delete,update on table private.integration_credentials to service_role;

-- ======================================================================================
-- private.integration_webhook_secrets
-- ======================================================================================

create table private.integration_webhook_secrets (
    integration_id uuid not null,
    secret_ciphertext text not null,
    data_key_ciphertext text not null,
    key_id text not null,
    created_at timestamptz default now() not null,
    updated_at timestamptz default now() not null
);

alter table only private.integration_webhook_secrets
    add constraint integration_webhook_secrets_pkey primary key (integration_id);

comment on table private.integration_webhook_secrets is 'Per-integration webhook signing secrets, envelope-encrypted; readable by the service role only.';

grant select,insert,delete,update on table private.integration_webhook_secrets to service_role;

-- ======================================================================================
-- private.oauth_states
-- ======================================================================================

create table private.oauth_states (
    state text not null,
    user_id uuid not null,
    provider public.integration_provider not null,
    project_id uuid,
    code_verifier_ciphertext text not null,
    redirect_uri text not null,
    expires_at timestamptz default (now() + '00:10:00'::interval) not null,
    created_at timestamptz default now() not null,
    constraint oauth_states_state_length check (((char_length(state) >= 32) and (char_length(state) <= 200)))
);

alter table only private.oauth_states
    add constraint oauth_states_pkey primary key (state);

create index oauth_states_expires_at_idx on private.oauth_states using btree (expires_at);

create index oauth_states_project_id_idx on private.oauth_states using btree (project_id);

create index oauth_states_user_id_idx on private.oauth_states using btree (user_id);

grant select,insert,delete,update on table private.oauth_states to service_role;

-- ======================================================================================
-- private.webhook_deliveries
-- ======================================================================================

-- replay protection: a delivery id is accepted once per integration
create table private.webhook_deliveries (
    integration_id uuid not null,
    delivery_id text not null,
    received_at timestamptz default now() not null,
    constraint webhook_deliveries_delivery_id_length check (((char_length(delivery_id) >= 1) and (char_length(delivery_id) <= 200)))
);

alter table only private.webhook_deliveries
    add constraint webhook_deliveries_pkey primary key (integration_id, delivery_id);

create index webhook_deliveries_received_at_idx on private.webhook_deliveries using btree (received_at);

grant select,insert,delete,update on table private.webhook_deliveries to service_role;

-- ======================================================================================
-- foreign keys
-- ======================================================================================

alter table only private.integration_credentials
    add constraint integration_credentials_integration_id_fkey foreign key (integration_id) references public.integrations(id) on delete cascade;

alter table only private.integration_webhook_secrets
    add constraint integration_webhook_secrets_integration_id_fkey foreign key (integration_id) references public.integrations(id) on delete cascade;

alter table only private.oauth_states
    add constraint oauth_states_project_id_fkey foreign key (project_id) references public.projects(id) on delete cascade;

alter table only private.oauth_states
    add constraint oauth_states_user_id_fkey foreign key (user_id) references public.profiles(id) on delete cascade;

alter table only private.webhook_deliveries
    add constraint webhook_deliveries_integration_id_fkey foreign key (integration_id) references public.integrations(id) on delete cascade;

alter table only public.integration_links
    add constraint integration_links_created_by_fkey foreign key (created_by) references public.profiles(id) on delete set null;

alter table only public.integration_links
    add constraint integration_links_document_id_fkey foreign key (document_id) references public.documents(id) on delete set null;

alter table only public.integration_links
    add constraint integration_links_integration_id_fkey foreign key (integration_id) references public.integrations(id) on delete cascade;

alter table only public.integration_links
    add constraint integration_links_project_id_fkey foreign key (project_id) references public.projects(id) on delete cascade;

alter table only public.integration_syncs
    add constraint integration_syncs_integration_id_fkey foreign key (integration_id) references public.integrations(id) on delete cascade;

alter table only public.integration_syncs
    add constraint integration_syncs_project_id_fkey foreign key (project_id) references public.projects(id) on delete cascade;

alter table only public.integration_syncs
    add constraint integration_syncs_requested_by_fkey foreign key (requested_by) references public.profiles(id) on delete set null;

alter table only public.integrations
    add constraint integrations_project_id_fkey foreign key (project_id) references public.projects(id) on delete set null;

alter table only public.integrations
    add constraint integrations_user_id_fkey foreign key (user_id) references public.profiles(id) on delete cascade;

-- ======================================================================================
-- functions
-- ======================================================================================

create function private.guard_integration_sync_state() returns trigger
    language plpgsql
    set search_path to ''
    as $$
begin
  if current_user not in ('anon', 'authenticated') then
    return new;
  end if;
  if tg_op = 'INSERT' then
    new.last_synced_at := null;
    new.last_error := null;
  elsif new.status is distinct from old.status and new.status <> 'revoked' then
    raise exception 'integrations.status can only be changed to revoked'
      using errcode = '42501',
            hint = 'the sync status is the integration service''s; set status to revoked to disconnect';
  end if;
  return new;
end;
$$;

revoke all on function private.guard_integration_sync_state() from public;

-- Definer: links and sync jobs are written by the functions only; these are the
-- ways the integration's owner, an admin of its project, adds one.
create function private.link_integration_item(integration_id uuid, kind text, external_id text, name text, url text, document_id uuid) returns public.integration_links
    language plpgsql security definer
    set search_path to ''
    as $$
declare
  target uuid;
  link public.integration_links;
begin
  select i.project_id into target
    from public.integrations i
   where i.id = link_integration_item.integration_id
     and i.user_id = (select auth.uid())
     and i.status in ('connected', 'syncing', 'error');
  if not found then
    raise exception 'no connected integration % of yours', integration_id using errcode = '42501';
  end if;
  if target is null then
    raise exception 'the integration is not linked to a project' using errcode = '22023';
  end if;
  if not private.can_write() or not private.has_project_role(target, 'admin') then
    raise exception 'only project admins can link integrations' using errcode = '42501';
  end if;
  if document_id is not null and not exists (
       select 1 from public.documents d
        where d.id = link_integration_item.document_id and d.project_id = target and d.deleted_at is null) then
    raise exception 'document % is not in this project', document_id using errcode = '22023';
  end if;
  insert into public.integration_links as l (integration_id, project_id, kind, external_id, name, url, document_id, created_by)
  values (link_integration_item.integration_id, target, link_integration_item.kind,
          link_integration_item.external_id, link_integration_item.name, link_integration_item.url,
          link_integration_item.document_id, (select auth.uid()))
  on conflict on constraint integration_links_one_per_item do update
     set name = excluded.name, url = excluded.url,
         document_id = coalesce(excluded.document_id, l.document_id)
  returning * into link;
  return link;
end;
$$;

revoke all on function private.link_integration_item(integration_id uuid, kind text, external_id text, name text, url text, document_id uuid) from public;
grant all on function private.link_integration_item(integration_id uuid, kind text, external_id text, name text, url text, document_id uuid) to authenticated;

create function public.link_integration_item(integration_id uuid, kind text, external_id text, name text default null::text, url text default null::text, document_id uuid default null::uuid) returns public.integration_links
    language sql
    set search_path to ''
    as $$
  select private.link_integration_item(integration_id, kind, external_id, name, url, document_id)
$$;

comment on function public.link_integration_item(integration_id uuid, kind text, external_id text, name text, url text, document_id uuid) is 'Links a repository or document of a connected integration to its project (project admins).';

revoke all on function public.link_integration_item(integration_id uuid, kind text, external_id text, name text, url text, document_id uuid) from public;
grant all on function public.link_integration_item(integration_id uuid, kind text, external_id text, name text, url text, document_id uuid) to authenticated;
grant all on function public.link_integration_item(integration_id uuid, kind text, external_id text, name text, url text, document_id uuid) to service_role;

create function private.queue_integration_sync(integration_id uuid) returns public.integration_syncs
    language plpgsql security definer
    set search_path to ''
    as $$
declare
  target uuid;
  job public.integration_syncs;
begin
  select i.project_id into target
    from public.integrations i
   where i.id = queue_integration_sync.integration_id
     and i.user_id = (select auth.uid())
     and i.status in ('connected', 'syncing', 'error');
  if not found or not private.can_write() then
    raise exception 'no connected integration % of yours', integration_id using errcode = '42501';
  end if;
  if target is null then
    raise exception 'the integration is not linked to a project' using errcode = '22023';
  end if;
  -- a sync writes into the project's activity stream: only while the owner may still write there
  if not private.has_project_role(target, 'editor') then
    raise exception 'no connected integration % of yours', integration_id using errcode = '42501';
  end if;
  select * into job from public.integration_syncs s
   where s.integration_id = queue_integration_sync.integration_id and s.status in ('queued', 'running');
  if found then
    return job;
  end if;
  insert into public.integration_syncs (integration_id, project_id, requested_by, reason)
  values (queue_integration_sync.integration_id, target, (select auth.uid()), 'manual')
  on conflict do nothing
  returning * into job;
  if job.id is null then
    select * into job from public.integration_syncs s
     where s.integration_id = queue_integration_sync.integration_id and s.status in ('queued', 'running');
  end if;
  return job;
end;
$$;

revoke all on function private.queue_integration_sync(integration_id uuid) from public;
grant all on function private.queue_integration_sync(integration_id uuid) to authenticated;

create function public.queue_integration_sync(integration_id uuid) returns public.integration_syncs
    language sql
    set search_path to ''
    as $$
  select private.queue_integration_sync(integration_id)
$$;

comment on function public.queue_integration_sync(integration_id uuid) is 'Queues a sync of a connected integration (its owner); returns the waiting or running job.';

revoke all on function public.queue_integration_sync(integration_id uuid) from public;
grant all on function public.queue_integration_sync(integration_id uuid) to authenticated;
grant all on function public.queue_integration_sync(integration_id uuid) to service_role;

create function public.delete_integration_credentials(integration_id uuid) returns void
    language sql
    set search_path to ''
    as $$
  delete from private.integration_credentials c where c.integration_id = delete_integration_credentials.integration_id;
  delete from private.integration_webhook_secrets s where s.integration_id = delete_integration_credentials.integration_id;
$$;

revoke all on function public.delete_integration_credentials(integration_id uuid) from authenticated;
revoke all on function public.delete_integration_credentials(integration_id uuid) from public;
grant all on function public.delete_integration_credentials(integration_id uuid) to service_role;

create function public.get_integration_credentials(integration_id uuid) returns table(access_token_ciphertext text, refresh_token_ciphertext text, data_key_ciphertext text, key_id text, expires_at timestamptz)
    language sql stable
    set search_path to ''
    as $$
  select c.access_token_ciphertext, c.refresh_token_ciphertext, c.data_key_ciphertext, c.key_id, c.expires_at
    from private.integration_credentials c
   where c.integration_id = get_integration_credentials.integration_id
$$;

revoke all on function public.get_integration_credentials(integration_id uuid) from authenticated;
revoke all on function public.get_integration_credentials(integration_id uuid) from public;
grant all on function public.get_integration_credentials(integration_id uuid) to service_role;

create function public.get_integration_webhook_secret(integration_id uuid) returns table(secret_ciphertext text, data_key_ciphertext text, key_id text)
    language sql stable
    set search_path to ''
    as $$
  select s.secret_ciphertext, s.data_key_ciphertext, s.key_id
    from private.integration_webhook_secrets s
   where s.integration_id = get_integration_webhook_secret.integration_id
$$;

revoke all on function public.get_integration_webhook_secret(integration_id uuid) from authenticated;
revoke all on function public.get_integration_webhook_secret(integration_id uuid) from public;
grant all on function public.get_integration_webhook_secret(integration_id uuid) to service_role;

-- Every save is one envelope (a fresh data key encrypts both tokens), so both
-- ciphertexts are replaced together.
create function public.save_integration_credentials(integration_id uuid, access_token_ciphertext text, refresh_token_ciphertext text, data_key_ciphertext text, key_id text, expires_at timestamptz) returns void
    language sql
    set search_path to ''
    as $$
  insert into private.integration_credentials as c
    (integration_id, access_token_ciphertext, refresh_token_ciphertext, data_key_ciphertext, key_id, expires_at)
  values (integration_id, access_token_ciphertext, refresh_token_ciphertext, data_key_ciphertext, key_id, expires_at)
  on conflict on constraint integration_credentials_pkey do update
     set access_token_ciphertext = excluded.access_token_ciphertext,
         refresh_token_ciphertext = excluded.refresh_token_ciphertext,
         data_key_ciphertext = excluded.data_key_ciphertext,
         key_id = excluded.key_id,
         expires_at = excluded.expires_at
$$;

revoke all on function public.save_integration_credentials(integration_id uuid, access_token_ciphertext text, refresh_token_ciphertext text, data_key_ciphertext text, key_id text, expires_at timestamptz) from authenticated;
revoke all on function public.save_integration_credentials(integration_id uuid, access_token_ciphertext text, refresh_token_ciphertext text, data_key_ciphertext text, key_id text, expires_at timestamptz) from public;
grant all on function public.save_integration_credentials(integration_id uuid, access_token_ciphertext text, refresh_token_ciphertext text, data_key_ciphertext text, key_id text, expires_at timestamptz) to service_role;

create function public.save_integration_webhook_secret(integration_id uuid, secret_ciphertext text, data_key_ciphertext text, key_id text) returns void
    language sql
    set search_path to ''
    as $$
  insert into private.integration_webhook_secrets as s (integration_id, secret_ciphertext, data_key_ciphertext, key_id)
  values (integration_id, secret_ciphertext, data_key_ciphertext, key_id)
  on conflict on constraint integration_webhook_secrets_pkey do update
     set secret_ciphertext = excluded.secret_ciphertext,
         data_key_ciphertext = excluded.data_key_ciphertext,
         key_id = excluded.key_id
$$;

revoke all on function public.save_integration_webhook_secret(integration_id uuid, secret_ciphertext text, data_key_ciphertext text, key_id text) from authenticated;
revoke all on function public.save_integration_webhook_secret(integration_id uuid, secret_ciphertext text, data_key_ciphertext text, key_id text) from public;
grant all on function public.save_integration_webhook_secret(integration_id uuid, secret_ciphertext text, data_key_ciphertext text, key_id text) to service_role;

create function public.save_oauth_state(state text, user_id uuid, provider public.integration_provider, project_id uuid, code_verifier_ciphertext text, redirect_uri text) returns void
    language sql
    set search_path to ''
    as $$
  delete from private.oauth_states s where s.expires_at < now();
  insert into private.oauth_states (state, user_id, provider, project_id, code_verifier_ciphertext, redirect_uri)
  values (state, user_id, provider, project_id, code_verifier_ciphertext, redirect_uri)
$$;

revoke all on function public.save_oauth_state(state text, user_id uuid, provider public.integration_provider, project_id uuid, code_verifier_ciphertext text, redirect_uri text) from authenticated;
revoke all on function public.save_oauth_state(state text, user_id uuid, provider public.integration_provider, project_id uuid, code_verifier_ciphertext text, redirect_uri text) from public;
grant all on function public.save_oauth_state(state text, user_id uuid, provider public.integration_provider, project_id uuid, code_verifier_ciphertext text, redirect_uri text) to service_role;

-- returns the state once (it is deleted), and nothing when unknown or expired
create function public.take_oauth_state(state text) returns table(user_id uuid, provider public.integration_provider, project_id uuid, code_verifier_ciphertext text, redirect_uri text)
    language sql
    set search_path to ''
    as $$
  with taken as (
    delete from private.oauth_states s
     where s.state = take_oauth_state.state
    returning s.*
  )
  select t.user_id, t.provider, t.project_id, t.code_verifier_ciphertext, t.redirect_uri
    from taken t
   where t.expires_at > now()
$$;

revoke all on function public.take_oauth_state(state text) from authenticated;
revoke all on function public.take_oauth_state(state text) from public;
grant all on function public.take_oauth_state(state text) to service_role;

-- ======================================================================================
-- triggers
-- ======================================================================================

create trigger integration_credentials_set_updated_at before insert or update on private.integration_credentials for each row execute function private.set_updated_at();

create trigger integration_webhook_secrets_set_updated_at before insert or update on private.integration_webhook_secrets for each row execute function private.set_updated_at();

create trigger integration_links_set_updated_at before insert or update on public.integration_links for each row execute function private.set_updated_at();

create trigger integration_syncs_guard_worker_columns before insert or update on public.integration_syncs for each row execute function private.guard_job_columns('status=queued', 'attempts=0', 'dispatched_at', 'started_at', 'finished_at', 'error', 'events_written=0', 'provider_requests=0');

create trigger integration_syncs_set_updated_at before insert or update on public.integration_syncs for each row execute function private.set_updated_at();

create trigger integrations_fresh_id_for_unseen_row before insert on public.integrations for each row execute function private.fresh_id_for_unseen_row();

create trigger integrations_guard_immutable_columns before update on public.integrations for each row execute function private.guard_immutable_columns('id', 'user_id', 'provider', 'external_account_id', 'scopes', 'last_synced_at', 'last_error');

create trigger integrations_guard_sync_state before insert or update on public.integrations for each row execute function private.guard_integration_sync_state();

create trigger integrations_limit_bulk_insert after insert on public.integrations referencing new table as inserted for each statement execute function private.limit_bulk_insert('1000');

create trigger integrations_set_updated_at before insert or update on public.integrations for each row execute function private.set_updated_at();

-- ######################################################################################
-- supabase/schemas/activity.sql
-- ######################################################################################

-- Activity: one stream of events from code hosts, boards and CRMs; dashboards
--
-- The declared source of this domain's tables, helpers, triggers and grants; its policies are
-- in policies/activity.sql. Edit here, then `make migration NAME=...` writes the migration.

-- SQL function bodies may name objects declared further down or in a later file.
set check_function_bodies = false;

-- ======================================================================================
-- types
-- ======================================================================================

create type public.activity_source as enum (
    'github',
    'gitlab',
    'jira',
    'linear',
    'hubspot',
    'salesforce',
    'manual'
);

-- ======================================================================================
-- public.activity_events
-- ======================================================================================

create table public.activity_events (
    id uuid default gen_random_uuid() not null,
    project_id uuid not null,
    source public.activity_source not null,
    kind text not null,
    occurred_at timestamptz default now() not null,
    actor_id uuid,
    actor text,
    external_id text,
    payload jsonb default '{}'::jsonb not null,
    created_at timestamptz default now() not null,
    updated_at timestamptz default now() not null,
    constraint activity_events_actor_length check ((char_length(actor) <= 200)),
    constraint activity_events_external_id_length check ((char_length(external_id) <= 200)),
    constraint activity_events_kind_format check ((kind ~ '^[a-z][a-z0-9_.]{0,63}$'::text)),
    constraint activity_events_manual_has_no_external_id check (((source <> 'manual'::public.activity_source) or (external_id is null))),
    constraint activity_events_payload_depth check (private.jsonb_depth_below(payload, 32)),
    constraint activity_events_payload_is_object check ((jsonb_typeof(payload) = 'object'::text)),
    constraint activity_events_payload_size check ((pg_column_size(payload) <= 262144))
);

alter table only public.activity_events
    add constraint activity_events_external_id_unique_per_source unique (source, external_id);

alter table only public.activity_events
    add constraint activity_events_pkey primary key (id);

create index activity_events_actor_id_idx on public.activity_events using btree (actor_id);

create index activity_events_project_id_occurred_at_idx on public.activity_events using btree (project_id, occurred_at desc);

revoke all on table public.activity_events from anon, authenticated;
grant select,insert,delete,update on table public.activity_events to anon;
grant select,insert,delete,update on table public.activity_events to authenticated;
grant all on table public.activity_events to service_role;

-- ======================================================================================
-- public.dashboards
-- ======================================================================================

create table public.dashboards (
    id uuid default gen_random_uuid() not null,
    owner_id uuid default auth.uid() not null,
    project_id uuid not null,
    name text not null,
    layout jsonb default '{}'::jsonb not null,
    created_at timestamptz default now() not null,
    updated_at timestamptz default now() not null,
    constraint dashboards_layout_depth check (private.jsonb_depth_below(layout, 32)),
    constraint dashboards_layout_is_object check ((jsonb_typeof(layout) = 'object'::text)),
    constraint dashboards_layout_size check ((pg_column_size(layout) <= 262144)),
    constraint dashboards_name_length check (((char_length(btrim(name)) >= 1) and (char_length(btrim(name)) <= 200)))
);

alter table only public.dashboards
    add constraint dashboards_pkey primary key (id);

create index dashboards_owner_id_idx on public.dashboards using btree (owner_id);

create index dashboards_project_id_idx on public.dashboards using btree (project_id);

revoke all on table public.dashboards from anon, authenticated;
grant select,insert,delete,update on table public.dashboards to anon;
grant select,insert,delete,update on table public.dashboards to authenticated;
grant all on table public.dashboards to service_role;

-- ======================================================================================
-- foreign keys
-- ======================================================================================

alter table only public.activity_events
    add constraint activity_events_actor_id_fkey foreign key (actor_id) references public.profiles(id) on delete set null;

alter table only public.activity_events
    add constraint activity_events_project_id_fkey foreign key (project_id) references public.projects(id) on delete cascade;

alter table only public.dashboards
    add constraint dashboards_owner_id_fkey foreign key (owner_id) references public.profiles(id) on delete cascade;

alter table only public.dashboards
    add constraint dashboards_project_id_fkey foreign key (project_id) references public.projects(id) on delete cascade;

-- ======================================================================================
-- functions
-- ======================================================================================

-- One delivery (webhook) or one page (sync) of activity, in one transaction: the
-- delivery id is recorded with the rows, so a replay writes nothing (-1), and a
-- row already ingested (same source and external id) is skipped.
create function public.ingest_activity(integration_id uuid, delivery_id text, events jsonb) returns integer
    language plpgsql
    set search_path to ''
    as $$
declare
  target uuid;
  written int;
begin
  select i.project_id into target from public.integrations i where i.id = ingest_activity.integration_id;
  if target is null then
    raise exception 'integration % has no project', integration_id using errcode = '22023';
  end if;
  if delivery_id is not null then
    insert into private.webhook_deliveries (integration_id, delivery_id)
    values (ingest_activity.integration_id, ingest_activity.delivery_id)
    on conflict on constraint webhook_deliveries_pkey do nothing;
    if not found then
      return -1;
    end if;
  end if;
  insert into public.activity_events (project_id, source, kind, occurred_at, actor, external_id, payload)
  select target, e.source, e.kind, coalesce(e.occurred_at, now()), left(e.actor, 200), e.external_id,
         coalesce(e.payload, '{}'::jsonb)
    from jsonb_to_recordset(coalesce(events, '[]'::jsonb))
      as e (source public.activity_source, kind text, occurred_at timestamptz, actor text,
            external_id text, payload jsonb)
  on conflict on constraint activity_events_external_id_unique_per_source do nothing;
  get diagnostics written = row_count;
  return written;
end;
$$;

revoke all on function public.ingest_activity(integration_id uuid, delivery_id text, events jsonb) from authenticated;
revoke all on function public.ingest_activity(integration_id uuid, delivery_id text, events jsonb) from public;
grant all on function public.ingest_activity(integration_id uuid, delivery_id text, events jsonb) to service_role;

-- Invoker: RLS on activity_events decides; a non-member is told so.
create function public.project_activity_by_week(project_id uuid, weeks integer default 12) returns table(week_start date, source public.activity_source, category text, events bigint)
    language plpgsql stable
    set search_path to ''
    as $$
begin
  if weeks is null or weeks not between 1 and 104 then
    raise exception 'weeks must be between 1 and 104' using errcode = '22023';
  end if;
  if not private.has_project_role(project_id, 'viewer') or not private.is_active_user() then
    raise exception 'not a member of this project' using errcode = '42501';
  end if;
  return query
    select date_trunc('week', e.occurred_at)::date as week_start,
           e.source,
           case when e.source in ('github', 'gitlab', 'jira', 'linear') then 'technical'
                when e.source in ('hubspot', 'salesforce') then 'business'
                else 'manual' end as category,
           count(*) as events
      from public.activity_events e
     where e.project_id = project_activity_by_week.project_id
       and e.occurred_at >= date_trunc('week', now()) - make_interval(weeks => weeks - 1)
     group by 1, 2, 3
     order by 1, 3, 2;
end;
$$;

comment on function public.project_activity_by_week(project_id uuid, weeks integer) is 'Events per week and source for a project (technical: code hosts and task boards; business: CRMs).';

revoke all on function public.project_activity_by_week(project_id uuid, weeks integer) from public;
grant all on function public.project_activity_by_week(project_id uuid, weeks integer) to authenticated;
grant all on function public.project_activity_by_week(project_id uuid, weeks integer) to service_role;

-- ======================================================================================
-- triggers
-- ======================================================================================

create trigger activity_events_fresh_id_for_unseen_row before insert on public.activity_events for each row execute function private.fresh_id_for_unseen_row();

create trigger activity_events_limit_bulk_insert after insert on public.activity_events referencing new table as inserted for each statement execute function private.limit_bulk_insert('1000');

create trigger activity_events_set_server_columns before insert on public.activity_events for each row execute function private.set_server_columns_on_insert();

create trigger activity_events_set_updated_at before insert or update on public.activity_events for each row execute function private.set_updated_at();

create trigger dashboards_fresh_id_for_unseen_row before insert on public.dashboards for each row execute function private.fresh_id_for_unseen_row();

create trigger dashboards_guard_immutable_columns before update on public.dashboards for each row execute function private.guard_immutable_columns('id', 'owner_id', 'project_id');

create trigger dashboards_limit_bulk_insert after insert on public.dashboards referencing new table as inserted for each statement execute function private.limit_bulk_insert('1000');

create trigger dashboards_set_updated_at before insert or update on public.dashboards for each row execute function private.set_updated_at();

-- ######################################################################################
-- supabase/schemas/audit.sql
-- ######################################################################################

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
  new_row jsonb := case when tg_op <> 'DELETE' then to_jsonb(new) end;
  old_row jsonb := case when tg_op <> 'INSERT' then to_jsonb(old) end;
  row_data jsonb := coalesce(new_row, old_row);
  headers jsonb;
  client_ip inet;
  agent text;
  entry bigint;
  actor uuid := (select auth.uid());
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

-- ######################################################################################
-- supabase/schemas/privacy.sql
-- ######################################################################################

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

-- Columns that hold a person's sign-in address (lower case) rather than their id.
create function private.person_email_columns() returns table(table_schema text, table_name text, column_name text)
    language sql immutable
    set search_path to ''
    as $$
  values
    -- an invitation by address: the address until accepted (then invitee_id too)
    ('public', 'project_invitations', 'email')
$$;

revoke all on function private.person_email_columns() from public;
grant all on function private.person_email_columns() to service_role;

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

-- As in 20261130013155, plus the rows whose listed address column is the person's
-- confirmed sign-in address ($5).
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
  address text;
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
  select filter || coalesce(string_agg(format(' or t.%I = $5', ec.column_name), ''), '') into filter
    from private.person_email_columns() ec
   where ec.table_schema = t.table_schema and ec.table_name = t.table_name;
  -- only an address they proved is theirs (an unconfirmed sign-up cannot read another's)
  select lower(u.email) into address from auth.users u
   where u.id = privacy_export_page.user_id and u.email_confirmed_at is not null;
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
  ) into result using privacy_export_page.user_id, after_key, page_size, excluded, address;
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

-- The job columns are the service role's. An erasure filed by a client needs an
-- access token issued in the last 10 minutes (the function checks it too and
-- answers 403 reauthentication_required; this keeps a direct insert honest).
create function private.privacy_request_job_guard() returns trigger
    language plpgsql
    set search_path to ''
    as $_$
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

-- ######################################################################################
-- supabase/schemas/realtime.sql
-- ######################################################################################

-- Realtime: what streams, and who may join which channel
--
-- The declared source of this domain's tables, helpers, triggers and grants; its policies are
-- in policies/realtime.sql. Edit here, then `make migration NAME=...` writes the migration.

-- SQL function bodies may name objects declared further down or in a later file.
set check_function_bodies = false;

-- ======================================================================================
-- functions
-- ======================================================================================

create function private.can_join_conversation_topic(topic text) returns boolean
    language sql stable security definer
    set search_path to ''
    as $_$
  select case
           when topic ~ '^conversation:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
           then exists (
             select 1 from public.conversation_members cm
               join public.conversations c on c.id = cm.conversation_id
              where cm.conversation_id = substr(topic, 14)::uuid
                and cm.user_id = (select auth.uid())
                and c.deleted_at is null
           )
           else false
         end
$_$;

revoke all on function private.can_join_conversation_topic(topic text) from public;
grant all on function private.can_join_conversation_topic(topic text) to authenticated;

-- ======================================================================================
-- the supabase_realtime publication
-- ======================================================================================

alter publication supabase_realtime add table only public.activity_events;

alter publication supabase_realtime add table only public.document_jobs;

alter publication supabase_realtime add table only public.files;

alter publication supabase_realtime add table only public.integrations;

alter publication supabase_realtime add table only public.messages;

alter publication supabase_realtime add table only public.notifications;

alter publication supabase_realtime add table only public.privacy_requests;

alter publication supabase_realtime add table only public.tasks;

-- ######################################################################################
-- supabase/schemas/rate_limits.sql
-- ######################################################################################

-- Rate limits of the functions
--
-- The declared source of this domain's tables, helpers, triggers and grants; its policies are
-- in policies/rate_limits.sql. Edit here, then `make migration NAME=...` writes the migration.

-- SQL function bodies may name objects declared further down or in a later file.
set check_function_bodies = false;

-- ======================================================================================
-- private.rate_limits
-- ======================================================================================

create table private.rate_limits (
    user_id uuid not null,
    key text not null,
    window_start timestamptz not null,
    hits integer not null
);

alter table only private.rate_limits
    add constraint rate_limits_pkey primary key (user_id, key, window_start);

comment on table private.rate_limits is 'Fixed-window request counters per user and function route; old windows are deleted on the next hit.';

grant select,insert,delete,update on table private.rate_limits to service_role;

-- ======================================================================================
-- functions
-- ======================================================================================

create function public.consume_rate_limit(p_user_id uuid, p_key text, p_limit integer, p_window_seconds integer) returns table(allowed boolean, hits integer, retry_after integer)
    language plpgsql
    set search_path to ''
    as $$
declare
  v_window_start timestamptz;
  v_hits integer;
begin
  if p_limit < 1 or p_window_seconds < 1 then
    raise exception 'limit and window must be positive' using errcode = '22023';
  end if;
  v_window_start := to_timestamp(
    floor(extract(epoch from clock_timestamp()) / p_window_seconds) * p_window_seconds
  );
  insert into private.rate_limits as r (user_id, key, window_start, hits)
  values (p_user_id, p_key, v_window_start, 1)
  on conflict (user_id, key, window_start) do update set hits = r.hits + 1
  returning r.hits into v_hits;

  delete from private.rate_limits r
  where r.user_id = p_user_id and r.key = p_key and r.window_start < v_window_start;

  return query select
    v_hits <= p_limit,
    v_hits,
    greatest(1, ceil(extract(epoch from
      (v_window_start + make_interval(secs => p_window_seconds)) - clock_timestamp()))::integer);
end;
$$;

comment on function public.consume_rate_limit(p_user_id uuid, p_key text, p_limit integer, p_window_seconds integer) is 'Counts one request of a user against a fixed window; service role only.';

revoke all on function public.consume_rate_limit(p_user_id uuid, p_key text, p_limit integer, p_window_seconds integer) from authenticated;
revoke all on function public.consume_rate_limit(p_user_id uuid, p_key text, p_limit integer, p_window_seconds integer) from public;
grant all on function public.consume_rate_limit(p_user_id uuid, p_key text, p_limit integer, p_window_seconds integer) to service_role;

-- ######################################################################################
-- policies/platform.sql
-- ######################################################################################

-- Platform: who may do what
--
-- The policies of supabase/schemas/platform.sql. Edit here, then `make migration NAME=...`
-- writes the migration.

-- public.user_roles ---------------------------------------------------------------------
alter table public.user_roles enable row level security;

create policy "people read their own platform role and admins read all"
  on public.user_roles for select to authenticated
  using (
    (select private.is_active_user())
    and user_id = any (array(select private.visible_user_role_ids()))
  );

create policy "admins change other people's platform role and disable them"
  on public.user_roles for update to authenticated
  using ((select private.authorize('admin')) and user_id <> (select auth.uid()))
  with check ((select private.authorize('admin')) and user_id <> (select auth.uid()));

create policy "the auth server reads platform roles for the token hook"
  on public.user_roles for select to supabase_auth_admin
  using (true);

-- ######################################################################################
-- policies/accounts.sql
-- ######################################################################################

-- Accounts: who may do what
--
-- The policies of supabase/schemas/accounts.sql. Edit here, then `make migration NAME=...`
-- writes the migration.

-- public.profiles -----------------------------------------------------------------------
alter table public.profiles enable row level security;

create policy "profiles are read by their owner, their contacts and admins"
  on public.profiles for select to authenticated
  using (
    (select private.is_active_user())
    and id = any (array(select private.visible_profile_ids()))
  );

create policy "people update their own profile"
  on public.profiles for update to authenticated
  using ((select private.is_active_user()) and id = (select auth.uid()))
  with check ((select private.is_active_user()) and id = (select auth.uid()));

-- ######################################################################################
-- policies/projects.sql
-- ######################################################################################

-- Projects and their members: who may do what
--
-- The policies of supabase/schemas/projects.sql. Edit here, then `make migration NAME=...`
-- writes the migration.

-- public.projects -----------------------------------------------------------------------
alter table public.projects enable row level security;

create policy "members read their live projects"
  on public.projects for select to authenticated
  using (
    (select private.is_active_user())
    and deleted_at is null
    and (id = any (array(select private.my_project_ids())) or owner_id = (select auth.uid()))
  );

create policy "users create projects they own"
  on public.projects for insert to authenticated
  with check ((select private.can_write()) and owner_id = (select auth.uid()));

create policy "project admins update projects"
  on public.projects for update to authenticated
  using ((select private.can_write()) and deleted_at is null and id = any (array(select private.my_project_ids_with_role('admin'))))
  with check ((select private.can_write()) and deleted_at is null and id = any (array(select private.my_project_ids_with_role('admin'))));

create policy "owners delete projects"
  on public.projects for delete to authenticated
  using ((select private.can_write()) and deleted_at is null and id = any (array(select private.my_project_ids_with_role('owner'))));

-- public.project_members ----------------------------------------------------------------
alter table public.project_members enable row level security;

-- "Up to their own role": the caller is an admin or the owner (my_project_ids_with_role('admin'))
-- and the row's role is never 'owner', so it is at most admin, at most the caller's own (the
-- enum is ordered viewer < editor < admin < owner); no per-row role check is needed.
create policy "members read their projects' members"
  on public.project_members for select to authenticated
  using ((select private.is_active_user()) and project_id = any (array(select private.my_project_ids())));

-- no client inserts: people join by accepting an invitation (rpc accept_project_invitation);
-- the project's creation and the service role add members too
create policy "admins change roles up to their own, never the owner's"
  on public.project_members for update to authenticated
  using (
    (select private.can_write())
    and project_id = any (array(select private.my_project_ids_with_role('admin')))
    and role <> 'owner'
  )
  with check (
    (select private.can_write())
    and project_id = any (array(select private.my_project_ids_with_role('admin')))
    and role <> 'owner'
  );

create policy "admins remove members below the owner; members leave"
  on public.project_members for delete to authenticated
  using (
    (select private.can_write())
    and role <> 'owner'
    and (
      user_id = (select auth.uid())
      or project_id = any (array(select private.my_project_ids_with_role('admin')))
    )
  );

-- ######################################################################################
-- policies/invitations.sql
-- ######################################################################################

-- Invitations: who may do what
--
-- The policies of supabase/schemas/invitations.sql. Edit here, then `make migration NAME=...`
-- writes the migration.

-- public.project_invitations ------------------------------------------------------------
alter table public.project_invitations enable row level security;

-- written only by the RPCs invite_project_member, accept_project_invitation,
-- decline_project_invitation and revoke_project_invitation
create policy "project admins and the invitee read invitations"
  on public.project_invitations for select to authenticated
  using (
    (select private.is_active_user())
    and (
      project_id = any (array(select private.my_project_ids_with_role('admin')))
      or id = any (array(select private.my_invitation_ids()))
    )
  );

-- ######################################################################################
-- policies/tasks.sql
-- ######################################################################################

-- Tasks: who may do what
--
-- The policies of supabase/schemas/tasks.sql. Edit here, then `make migration NAME=...`
-- writes the migration.

-- public.tasks --------------------------------------------------------------------------
alter table public.tasks enable row level security;

-- (my_project_ids() is empty for a disabled user: no is_active_user() needed)
create policy "members read live tasks"
  on public.tasks for select to authenticated
  using (
    deleted_at is null
    and project_id = any (array(select private.my_project_ids()))
  );

create policy "editors create tasks"
  on public.tasks for insert to authenticated
  with check (
    (select private.can_write())
    and project_id = any (array(select private.my_project_ids_with_role('editor')))
    and created_by = (select auth.uid())
  );

create policy "editors update tasks"
  on public.tasks for update to authenticated
  using ((select private.can_write()) and deleted_at is null and project_id = any (array(select private.my_project_ids_with_role('editor'))))
  with check ((select private.can_write()) and deleted_at is null and project_id = any (array(select private.my_project_ids_with_role('editor'))));

create policy "editors delete tasks"
  on public.tasks for delete to authenticated
  using ((select private.can_write()) and deleted_at is null and project_id = any (array(select private.my_project_ids_with_role('editor'))));

-- ######################################################################################
-- policies/chat.sql
-- ######################################################################################

-- Chat: who may do what
--
-- The policies of supabase/schemas/chat.sql. Edit here, then `make migration NAME=...`
-- writes the migration.

-- public.conversations ------------------------------------------------------------------
alter table public.conversations enable row level security;

-- DELETE soft-deletes (private.soft_delete()); a conversation's admin is the group's
-- creator (private.my_group_conversation_ids()); direct conversations are left, not deleted
create policy "members read their live conversations"
  on public.conversations for select to authenticated
  using (
    (select private.is_active_user())
    and deleted_at is null
    and id = any (array(select private.my_conversation_ids()))
  );

create policy "group admins rename their live conversations"
  on public.conversations for update to authenticated
  using ((select private.can_write()) and deleted_at is null and id = any (array(select private.my_group_conversation_ids())))
  with check ((select private.can_write()) and deleted_at is null and id = any (array(select private.my_group_conversation_ids())));

create policy "group admins delete their live conversations"
  on public.conversations for delete to authenticated
  using ((select private.can_write()) and deleted_at is null and id = any (array(select private.my_group_conversation_ids())));

-- public.conversation_members -----------------------------------------------------------
alter table public.conversation_members enable row level security;

create policy "members read who is in their conversations"
  on public.conversation_members for select to authenticated
  using ((select private.is_active_user()) and conversation_id = any (array(select private.my_conversation_ids())));

create policy "group creators add their contacts"
  on public.conversation_members for insert to authenticated
  with check (
    (select private.can_write())
    and conversation_id = any (array(select private.my_group_conversation_ids()))
    and user_id = any (array(select private.my_contact_ids()))
  );

create policy "members mark their conversation read"
  on public.conversation_members for update to authenticated
  using ((select private.can_write()) and user_id = (select auth.uid()))
  with check ((select private.can_write()) and user_id = (select auth.uid()));

create policy "members leave and group creators remove members"
  on public.conversation_members for delete to authenticated
  using (
    (select private.can_write())
    and (
      user_id = (select auth.uid())
      or conversation_id = any (array(select private.my_group_conversation_ids()))
    )
  );

-- public.messages -----------------------------------------------------------------------
alter table public.messages enable row level security;

-- (my_conversation_ids() is empty for a disabled user: no is_active_user() needed)
create policy "members read live messages"
  on public.messages for select to authenticated
  using (
    deleted_at is null
    and conversation_id = any (array(select private.my_conversation_ids()))
  );

-- posting and editing need an open conversation: a live group, or a direct conversation
-- whose other person still shares a live project with the author
create policy "members post as themselves in open conversations"
  on public.messages for insert to authenticated
  with check (
    (select private.can_write())
    and author_id = (select auth.uid())
    and conversation_id = any (array(select private.my_open_conversation_ids()))
  );

create policy "authors edit their messages in open conversations"
  on public.messages for update to authenticated
  using (
    (select private.can_write())
    and deleted_at is null
    and author_id = (select auth.uid())
    and conversation_id = any (array(select private.my_open_conversation_ids()))
  )
  with check (
    (select private.can_write())
    and deleted_at is null
    and author_id = (select auth.uid())
    and conversation_id = any (array(select private.my_open_conversation_ids()))
  );

create policy "authors delete their messages"
  on public.messages for delete to authenticated
  using (
    (select private.can_write())
    and deleted_at is null
    and author_id = (select auth.uid())
    and conversation_id = any (array(select private.my_conversation_ids()))
  );

-- public.message_attachments ------------------------------------------------------------
alter table public.message_attachments enable row level security;

-- a soft-deleted message's attachments vanish with it (and come back when it is restored)
create policy "members read attachments of live messages"
  on public.message_attachments for select to authenticated
  using (
    (select private.is_active_user())
    and conversation_id = any (array(select private.my_conversation_ids()))
    and message_id <> all (array(select private.my_deleted_message_ids()))
  );

create policy "authors attach their own files to their messages"
  on public.message_attachments for insert to authenticated
  with check (
    (select private.can_write())
    and conversation_id = any (array(select private.my_conversation_ids()))
    and exists (
      select 1 from public.messages m
       where m.id = message_id and m.conversation_id = message_attachments.conversation_id
         and m.author_id = (select auth.uid())
    )
    and private.is_my_file(file_id)
  );

create policy "authors detach files from their messages"
  on public.message_attachments for delete to authenticated
  using (
    (select private.can_write())
    and conversation_id = any (array(select private.my_conversation_ids()))
    and exists (
      select 1 from public.messages m
       where m.id = message_id and m.author_id = (select auth.uid())
    )
  );

-- ######################################################################################
-- policies/files.sql
-- ######################################################################################

-- Files: who may do what
--
-- The policies of supabase/schemas/files.sql. Edit here, then `make migration NAME=...`
-- writes the migration.

-- public.files --------------------------------------------------------------------------
alter table public.files enable row level security;

-- (the three above are the names before 20261123121100_files_platform_rules.sql)
create policy "members read live files of their projects and conversations"
  on public.files for select
  to authenticated
  using (
    -- (both helpers are empty for a disabled user: no is_active_user() needed)
    deleted_at is null
    and (
      project_id = any(array(select private.my_project_ids()))
      or conversation_id = any(array(select private.my_conversation_ids()))
    )
    and (message_id is null or message_id <> all(array(select private.my_deleted_message_ids())))
  );

-- conversation_id is set by the trigger from the message as the caller reads it
-- (null for a message they cannot read), so the message must be theirs and live
create policy "editors add project files and authors add message files"
  on public.files for insert
  to authenticated
  with check (
    (select private.can_write())
    and uploaded_by = (select auth.uid())
    and (
      (message_id is null
        and project_id = any(array(select private.my_project_ids_with_role('editor'))))
      or (project_id is null
        -- an open conversation, as for posting (a closed direct one takes no new files)
        and conversation_id = any(array(select private.my_open_conversation_ids()))
        and exists (
          select 1 from public.messages m
           where m.id = message_id and m.author_id = (select auth.uid())
        ))
    )
  );

create policy "editors rename and move project files"
  on public.files for update
  to authenticated
  using ((select private.can_write()) and deleted_at is null and project_id = any(array(select private.my_project_ids_with_role('editor'))))
  with check ((select private.can_write()) and deleted_at is null and project_id = any(array(select private.my_project_ids_with_role('editor'))));

create policy "editors trash project files"
  on public.files for delete
  to authenticated
  using ((select private.can_write()) and deleted_at is null and project_id = any(array(select private.my_project_ids_with_role('editor'))));

-- ######################################################################################
-- policies/notifications.sql
-- ######################################################################################

-- Notifications: who may do what
--
-- The policies of supabase/schemas/notifications.sql. Edit here, then `make migration NAME=...`
-- writes the migration.

-- public.notifications ------------------------------------------------------------------
alter table public.notifications enable row level security;

create policy "people read their own notifications"
  on public.notifications for select to authenticated
  using ((select private.is_active_user()) and user_id = (select auth.uid()));

create policy "people mark their own notifications read"
  on public.notifications for update to authenticated
  using ((select private.can_write()) and user_id = (select auth.uid()))
  with check ((select private.can_write()) and user_id = (select auth.uid()));

create policy "people delete their own notifications"
  on public.notifications for delete to authenticated
  using ((select private.can_write()) and user_id = (select auth.uid()));

-- ######################################################################################
-- policies/calendar.sql
-- ######################################################################################

-- Calendar: who may do what
--
-- The policies of supabase/schemas/calendar.sql. Edit here, then `make migration NAME=...`
-- writes the migration.

-- public.calendar_events ----------------------------------------------------------------
alter table public.calendar_events enable row level security;

create policy "owners, attendees and project members read events"
  on public.calendar_events for select to authenticated
  using (
    (select private.is_active_user())
    and (
      owner_id = (select auth.uid())
      or id = any (array(select private.my_calendar_event_ids()))
    )
  );

create policy "people create their own events, in projects they edit"
  on public.calendar_events for insert to authenticated
  with check (
    (select private.can_write())
    and owner_id = (select auth.uid())
    and (project_id is null or project_id = any (array(select private.my_project_ids_with_role('editor'))))
  );

create policy "owners update their events"
  on public.calendar_events for update to authenticated
  using ((select private.can_write()) and owner_id = (select auth.uid()))
  with check (
    (select private.can_write())
    and owner_id = (select auth.uid())
    and (project_id is null or project_id = any (array(select private.my_project_ids_with_role('editor'))))
  );

create policy "owners delete their events"
  on public.calendar_events for delete to authenticated
  using ((select private.can_write()) and owner_id = (select auth.uid()));

-- public.calendar_event_attendees -------------------------------------------------------
alter table public.calendar_event_attendees enable row level security;

create policy "people who see an event read its attendees"
  on public.calendar_event_attendees for select to authenticated
  using ((select private.is_active_user()) and event_id = any (array(select private.my_calendar_event_ids())));

create policy "event owners invite their contacts"
  on public.calendar_event_attendees for insert to authenticated
  with check (
    (select private.can_write())
    and event_id = any (array(select private.my_owned_calendar_event_ids()))
    and user_id = any (array(select private.my_contact_ids()))
  );

create policy "attendees answer their invitation"
  on public.calendar_event_attendees for update to authenticated
  using ((select private.can_write()) and user_id = (select auth.uid()))
  with check ((select private.can_write()) and user_id = (select auth.uid()));

create policy "event owners remove attendees and attendees leave"
  on public.calendar_event_attendees for delete to authenticated
  using (
    (select private.can_write())
    and (user_id = (select auth.uid()) or event_id = any (array(select private.my_owned_calendar_event_ids())))
  );

-- ######################################################################################
-- policies/jobs.sql
-- ######################################################################################

-- Jobs: who may do what
--
-- The policies of supabase/schemas/jobs.sql. Edit here, then `make migration NAME=...`
-- writes the migration.

-- Tables in the private schema are never exposed by PostgREST and no client role is granted
-- them. RLS is on anyway, and the one restrictive policy says in words what the grants already
-- do, so a grant made by mistake still shows no row. The service role (bypassrls) and the
-- security definer helpers (owned by postgres, the tables' owner) are unaffected.

-- private.provider_circuits -------------------------------------------------------------
alter table private.provider_circuits enable row level security;

create policy "clients never touch provider circuits"
  on private.provider_circuits as restrictive for all to anon, authenticated
  using (false) with check (false);

-- ######################################################################################
-- policies/documents.sql
-- ######################################################################################

-- Documents: who may do what
--
-- The policies of supabase/schemas/documents.sql. Edit here, then `make migration NAME=...`
-- writes the migration.

-- public.documents ----------------------------------------------------------------------
alter table public.documents enable row level security;

create policy "members read live documents"
  on public.documents for select to authenticated
  using (
    (select private.is_active_user())
    and deleted_at is null
    and project_id = any (array(select private.my_project_ids()))
  );

create policy "editors create documents"
  on public.documents for insert to authenticated
  with check (
    (select private.can_write())
    and created_by = (select auth.uid())
    and project_id = any (array(select private.my_project_ids_with_role('editor')))
  );

create policy "editors rename documents"
  on public.documents for update to authenticated
  using ((select private.can_write()) and deleted_at is null and project_id = any (array(select private.my_project_ids_with_role('editor'))))
  with check ((select private.can_write()) and deleted_at is null and project_id = any (array(select private.my_project_ids_with_role('editor'))));

create policy "editors delete documents"
  on public.documents for delete to authenticated
  using ((select private.can_write()) and deleted_at is null and project_id = any (array(select private.my_project_ids_with_role('editor'))));

-- public.document_versions --------------------------------------------------------------
alter table public.document_versions enable row level security;

-- a soft-deleted document's versions vanish with it (and come back when it is restored)
create policy "members read versions of live documents"
  on public.document_versions for select to authenticated
  using (
    (select private.is_active_user())
    and project_id = any (array(select private.my_project_ids()))
    and document_id <> all (array(select private.my_deleted_document_ids()))
  );

create policy "editors add versions as themselves"
  on public.document_versions for insert to authenticated
  with check (
    (select private.can_write())
    and author_id = (select auth.uid())
    and project_id = any (array(select private.my_project_ids_with_role('editor')))
  );

-- public.document_jobs ------------------------------------------------------------------
alter table public.document_jobs enable row level security;

create policy "members read their projects' generation jobs"
  on public.document_jobs for select to authenticated
  using ((select private.is_active_user()) and project_id = any (array(select private.my_project_ids())));

-- ######################################################################################
-- policies/integrations.sql
-- ######################################################################################

-- Integrations: who may do what
--
-- The policies of supabase/schemas/integrations.sql. Edit here, then `make migration NAME=...`
-- writes the migration.

-- Tables in the private schema are never exposed by PostgREST and no client role is granted
-- them. RLS is on anyway, and the one restrictive policy says in words what the grants already
-- do, so a grant made by mistake still shows no row. The service role (bypassrls) and the
-- security definer helpers (owned by postgres, the tables' owner) are unaffected.

-- public.integrations -------------------------------------------------------------------
alter table public.integrations enable row level security;

create policy "people read their own integrations"
  on public.integrations for select to authenticated
  using ((select private.is_active_user()) and user_id = (select auth.uid()));

create policy "people connect integrations for themselves"
  on public.integrations for insert to authenticated
  with check (
    (select private.can_write())
    and user_id = (select auth.uid())
    and status = 'pending'
    and (project_id is null or project_id = any (array(select private.my_project_ids_with_role('admin'))))
  );

create policy "people update their own integrations"
  on public.integrations for update to authenticated
  using ((select private.can_write()) and user_id = (select auth.uid()))
  with check (
    (select private.can_write())
    and user_id = (select auth.uid())
    and (project_id is null or project_id = any (array(select private.my_project_ids_with_role('admin'))))
  );

create policy "people disconnect their own integrations"
  on public.integrations for delete to authenticated
  using ((select private.can_write()) and user_id = (select auth.uid()));

-- public.integration_links --------------------------------------------------------------
alter table public.integration_links enable row level security;

-- written by the integrations function (rpc link_integration_item, the sync worker)
create policy "members read their projects' integration links"
  on public.integration_links for select to authenticated
  using ((select private.is_active_user()) and project_id = any (array(select private.my_project_ids())));

-- public.integration_syncs --------------------------------------------------------------
alter table public.integration_syncs enable row level security;

-- sync jobs: rpc queue_integration_sync (the owner), the schedule and the worker write them
create policy "members read their projects' integration syncs"
  on public.integration_syncs for select to authenticated
  using ((select private.is_active_user()) and project_id = any (array(select private.my_project_ids())));

-- private.integration_credentials -------------------------------------------------------
alter table private.integration_credentials enable row level security;

create policy "clients never touch integration credentials"
  on private.integration_credentials as restrictive for all to anon, authenticated
  using (false) with check (false);

-- private.oauth_states ------------------------------------------------------------------
alter table private.oauth_states enable row level security;

create policy "clients never touch oauth states"
  on private.oauth_states as restrictive for all to anon, authenticated
  using (false) with check (false);

-- private.integration_webhook_secrets ---------------------------------------------------
alter table private.integration_webhook_secrets enable row level security;

create policy "clients never touch webhook secrets"
  on private.integration_webhook_secrets as restrictive for all to anon, authenticated
  using (false) with check (false);

-- private.webhook_deliveries ------------------------------------------------------------
alter table private.webhook_deliveries enable row level security;

create policy "clients never touch webhook deliveries"
  on private.webhook_deliveries as restrictive for all to anon, authenticated
  using (false) with check (false);

-- ######################################################################################
-- policies/activity.sql
-- ######################################################################################

-- Activity: who may do what
--
-- The policies of supabase/schemas/activity.sql. Edit here, then `make migration NAME=...`
-- writes the migration.

-- public.activity_events ----------------------------------------------------------------
alter table public.activity_events enable row level security;

create policy "members read their projects' activity"
  on public.activity_events for select to authenticated
  using ((select private.is_active_user()) and project_id = any (array(select private.my_project_ids())));

create policy "editors record manual activity as themselves"
  on public.activity_events for insert to authenticated
  with check (
    (select private.can_write())
    and source = 'manual'
    and actor_id = (select auth.uid())
    and project_id = any (array(select private.my_project_ids_with_role('editor')))
  );

-- public.dashboards ---------------------------------------------------------------------
alter table public.dashboards enable row level security;

create policy "members read their projects' dashboards"
  on public.dashboards for select to authenticated
  using ((select private.is_active_user()) and project_id = any (array(select private.my_project_ids())));

create policy "members create their own dashboards"
  on public.dashboards for insert to authenticated
  with check (
    (select private.can_write())
    and owner_id = (select auth.uid())
    and project_id = any (array(select private.my_project_ids()))
  );

-- only while they are members: someone who left the project no longer changes what its
-- members read (an unfiltered PATCH reached such dashboards; the read policy hid them)
create policy "owners edit their dashboards"
  on public.dashboards for update to authenticated
  using (
    (select private.can_write())
    and owner_id = (select auth.uid())
    and project_id = any (array(select private.my_project_ids()))
  )
  with check (
    (select private.can_write())
    and owner_id = (select auth.uid())
    and project_id = any (array(select private.my_project_ids()))
  );

create policy "owners delete their dashboards"
  on public.dashboards for delete to authenticated
  using (
    (select private.can_write())
    and owner_id = (select auth.uid())
    and project_id = any (array(select private.my_project_ids()))
  );

-- ######################################################################################
-- policies/audit.sql
-- ######################################################################################

-- Audit trail: who may do what
--
-- The policies of supabase/schemas/audit.sql. Edit here, then `make migration NAME=...`
-- writes the migration.

-- public.audit_logs ---------------------------------------------------------------------
alter table public.audit_logs enable row level security;

create policy "people read their own entries; project admins their project's"
  on public.audit_logs for select to authenticated
  using (
    (select private.is_active_user())
    and (
      actor_id = (select auth.uid())
      or subject_user_id = (select auth.uid())
      or project_id = any (array(select private.my_admin_project_ids_including_deleted()))
    )
  );

-- public.audit_log_origins --------------------------------------------------------------
-- an entry's IP and user agent: the person who acted, and platform admins
-- (visible_user_role_ids() is "myself, or everyone for a platform admin")
alter table public.audit_log_origins enable row level security;

create policy "people read where they acted from; platform admins read all"
  on public.audit_log_origins for select to authenticated
  using (
    (select private.is_active_user())
    and actor_id = any (array(select private.visible_user_role_ids()))
  );

-- ######################################################################################
-- policies/privacy.sql
-- ######################################################################################

-- Privacy: who may do what
--
-- The policies of supabase/schemas/privacy.sql. Edit here, then `make migration NAME=...`
-- writes the migration.

-- Tables in the private schema are never exposed by PostgREST and no client role is granted
-- them. RLS is on anyway, and the one restrictive policy says in words what the grants already
-- do, so a grant made by mistake still shows no row. The service role (bypassrls) and the
-- security definer helpers (owned by postgres, the tables' owner) are unaffected.

-- public.privacy_requests ---------------------------------------------------------------
alter table public.privacy_requests enable row level security;

create policy "people read their own privacy requests"
  on public.privacy_requests for select to authenticated
  using ((select private.is_active_user()) and user_id = (select auth.uid()));

create policy "people file privacy requests for themselves"
  on public.privacy_requests for insert to authenticated
  with check ((select private.is_active_user()) and user_id = (select auth.uid()));

-- private.erasure_subjects --------------------------------------------------------------
alter table private.erasure_subjects enable row level security;

create policy "clients never touch erasure subjects"
  on private.erasure_subjects as restrictive for all to anon, authenticated
  using (false) with check (false);

-- ######################################################################################
-- policies/realtime.sql
-- ######################################################################################

-- Realtime: who may do what
--
-- The policies of supabase/schemas/realtime.sql. Edit here, then `make migration NAME=...`
-- writes the migration.

-- realtime.messages ---------------------------------------------------------------------
alter table realtime.messages enable row level security;

create policy "conversation members receive its typing and presence"
  on realtime.messages for select to authenticated
  using (
    (select private.is_active_user())
    and extension in ('broadcast', 'presence')
    and (select private.can_join_conversation_topic((select realtime.topic())))
  );

create policy "conversation members send typing and presence"
  on realtime.messages for insert to authenticated
  with check (
    (select private.is_active_user())
    and extension in ('broadcast', 'presence')
    and (select private.can_join_conversation_topic((select realtime.topic())))
  );

-- ######################################################################################
-- policies/rate_limits.sql
-- ######################################################################################

-- Rate limits of the functions: who may do what
--
-- The policies of supabase/schemas/rate_limits.sql. Edit here, then `make migration NAME=...`
-- writes the migration.

-- Tables in the private schema are never exposed by PostgREST and no client role is granted
-- them. RLS is on anyway, and the one restrictive policy says in words what the grants already
-- do, so a grant made by mistake still shows no row. The service role (bypassrls) and the
-- security definer helpers (owned by postgres, the tables' owner) are unaffected.

-- private.rate_limits -------------------------------------------------------------------
alter table private.rate_limits enable row level security;

create policy "clients never touch rate limits"
  on private.rate_limits as restrictive for all to anon, authenticated
  using (false) with check (false);
