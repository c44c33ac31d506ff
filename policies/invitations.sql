-- Invitations: who may do what
--
-- The policies of supabase/schemas/invitations.sql. Edit here, then `make migration NAME=...`
-- writes the migration.

-- public.project_invitations ------------------------------------------------------------
alter table public.project_invitations enable row level security;

-- written only by the RPCs invite_project_member, accept_project_invitation,
-- decline_project_invitation and revoke_project_invitation
create policy "project admins and the invitee read invitations"
  on public.project_invitations for select to authenticated
  using (
    (select private.is_active_user())
    and (
      project_id = any (array(select private.my_project_ids_with_role('admin')))
      or id = any (array(select private.my_invitation_ids()))
    )
  );

-- private.project_invitation_tokens -----------------------------------------------------
-- read and written only by the invitation RPCs (security definer); no grant either
alter table private.project_invitation_tokens enable row level security;

create policy "clients never touch invitation tokens"
  on private.project_invitation_tokens as restrictive for all to anon, authenticated
  using (false) with check (false);
