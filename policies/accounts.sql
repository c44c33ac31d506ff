-- Accounts: who may do what
--
-- The policies of supabase/schemas/accounts.sql. Edit here, then `make migration NAME=...`
-- writes the migration.

-- public.profiles -----------------------------------------------------------------------
alter table public.profiles enable row level security;

create policy "profiles are read by their owner, their contacts and admins"
  on public.profiles for select to authenticated
  using (
    (select private.is_active_user())
    and id = any (array(select private.visible_profile_ids()))
  );

create policy "people update their own profile"
  on public.profiles for update to authenticated
  using ((select private.is_active_user()) and id = (select auth.uid()))
  with check ((select private.is_active_user()) and id = (select auth.uid()));

-- private.former_emails -----------------------------------------------------------------
alter table private.former_emails enable row level security;

create policy "clients never touch former addresses"
  on private.former_emails as restrictive for all to anon, authenticated
  using (false) with check (false);
