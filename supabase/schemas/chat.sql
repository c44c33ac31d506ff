-- Chat: conversations, members, messages, attachments
--
-- The declared source of this domain's tables, helpers, triggers and grants; its policies are
-- in policies/chat.sql. Edit here, then `make migration NAME=...` writes the migration.

-- SQL function bodies may name objects declared further down or in a later file.
set check_function_bodies = false;

-- ======================================================================================
-- types
-- ======================================================================================

create type public.conversation_kind as enum (
    'direct',
    'group'
);

-- ======================================================================================
-- public.conversations
-- ======================================================================================

create table public.conversations (
    id uuid default gen_random_uuid() not null,
    kind public.conversation_kind default 'group'::public.conversation_kind not null,
    title text,
    project_id uuid,
    created_by uuid default auth.uid(),
    direct_key text,
    created_at timestamptz default now() not null,
    updated_at timestamptz default now() not null,
    deleted_at timestamptz,
    constraint conversations_direct_key_only_for_direct check (((kind = 'direct'::public.conversation_kind) = (direct_key is not null))),
    constraint conversations_title_length check ((char_length(title) <= 200))
);

alter table only public.conversations
    add constraint conversations_direct_key_unique unique (direct_key);

alter table only public.conversations
    add constraint conversations_pkey primary key (id);

create index conversations_created_by_idx on public.conversations using btree (created_by);

create index conversations_deleted_at_idx on public.conversations using btree (deleted_at) where (deleted_at is not null);

create index conversations_project_id_idx on public.conversations using btree (project_id);

revoke all on table public.conversations from anon, authenticated;
grant select,insert,delete,update on table public.conversations to anon;
grant select,insert,delete,update on table public.conversations to authenticated;
grant all on table public.conversations to service_role;

-- ======================================================================================
-- public.conversation_members
-- ======================================================================================

create table public.conversation_members (
    id uuid default gen_random_uuid() not null,
    conversation_id uuid not null,
    user_id uuid not null,
    last_read_at timestamptz,
    created_at timestamptz default now() not null,
    updated_at timestamptz default now() not null
);

alter table only public.conversation_members
    add constraint conversation_members_one_row_per_user unique (conversation_id, user_id);

alter table only public.conversation_members
    add constraint conversation_members_pkey primary key (id);

create index conversation_members_user_id_idx on public.conversation_members using btree (user_id, conversation_id);

revoke all on table public.conversation_members from anon, authenticated;
grant select,insert,delete,update on table public.conversation_members to anon;
grant select,insert,delete,update on table public.conversation_members to authenticated;
grant all on table public.conversation_members to service_role;

-- ======================================================================================
-- public.messages
-- ======================================================================================

create table public.messages (
    id uuid default gen_random_uuid() not null,
    conversation_id uuid not null,
    author_id uuid default auth.uid(),
    content text not null,
    edited_at timestamptz,
    deleted_at timestamptz,
    created_at timestamptz default now() not null,
    updated_at timestamptz default now() not null,
    search tsvector generated always as (to_tsvector('english'::regconfig, content)) stored,
    constraint messages_content_length check (((char_length(btrim(content)) >= 1) and (char_length(btrim(content)) <= 10000)))
);

alter table only public.messages
    add constraint messages_id_conversation_id_key unique (id, conversation_id);

alter table only public.messages
    add constraint messages_pkey primary key (id);

create index messages_author_id_idx on public.messages using btree (author_id);

create index messages_conversation_id_created_at_idx on public.messages using btree (conversation_id, created_at desc);

create index messages_conversation_id_deleted_idx on public.messages using btree (conversation_id) where (deleted_at is not null);

create index messages_search_idx on public.messages using gin (search);

revoke all on table public.messages from anon, authenticated;
grant select,insert,delete,update on table public.messages to anon;
grant select,insert,delete,update on table public.messages to authenticated;
grant all on table public.messages to service_role;

-- ======================================================================================
-- public.message_attachments
-- ======================================================================================

create table public.message_attachments (
    id uuid default gen_random_uuid() not null,
    message_id uuid not null,
    conversation_id uuid not null,
    file_id uuid not null,
    created_at timestamptz default now() not null,
    updated_at timestamptz default now() not null
);

alter table only public.message_attachments
    add constraint message_attachments_one_row_per_file unique (message_id, file_id);

alter table only public.message_attachments
    add constraint message_attachments_pkey primary key (id);

create index message_attachments_conversation_id_idx on public.message_attachments using btree (conversation_id, message_id);

create index message_attachments_file_id_idx on public.message_attachments using btree (file_id);

create index message_attachments_message_id_conversation_id_idx on public.message_attachments using btree (message_id, conversation_id);

revoke all on table public.message_attachments from anon, authenticated;
grant select,insert,delete,update on table public.message_attachments to anon;
grant select,insert,delete,update on table public.message_attachments to authenticated;
grant all on table public.message_attachments to service_role;

-- ======================================================================================
-- foreign keys
-- ======================================================================================

alter table only public.conversation_members
    add constraint conversation_members_conversation_id_fkey foreign key (conversation_id) references public.conversations(id) on delete cascade;

alter table only public.conversation_members
    add constraint conversation_members_user_id_fkey foreign key (user_id) references public.profiles(id) on delete cascade;

alter table only public.conversations
    add constraint conversations_created_by_fkey foreign key (created_by) references public.profiles(id) on delete set null;

alter table only public.conversations
    add constraint conversations_project_id_fkey foreign key (project_id) references public.projects(id) on delete cascade;

alter table only public.message_attachments
    add constraint message_attachments_message_in_conversation foreign key (message_id, conversation_id) references public.messages(id, conversation_id) on delete cascade;

alter table only public.messages
    add constraint messages_author_id_fkey foreign key (author_id) references public.profiles(id) on delete set null;

alter table only public.messages
    add constraint messages_conversation_id_fkey foreign key (conversation_id) references public.conversations(id) on delete cascade;

-- ======================================================================================
-- functions
-- ======================================================================================

create function private.my_conversation_ids() returns setof uuid
    language plpgsql stable security definer
    set search_path to ''
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

revoke all on function private.my_conversation_ids() from public;
grant all on function private.my_conversation_ids() to authenticated;
grant all on function private.my_conversation_ids() to service_role;

-- conversations the caller may post in: live groups they are in, and live direct
-- conversations whose other person still shares a live project with them
create function private.my_open_conversation_ids() returns setof uuid
    language plpgsql stable security definer
    set search_path to ''
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
grant all on function private.my_open_conversation_ids() to authenticated;
grant all on function private.my_open_conversation_ids() to service_role;

-- live group conversations the caller created (they are its admin: they manage its
-- members, rename, delete and restore it)
create function private.my_group_conversation_ids() returns setof uuid
    language sql stable security definer
    set search_path to ''
    as $$
  select c.id
    from public.conversations c
   where c.created_by = (select auth.uid())
     and c.kind = 'group'
     and c.deleted_at is null
$$;

revoke all on function private.my_group_conversation_ids() from public;
grant all on function private.my_group_conversation_ids() to authenticated;
grant all on function private.my_group_conversation_ids() to service_role;

create function private.is_conversation_member(conversation_id uuid) returns boolean
    language sql stable security definer
    set search_path to ''
    as $$
  select exists (
    select 1 from public.conversation_members cm
     where cm.conversation_id = is_conversation_member.conversation_id
       and cm.user_id = (select auth.uid())
  )
$$;

revoke all on function private.is_conversation_member(conversation_id uuid) from public;
grant all on function private.is_conversation_member(conversation_id uuid) to authenticated;
grant all on function private.is_conversation_member(conversation_id uuid) to service_role;

-- people the caller shares a live project or a conversation with
create function private.my_contact_ids() returns setof uuid
    language sql stable security definer
    set search_path to ''
    as $$
  select other.user_id
    from public.project_members other
   where other.project_id in (select private.my_project_ids())
  union
  select other.user_id
    from public.conversation_members other
   where other.conversation_id in (select private.my_conversation_ids())
$$;

revoke all on function private.my_contact_ids() from public;
grant all on function private.my_contact_ids() to authenticated;
grant all on function private.my_contact_ids() to service_role;

-- Definer: the conversation and both member rows are written before the caller can
-- see them, which no policy allows; the checks are here. Sharing a live project is
-- required every time: an existing conversation with someone no longer shared with
-- stays closed.
create function private.get_or_create_direct_conversation(other_user_id uuid) returns uuid
    language plpgsql security definer
    set search_path to ''
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

revoke all on function private.get_or_create_direct_conversation(other_user_id uuid) from public;
grant all on function private.get_or_create_direct_conversation(other_user_id uuid) to authenticated;

create function public.get_or_create_direct_conversation(other_user_id uuid) returns uuid
    language sql
    set search_path to ''
    as $$
  select private.get_or_create_direct_conversation(other_user_id)
$$;

comment on function public.get_or_create_direct_conversation(other_user_id uuid) is 'The one direct conversation between the caller and another person they share a project with; made on first call.';

revoke all on function public.get_or_create_direct_conversation(other_user_id uuid) from public;
grant all on function public.get_or_create_direct_conversation(other_user_id uuid) to authenticated;
grant all on function public.get_or_create_direct_conversation(other_user_id uuid) to service_role;

-- Definer for the same reason as above.
create function private.create_group_conversation(title text, member_ids uuid[], project_id uuid) returns uuid
    language plpgsql security definer
    set search_path to ''
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

revoke all on function private.create_group_conversation(title text, member_ids uuid[], project_id uuid) from public;
grant all on function private.create_group_conversation(title text, member_ids uuid[], project_id uuid) to authenticated;

create function public.create_group_conversation(title text, member_ids uuid[], project_id uuid default null::uuid) returns uuid
    language sql
    set search_path to ''
    as $$
  select private.create_group_conversation(title, member_ids, project_id)
$$;

comment on function public.create_group_conversation(title text, member_ids uuid[], project_id uuid) is 'A group conversation with the caller and the given people (who must share a project with the caller).';

revoke all on function public.create_group_conversation(title text, member_ids uuid[], project_id uuid) from public;
grant all on function public.create_group_conversation(title text, member_ids uuid[], project_id uuid) to authenticated;
grant all on function public.create_group_conversation(title text, member_ids uuid[], project_id uuid) to service_role;

-- Invoker: RLS on messages decides what is found.
create function public.search_messages(query text, in_conversation uuid default null::uuid, max_rows integer default 50) returns setof public.messages
    language plpgsql stable
    set search_path to ''
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

comment on function public.search_messages(query text, in_conversation uuid, max_rows integer) is 'Full-text search over the messages the caller may read, newest first.';

revoke all on function public.search_messages(query text, in_conversation uuid, max_rows integer) from public;
grant all on function public.search_messages(query text, in_conversation uuid, max_rows integer) to authenticated;
grant all on function public.search_messages(query text, in_conversation uuid, max_rows integer) to service_role;

create function private.set_message_edited_at() returns trigger
    language plpgsql
    set search_path to ''
    as $$
begin
  if new.content is distinct from old.content then
    new.edited_at := now();
  end if;
  return new;
end;
$$;

revoke all on function private.set_message_edited_at() from public;

create function private.notify_message_posted() returns trigger
    language plpgsql security definer
    set search_path to ''
    as $$
begin
  insert into public.notifications (user_id, type, payload)
  select cm.user_id, 'message',
         jsonb_build_object('conversation_id', new.conversation_id, 'message_id', new.id,
                            'author_id', new.author_id, 'preview', left(new.content, 140))
    from public.conversation_members cm
   where cm.conversation_id = new.conversation_id
     and cm.user_id is distinct from new.author_id;
  return null;
end;
$$;

revoke all on function private.notify_message_posted() from public;

create function private.refresh_message_previews() returns trigger
    language plpgsql security definer
    set search_path to ''
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

-- soft-deleted messages of the caller's conversations
create function private.my_deleted_message_ids() returns setof uuid
    language plpgsql stable security definer
    set search_path to ''
    as $$
begin
  return query
    select m.id
      from public.messages m
     where m.deleted_at is not null
       and m.conversation_id in (select private.my_conversation_ids());
end;
$$;

revoke all on function private.my_deleted_message_ids() from public;
grant all on function private.my_deleted_message_ids() to authenticated;
grant all on function private.my_deleted_message_ids() to service_role;

-- ======================================================================================
-- triggers
-- ======================================================================================

create trigger conversation_members_fresh_id_for_unseen_row before insert on public.conversation_members for each row execute function private.fresh_id_for_unseen_row();

create trigger conversation_members_guard_immutable_columns before update on public.conversation_members for each row execute function private.guard_immutable_columns('id', 'conversation_id', 'user_id');

create trigger conversation_members_limit_bulk_insert after insert on public.conversation_members referencing new table as inserted for each statement execute function private.limit_bulk_insert('1000');

create trigger conversation_members_set_updated_at before insert or update on public.conversation_members for each row execute function private.set_updated_at();

create trigger conversations_fresh_id_for_unseen_row before insert on public.conversations for each row execute function private.fresh_id_for_unseen_row();

create trigger conversations_guard_deleted_at before insert or update on public.conversations for each row execute function private.guard_deleted_at();

create trigger conversations_guard_immutable_columns before update on public.conversations for each row execute function private.guard_immutable_columns('id', 'kind', 'project_id', 'created_by', 'direct_key');

create trigger conversations_limit_bulk_insert after insert on public.conversations referencing new table as inserted for each statement execute function private.limit_bulk_insert('1000');

create trigger conversations_set_updated_at before insert or update on public.conversations for each row execute function private.set_updated_at();

create trigger conversations_soft_delete before delete on public.conversations for each row execute function private.soft_delete();

create trigger message_attachments_fresh_id_for_unseen_row before insert on public.message_attachments for each row execute function private.fresh_id_for_unseen_row();

create trigger message_attachments_limit_bulk_insert after insert on public.message_attachments referencing new table as inserted for each statement execute function private.limit_bulk_insert('1000');

create trigger message_attachments_set_updated_at before insert or update on public.message_attachments for each row execute function private.set_updated_at();

create trigger messages_fresh_id_for_unseen_row before insert on public.messages for each row execute function private.fresh_id_for_unseen_row();

create trigger messages_guard_deleted_at before insert or update on public.messages for each row execute function private.guard_deleted_at();

create trigger messages_guard_immutable_columns before update on public.messages for each row execute function private.guard_immutable_columns('id', 'conversation_id', 'author_id', 'edited_at');

create trigger messages_limit_bulk_insert after insert on public.messages referencing new table as inserted for each statement execute function private.limit_bulk_insert('1000');

create trigger messages_notify_members after insert on public.messages for each row execute function private.notify_message_posted();

create trigger messages_refresh_notification_previews after update of content, deleted_at on public.messages for each row execute function private.refresh_message_previews();

create trigger messages_set_edited_at before update on public.messages for each row execute function private.set_message_edited_at();

create trigger messages_set_server_columns before insert on public.messages for each row execute function private.set_server_columns_on_insert();

create trigger messages_set_updated_at before insert or update on public.messages for each row execute function private.set_updated_at();

create trigger messages_soft_delete before delete on public.messages for each row execute function private.soft_delete();
