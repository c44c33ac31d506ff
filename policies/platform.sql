-- Platform: who may do what
--
-- The policies of supabase/schemas/platform.sql. Edit here, then `make migration NAME=...`
-- writes the migration.

-- public.user_roles ---------------------------------------------------------------------
alter table public.user_roles enable row level security;

create policy "people read their own platform role and admins read all"
  on public.user_roles for select to authenticated
  using (
    (select private.is_active_user())
    and user_id = any (array(select private.visible_user_role_ids()))
  );

create policy "admins change other people's platform role and disable them"
  on public.user_roles for update to authenticated
  using ((select private.authorize('admin')) and user_id <> (select auth.uid()))
  with check ((select private.authorize('admin')) and user_id <> (select auth.uid()));

create policy "people with a second factor change platform roles only at aal2"
  on public.user_roles as restrictive for update to authenticated
  using ((select private.mfa_satisfied()))
  with check ((select private.mfa_satisfied()));

create policy "the auth server reads platform roles for the token hook"
  on public.user_roles for select to supabase_auth_admin
  using (true);
