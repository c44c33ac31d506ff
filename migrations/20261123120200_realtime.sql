-- =============================================================================
-- Realtime
--
--   1. live rows: messages and tasks in the supabase_realtime publication
--      (notifications join it in their own migration); Realtime applies each
--      table's select policy before delivering a change
--   2. private channels: policies on realtime.messages let only a
--      conversation's members join `conversation:<id>` for broadcast (typing)
--      and presence (policies/realtime.sql)
--
-- Channels must be private (`config: { private: true }`) and "Allow public
-- access" off in the project's Realtime settings.
-- =============================================================================

-- -----------------------------------------------------------------------------
-- 1. publication
-- -----------------------------------------------------------------------------
alter publication supabase_realtime add table public.messages, public.tasks;

-- -----------------------------------------------------------------------------
-- 2. channel authorization
-- -----------------------------------------------------------------------------

-- true when topic is `conversation:<uuid>` and the caller is a member of it
create function private.can_join_conversation_topic(topic text)
returns boolean
language sql
stable
security definer
set search_path = ''
as $$
  select case
           when topic ~ '^conversation:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
           then exists (
             select 1 from public.conversation_members cm
              where cm.conversation_id = substr(topic, 14)::uuid
                and cm.user_id = (select auth.uid())
           )
           else false
         end
$$;
revoke all on function private.can_join_conversation_topic(text) from public;
grant execute on function private.can_join_conversation_topic(text) to authenticated;

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
