-- Realtime: who may do what
--
-- The policies of supabase/schemas/realtime.sql. Edit here, then `make migration NAME=...`
-- writes the migration.

-- realtime.messages ---------------------------------------------------------------------
alter table realtime.messages enable row level security;

-- Reading: a person's own topic, their projects' and their conversations' topics. Sending
-- (broadcast, presence): only in conversations (typing, who is here); nothing a client sends
-- can pose as a row change on a user or project topic.
create policy "people receive their own, project and conversation channels"
  on realtime.messages for select to authenticated
  using (
    (select private.is_active_user())
    and extension in ('broadcast', 'presence')
    and (select private.can_read_realtime_topic((select realtime.topic())))
  );

create policy "conversation members send typing and presence"
  on realtime.messages for insert to authenticated
  with check (
    (select private.is_active_user())
    and extension in ('broadcast', 'presence')
    and (select private.can_join_conversation_topic((select realtime.topic())))
  );
