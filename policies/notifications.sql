-- Notifications: who may do what
--
-- The policies of supabase/schemas/notifications.sql. Edit here, then `make migration NAME=...`
-- writes the migration.

-- public.notifications ------------------------------------------------------------------
alter table public.notifications enable row level security;

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
