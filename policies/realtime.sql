-- Realtime Authorization: private channels
--
-- Idempotent and readable on its own; the same statements are in the migrations.
-- Edit here, then `make policy-migration NAME=...` writes the migration.

alter table realtime.messages enable row level security;

-- realtime.messages ---------------------------------------------------------
drop policy if exists "conversation members receive its typing and presence" on realtime.messages;
create policy "conversation members receive its typing and presence"
  on realtime.messages for select to authenticated
  using (
    (select private.is_active_user())
    and extension in ('broadcast', 'presence')
    and (select private.can_join_conversation_topic((select realtime.topic())))
  );

drop policy if exists "conversation members send typing and presence" on realtime.messages;
create policy "conversation members send typing and presence"
  on realtime.messages for insert to authenticated
  with check (
    (select private.is_active_user())
    and extension in ('broadcast', 'presence')
    and (select private.can_join_conversation_topic((select realtime.topic())))
  );
