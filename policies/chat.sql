-- Chat: conversations, members, messages, attachments
--
-- Idempotent and readable on its own; the same statements are in the migrations.
-- Edit here, then `make policy-migration NAME=...` writes the migration.

alter table public.conversations enable row level security;
alter table public.conversation_members enable row level security;
alter table public.messages enable row level security;
alter table public.message_attachments enable row level security;

-- public.conversations ------------------------------------------------------
-- DELETE soft-deletes (private.soft_delete()); a conversation's admin is the group's
-- creator (private.my_group_conversation_ids()); direct conversations are left, not deleted
drop policy if exists "members read their conversations" on public.conversations;
drop policy if exists "members read their live conversations" on public.conversations;
create policy "members read their live conversations"
  on public.conversations for select to authenticated
  using (
    (select private.is_active_user())
    and deleted_at is null
    and id = any (array(select private.my_conversation_ids()))
  );

drop policy if exists "group creators rename their conversations" on public.conversations;
drop policy if exists "group admins rename their live conversations" on public.conversations;
create policy "group admins rename their live conversations"
  on public.conversations for update to authenticated
  using ((select private.can_write()) and deleted_at is null and id = any (array(select private.my_group_conversation_ids())))
  with check ((select private.can_write()) and deleted_at is null and id = any (array(select private.my_group_conversation_ids())));

drop policy if exists "group creators delete their conversations" on public.conversations;
drop policy if exists "group admins delete their live conversations" on public.conversations;
create policy "group admins delete their live conversations"
  on public.conversations for delete to authenticated
  using ((select private.can_write()) and deleted_at is null and id = any (array(select private.my_group_conversation_ids())));

-- public.conversation_members -----------------------------------------------
drop policy if exists "members read who is in their conversations" on public.conversation_members;
create policy "members read who is in their conversations"
  on public.conversation_members for select to authenticated
  using ((select private.is_active_user()) and conversation_id = any (array(select private.my_conversation_ids())));

drop policy if exists "group creators add their contacts" on public.conversation_members;
create policy "group creators add their contacts"
  on public.conversation_members for insert to authenticated
  with check (
    (select private.can_write())
    and conversation_id = any (array(select private.my_group_conversation_ids()))
    and user_id = any (array(select private.my_contact_ids()))
  );

drop policy if exists "members mark their conversation read" on public.conversation_members;
create policy "members mark their conversation read"
  on public.conversation_members for update to authenticated
  using ((select private.can_write()) and user_id = (select auth.uid()))
  with check ((select private.can_write()) and user_id = (select auth.uid()));

drop policy if exists "members leave and group creators remove members" on public.conversation_members;
create policy "members leave and group creators remove members"
  on public.conversation_members for delete to authenticated
  using (
    (select private.can_write())
    and (
      user_id = (select auth.uid())
      or conversation_id = any (array(select private.my_group_conversation_ids()))
    )
  );

-- public.messages -----------------------------------------------------------
drop policy if exists "members read live messages" on public.messages;
-- (my_conversation_ids() is empty for a disabled user: no is_active_user() needed)
create policy "members read live messages"
  on public.messages for select to authenticated
  using (
    deleted_at is null
    and conversation_id = any (array(select private.my_conversation_ids()))
  );

-- posting and editing need an open conversation: a live group, or a direct conversation
-- whose other person still shares a live project with the author
drop policy if exists "members post as themselves" on public.messages;
drop policy if exists "members post as themselves in open conversations" on public.messages;
create policy "members post as themselves in open conversations"
  on public.messages for insert to authenticated
  with check (
    (select private.can_write())
    and author_id = (select auth.uid())
    and conversation_id = any (array(select private.my_open_conversation_ids()))
  );

drop policy if exists "authors edit their messages" on public.messages;
drop policy if exists "authors edit their messages in open conversations" on public.messages;
create policy "authors edit their messages in open conversations"
  on public.messages for update to authenticated
  using (
    (select private.can_write())
    and deleted_at is null
    and author_id = (select auth.uid())
    and conversation_id = any (array(select private.my_open_conversation_ids()))
  )
  with check (
    (select private.can_write())
    and deleted_at is null
    and author_id = (select auth.uid())
    and conversation_id = any (array(select private.my_open_conversation_ids()))
  );

drop policy if exists "authors delete their messages" on public.messages;
create policy "authors delete their messages"
  on public.messages for delete to authenticated
  using (
    (select private.can_write())
    and deleted_at is null
    and author_id = (select auth.uid())
    and conversation_id = any (array(select private.my_conversation_ids()))
  );

-- public.message_attachments ------------------------------------------------
-- a soft-deleted message's attachments vanish with it (and come back when it is restored)
drop policy if exists "members read attachments in their conversations" on public.message_attachments;
drop policy if exists "members read attachments of live messages" on public.message_attachments;
create policy "members read attachments of live messages"
  on public.message_attachments for select to authenticated
  using (
    (select private.is_active_user())
    and conversation_id = any (array(select private.my_conversation_ids()))
    and message_id <> all (array(select private.my_deleted_message_ids()))
  );

drop policy if exists "authors attach their own files to their messages" on public.message_attachments;
create policy "authors attach their own files to their messages"
  on public.message_attachments for insert to authenticated
  with check (
    (select private.can_write())
    and conversation_id = any (array(select private.my_conversation_ids()))
    and exists (
      select 1 from public.messages m
       where m.id = message_id and m.conversation_id = message_attachments.conversation_id
         and m.author_id = (select auth.uid())
    )
    and private.is_my_file(file_id)
  );

drop policy if exists "authors detach files from their messages" on public.message_attachments;
create policy "authors detach files from their messages"
  on public.message_attachments for delete to authenticated
  using (
    (select private.can_write())
    and conversation_id = any (array(select private.my_conversation_ids()))
    and exists (
      select 1 from public.messages m
       where m.id = message_id and m.author_id = (select auth.uid())
    )
  );
