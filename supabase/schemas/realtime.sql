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

-- The private channels a client may join (docs/realtime.md), each through the helper the
-- tables of that channel use:
--   user:<uid>          the person themself (notifications, their jobs and requests)
--   project:<id>        the project's members (tasks, files, activity, documents)
--   conversation:<id>   the conversation's members (messages, read receipts, typing)
create function private.can_read_realtime_topic(topic text) returns boolean
    language sql stable security definer
    set search_path to ''
    as $_$
  select case
           when topic ~ '^user:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
           then substr(topic, 6)::uuid = (select auth.uid())
                and not private.account_is_gone((select auth.uid()))
           when topic ~ '^project:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
           then substr(topic, 9)::uuid = any(array(select private.my_project_ids()))
           else private.can_join_conversation_topic(topic)
         end
$_$;

revoke all on function private.can_read_realtime_topic(topic text) from public;
grant all on function private.can_read_realtime_topic(topic text) to authenticated;

-- ======================================================================================
-- the supabase_realtime publication
-- ======================================================================================

alter publication supabase_realtime add table only public.activity_events;

alter publication supabase_realtime add table only public.asset_jobs;

-- read receipts (last_read_at) reach the other members
alter publication supabase_realtime add table only public.conversation_members;

alter publication supabase_realtime add table only public.document_jobs;

alter publication supabase_realtime add table only public.files;

alter publication supabase_realtime add table only public.integrations;

alter publication supabase_realtime add table only public.messages;

alter publication supabase_realtime add table only public.notifications;

alter publication supabase_realtime add table only public.privacy_requests;

alter publication supabase_realtime add table only public.tasks;
