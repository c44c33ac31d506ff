-- =============================================================================
-- Chat
--
--   1. conversations (direct or group, optional project)
--   2. conversation_members (last_read_at = read receipts)
--   3. messages (edited_at, soft delete, generated full-text column + GIN)
--   4. message_attachments (a message's files; files.message_id gets its FK)
--   5. helpers (my conversations; contacts now include conversation partners)
--   6. policies (policies/chat.sql)
--   7. RPCs: get_or_create_direct_conversation, create_group_conversation,
--      search_messages
--
-- Conversations are created by RPC only (members are added in the same
-- transaction). Only members read or post; only the author edits or deletes a
-- message. Guests read conversations they are in and post nothing.
-- =============================================================================

-- -----------------------------------------------------------------------------
-- 1. conversations
-- -----------------------------------------------------------------------------
create type public.conversation_kind as enum ('direct', 'group');

create table public.conversations (
  id uuid primary key default gen_random_uuid(),
  kind public.conversation_kind not null default 'group',
  title text,
  project_id uuid references public.projects (id) on delete cascade,
  created_by uuid default auth.uid() references public.profiles (id) on delete set null,
  -- for direct conversations: the two user ids, smaller first; makes them unique
  direct_key text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint conversations_title_length check (char_length(title) <= 200),
  constraint conversations_direct_key_only_for_direct check ((kind = 'direct') = (direct_key is not null)),
  constraint conversations_direct_key_unique unique (direct_key)
);
create index conversations_project_id_idx on public.conversations (project_id);
create index conversations_created_by_idx on public.conversations (created_by);
alter table public.conversations enable row level security;

create trigger conversations_set_updated_at
  before insert or update on public.conversations
  for each row execute function private.set_updated_at();
create trigger conversations_guard_immutable_columns
  before update on public.conversations
  for each row execute function private.guard_immutable_columns('id', 'kind', 'project_id', 'created_by', 'direct_key');

-- -----------------------------------------------------------------------------
-- 2. conversation_members
-- -----------------------------------------------------------------------------
create table public.conversation_members (
  id uuid primary key default gen_random_uuid(),
  conversation_id uuid not null references public.conversations (id) on delete cascade,
  user_id uuid not null references public.profiles (id) on delete cascade,
  last_read_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint conversation_members_one_row_per_user unique (conversation_id, user_id)
);
create index conversation_members_user_id_idx on public.conversation_members (user_id, conversation_id);
alter table public.conversation_members enable row level security;

create trigger conversation_members_set_updated_at
  before insert or update on public.conversation_members
  for each row execute function private.set_updated_at();
create trigger conversation_members_guard_immutable_columns
  before update on public.conversation_members
  for each row execute function private.guard_immutable_columns('id', 'conversation_id', 'user_id');

-- -----------------------------------------------------------------------------
-- 3. messages
-- -----------------------------------------------------------------------------
create table public.messages (
  id uuid primary key default gen_random_uuid(),
  conversation_id uuid not null references public.conversations (id) on delete cascade,
  author_id uuid default auth.uid() references public.profiles (id) on delete set null,
  content text not null,
  edited_at timestamptz,
  deleted_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  search tsvector generated always as (to_tsvector('english'::regconfig, content)) stored,
  constraint messages_content_length check (char_length(btrim(content)) between 1 and 10000),
  constraint messages_id_conversation_id_key unique (id, conversation_id)
);
create index messages_conversation_id_created_at_idx on public.messages (conversation_id, created_at desc);
create index messages_author_id_idx on public.messages (author_id);
create index messages_search_idx on public.messages using gin (search);
alter table public.messages enable row level security;

create function private.set_message_edited_at()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if new.content is distinct from old.content then
    new.edited_at := now();
  end if;
  return new;
end;
$$;

create trigger messages_set_updated_at
  before insert or update on public.messages
  for each row execute function private.set_updated_at();
create trigger messages_guard_immutable_columns
  before update on public.messages
  for each row execute function private.guard_immutable_columns('id', 'conversation_id', 'author_id', 'edited_at');
create trigger messages_set_edited_at
  before update on public.messages
  for each row execute function private.set_message_edited_at();
create trigger messages_soft_delete
  before delete on public.messages
  for each row execute function private.soft_delete();

-- -----------------------------------------------------------------------------
-- 4. message_attachments
-- -----------------------------------------------------------------------------
alter table public.files
  add constraint files_message_id_fkey foreign key (message_id) references public.messages (id) on delete cascade;

create table public.message_attachments (
  id uuid primary key default gen_random_uuid(),
  message_id uuid not null,
  conversation_id uuid not null,
  file_id uuid not null references public.files (id) on delete cascade,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint message_attachments_message_in_conversation foreign key (message_id, conversation_id)
    references public.messages (id, conversation_id) on delete cascade,
  constraint message_attachments_one_row_per_file unique (message_id, file_id)
);
create index message_attachments_conversation_id_idx on public.message_attachments (conversation_id, message_id);
create index message_attachments_file_id_idx on public.message_attachments (file_id);
alter table public.message_attachments enable row level security;

create trigger message_attachments_set_updated_at
  before insert or update on public.message_attachments
  for each row execute function private.set_updated_at();

-- -----------------------------------------------------------------------------
-- 5. helpers
-- -----------------------------------------------------------------------------
create function private.my_conversation_ids()
returns setof uuid
language sql
stable
security definer
set search_path = ''
as $$
  select cm.conversation_id
    from public.conversation_members cm
   where cm.user_id = (select auth.uid())
$$;

create function private.is_conversation_member(conversation_id uuid)
returns boolean
language sql
stable
security definer
set search_path = ''
as $$
  select exists (
    select 1 from public.conversation_members cm
     where cm.conversation_id = is_conversation_member.conversation_id
       and cm.user_id = (select auth.uid())
  )
$$;

-- conversations the caller created as groups (they manage their members)
create function private.my_group_conversation_ids()
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
$$;

-- the caller uploaded the file (attachments may only point at one's own files)
create function private.is_my_file(file_id uuid)
returns boolean
language sql
stable
security definer
set search_path = ''
as $$
  select exists (
    select 1 from public.files f
     where f.id = is_my_file.file_id
       and f.uploaded_by = (select auth.uid())
  )
$$;

-- people the caller shares a live project or a conversation with
create or replace function private.my_contact_ids()
returns setof uuid
language sql
stable
security definer
set search_path = ''
as $$
  select other.user_id
    from public.project_members other
   where other.project_id in (select private.my_project_ids())
  union
  select other.user_id
    from public.conversation_members other
   where other.conversation_id in (select private.my_conversation_ids())
$$;

-- people the caller shares a live project with (who they may start a chat with)
create function private.my_project_contact_ids()
returns setof uuid
language sql
stable
security definer
set search_path = ''
as $$
  select distinct other.user_id
    from public.project_members other
   where other.project_id in (select private.my_project_ids())
$$;

revoke all on function private.my_conversation_ids(), private.is_conversation_member(uuid),
  private.my_group_conversation_ids(), private.is_my_file(uuid), private.my_contact_ids(),
  private.my_project_contact_ids(), private.set_message_edited_at() from public;
grant execute on function private.my_conversation_ids(), private.is_conversation_member(uuid),
  private.my_group_conversation_ids(), private.is_my_file(uuid), private.my_contact_ids(),
  private.my_project_contact_ids() to authenticated, service_role;

-- -----------------------------------------------------------------------------
-- 6. policies
-- -----------------------------------------------------------------------------
create policy "members read their conversations"
  on public.conversations for select to authenticated
  using ((select private.is_active_user()) and id = any (array(select private.my_conversation_ids())));

create policy "group creators rename their conversations"
  on public.conversations for update to authenticated
  using ((select private.can_write()) and kind = 'group' and created_by = (select auth.uid()))
  with check ((select private.can_write()) and kind = 'group' and created_by = (select auth.uid()));

create policy "group creators delete their conversations"
  on public.conversations for delete to authenticated
  using ((select private.can_write()) and kind = 'group' and created_by = (select auth.uid()));

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

create policy "members read live messages"
  on public.messages for select to authenticated
  using (
    (select private.is_active_user())
    and deleted_at is null
    and conversation_id = any (array(select private.my_conversation_ids()))
  );

create policy "members post as themselves"
  on public.messages for insert to authenticated
  with check (
    (select private.can_write())
    and author_id = (select auth.uid())
    and conversation_id = any (array(select private.my_conversation_ids()))
  );

create policy "authors edit their messages"
  on public.messages for update to authenticated
  using (
    (select private.can_write())
    and author_id = (select auth.uid())
    and conversation_id = any (array(select private.my_conversation_ids()))
  )
  with check (
    (select private.can_write())
    and author_id = (select auth.uid())
    and conversation_id = any (array(select private.my_conversation_ids()))
  );

create policy "authors delete their messages"
  on public.messages for delete to authenticated
  using (
    (select private.can_write())
    and author_id = (select auth.uid())
    and conversation_id = any (array(select private.my_conversation_ids()))
  );

create policy "members read attachments in their conversations"
  on public.message_attachments for select to authenticated
  using ((select private.is_active_user()) and conversation_id = any (array(select private.my_conversation_ids())));

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

-- -----------------------------------------------------------------------------
-- 7. RPCs
-- -----------------------------------------------------------------------------

-- Definer: the conversation and both member rows are written before the
-- caller can see them, which no policy allows; the checks are here.
create function private.get_or_create_direct_conversation(other_user_id uuid)
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
  if not exists (select 1 from private.my_project_contact_ids() c where c = other_user_id)
     and not exists (select 1 from public.conversations c
                      where c.direct_key = least(me, other_user_id)::text || ':' || greatest(me, other_user_id)::text) then
    raise exception 'you can only start a direct conversation with someone you share a project with'
      using errcode = '42501';
  end if;
  key := least(me, other_user_id)::text || ':' || greatest(me, other_user_id)::text;
  insert into public.conversations (kind, created_by, direct_key)
  values ('direct', me, key)
  on conflict (direct_key) do nothing
  returning id into conversation;
  if conversation is null then
    select c.id into conversation from public.conversations c where c.direct_key = key;
  else
    insert into public.conversation_members (conversation_id, user_id)
    values (conversation, me), (conversation, other_user_id);
  end if;
  return conversation;
end;
$$;

create function public.get_or_create_direct_conversation(other_user_id uuid)
returns uuid
language sql
security invoker
set search_path = ''
as $$
  select private.get_or_create_direct_conversation(other_user_id)
$$;
comment on function public.get_or_create_direct_conversation(uuid) is
  'The one direct conversation between the caller and another person they share a project with; made on first call.';

-- Definer for the same reason as above.
create function private.create_group_conversation(title text, member_ids uuid[], project_id uuid)
returns uuid
language plpgsql
security definer
set search_path = ''
as $$
declare
  me uuid := (select auth.uid());
  conversation uuid;
  stranger uuid;
begin
  if me is null or not private.can_write() then
    raise exception 'not allowed to start conversations' using errcode = '42501';
  end if;
  if title is null or char_length(btrim(title)) not between 1 and 200 then
    raise exception 'title must be 1 to 200 characters' using errcode = '22023';
  end if;
  if coalesce(cardinality(member_ids), 0) > 200 then
    raise exception 'a group has at most 200 members' using errcode = '22023';
  end if;
  if project_id is not null and not private.has_project_role(project_id, 'viewer') then
    raise exception 'you are not a member of this project' using errcode = '42501';
  end if;
  select m into stranger
    from unnest(coalesce(member_ids, '{}')) m
   where m <> me
     and case when create_group_conversation.project_id is null
              then not exists (select 1 from private.my_project_contact_ids() c where c = m)
              else not exists (select 1 from public.project_members pm
                                where pm.project_id = create_group_conversation.project_id and pm.user_id = m)
         end
   limit 1;
  if stranger is not null then
    raise exception 'member % does not share a project with you', stranger
      using errcode = '22023', hint = 'group members must be members of the project (or of one of your projects)';
  end if;
  insert into public.conversations (kind, title, project_id, created_by)
  values ('group', btrim(title), create_group_conversation.project_id, me)
  returning id into conversation;
  insert into public.conversation_members (conversation_id, user_id)
  select conversation, m from (select me as m union select unnest(coalesce(member_ids, '{}'))) people;
  return conversation;
end;
$$;

create function public.create_group_conversation(title text, member_ids uuid[], project_id uuid default null)
returns uuid
language sql
security invoker
set search_path = ''
as $$
  select private.create_group_conversation(title, member_ids, project_id)
$$;
comment on function public.create_group_conversation(text, uuid[], uuid) is
  'A group conversation with the caller and the given people (who must share a project with the caller).';

-- Invoker: RLS on messages decides what is found.
create function public.search_messages(query text, in_conversation uuid default null, max_rows int default 50)
returns setof public.messages
language plpgsql
stable
security invoker
set search_path = ''
as $$
begin
  if query is null or char_length(btrim(query)) not between 1 and 200 then
    raise exception 'query must be 1 to 200 characters' using errcode = '22023';
  end if;
  if max_rows is null or max_rows not between 1 and 200 then
    raise exception 'max_rows must be between 1 and 200' using errcode = '22023';
  end if;
  return query
    select m.*
      from public.messages m
     where m.search @@ websearch_to_tsquery('english'::regconfig, query)
       and (in_conversation is null or m.conversation_id = in_conversation)
     order by m.created_at desc
     limit max_rows;
end;
$$;
comment on function public.search_messages(text, uuid, int) is
  'Full-text search over the messages the caller may read, newest first.';

revoke all on function private.get_or_create_direct_conversation(uuid),
  private.create_group_conversation(text, uuid[], uuid) from public;
grant execute on function private.get_or_create_direct_conversation(uuid),
  private.create_group_conversation(text, uuid[], uuid) to authenticated;
revoke all on function public.get_or_create_direct_conversation(uuid),
  public.create_group_conversation(text, uuid[], uuid),
  public.search_messages(text, uuid, int) from public, anon;
grant execute on function public.get_or_create_direct_conversation(uuid),
  public.create_group_conversation(text, uuid[], uuid),
  public.search_messages(text, uuid, int) to authenticated, service_role;

revoke truncate, references, trigger on all tables in schema public from anon, authenticated;
