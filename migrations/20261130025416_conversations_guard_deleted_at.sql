-- =============================================================================
-- conversations soft-delete (20261130013400): deleted_at is the database's there
-- too, as on every other soft-deleting table (20261130013201): a client that sends
-- it on insert or update is refused (42501); DELETE (private.soft_delete()) and
-- rpc restore_deleted (security definer) set it. The update and delete policies
-- already skip deleted conversations.
-- =============================================================================

create trigger conversations_guard_deleted_at
  before insert or update on public.conversations
  for each row execute function private.guard_deleted_at();
