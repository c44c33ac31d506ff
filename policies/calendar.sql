-- Calendar events and attendees
--
-- Idempotent and readable on its own; the same statements are in the migrations.
-- Edit here, then `make policy-migration NAME=...` writes the migration.

alter table public.calendar_events enable row level security;
alter table public.calendar_event_attendees enable row level security;

-- public.calendar_events ----------------------------------------------------
drop policy if exists "owners, attendees and project members read events" on public.calendar_events;
create policy "owners, attendees and project members read events"
  on public.calendar_events for select to authenticated
  using (
    (select private.is_active_user())
    and (
      owner_id = (select auth.uid())
      or id = any (array(select private.my_calendar_event_ids()))
    )
  );

drop policy if exists "people create their own events, in projects they edit" on public.calendar_events;
create policy "people create their own events, in projects they edit"
  on public.calendar_events for insert to authenticated
  with check (
    (select private.can_write())
    and owner_id = (select auth.uid())
    and (project_id is null or project_id = any (array(select private.my_project_ids_with_role('editor'))))
  );

drop policy if exists "owners update their events" on public.calendar_events;
create policy "owners update their events"
  on public.calendar_events for update to authenticated
  using ((select private.can_write()) and owner_id = (select auth.uid()))
  with check (
    (select private.can_write())
    and owner_id = (select auth.uid())
    and (project_id is null or project_id = any (array(select private.my_project_ids_with_role('editor'))))
  );

drop policy if exists "owners delete their events" on public.calendar_events;
create policy "owners delete their events"
  on public.calendar_events for delete to authenticated
  using ((select private.can_write()) and owner_id = (select auth.uid()));

-- public.calendar_event_attendees -------------------------------------------
drop policy if exists "people who see an event read its attendees" on public.calendar_event_attendees;
create policy "people who see an event read its attendees"
  on public.calendar_event_attendees for select to authenticated
  using ((select private.is_active_user()) and event_id = any (array(select private.my_calendar_event_ids())));

drop policy if exists "event owners invite their contacts" on public.calendar_event_attendees;
create policy "event owners invite their contacts"
  on public.calendar_event_attendees for insert to authenticated
  with check (
    (select private.can_write())
    and event_id = any (array(select private.my_owned_calendar_event_ids()))
    and user_id = any (array(select private.my_contact_ids()))
  );

drop policy if exists "attendees answer their invitation" on public.calendar_event_attendees;
create policy "attendees answer their invitation"
  on public.calendar_event_attendees for update to authenticated
  using ((select private.can_write()) and user_id = (select auth.uid()))
  with check ((select private.can_write()) and user_id = (select auth.uid()));

drop policy if exists "event owners remove attendees and attendees leave" on public.calendar_event_attendees;
create policy "event owners remove attendees and attendees leave"
  on public.calendar_event_attendees for delete to authenticated
  using (
    (select private.can_write())
    and (user_id = (select auth.uid()) or event_id = any (array(select private.my_owned_calendar_event_ids())))
  );
