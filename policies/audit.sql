-- Audit trail: who may do what
--
-- The policies of supabase/schemas/audit.sql. Edit here, then `make migration NAME=...`
-- writes the migration.

-- public.audit_logs ---------------------------------------------------------------------
alter table public.audit_logs enable row level security;

create policy "people read their own entries; project admins their project's"
  on public.audit_logs for select to authenticated
  using (
    (select private.is_active_user())
    and (
      actor_id = (select auth.uid())
      or subject_user_id = (select auth.uid())
      or project_id = any (array(select private.my_admin_project_ids_including_deleted()))
    )
  );

create policy "people with a second factor read the audit trail only at aal2"
  on public.audit_logs as restrictive for select to authenticated
  using ((select private.mfa_satisfied()));

-- public.audit_log_origins --------------------------------------------------------------
-- an entry's IP and user agent: the person who acted, and platform admins
-- (visible_user_role_ids() is "myself, or everyone for a platform admin")
alter table public.audit_log_origins enable row level security;

create policy "people read where they acted from; platform admins read all"
  on public.audit_log_origins for select to authenticated
  using (
    (select private.is_active_user())
    and actor_id = any (array(select private.visible_user_role_ids()))
  );

create policy "people with a second factor read origins only at aal2"
  on public.audit_log_origins as restrictive for select to authenticated
  using ((select private.mfa_satisfied()));
