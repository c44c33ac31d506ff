-- Profiles: who reads and edits a person's profile
--
-- Idempotent and readable on its own; the same statements are in the migrations.
-- Edit here, then `make policy-migration NAME=...` writes the migration.

alter table public.profiles enable row level security;

-- public.profiles -----------------------------------------------------------
drop policy if exists "profiles are read by their owner, their contacts and admins" on public.profiles;
create policy "profiles are read by their owner, their contacts and admins"
  on public.profiles for select to authenticated
  using (
    (select private.is_active_user())
    and id = any (array(select private.visible_profile_ids()))
  );

drop policy if exists "people update their own profile" on public.profiles;
create policy "people update their own profile"
  on public.profiles for update to authenticated
  using ((select private.is_active_user()) and id = (select auth.uid()))
  with check ((select private.is_active_user()) and id = (select auth.uid()));
