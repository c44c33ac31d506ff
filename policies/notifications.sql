-- Notifications
--
-- Idempotent and readable on its own; the same statements are in the migrations.
-- Edit here, then `make policy-migration NAME=...` writes the migration.

alter table public.notifications enable row level security;

-- public.notifications ------------------------------------------------------
drop policy if exists "people read their own notifications" on public.notifications;
create policy "people read their own notifications"
  on public.notifications for select to authenticated
  using ((select private.is_active_user()) and user_id = (select auth.uid()));

drop policy if exists "people mark their own notifications read" on public.notifications;
create policy "people mark their own notifications read"
  on public.notifications for update to authenticated
  using ((select private.can_write()) and user_id = (select auth.uid()))
  with check ((select private.can_write()) and user_id = (select auth.uid()));

drop policy if exists "people delete their own notifications" on public.notifications;
create policy "people delete their own notifications"
  on public.notifications for delete to authenticated
  using ((select private.can_write()) and user_id = (select auth.uid()));
