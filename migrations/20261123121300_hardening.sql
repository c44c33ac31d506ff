-- =============================================================================
-- Hardening
--
--   1. the access token hook is executable by Supabase Auth only (the
--      platform's default privileges also gave it to service_role)
-- =============================================================================

revoke execute on function public.custom_access_token_hook(jsonb) from service_role;
