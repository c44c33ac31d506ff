-- soft_deleted_parents_hide_children: from policies/documents.sql and policies/chat.sql.
-- A soft-deleted document's versions and a soft-deleted message's attachments vanish from
-- reads with their parent and come back when it is restored (helpers and partial indexes:
-- 20261123171600_soft_deleted_parent_helpers.sql).

drop policy "members read document versions" on public.document_versions;
create policy "members read versions of live documents"
  on public.document_versions for select to authenticated
  using (
    (select private.is_active_user())
    and project_id = any (array(select private.my_project_ids()))
    and document_id <> all (array(select private.my_deleted_document_ids()))
  );

drop policy "members read attachments in their conversations" on public.message_attachments;
create policy "members read attachments of live messages"
  on public.message_attachments for select to authenticated
  using (
    (select private.is_active_user())
    and conversation_id = any (array(select private.my_conversation_ids()))
    and message_id <> all (array(select private.my_deleted_message_ids()))
  );
