-- =============================================================================
-- Core of the data model
--
--   1. schema private (helpers PostgREST never exposes)
--   2. enums (closed sets)
--   3. shared trigger functions (timestamps, immutable columns, soft delete)
--   4. profiles (one per auth user, made by a trigger on auth.users)
--   5. user_roles (platform role admin / user / guest, disabled users)
--   6. projects and project_members (owner member made atomically)
--   7. tasks
--   8. membership helpers used by every policy
--   9. policies (the same text lives in policies/profiles.sql, policies/platform.sql,
--      policies/projects.sql and policies/tasks.sql)
--  10. RPCs (owner transfer)
--
-- Every policy is `to authenticated`; anon has no policy and so reads nothing.
-- Reads AND with (select private.is_active_user()), writes with
-- (select private.can_write()): a disabled user reaches no row and a guest
-- writes nothing but their own profile. Both are evaluated once per statement.
-- =============================================================================

-- -----------------------------------------------------------------------------
-- 1. schema private
-- -----------------------------------------------------------------------------
create schema if not exists private;
revoke all on schema private from public;
grant usage on schema private to authenticated, service_role;

alter default privileges in schema private revoke execute on functions from public;
alter default privileges in schema public revoke execute on functions from public, anon;

-- -----------------------------------------------------------------------------
-- 2. enums
-- -----------------------------------------------------------------------------
create type public.platform_role as enum ('guest', 'user', 'admin');
create type public.persona as enum ('solo_entrepreneur', 'team_collaborator', 'project_admin');
create type public.product_type as enum ('physical_product', 'software', 'service');
create type public.project_status as enum ('draft', 'active', 'archived');
-- ordered from least to most: comparisons and project_role_rank() rely on it
create type public.project_role as enum ('viewer', 'editor', 'admin', 'owner');
create type public.task_status as enum ('todo', 'in_progress', 'done');

-- -----------------------------------------------------------------------------
-- 3. shared trigger functions
-- -----------------------------------------------------------------------------

-- created_at is fixed at insert, updated_at follows every update; clients
-- cannot forge either.
create function private.set_updated_at()
returns trigger
language plpgsql
set search_path = ''
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

-- Columns named in the trigger arguments cannot be changed by API roles
-- (anon, authenticated). Privileged code paths (definer RPCs, the service
-- role) may change them.
create function private.guard_immutable_columns()
returns trigger
language plpgsql
set search_path = ''
as $$
declare
  col text;
begin
  if current_user not in ('anon', 'authenticated') then
    return new;
  end if;
  foreach col in array tg_argv loop
    if (to_jsonb(new) -> col) is distinct from (to_jsonb(old) -> col) then
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

-- DELETE from the API soft-deletes: the row gets deleted_at and vanishes from
-- reads; the owner can restore it within 30 days (restore_deleted), after which
-- purge_soft_deleted() removes it. Deleting a row that is already soft-deleted
-- (only purge and the service role can see one), or a delete cascading from a
-- hard-deleted parent, is a real delete.
create function private.soft_delete()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  if old.deleted_at is null and pg_trigger_depth() = 1 then
    execute format('update %I.%I set deleted_at = now() where id = $1', tg_table_schema, tg_table_name)
      using old.id;
    return null;
  end if;
  return old;
end;
$$;

-- -----------------------------------------------------------------------------
-- 4. profiles
-- -----------------------------------------------------------------------------
create table public.profiles (
  id uuid primary key references auth.users (id) on delete cascade,
  email text,
  username text,
  full_name text,
  avatar_url text,
  persona public.persona,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint profiles_username_format check (username ~ '^[a-z0-9_]{3,32}$'),
  constraint profiles_full_name_length check (char_length(full_name) <= 200),
  constraint profiles_avatar_url_is_http check (avatar_url ~ '^https?://' and char_length(avatar_url) <= 2048)
);
comment on table public.profiles is 'One row per auth user, made by a trigger on auth.users.';
create unique index profiles_username_key on public.profiles (username);
alter table public.profiles enable row level security;

create trigger profiles_set_updated_at
  before insert or update on public.profiles
  for each row execute function private.set_updated_at();
-- email follows auth.users (the sign-in address), never the client
create trigger profiles_guard_immutable_columns
  before update on public.profiles
  for each row execute function private.guard_immutable_columns('id', 'email');

-- -----------------------------------------------------------------------------
-- 5. user_roles: platform role and disabled state, one row per user
-- -----------------------------------------------------------------------------
create table public.user_roles (
  user_id uuid primary key references public.profiles (id) on delete cascade,
  role public.platform_role not null default 'user',
  disabled_at timestamptz,
  disabled_reason text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint user_roles_disabled_reason_length check (char_length(disabled_reason) <= 500)
);
comment on table public.user_roles is
  'Platform role (admin / user / guest) and disabled state; only platform admins change it. '
  'Read by public.custom_access_token_hook into the user_role claim.';
alter table public.user_roles enable row level security;

create trigger user_roles_set_updated_at
  before insert or update on public.user_roles
  for each row execute function private.set_updated_at();
create trigger user_roles_guard_immutable_columns
  before update on public.user_roles
  for each row execute function private.guard_immutable_columns('user_id');

-- A disabled user is also banned in auth, so Supabase Auth stops refreshing
-- their session; policies refuse their current token through is_active_user().
create function private.sync_auth_ban()
returns trigger
language plpgsql
security definer
set search_path = ''
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

create trigger user_roles_sync_auth_ban
  after update of disabled_at on public.user_roles
  for each row execute function private.sync_auth_ban();

-- A profile and a platform role for every new auth user.
create function private.handle_new_user()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  wanted_username text := lower(new.raw_user_meta_data ->> 'username');
begin
  insert into public.profiles (id, email, username, full_name, avatar_url)
  values (
    new.id,
    new.email,
    case when wanted_username ~ '^[a-z0-9_]{3,32}$'
          and not exists (select 1 from public.profiles p where p.username = wanted_username)
         then wanted_username end,
    left(new.raw_user_meta_data ->> 'full_name', 200),
    case when new.raw_user_meta_data ->> 'avatar_url' ~ '^https?://'
         then left(new.raw_user_meta_data ->> 'avatar_url', 2048) end
  );
  insert into public.user_roles (user_id) values (new.id);
  return new;
end;
$$;

create trigger on_auth_user_created
  after insert on auth.users
  for each row execute function private.handle_new_user();

create function private.handle_user_email_change()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  update public.profiles set email = new.email where id = new.id;
  return new;
end;
$$;

create trigger on_auth_user_email_changed
  after update of email on auth.users
  for each row when (new.email is distinct from old.email)
  execute function private.handle_user_email_change();

-- -----------------------------------------------------------------------------
-- 6. projects and project_members
-- -----------------------------------------------------------------------------
create table public.projects (
  id uuid primary key default gen_random_uuid(),
  name text not null,
  description text,
  product_type public.product_type,
  status public.project_status not null default 'draft',
  owner_id uuid not null default auth.uid() references public.profiles (id) on delete restrict,
  settings jsonb not null default '{}'::jsonb,
  filters jsonb not null default '{}'::jsonb,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  deleted_at timestamptz,
  constraint projects_name_length check (char_length(btrim(name)) between 1 and 200),
  constraint projects_description_length check (char_length(description) <= 10000),
  constraint projects_settings_is_object check (jsonb_typeof(settings) = 'object'),
  constraint projects_filters_is_object check (jsonb_typeof(filters) = 'object')
);
comment on column public.projects.owner_id is
  'The owner; changed only by rpc transfer_project_ownership. Mirrored by the owner row in project_members.';
create index projects_owner_id_idx on public.projects (owner_id);
create index projects_deleted_at_idx on public.projects (deleted_at) where deleted_at is not null;
alter table public.projects enable row level security;

create trigger projects_set_updated_at
  before insert or update on public.projects
  for each row execute function private.set_updated_at();
create trigger projects_guard_immutable_columns
  before update on public.projects
  for each row execute function private.guard_immutable_columns('id', 'owner_id');
create trigger projects_soft_delete
  before delete on public.projects
  for each row execute function private.soft_delete();

create table public.project_members (
  id uuid primary key default gen_random_uuid(),
  project_id uuid not null references public.projects (id) on delete cascade,
  user_id uuid not null references public.profiles (id) on delete cascade,
  role public.project_role not null default 'viewer',
  invited_by uuid default auth.uid() references public.profiles (id) on delete set null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint project_members_one_row_per_user unique (project_id, user_id)
);
create index project_members_user_id_idx on public.project_members (user_id, project_id);
create index project_members_invited_by_idx on public.project_members (invited_by);
alter table public.project_members enable row level security;

create trigger project_members_set_updated_at
  before insert or update on public.project_members
  for each row execute function private.set_updated_at();
create trigger project_members_guard_immutable_columns
  before update on public.project_members
  for each row execute function private.guard_immutable_columns('id', 'project_id', 'user_id');

-- Creating a project makes its creator its owner member, in the same statement.
create function private.add_project_owner()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  insert into public.project_members (project_id, user_id, role, invited_by)
  values (new.id, new.owner_id, 'owner', new.owner_id);
  return null;
end;
$$;

create trigger projects_add_owner_member
  after insert on public.projects
  for each row execute function private.add_project_owner();

-- -----------------------------------------------------------------------------
-- 7. tasks
-- -----------------------------------------------------------------------------
create table public.tasks (
  id uuid primary key default gen_random_uuid(),
  project_id uuid not null references public.projects (id) on delete cascade,
  title text not null,
  description text,
  status public.task_status not null default 'todo',
  assignee_id uuid,
  due_at timestamptz,
  created_by uuid default auth.uid() references public.profiles (id) on delete set null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  deleted_at timestamptz,
  constraint tasks_title_length check (char_length(btrim(title)) between 1 and 500),
  constraint tasks_description_length check (char_length(description) <= 20000),
  -- the assignee must be a member of the task's project; removing the member unassigns
  constraint tasks_assignee_is_project_member foreign key (project_id, assignee_id)
    references public.project_members (project_id, user_id) on delete set null (assignee_id)
);
create index tasks_project_id_created_at_idx on public.tasks (project_id, created_at desc);
create index tasks_project_id_assignee_id_idx on public.tasks (project_id, assignee_id);
create index tasks_assignee_id_idx on public.tasks (assignee_id, created_at desc);
create index tasks_created_by_idx on public.tasks (created_by);
alter table public.tasks enable row level security;

create trigger tasks_set_updated_at
  before insert or update on public.tasks
  for each row execute function private.set_updated_at();
create trigger tasks_guard_immutable_columns
  before update on public.tasks
  for each row execute function private.guard_immutable_columns('id', 'created_by');
create trigger tasks_soft_delete
  before delete on public.tasks
  for each row execute function private.soft_delete();

-- -----------------------------------------------------------------------------
-- 8. helpers used by policies (definer, stable, empty search_path)
-- -----------------------------------------------------------------------------

create function private.project_role_rank(role public.project_role)
returns int
language sql
immutable
set search_path = ''
as $$
  select case role when 'viewer' then 1 when 'editor' then 2 when 'admin' then 3 when 'owner' then 4 end
$$;

-- The caller's effective platform role: the lesser of the stored role and the
-- user_role claim the access token hook put in the token (a demotion counts
-- before the old token expires). null for anon and for disabled users.
create function private.platform_role()
returns public.platform_role
language sql
stable
security definer
set search_path = ''
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

-- true when the caller is signed in and not disabled
create function private.is_active_user()
returns boolean
language sql
stable
security definer
set search_path = ''
as $$
  select exists (
    select 1 from public.user_roles ur
     where ur.user_id = (select auth.uid())
       and ur.disabled_at is null
  )
$$;

-- true when the caller's effective platform role is at least min_role
create function private.authorize(min_role public.platform_role)
returns boolean
language sql
stable
security definer
set search_path = ''
as $$
  select coalesce(private.platform_role() >= min_role, false)
$$;

-- true when the caller may write at all: active and not a guest
create function private.can_write()
returns boolean
language sql
stable
security definer
set search_path = ''
as $$
  select coalesce(private.platform_role() >= 'user', false)
$$;

-- live (not soft-deleted) projects the caller is a member of
create function private.my_project_ids()
returns setof uuid
language sql
stable
security definer
set search_path = ''
as $$
  select pm.project_id
    from public.project_members pm
    join public.projects p on p.id = pm.project_id
   where pm.user_id = (select auth.uid())
     and p.deleted_at is null
$$;

create function private.my_project_ids_with_role(min_role public.project_role)
returns setof uuid
language sql
stable
security definer
set search_path = ''
as $$
  select pm.project_id
    from public.project_members pm
    join public.projects p on p.id = pm.project_id
   where pm.user_id = (select auth.uid())
     and pm.role >= min_role
     and p.deleted_at is null
$$;

create function private.has_project_role(project_id uuid, min_role public.project_role)
returns boolean
language sql
stable
security definer
set search_path = ''
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

-- people the caller shares a live project with (chat widens this to
-- conversations); used by the profiles policy
create function private.my_contact_ids()
returns setof uuid
language sql
stable
security definer
set search_path = ''
as $$
  select distinct other.user_id
    from public.project_members other
   where other.project_id in (select private.my_project_ids())
$$;

revoke all on all functions in schema private from public;
grant execute on all functions in schema private to authenticated, service_role;

-- -----------------------------------------------------------------------------
-- 9. policies
-- -----------------------------------------------------------------------------

-- profiles (policies/profiles.sql) ------------------------------------------
create policy "profiles are read by their owner, their contacts and admins"
  on public.profiles for select to authenticated
  using (
    (select private.is_active_user())
    and (
      id = (select auth.uid())
      or id = any (array(select private.my_contact_ids()))
      or (select private.authorize('admin'))
    )
  );

create policy "people update their own profile"
  on public.profiles for update to authenticated
  using ((select private.is_active_user()) and id = (select auth.uid()))
  with check ((select private.is_active_user()) and id = (select auth.uid()));

-- user_roles (policies/platform.sql) ----------------------------------------
create policy "people read their own platform role and admins read all"
  on public.user_roles for select to authenticated
  using (
    (select private.is_active_user())
    and (user_id = (select auth.uid()) or (select private.authorize('admin')))
  );

create policy "admins change other people's platform role and disable them"
  on public.user_roles for update to authenticated
  using ((select private.authorize('admin')) and user_id <> (select auth.uid()))
  with check ((select private.authorize('admin')) and user_id <> (select auth.uid()));

-- projects (policies/projects.sql) ------------------------------------------
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
  using ((select private.can_write()) and id = any (array(select private.my_project_ids_with_role('admin'))))
  with check ((select private.can_write()) and id = any (array(select private.my_project_ids_with_role('admin'))));

create policy "owners delete projects"
  on public.projects for delete to authenticated
  using ((select private.can_write()) and id = any (array(select private.my_project_ids_with_role('owner'))));

-- project_members (policies/projects.sql) ------------------------------------
create policy "members read their projects' members"
  on public.project_members for select to authenticated
  using ((select private.is_active_user()) and project_id = any (array(select private.my_project_ids())));

create policy "project admins add members up to their own role"
  on public.project_members for insert to authenticated
  with check (
    (select private.can_write())
    and project_id = any (array(select private.my_project_ids_with_role('admin')))
    and role <> 'owner'
    and private.has_project_role(project_id, role)
    and invited_by = (select auth.uid())
  );

create policy "admins change roles up to their own, never the owner's"
  on public.project_members for update to authenticated
  using (
    (select private.can_write())
    and project_id = any (array(select private.my_project_ids_with_role('admin')))
    and role <> 'owner'
    and private.has_project_role(project_id, role)
  )
  with check (
    (select private.can_write())
    and project_id = any (array(select private.my_project_ids_with_role('admin')))
    and role <> 'owner'
    and private.has_project_role(project_id, role)
  );

create policy "admins remove members below the owner; members leave"
  on public.project_members for delete to authenticated
  using (
    (select private.can_write())
    and role <> 'owner'
    and (
      user_id = (select auth.uid())
      or (
        project_id = any (array(select private.my_project_ids_with_role('admin')))
        and private.has_project_role(project_id, role)
      )
    )
  );

-- tasks (policies/tasks.sql) ---------------------------------------------------
create policy "members read live tasks"
  on public.tasks for select to authenticated
  using (
    (select private.is_active_user())
    and deleted_at is null
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
  using ((select private.can_write()) and project_id = any (array(select private.my_project_ids_with_role('editor'))))
  with check ((select private.can_write()) and project_id = any (array(select private.my_project_ids_with_role('editor'))));

create policy "editors delete tasks"
  on public.tasks for delete to authenticated
  using ((select private.can_write()) and project_id = any (array(select private.my_project_ids_with_role('editor'))));

-- -----------------------------------------------------------------------------
-- 10. RPCs
-- -----------------------------------------------------------------------------

-- Owner transfer must bypass RLS (it writes the owner rows no policy allows),
-- so the work is a definer function in private; the exposed RPC is invoker.
create function private.transfer_project_ownership(project_id uuid, new_owner_id uuid)
returns void
language plpgsql
security definer
set search_path = ''
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

create function public.transfer_project_ownership(project_id uuid, new_owner_id uuid)
returns void
language sql
security invoker
set search_path = ''
as $$
  select private.transfer_project_ownership(project_id, new_owner_id)
$$;
comment on function public.transfer_project_ownership(uuid, uuid) is
  'The project owner hands ownership to another member; the old owner becomes an admin.';

revoke all on function private.transfer_project_ownership(uuid, uuid) from public;
grant execute on function private.transfer_project_ownership(uuid, uuid) to authenticated;
revoke all on function public.transfer_project_ownership(uuid, uuid) from public, anon;
grant execute on function public.transfer_project_ownership(uuid, uuid) to authenticated;

-- API roles never truncate (RLS does not apply to it) or hang triggers on our tables
revoke truncate, references, trigger on all tables in schema public from anon, authenticated;
