-- =============================================================================
-- Notifications
--
--   1. notifications (user, type, payload, read_at), in supabase_realtime
--   2. triggers that create them: a new message (every member but the
--      author), a task assigned, being added to a project
--   3. policies (policies/notifications.sql): the owner reads and marks read;
--      no client inserts (only triggers and the service role do)
--
-- Email/push fan-out: a Supabase database webhook on insert sends rows to the
-- notifications queue (functions).
-- =============================================================================

-- -----------------------------------------------------------------------------
-- 1. table
-- -----------------------------------------------------------------------------
create type public.notification_type as enum (
  'message', 'task_assigned', 'project_member_added', 'document_ready', 'privacy_request', 'system'
);

create table public.notifications (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references public.profiles (id) on delete cascade,
  type public.notification_type not null,
  payload jsonb not null default '{}'::jsonb,
  read_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint notifications_payload_is_object check (jsonb_typeof(payload) = 'object')
);
create index notifications_user_id_created_at_idx on public.notifications (user_id, created_at desc);
create index notifications_user_id_unread_idx on public.notifications (user_id, created_at desc) where read_at is null;
alter table public.notifications enable row level security;

create trigger notifications_set_updated_at
  before insert or update on public.notifications
  for each row execute function private.set_updated_at();
-- clients only mark read
create trigger notifications_guard_immutable_columns
  before update on public.notifications
  for each row execute function private.guard_immutable_columns('id', 'user_id', 'type', 'payload');

alter publication supabase_realtime add table public.notifications;

-- -----------------------------------------------------------------------------
-- 2. triggers that notify
-- -----------------------------------------------------------------------------
create function private.notify_message_posted()
returns trigger
language plpgsql
security definer
set search_path = ''
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

create trigger messages_notify_members
  after insert on public.messages
  for each row execute function private.notify_message_posted();

create function private.notify_task_assigned()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  if new.assignee_id is not null
     and new.assignee_id is distinct from (select auth.uid())
     and (tg_op = 'INSERT' or new.assignee_id is distinct from old.assignee_id) then
    insert into public.notifications (user_id, type, payload)
    values (new.assignee_id, 'task_assigned',
            jsonb_build_object('project_id', new.project_id, 'task_id', new.id,
                               'title', left(new.title, 140), 'assigned_by', (select auth.uid())));
  end if;
  return null;
end;
$$;

create trigger tasks_notify_assignee
  after insert or update of assignee_id on public.tasks
  for each row execute function private.notify_task_assigned();

create function private.notify_project_member_added()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  if new.user_id is distinct from new.invited_by then
    insert into public.notifications (user_id, type, payload)
    values (new.user_id, 'project_member_added',
            jsonb_build_object('project_id', new.project_id, 'role', new.role, 'invited_by', new.invited_by));
  end if;
  return null;
end;
$$;

create trigger project_members_notify_added
  after insert on public.project_members
  for each row execute function private.notify_project_member_added();

revoke all on function private.notify_message_posted(), private.notify_task_assigned(),
  private.notify_project_member_added() from public;

-- -----------------------------------------------------------------------------
-- 3. policies
-- -----------------------------------------------------------------------------
create policy "people read their own notifications"
  on public.notifications for select to authenticated
  using ((select private.is_active_user()) and user_id = (select auth.uid()));

create policy "people mark their own notifications read"
  on public.notifications for update to authenticated
  using ((select private.can_write()) and user_id = (select auth.uid()))
  with check ((select private.can_write()) and user_id = (select auth.uid()));

create policy "people delete their own notifications"
  on public.notifications for delete to authenticated
  using ((select private.can_write()) and user_id = (select auth.uid()));

revoke insert on public.notifications from anon, authenticated;
revoke truncate, references, trigger on all tables in schema public from anon, authenticated;
