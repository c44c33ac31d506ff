-- Files: who may do what
--
-- The policies of supabase/schemas/files.sql. Edit here, then `make migration NAME=...`
-- writes the migration.

-- public.files --------------------------------------------------------------------------
alter table public.files enable row level security;

-- (the three above are the names before 20261123121100_files_platform_rules.sql)
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

create policy "editors rename and move project files"
  on public.files for update
  to authenticated
  using ((select private.can_write()) and deleted_at is null and project_id = any(array(select private.my_project_ids_with_role('editor'))))
  with check ((select private.can_write()) and deleted_at is null and project_id = any(array(select private.my_project_ids_with_role('editor'))));

create policy "editors trash project files"
  on public.files for delete
  to authenticated
  using ((select private.can_write()) and deleted_at is null and project_id = any(array(select private.my_project_ids_with_role('editor'))));
