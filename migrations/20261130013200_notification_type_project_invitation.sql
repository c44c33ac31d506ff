-- =============================================================================
-- Notifications: a new type for project invitations
--
-- Its own migration: a value added to an enum cannot be used in the transaction
-- that adds it, and 20261130013300_project_invitations.sql uses it.
-- =============================================================================

alter type public.notification_type add value if not exists 'project_invitation';
