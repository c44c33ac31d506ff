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
