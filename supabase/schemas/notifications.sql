-- Notifications
--
-- The declared source of this domain's tables, helpers, triggers and grants; its policies are
-- in policies/notifications.sql. Edit here, then `make migration NAME=...` writes the migration.

-- SQL function bodies may name objects declared further down or in a later file.
set check_function_bodies = false;

-- ======================================================================================
-- types
-- ======================================================================================

create type public.notification_type as enum (
    'message',
    'task_assigned',
    'project_member_added',
    'document_ready',
    'privacy_request',
    'system',
    'project_invitation'
);

-- ======================================================================================
-- public.notifications
-- ======================================================================================

create table public.notifications (
    id uuid default gen_random_uuid() not null,
    user_id uuid not null,
    type public.notification_type not null,
    payload jsonb default '{}'::jsonb not null,
    read_at timestamptz,
    created_at timestamptz default now() not null,
    updated_at timestamptz default now() not null,
    constraint notifications_payload_is_object check ((jsonb_typeof(payload) = 'object'::text)),
    constraint notifications_payload_size check ((pg_column_size(payload) <= 65536))
);

alter table only public.notifications
    add constraint notifications_pkey primary key (id);

create index notifications_message_id_idx on public.notifications using btree (((payload ->> 'message_id'::text))) where (type = 'message'::public.notification_type);

create index notifications_user_id_created_at_idx on public.notifications using btree (user_id, created_at desc);

create index notifications_user_id_unread_idx on public.notifications using btree (user_id, created_at desc) where (read_at is null);

revoke all on table public.notifications from anon, authenticated;
grant select,delete,update on table public.notifications to anon;
grant select,delete,update on table public.notifications to authenticated;
grant all on table public.notifications to service_role;

-- ======================================================================================
-- foreign keys
-- ======================================================================================

alter table only public.notifications
    add constraint notifications_user_id_fkey foreign key (user_id) references public.profiles(id) on delete cascade;

-- ======================================================================================
-- triggers
-- ======================================================================================

create trigger notifications_guard_immutable_columns before update on public.notifications for each row execute function private.guard_immutable_columns('id', 'user_id', 'type', 'payload');

create trigger notifications_set_updated_at before insert or update on public.notifications for each row execute function private.set_updated_at();
