-- Privacy requests (GDPR/CCPA)
--
-- Idempotent and readable on its own; the same statements are in the migrations.
-- Edit here, then `make policy-migration NAME=...` writes the migration.

alter table public.privacy_requests enable row level security;

-- public.privacy_requests ---------------------------------------------------
drop policy if exists "people read their own privacy requests" on public.privacy_requests;
create policy "people read their own privacy requests"
  on public.privacy_requests for select to authenticated
  using ((select private.is_active_user()) and user_id = (select auth.uid()));

drop policy if exists "people file privacy requests for themselves" on public.privacy_requests;
create policy "people file privacy requests for themselves"
  on public.privacy_requests for insert to authenticated
  with check ((select private.is_active_user()) and user_id = (select auth.uid()));
