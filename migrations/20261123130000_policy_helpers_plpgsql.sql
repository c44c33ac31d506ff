-- =============================================================================
-- Read-path policy helpers in PL/pgSQL (cached plans)
--
-- Every member list calls private.is_active_user() and one of
-- private.my_project_ids() / private.my_conversation_ids() once per request
-- (as initplans). As `language sql` security definer functions they are not
-- inlined, and PostgreSQL 15 parses and plans a SQL function's body on every
-- call; PL/pgSQL keeps the plan for the life of the connection, and PostgREST's
-- connections are pooled. Same bodies, same results, same attributes (stable,
-- security definer, empty search_path), same grants (create or replace keeps
-- them).
--
-- Measured by `make bench` (bench/README.md, "RLS cost at scale"): at 1M tasks
-- / 1M messages a conversation's messages went from ~0.6x to ~0.8x+ of the
-- RLS-bypassed req/s, a project's tasks likewise.
-- =============================================================================

create or replace function private.is_active_user()
returns boolean
language plpgsql
stable
security definer
set search_path = ''
as $$
begin
  return exists (
    select 1 from public.user_roles ur
     where ur.user_id = (select auth.uid())
       and ur.disabled_at is null
  );
end;
$$;

-- live (not soft-deleted) projects the caller is a member of
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
       and p.deleted_at is null;
end;
$$;

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
     where cm.user_id = (select auth.uid());
end;
$$;
