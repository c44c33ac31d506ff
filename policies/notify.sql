-- Notify: who may do what
--
-- The policies of supabase/schemas/notify.sql. Edit here, then `make migration NAME=...`
-- writes the migration.

-- public.notification_preferences ------------------------------------------------------
alter table public.notification_preferences enable row level security;

create policy "people read their own notification preferences"
  on public.notification_preferences for select to authenticated
  using ((select private.is_active_user()) and user_id = (select auth.uid()));

create policy "people set their own notification preferences"
  on public.notification_preferences for insert to authenticated
  with check ((select private.can_write()) and user_id = (select auth.uid()));

create policy "people change their own notification preferences"
  on public.notification_preferences for update to authenticated
  using ((select private.can_write()) and user_id = (select auth.uid()))
  with check ((select private.can_write()) and user_id = (select auth.uid()));

create policy "people reset their own notification preferences"
  on public.notification_preferences for delete to authenticated
  using ((select private.can_write()) and user_id = (select auth.uid()));

-- public.notification_deliveries -------------------------------------------------------
-- written by the fan-out trigger, the invite RPC and the mail job (service role) only
alter table public.notification_deliveries enable row level security;

create policy "people read the deliveries of their own notifications"
  on public.notification_deliveries for select to authenticated
  using ((select private.is_active_user()) and user_id = (select auth.uid()));

-- private tables: no client ever (defence in depth beside the revoked grants) ----------
alter table private.invitation_mail_tokens enable row level security;

create policy "clients never read invitation mail tokens"
  on private.invitation_mail_tokens as restrictive for all to anon, authenticated
  using (false) with check (false);

alter table private.email_suppressions enable row level security;

create policy "clients never read email suppressions"
  on private.email_suppressions as restrictive for all to anon, authenticated
  using (false) with check (false);

-- public.push_subscriptions ------------------------------------------------------------
-- a device's subscription is its owner's alone (the notify worker deletes dead ones)
alter table public.push_subscriptions enable row level security;

create policy "people read their own push subscriptions"
  on public.push_subscriptions for select to authenticated
  using ((select private.is_active_user()) and user_id = (select auth.uid()));

create policy "people subscribe their own devices"
  on public.push_subscriptions for insert to authenticated
  with check ((select private.can_write()) and user_id = (select auth.uid()));

create policy "people rename their own push subscriptions"
  on public.push_subscriptions for update to authenticated
  using ((select private.can_write()) and user_id = (select auth.uid()))
  with check ((select private.can_write()) and user_id = (select auth.uid()));

create policy "people unsubscribe their own devices"
  on public.push_subscriptions for delete to authenticated
  using ((select private.can_write()) and user_id = (select auth.uid()));

-- public.notification_digests ----------------------------------------------------------
-- written by rpc queue_due_digests and the notify worker (service role) only
alter table public.notification_digests enable row level security;

create policy "people read their own digests"
  on public.notification_digests for select to authenticated
  using ((select private.is_active_user()) and user_id = (select auth.uid()));
