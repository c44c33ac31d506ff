-- Platform roles: admin / user / guest, disabling users
--
-- Idempotent and readable on its own; the same statements are in the migrations.
-- Edit here, then `make policy-migration NAME=...` writes the migration.

alter table public.user_roles enable row level security;

-- public.user_roles ---------------------------------------------------------
drop policy if exists "people read their own platform role and admins read all" on public.user_roles;
create policy "people read their own platform role and admins read all"
  on public.user_roles for select to authenticated
  using (
    (select private.is_active_user())
    and user_id = any (array(select private.visible_user_role_ids()))
  );

drop policy if exists "admins change other people's platform role and disable them" on public.user_roles;
create policy "admins change other people's platform role and disable them"
  on public.user_roles for update to authenticated
  using ((select private.authorize('admin')) and user_id <> (select auth.uid()))
  with check ((select private.authorize('admin')) and user_id <> (select auth.uid()));

drop policy if exists "the auth server reads platform roles for the token hook" on public.user_roles;
create policy "the auth server reads platform roles for the token hook"
  on public.user_roles for select to supabase_auth_admin
  using (true);
