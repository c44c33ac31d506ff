-- Calendar: who may do what
--
-- The policies of supabase/schemas/calendar.sql. Edit here, then `make migration NAME=...`
-- writes the migration.

-- public.calendar_events ----------------------------------------------------------------
alter table public.calendar_events enable row level security;

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

-- public.calendar_event_attendees -------------------------------------------------------
alter table public.calendar_event_attendees enable row level security;

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
