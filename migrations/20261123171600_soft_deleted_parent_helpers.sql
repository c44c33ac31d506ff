-- =============================================================================
-- Soft-deleted parents hide their children: helpers and indexes
--
-- A soft-deleted document vanished from reads but its versions did not, nor
-- did a deleted message's attachments (their policies checked membership
-- only). The read policies (policies/documents.sql, policies/chat.sql; next
-- migration) add `document_id <> all (array(select private.my_deleted_document_ids()))`
-- and the same for message_id: an init plan, once per statement.
--
-- The helpers list the deleted parents, not the live ones: a person's live
-- messages can run to hundreds of thousands, the deleted ones (kept 30 days,
-- then purged) are few. Each is served by a partial index holding only
-- deleted rows. Restoring the parent (rpc restore_deleted) clears deleted_at,
-- so the children come back with it.
-- =============================================================================

create index documents_project_id_deleted_idx
  on public.documents (project_id) where deleted_at is not null;
create index messages_conversation_id_deleted_idx
  on public.messages (conversation_id) where deleted_at is not null;

-- soft-deleted documents of the caller's live projects
create function private.my_deleted_document_ids()
returns setof uuid
language plpgsql
stable
security definer
set search_path = ''
as $$
begin
  return query
    select d.id
      from public.documents d
     where d.deleted_at is not null
       and d.project_id in (select private.my_project_ids());
end;
$$;

-- soft-deleted messages of the caller's conversations
create function private.my_deleted_message_ids()
returns setof uuid
language plpgsql
stable
security definer
set search_path = ''
as $$
begin
  return query
    select m.id
      from public.messages m
     where m.deleted_at is not null
       and m.conversation_id in (select private.my_conversation_ids());
end;
$$;

revoke all on function private.my_deleted_document_ids(), private.my_deleted_message_ids() from public;
grant execute on function private.my_deleted_document_ids(), private.my_deleted_message_ids()
  to authenticated, service_role;
