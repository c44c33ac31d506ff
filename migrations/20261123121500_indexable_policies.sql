-- =============================================================================
-- Policies the planner can serve from an index
--
-- `... or (select private.authorize('admin'))` inside a USING clause turns
-- every read into a sequential scan: an OR with a per-statement constant is
-- not an index condition. Found on a 5k-user / 200k-row scratch seed:
-- profiles and user_roles read by anyone, audit_logs by anyone.
--
--   1. profiles and user_roles: the admin branch moves into the helper that
--      lists the ids a caller may see (`id = any (array(select ...))`)
--   2. audit_logs: the table policy keeps the indexable branches (my entries,
--      entries about me, my projects'); platform admins read the whole trail
--      through rpc list_audit_logs, newest first, paged by occurred_at
--
-- The same policies are in policies/profiles.sql, policies/platform.sql and
-- policies/audit.sql.
-- =============================================================================

-- -----------------------------------------------------------------------------
-- 1. profiles and user_roles
-- -----------------------------------------------------------------------------

-- profile ids the caller may read: their own, their contacts', everyone's for
-- platform admins
create function private.visible_profile_ids()
returns setof uuid
language plpgsql
stable
security definer
set search_path = ''
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

-- user ids whose platform role the caller may read: their own, all for admins
create function private.visible_user_role_ids()
returns setof uuid
language plpgsql
stable
security definer
set search_path = ''
as $$
begin
  if private.authorize('admin') then
    return query select ur.user_id from public.user_roles ur;
  else
    return query select (select auth.uid());
  end if;
end;
$$;

revoke all on function private.visible_profile_ids(), private.visible_user_role_ids() from public;
grant execute on function private.visible_profile_ids(), private.visible_user_role_ids()
  to authenticated, service_role;

drop policy "profiles are read by their owner, their contacts and admins" on public.profiles;
create policy "profiles are read by their owner, their contacts and admins"
  on public.profiles for select to authenticated
  using (
    (select private.is_active_user())
    and id = any (array(select private.visible_profile_ids()))
  );

drop policy "people read their own platform role and admins read all" on public.user_roles;
create policy "people read their own platform role and admins read all"
  on public.user_roles for select to authenticated
  using (
    (select private.is_active_user())
    and user_id = any (array(select private.visible_user_role_ids()))
  );

-- -----------------------------------------------------------------------------
-- 2. audit_logs
-- -----------------------------------------------------------------------------
drop policy "people read their own entries; project admins their project's" on public.audit_logs;
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

create index audit_logs_occurred_at_idx on public.audit_logs (occurred_at desc);

-- Definer: platform admins read every entry, which no table policy grants
-- (see above); the function checks the caller is one.
create function private.list_audit_logs(before timestamptz, max_rows int)
returns setof public.audit_logs
language plpgsql
stable
security definer
set search_path = ''
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
     where before is null or a.occurred_at < before
     order by a.occurred_at desc
     limit max_rows;
end;
$$;

create function public.list_audit_logs(before timestamptz default null, max_rows int default 100)
returns setof public.audit_logs
language sql
stable
security invoker
set search_path = ''
as $$
  select * from private.list_audit_logs(before, max_rows)
$$;
comment on function public.list_audit_logs(timestamptz, int) is
  'The whole audit trail, newest first (platform admins); page with before = the last occurred_at.';

revoke all on function private.list_audit_logs(timestamptz, int) from public;
grant execute on function private.list_audit_logs(timestamptz, int) to authenticated;
revoke all on function public.list_audit_logs(timestamptz, int) from public, anon;
grant execute on function public.list_audit_logs(timestamptz, int) to authenticated, service_role;
