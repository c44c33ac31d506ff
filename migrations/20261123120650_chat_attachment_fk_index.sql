-- =============================================================================
-- Chat: covering index for message_attachments' (message_id, conversation_id)
-- foreign key (Supabase linter: unindexed_foreign_keys), so deleting a message
-- finds its attachments without a scan.
-- =============================================================================
create index message_attachments_message_id_conversation_id_idx
  on public.message_attachments (message_id, conversation_id);
