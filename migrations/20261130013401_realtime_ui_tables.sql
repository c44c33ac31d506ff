-- =============================================================================
-- Realtime: the rows a UI watches
--
--   files (upload status pending -> ready | failed), activity_events (the
--   activity stream), privacy_requests (export / erasure progress) and
--   integrations (sync status) join the supabase_realtime publication.
--   Realtime delivers a change only to subscribers whose select policy lets
--   them read the row, so RLS still decides who receives what; OAuth tokens
--   live in private.integration_credentials, which is not published.
-- =============================================================================

alter publication supabase_realtime
  add table public.files, public.activity_events, public.privacy_requests, public.integrations;
