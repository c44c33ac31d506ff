-- =============================================================================
-- Platform roles in the access token
--
--   1. what Supabase Auth (supabase_auth_admin) may read
--   2. public.custom_access_token_hook(event): adds the user_role claim,
--      refuses tokens to disabled users
--   3. policy letting the auth server read user_roles (policies/platform.sql)
--
-- The table public.user_roles, the helpers private.platform_role(),
-- private.authorize(), private.is_active_user(), private.can_write() and the
-- admin policies are in the core migration. Enable the hook in the dashboard
-- (Authentication > Hooks) or config.toml [auth.hook.custom_access_token]
-- with uri = "pg-functions://postgres/public/custom_access_token_hook".
-- =============================================================================

-- -----------------------------------------------------------------------------
-- 1. grants for the auth server
-- -----------------------------------------------------------------------------
grant usage on schema public to supabase_auth_admin;
grant select on table public.user_roles to supabase_auth_admin;

-- -----------------------------------------------------------------------------
-- 2. the hook (runs as supabase_auth_admin, security invoker as Supabase asks)
-- -----------------------------------------------------------------------------
create function public.custom_access_token_hook(event jsonb)
returns jsonb
language plpgsql
stable
set search_path = ''
as $$
declare
  claims jsonb := coalesce(event -> 'claims', '{}'::jsonb);
  stored_role public.platform_role;
  disabled timestamptz;
begin
  select ur.role, ur.disabled_at
    into stored_role, disabled
    from public.user_roles ur
   where ur.user_id = (event ->> 'user_id')::uuid;

  if disabled is not null then
    return jsonb_build_object(
      'error', jsonb_build_object('http_code', 403, 'message', 'This account is disabled.')
    );
  end if;

  -- no row (should not happen: a trigger makes one per user): least privilege
  stored_role := coalesce(stored_role, 'guest');
  claims := jsonb_set(claims, '{user_role}', to_jsonb(stored_role));
  claims := jsonb_set(
    claims, '{app_metadata}',
    coalesce(claims -> 'app_metadata', '{}'::jsonb) || jsonb_build_object('platform_role', stored_role)
  );
  return jsonb_set(event, '{claims}', claims);
end;
$$;
comment on function public.custom_access_token_hook(jsonb) is
  'Supabase custom access token hook: puts the platform role into the user_role claim; disabled users get no token.';

grant execute on function public.custom_access_token_hook(jsonb) to supabase_auth_admin;
revoke execute on function public.custom_access_token_hook(jsonb) from authenticated, anon, public;

-- -----------------------------------------------------------------------------
-- 3. policy (policies/platform.sql)
-- -----------------------------------------------------------------------------
create policy "the auth server reads platform roles for the token hook"
  on public.user_roles for select to supabase_auth_admin
  using (true);
