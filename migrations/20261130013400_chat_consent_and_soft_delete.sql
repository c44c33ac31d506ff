-- =============================================================================
-- Chat: direct conversations need consent, conversations soft-delete, and
-- notification previews follow their message
--
--   1. direct conversations: started only with someone the caller shares a live
--      project with (membership is accepted, so that is consent); once they
--      share none, the conversation is closed: nobody posts or edits in it, and
--      get_or_create_direct_conversation no longer hands it out
--   2. conversations soft-delete like the rest (DELETE sets deleted_at through
--      private.soft_delete(); the messages stay, hidden with it); only the
--      conversation's admin (a group's creator) deletes or restores it; a
--      deleted conversation is gone from every member's helpers, its realtime
--      topic included; purge removes it after 30 days
--   3. a message edited or deleted updates or clears the preview in its
--      notifications (restoring it puts the preview back)
--
-- The same policies are in policies/chat.sql.
-- =============================================================================

-- -----------------------------------------------------------------------------
-- 1. direct conversations
-- -----------------------------------------------------------------------------

-- conversations the caller may post in: live groups they are in, and live direct
-- conversations whose other person still shares a live project with them
create function private.my_open_conversation_ids()
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
       and (
         c.kind = 'group'
         or exists (
           select 1 from public.conversation_members other
            where other.conversation_id = c.id
              and other.user_id <> (select auth.uid())
              and other.user_id in (select private.my_project_contact_ids())
         )
       );
end;
$$;

revoke all on function private.my_open_conversation_ids() from public;
grant execute on function private.my_open_conversation_ids() to authenticated, service_role;

-- Definer: the conversation and both member rows are written before the caller can
-- see them, which no policy allows; the checks are here. Sharing a live project is
-- required every time: an existing conversation with someone no longer shared with
-- stays closed.
create or replace function private.get_or_create_direct_conversation(other_user_id uuid)
returns uuid
language plpgsql
security definer
set search_path = ''
as $$
declare
  me uuid := (select auth.uid());
  key text;
  conversation uuid;
begin
  if me is null or not private.can_write() then
    raise exception 'not allowed to start conversations' using errcode = '42501';
  end if;
  if other_user_id is null or other_user_id = me then
    raise exception 'other_user_id must be another person' using errcode = '22023';
  end if;
  if not exists (select 1 from private.my_project_contact_ids() c where c = other_user_id) then
    raise exception 'you can only talk directly with someone you share a project with'
      using errcode = '42501';
  end if;
  key := least(me, other_user_id)::text || ':' || greatest(me, other_user_id)::text;
  insert into public.conversations (kind, created_by, direct_key)
  values ('direct', me, key)
  on conflict (direct_key) do nothing
  returning id into conversation;
  if conversation is null then
    select c.id into conversation from public.conversations c where c.direct_key = key;
    -- a direct conversation one of them deleted comes back for both
    update public.conversations c set deleted_at = null where c.id = conversation and c.deleted_at is not null;
    insert into public.conversation_members (conversation_id, user_id)
    values (conversation, me), (conversation, other_user_id)
    on conflict (conversation_id, user_id) do nothing;
  else
    insert into public.conversation_members (conversation_id, user_id)
    values (conversation, me), (conversation, other_user_id);
  end if;
  return conversation;
end;
$$;

-- -----------------------------------------------------------------------------
-- 2. conversations soft-delete
-- -----------------------------------------------------------------------------
alter table public.conversations add column deleted_at timestamptz;
create index conversations_deleted_at_idx on public.conversations (deleted_at) where deleted_at is not null;

create trigger conversations_soft_delete
  before delete on public.conversations
  for each row execute function private.soft_delete();

-- live conversations the caller is in (every chat policy and the realtime topic use it)
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
       and c.deleted_at is null;
end;
$$;

-- live group conversations the caller created (they are its admin: they manage its
-- members, rename, delete and restore it)
create or replace function private.my_group_conversation_ids()
returns setof uuid
language sql
stable
security definer
set search_path = ''
as $$
  select c.id
    from public.conversations c
   where c.created_by = (select auth.uid())
     and c.kind = 'group'
     and c.deleted_at is null
$$;

create or replace function private.can_join_conversation_topic(topic text)
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
               join public.conversations c on c.id = cm.conversation_id
              where cm.conversation_id = substr(topic, 14)::uuid
                and cm.user_id = (select auth.uid())
                and c.deleted_at is null
           )
           else false
         end
$$;

drop policy "members read their conversations" on public.conversations;
create policy "members read their live conversations"
  on public.conversations for select to authenticated
  using (
    (select private.is_active_user())
    and deleted_at is null
    and id = any (array(select private.my_conversation_ids()))
  );

drop policy "group creators rename their conversations" on public.conversations;
create policy "group admins rename their live conversations"
  on public.conversations for update to authenticated
  using ((select private.can_write()) and deleted_at is null and id = any (array(select private.my_group_conversation_ids())))
  with check ((select private.can_write()) and deleted_at is null and id = any (array(select private.my_group_conversation_ids())));

drop policy "group creators delete their conversations" on public.conversations;
create policy "group admins delete their live conversations"
  on public.conversations for delete to authenticated
  using ((select private.can_write()) and deleted_at is null and id = any (array(select private.my_group_conversation_ids())));

-- posting and editing need an open conversation (see 1.)
drop policy "members post as themselves" on public.messages;
create policy "members post as themselves in open conversations"
  on public.messages for insert to authenticated
  with check (
    (select private.can_write())
    and author_id = (select auth.uid())
    and conversation_id = any (array(select private.my_open_conversation_ids()))
  );

drop policy "authors edit their messages" on public.messages;
create policy "authors edit their messages in open conversations"
  on public.messages for update to authenticated
  using (
    (select private.can_write())
    and author_id = (select auth.uid())
    and conversation_id = any (array(select private.my_open_conversation_ids()))
  )
  with check (
    (select private.can_write())
    and author_id = (select auth.uid())
    and conversation_id = any (array(select private.my_open_conversation_ids()))
  );

-- restore: a conversation comes back by its admin (the group's creator), within 30 days
create or replace function private.restore_deleted(target_table text, target_id uuid)
returns void
language plpgsql
security definer
set search_path = ''
as $$
declare
  me uuid := (select auth.uid());
  row_deleted_at timestamptz;
  row_project uuid;
  row_owner uuid;
  allowed boolean;
begin
  if me is null or not private.can_write() then
    raise exception 'not allowed to restore' using errcode = '42501';
  end if;
  case target_table
    when 'projects' then
      select p.deleted_at, p.id, p.owner_id into row_deleted_at, row_project, row_owner
        from public.projects p where p.id = target_id;
      allowed := row_owner = me;
    when 'tasks' then
      select t.deleted_at, t.project_id into row_deleted_at, row_project
        from public.tasks t where t.id = target_id;
      allowed := private.has_project_role(row_project, 'admin');
    when 'files' then
      select f.deleted_at, f.project_id into row_deleted_at, row_project
        from public.files f where f.id = target_id;
      allowed := private.has_project_role(row_project, 'admin');
    when 'documents' then
      select d.deleted_at, d.project_id into row_deleted_at, row_project
        from public.documents d where d.id = target_id;
      allowed := private.has_project_role(row_project, 'admin');
    when 'messages' then
      select m.deleted_at, m.author_id into row_deleted_at, row_owner
        from public.messages m where m.id = target_id;
      allowed := row_owner = me and private.is_conversation_member(
        (select m.conversation_id from public.messages m where m.id = target_id));
    when 'conversations' then
      select c.deleted_at, c.created_by into row_deleted_at, row_owner
        from public.conversations c where c.id = target_id and c.kind = 'group';
      allowed := row_owner = me and private.is_conversation_member(target_id);
    else
      raise exception 'cannot restore rows of %', target_table
        using errcode = '22023',
              hint = 'target_table is one of projects, tasks, files, documents, messages, conversations';
  end case;
  if not coalesce(allowed, false) then
    raise exception 'nothing of yours to restore in % with id %', target_table, target_id using errcode = '42501';
  end if;
  if row_deleted_at is null then
    raise exception '% % is not deleted', target_table, target_id using errcode = '22023';
  end if;
  if row_deleted_at < now() - interval '30 days' then
    raise exception '% % was deleted more than 30 days ago', target_table, target_id
      using errcode = '22023', hint = 'rows can be restored for 30 days';
  end if;
  execute format('update public.%I set deleted_at = null where id = $1', target_table) using target_id;
end;
$$;
comment on function public.restore_deleted(text, uuid) is
  'Brings back a soft-deleted project, task, file, document, message or conversation within 30 days.';

create or replace function public.purge_soft_deleted(older_than interval default interval '30 days')
returns table (table_name text, purged bigint, object_keys text[])
language plpgsql
security invoker
set search_path = ''
as $$
declare
  cutoff timestamptz;
  n bigint;
  keys text[];
begin
  if older_than is null or older_than < interval '30 days' then
    raise exception 'older_than must be at least 30 days' using errcode = '22023';
  end if;
  cutoff := now() - older_than;

  delete from public.messages m where m.deleted_at < cutoff;
  get diagnostics n = row_count;
  table_name := 'messages'; purged := n; object_keys := '{}'; return next;

  -- a conversation's messages (and their attachments) go with it
  delete from public.conversations c where c.deleted_at < cutoff;
  get diagnostics n = row_count;
  table_name := 'conversations'; purged := n; object_keys := '{}'; return next;

  delete from public.tasks t where t.deleted_at < cutoff;
  get diagnostics n = row_count;
  table_name := 'tasks'; purged := n; object_keys := '{}'; return next;

  with gone as (delete from public.files f where f.deleted_at < cutoff returning f.object_key)
  select count(*), coalesce(array_agg(object_key), '{}') into n, keys from gone;
  table_name := 'files'; purged := n; object_keys := keys; return next;

  delete from public.documents d where d.deleted_at < cutoff;
  get diagnostics n = row_count;
  table_name := 'documents'; purged := n; object_keys := '{}'; return next;

  with gone as (
    select f.object_key from public.files f
      join public.projects p on p.id = f.project_id
     where p.deleted_at < cutoff
  ), dropped as (
    delete from public.projects p where p.deleted_at < cutoff returning p.id
  )
  select (select count(*) from dropped), coalesce((select array_agg(object_key) from gone), '{}') into n, keys;
  table_name := 'projects'; purged := n; object_keys := keys; return next;
end;
$$;

-- -----------------------------------------------------------------------------
-- 3. notification previews follow their message
-- -----------------------------------------------------------------------------
create index notifications_message_id_idx on public.notifications ((payload ->> 'message_id'))
  where type = 'message';

create function private.refresh_message_previews()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  if new.deleted_at is not null and old.deleted_at is null then
    update public.notifications n
       set payload = (n.payload - 'preview') || jsonb_build_object('deleted', true)
     where n.type = 'message' and n.payload ->> 'message_id' = new.id::text;
  elsif new.deleted_at is null and (old.deleted_at is not null or new.content is distinct from old.content) then
    update public.notifications n
       set payload = (n.payload - 'deleted')
                     || jsonb_build_object('preview', left(new.content, 140), 'edited', new.edited_at is not null)
     where n.type = 'message' and n.payload ->> 'message_id' = new.id::text;
  end if;
  return null;
end;
$$;
revoke all on function private.refresh_message_previews() from public;

create trigger messages_refresh_notification_previews
  after update of content, deleted_at on public.messages
  for each row execute function private.refresh_message_previews();
