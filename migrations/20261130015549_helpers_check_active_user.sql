-- =============================================================================
-- The membership helpers check that the caller is active (one helper call per
-- list instead of two)
--
-- Every member list paid two security definer calls per request: the policy's
-- (select private.is_active_user()) and its (select private.my_project_ids())
-- or my_conversation_ids(). Each call switches user and search_path and runs
-- its own query, which is most of the fixed per-request cost of RLS measured
-- by `make bench` (bench/README.md). These two helpers now return no id for a
-- disabled user themselves (the same user_roles row is_active_user() reads),
-- so a read policy that reaches its rows only through them no longer calls
-- is_active_user() (policies/tasks.sql, chat.sql, files.sql; next migration).
-- For a disabled user every policy built on them was already false: nothing
-- they could read or write changes. Same attributes and grants (create or
-- replace keeps them).
-- =============================================================================

-- live (not soft-deleted) projects of the caller; none while the caller is disabled
create or replace function private.my_project_ids()
returns setof uuid
language plpgsql
stable
security definer
set search_path = ''
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

-- conversations of the caller; none while the caller is disabled
create or replace function private.my_conversation_ids()
returns setof uuid
language plpgsql
stable
security definer
set search_path = ''
as $$
begin
  return query
    select cm.conversation_id
      from public.conversation_members cm
     where cm.user_id = (select auth.uid())
       and exists (  -- uncorrelated: checked once per call, not once per row
         select 1 from public.user_roles ur
          where ur.user_id = (select auth.uid()) and ur.disabled_at is null
       );
end;
$$;
