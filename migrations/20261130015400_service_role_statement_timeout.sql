-- =============================================================================
-- The service role's statements may run longer than a client's
--
-- PostgREST applies the impersonated role's settings per request; without one
-- of its own, service_role inherited authenticator's 8 s. The background jobs
-- that use it do bulk work in one statement by design: erasing a person with
-- 100,000 rows (the cascade from auth.users, the audit redaction), the 30-day
-- purge, the audit retention. 15 minutes is the Lambda limit. Clients keep
-- their limits (anon 3 s, authenticated 8 s): they never hold this role.
-- =============================================================================

alter role service_role set statement_timeout = '15min';

-- PostgREST reads role settings with its configuration
notify pgrst, 'reload config';
