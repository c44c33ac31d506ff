-- Calendar
--
-- The declared source of this domain's tables, helpers, triggers and grants; its policies are
-- in policies/calendar.sql. Edit here, then `make migration NAME=...` writes the migration.

-- SQL function bodies may name objects declared further down or in a later file.
set check_function_bodies = false;

-- ======================================================================================
-- types
-- ======================================================================================

create type public.attendee_response as enum (
    'pending',
    'accepted',
    'declined',
    'tentative'
);

-- ======================================================================================
-- public.calendar_events
-- ======================================================================================

create table public.calendar_events (
    id uuid default gen_random_uuid() not null,
    owner_id uuid default auth.uid() not null,
    project_id uuid,
    title text not null,
    description text,
    location text,
    starts_at timestamptz not null,
    ends_at timestamptz not null,
    created_at timestamptz default now() not null,
    updated_at timestamptz default now() not null,
    constraint calendar_events_description_length check ((char_length(description) <= 10000)),
    constraint calendar_events_ends_after_starts check ((ends_at > starts_at)),
    constraint calendar_events_location_length check ((char_length(location) <= 500)),
    constraint calendar_events_title_length check (((char_length(btrim(title)) >= 1) and (char_length(btrim(title)) <= 200)))
);

alter table only public.calendar_events
    add constraint calendar_events_pkey primary key (id);

create index calendar_events_owner_id_starts_at_idx on public.calendar_events using btree (owner_id, starts_at);

create index calendar_events_project_id_starts_at_idx on public.calendar_events using btree (project_id, starts_at);

revoke all on table public.calendar_events from anon, authenticated;
grant select,insert,delete,update on table public.calendar_events to anon;
grant select,insert,delete,update on table public.calendar_events to authenticated;
grant all on table public.calendar_events to service_role;

-- ======================================================================================
-- public.calendar_event_attendees
-- ======================================================================================

create table public.calendar_event_attendees (
    id uuid default gen_random_uuid() not null,
    event_id uuid not null,
    user_id uuid not null,
    response public.attendee_response default 'pending'::public.attendee_response not null,
    created_at timestamptz default now() not null,
    updated_at timestamptz default now() not null
);

alter table only public.calendar_event_attendees
    add constraint calendar_event_attendees_one_row_per_user unique (event_id, user_id);

alter table only public.calendar_event_attendees
    add constraint calendar_event_attendees_pkey primary key (id);

create index calendar_event_attendees_user_id_idx on public.calendar_event_attendees using btree (user_id, event_id);

revoke all on table public.calendar_event_attendees from anon, authenticated;
grant select,insert,delete,update on table public.calendar_event_attendees to anon;
grant select,insert,delete,update on table public.calendar_event_attendees to authenticated;
grant all on table public.calendar_event_attendees to service_role;

-- ======================================================================================
-- foreign keys
-- ======================================================================================

alter table only public.calendar_event_attendees
    add constraint calendar_event_attendees_event_id_fkey foreign key (event_id) references public.calendar_events(id) on delete cascade;

alter table only public.calendar_event_attendees
    add constraint calendar_event_attendees_user_id_fkey foreign key (user_id) references public.profiles(id) on delete cascade;

alter table only public.calendar_events
    add constraint calendar_events_owner_id_fkey foreign key (owner_id) references public.profiles(id) on delete cascade;

alter table only public.calendar_events
    add constraint calendar_events_project_id_fkey foreign key (project_id) references public.projects(id) on delete cascade;

-- ======================================================================================
-- functions
-- ======================================================================================

-- events the caller owns, attends, or sees through a project
create function private.my_calendar_event_ids() returns setof uuid
    language sql stable security definer
    set search_path to ''
    as $$
  select e.id from public.calendar_events e where e.owner_id = (select auth.uid())
  union
  select a.event_id from public.calendar_event_attendees a where a.user_id = (select auth.uid())
  union
  select e.id from public.calendar_events e where e.project_id in (select private.my_project_ids())
$$;

revoke all on function private.my_calendar_event_ids() from public;
grant all on function private.my_calendar_event_ids() to authenticated;
grant all on function private.my_calendar_event_ids() to service_role;

create function private.my_owned_calendar_event_ids() returns setof uuid
    language sql stable security definer
    set search_path to ''
    as $$
  select e.id from public.calendar_events e where e.owner_id = (select auth.uid())
$$;

revoke all on function private.my_owned_calendar_event_ids() from public;
grant all on function private.my_owned_calendar_event_ids() to authenticated;
grant all on function private.my_owned_calendar_event_ids() to service_role;

-- ======================================================================================
-- triggers
-- ======================================================================================

create trigger calendar_event_attendees_fresh_id_for_unseen_row before insert on public.calendar_event_attendees for each row execute function private.fresh_id_for_unseen_row();

create trigger calendar_event_attendees_guard_immutable_columns before update on public.calendar_event_attendees for each row execute function private.guard_immutable_columns('id', 'event_id', 'user_id');

create trigger calendar_event_attendees_limit_bulk_insert after insert on public.calendar_event_attendees referencing new table as inserted for each statement execute function private.limit_bulk_insert('1000');

create trigger calendar_event_attendees_set_server_columns before insert on public.calendar_event_attendees for each row execute function private.set_server_columns_on_insert();

create trigger calendar_event_attendees_set_updated_at before insert or update on public.calendar_event_attendees for each row execute function private.set_updated_at();

create trigger calendar_events_fresh_id_for_unseen_row before insert on public.calendar_events for each row execute function private.fresh_id_for_unseen_row();

create trigger calendar_events_guard_immutable_columns before update on public.calendar_events for each row execute function private.guard_immutable_columns('id', 'owner_id');

create trigger calendar_events_limit_bulk_insert after insert on public.calendar_events referencing new table as inserted for each statement execute function private.limit_bulk_insert('1000');

create trigger calendar_events_set_updated_at before insert or update on public.calendar_events for each row execute function private.set_updated_at();
