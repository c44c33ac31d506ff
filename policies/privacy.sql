-- Privacy: who may do what
--
-- The policies of supabase/schemas/privacy.sql. Edit here, then `make migration NAME=...`
-- writes the migration.

-- Tables in the private schema are never exposed by PostgREST and no client role is granted
-- them. RLS is on anyway, and the one restrictive policy says in words what the grants already
-- do, so a grant made by mistake still shows no row. The service role (bypassrls) and the
-- security definer helpers (owned by postgres, the tables' owner) are unaffected.

-- public.privacy_requests ---------------------------------------------------------------
alter table public.privacy_requests enable row level security;

create policy "people read their own privacy requests"
  on public.privacy_requests for select to authenticated
  using ((select private.is_active_user()) and user_id = (select auth.uid()));

create policy "people file privacy requests for themselves"
  on public.privacy_requests for insert to authenticated
  with check ((select private.is_active_user()) and user_id = (select auth.uid()));

create policy "people with a second factor ask for erasure only at aal2"
  on public.privacy_requests as restrictive for insert to authenticated
  with check (kind <> 'erasure' or (select private.mfa_satisfied()));

-- private.erasure_subjects --------------------------------------------------------------
alter table private.erasure_subjects enable row level security;

create policy "clients never touch erasure subjects"
  on private.erasure_subjects as restrictive for all to anon, authenticated
  using (false) with check (false);
