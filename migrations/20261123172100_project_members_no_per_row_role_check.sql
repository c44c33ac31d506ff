-- project_members_no_per_row_role_check: from policies/projects.sql.
-- private.has_project_role(project_id, role) ran once per row in the insert, update and delete
-- policies and was always true there: the caller is an admin or the owner
-- (project_id = any (my_project_ids_with_role('admin')), same snapshot, same live-project and
-- membership conditions) and role <> 'owner', so the row's role is at most admin, at most the
-- caller's own (viewer < editor < admin < owner). In the delete policy's "members leave" branch
-- it was never evaluated. Who may do what is unchanged.

drop policy "project admins add members up to their own role" on public.project_members;
create policy "project admins add members up to their own role"
  on public.project_members for insert to authenticated
  with check (
    (select private.can_write())
    and project_id = any (array(select private.my_project_ids_with_role('admin')))
    and role <> 'owner'
    and invited_by = (select auth.uid())
  );

drop policy "admins change roles up to their own, never the owner's" on public.project_members;
create policy "admins change roles up to their own, never the owner's"
  on public.project_members for update to authenticated
  using (
    (select private.can_write())
    and project_id = any (array(select private.my_project_ids_with_role('admin')))
    and role <> 'owner'
  )
  with check (
    (select private.can_write())
    and project_id = any (array(select private.my_project_ids_with_role('admin')))
    and role <> 'owner'
  );

drop policy "admins remove members below the owner; members leave" on public.project_members;
create policy "admins remove members below the owner; members leave"
  on public.project_members for delete to authenticated
  using (
    (select private.can_write())
    and role <> 'owner'
    and (
      user_id = (select auth.uid())
      or project_id = any (array(select private.my_project_ids_with_role('admin')))
    )
  );
