-- =============================================================================
-- Calendar
--
--   1. calendar_events (owner, optional project, starts_at < ends_at)
--   2. calendar_event_attendees (who else sees it, and their answer)
--   3. helper and policies (policies/calendar.sql)
--
-- An event is seen by its owner, its attendees and, when it belongs to a
-- project, that project's members. Only the owner changes it; project events
-- need editor rights on the project.
-- =============================================================================

-- -----------------------------------------------------------------------------
-- 1. events
-- -----------------------------------------------------------------------------
create table public.calendar_events (
  id uuid primary key default gen_random_uuid(),
  owner_id uuid not null default auth.uid() references public.profiles (id) on delete cascade,
  project_id uuid references public.projects (id) on delete cascade,
  title text not null,
  description text,
  location text,
  starts_at timestamptz not null,
  ends_at timestamptz not null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint calendar_events_ends_after_starts check (ends_at > starts_at),
  constraint calendar_events_title_length check (char_length(btrim(title)) between 1 and 200),
  constraint calendar_events_description_length check (char_length(description) <= 10000),
  constraint calendar_events_location_length check (char_length(location) <= 500)
);
create index calendar_events_owner_id_starts_at_idx on public.calendar_events (owner_id, starts_at);
create index calendar_events_project_id_starts_at_idx on public.calendar_events (project_id, starts_at);
alter table public.calendar_events enable row level security;

create trigger calendar_events_set_updated_at
  before insert or update on public.calendar_events
  for each row execute function private.set_updated_at();
create trigger calendar_events_guard_immutable_columns
  before update on public.calendar_events
  for each row execute function private.guard_immutable_columns('id', 'owner_id');

-- -----------------------------------------------------------------------------
-- 2. attendees
-- -----------------------------------------------------------------------------
create type public.attendee_response as enum ('pending', 'accepted', 'declined', 'tentative');

create table public.calendar_event_attendees (
  id uuid primary key default gen_random_uuid(),
  event_id uuid not null references public.calendar_events (id) on delete cascade,
  user_id uuid not null references public.profiles (id) on delete cascade,
  response public.attendee_response not null default 'pending',
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint calendar_event_attendees_one_row_per_user unique (event_id, user_id)
);
create index calendar_event_attendees_user_id_idx on public.calendar_event_attendees (user_id, event_id);
alter table public.calendar_event_attendees enable row level security;

create trigger calendar_event_attendees_set_updated_at
  before insert or update on public.calendar_event_attendees
  for each row execute function private.set_updated_at();
create trigger calendar_event_attendees_guard_immutable_columns
  before update on public.calendar_event_attendees
  for each row execute function private.guard_immutable_columns('id', 'event_id', 'user_id');

-- -----------------------------------------------------------------------------
-- 3. helpers and policies
-- -----------------------------------------------------------------------------

-- events the caller owns, attends, or sees through a project
create function private.my_calendar_event_ids()
returns setof uuid
language sql
stable
security definer
set search_path = ''
as $$
  select e.id from public.calendar_events e where e.owner_id = (select auth.uid())
  union
  select a.event_id from public.calendar_event_attendees a where a.user_id = (select auth.uid())
  union
  select e.id from public.calendar_events e where e.project_id in (select private.my_project_ids())
$$;

create function private.my_owned_calendar_event_ids()
returns setof uuid
language sql
stable
security definer
set search_path = ''
as $$
  select e.id from public.calendar_events e where e.owner_id = (select auth.uid())
$$;

revoke all on function private.my_calendar_event_ids(), private.my_owned_calendar_event_ids() from public;
grant execute on function private.my_calendar_event_ids(), private.my_owned_calendar_event_ids()
  to authenticated, service_role;

create policy "owners, attendees and project members read events"
  on public.calendar_events for select to authenticated
  using (
    (select private.is_active_user())
    and (
      owner_id = (select auth.uid())
      or id = any (array(select private.my_calendar_event_ids()))
    )
  );

create policy "people create their own events, in projects they edit"
  on public.calendar_events for insert to authenticated
  with check (
    (select private.can_write())
    and owner_id = (select auth.uid())
    and (project_id is null or project_id = any (array(select private.my_project_ids_with_role('editor'))))
  );

create policy "owners update their events"
  on public.calendar_events for update to authenticated
  using ((select private.can_write()) and owner_id = (select auth.uid()))
  with check (
    (select private.can_write())
    and owner_id = (select auth.uid())
    and (project_id is null or project_id = any (array(select private.my_project_ids_with_role('editor'))))
  );

create policy "owners delete their events"
  on public.calendar_events for delete to authenticated
  using ((select private.can_write()) and owner_id = (select auth.uid()));

create policy "people who see an event read its attendees"
  on public.calendar_event_attendees for select to authenticated
  using ((select private.is_active_user()) and event_id = any (array(select private.my_calendar_event_ids())));

create policy "event owners invite their contacts"
  on public.calendar_event_attendees for insert to authenticated
  with check (
    (select private.can_write())
    and event_id = any (array(select private.my_owned_calendar_event_ids()))
    and user_id = any (array(select private.my_contact_ids()))
  );

create policy "attendees answer their invitation"
  on public.calendar_event_attendees for update to authenticated
  using ((select private.can_write()) and user_id = (select auth.uid()))
  with check ((select private.can_write()) and user_id = (select auth.uid()));

create policy "event owners remove attendees and attendees leave"
  on public.calendar_event_attendees for delete to authenticated
  using (
    (select private.can_write())
    and (user_id = (select auth.uid()) or event_id = any (array(select private.my_owned_calendar_event_ids())))
  );

revoke truncate, references, trigger on all tables in schema public from anon, authenticated;
