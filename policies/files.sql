-- =============================================================================
-- Files: who may do what (public.files). Idempotent; `make policy-migration`
-- turns an edit here into a migration. Same text as the migrations.
--
-- Members read the live (not trashed) files of their projects; editors and
-- above add, rename, move and trash them (DELETE soft-deletes; restore_deleted
-- undoes it for 30 days). A message's file (message_id, no project) is read by
-- the members of the message's conversation and by no one else, and added by
-- the message's author; it goes with its message (hidden while the message is
-- deleted). Disabled users read nothing; guests write nothing; anon reads no row.
-- Status, object key and bucket are written by the service role only
-- (column privileges in 20261123110000_files.sql).
-- =============================================================================

alter table public.files enable row level security;

drop policy if exists "members read project files" on public.files;
drop policy if exists "editors rename, move and trash project files" on public.files;
drop policy if exists "editors delete project files" on public.files;
-- (the three above are the names before 20261123121100_files_platform_rules.sql)

drop policy if exists "members read live project files" on public.files;
drop policy if exists "members read live files of their projects and conversations" on public.files;
create policy "members read live files of their projects and conversations"
  on public.files for select
  to authenticated
  using (
    -- (both helpers are empty for a disabled user: no is_active_user() needed)
    deleted_at is null
    and (
      project_id = any(array(select private.my_project_ids()))
      or conversation_id = any(array(select private.my_conversation_ids()))
    )
    and (message_id is null or message_id <> all(array(select private.my_deleted_message_ids())))
  );

-- conversation_id is set by the trigger from the message as the caller reads it
-- (null for a message they cannot read), so the message must be theirs and live
drop policy if exists "editors add files to their projects" on public.files;
drop policy if exists "editors add project files and authors add message files" on public.files;
create policy "editors add project files and authors add message files"
  on public.files for insert
  to authenticated
  with check (
    (select private.can_write())
    and uploaded_by = (select auth.uid())
    and (
      (message_id is null
        and project_id = any(array(select private.my_project_ids_with_role('editor'))))
      or (project_id is null
        -- an open conversation, as for posting (a closed direct one takes no new files)
        and conversation_id = any(array(select private.my_open_conversation_ids()))
        and exists (
          select 1 from public.messages m
           where m.id = message_id and m.author_id = (select auth.uid())
        ))
    )
  );

drop policy if exists "editors rename and move project files" on public.files;
create policy "editors rename and move project files"
  on public.files for update
  to authenticated
  using ((select private.can_write()) and deleted_at is null and project_id = any(array(select private.my_project_ids_with_role('editor'))))
  with check ((select private.can_write()) and deleted_at is null and project_id = any(array(select private.my_project_ids_with_role('editor'))));

drop policy if exists "editors trash project files" on public.files;
create policy "editors trash project files"
  on public.files for delete
  to authenticated
  using ((select private.can_write()) and deleted_at is null and project_id = any(array(select private.my_project_ids_with_role('editor'))));
