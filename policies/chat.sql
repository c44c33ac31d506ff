-- Chat: who may do what
--
-- The policies of supabase/schemas/chat.sql. Edit here, then `make migration NAME=...`
-- writes the migration.

-- public.conversations ------------------------------------------------------------------
alter table public.conversations enable row level security;

-- DELETE soft-deletes (private.soft_delete()); a conversation's admin is the group's
-- creator (private.my_group_conversation_ids()); direct conversations are left, not deleted
create policy "members read their live conversations"
  on public.conversations for select to authenticated
  using (
    (select private.is_active_user())
    and deleted_at is null
    and id = any (array(select private.my_conversation_ids()))
  );

create policy "group admins rename their live conversations"
  on public.conversations for update to authenticated
  using ((select private.can_write()) and deleted_at is null and id = any (array(select private.my_group_conversation_ids())))
  with check ((select private.can_write()) and deleted_at is null and id = any (array(select private.my_group_conversation_ids())));

create policy "group admins delete their live conversations"
  on public.conversations for delete to authenticated
  using ((select private.can_write()) and deleted_at is null and id = any (array(select private.my_group_conversation_ids())));

-- public.conversation_members -----------------------------------------------------------
alter table public.conversation_members enable row level security;

create policy "members read who is in their conversations"
  on public.conversation_members for select to authenticated
  using ((select private.is_active_user()) and conversation_id = any (array(select private.my_conversation_ids())));

create policy "group creators add their contacts"
  on public.conversation_members for insert to authenticated
  with check (
    (select private.can_write())
    and conversation_id = any (array(select private.my_group_conversation_ids()))
    and user_id = any (array(select private.my_contact_ids()))
  );

create policy "members mark their conversation read"
  on public.conversation_members for update to authenticated
  using ((select private.can_write()) and user_id = (select auth.uid()))
  with check ((select private.can_write()) and user_id = (select auth.uid()));

create policy "members leave and group creators remove members"
  on public.conversation_members for delete to authenticated
  using (
    (select private.can_write())
    and (
      user_id = (select auth.uid())
      or conversation_id = any (array(select private.my_group_conversation_ids()))
    )
  );

-- public.messages -----------------------------------------------------------------------
alter table public.messages enable row level security;

-- (my_conversation_ids() is empty for a disabled user: no is_active_user() needed)
create policy "members read live messages"
  on public.messages for select to authenticated
  using (
    deleted_at is null
    and conversation_id = any (array(select private.my_conversation_ids()))
  );

-- posting and editing need an open conversation: a live group, or a direct conversation
-- whose other person still shares a live project with the author
create policy "members post as themselves in open conversations"
  on public.messages for insert to authenticated
  with check (
    (select private.can_write())
    and author_id = (select auth.uid())
    and conversation_id = any (array(select private.my_open_conversation_ids()))
  );

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

create policy "authors delete their messages"
  on public.messages for delete to authenticated
  using (
    (select private.can_write())
    and deleted_at is null
    and author_id = (select auth.uid())
    and conversation_id = any (array(select private.my_conversation_ids()))
  );

-- public.message_attachments ------------------------------------------------------------
alter table public.message_attachments enable row level security;

-- a soft-deleted message's attachments vanish with it (and come back when it is restored)
create policy "members read attachments of live messages"
  on public.message_attachments for select to authenticated
  using (
    (select private.is_active_user())
    and conversation_id = any (array(select private.my_conversation_ids()))
    and message_id <> all (array(select private.my_deleted_message_ids()))
  );

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
