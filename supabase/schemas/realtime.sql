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
