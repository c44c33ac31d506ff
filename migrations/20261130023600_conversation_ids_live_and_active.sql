-- =============================================================================
-- private.my_conversation_ids(): both rules at once.
-- Two migrations of the same day redefined this helper, each with one rule:
-- 20261130013400 (soft-deleted conversations are no one's) and 20261130015549
-- (a disabled caller has no conversations, so list policies skip is_active_user()).
-- The later one dropped the first rule; this definition keeps both.
-- =============================================================================

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
      join public.conversations c on c.id = cm.conversation_id
     where cm.user_id = (select auth.uid())
       and c.deleted_at is null
       and exists (  -- uncorrelated: checked once per call, not once per row
         select 1 from public.user_roles ur
          where ur.user_id = (select auth.uid()) and ur.disabled_at is null
       );
end;
$$;
