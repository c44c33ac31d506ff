-- =============================================================================
-- Integrations
--
--   1. integrations: what a user connected (provider, external account,
--      scopes, sync status), readable by that user only
--   2. private.integration_credentials: token material, encrypted by the
--      functions (KMS) before it gets here, in a schema PostgREST does not
--      expose and granted to no client role
--   3. private.oauth_states: OAuth 2.0 state + PKCE verifier between the
--      redirect and the callback
--   4. service-role RPCs the integration functions use to reach 2 and 3
--   5. policies (policies/integrations.sql)
-- =============================================================================

-- -----------------------------------------------------------------------------
-- 1. integrations
-- -----------------------------------------------------------------------------
create type public.integration_provider as enum (
  'github', 'gitlab', 'google_docs', 'jira', 'linear', 'hubspot', 'salesforce'
);
create type public.integration_status as enum ('pending', 'connected', 'syncing', 'error', 'revoked');

create table public.integrations (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null default auth.uid() references public.profiles (id) on delete cascade,
  project_id uuid references public.projects (id) on delete set null,
  provider public.integration_provider not null,
  external_account_id text,
  external_account_name text,
  scopes text[] not null default '{}',
  status public.integration_status not null default 'pending',
  last_synced_at timestamptz,
  last_error text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint integrations_one_per_external_account unique (user_id, provider, external_account_id),
  constraint integrations_external_account_id_length check (char_length(external_account_id) <= 200),
  constraint integrations_external_account_name_length check (char_length(external_account_name) <= 200),
  constraint integrations_last_error_length check (char_length(last_error) <= 2000),
  constraint integrations_scopes_count check (cardinality(scopes) <= 50)
);
create index integrations_user_id_idx on public.integrations (user_id, provider);
create index integrations_project_id_idx on public.integrations (project_id);
alter table public.integrations enable row level security;

create trigger integrations_set_updated_at
  before insert or update on public.integrations
  for each row execute function private.set_updated_at();
-- the user may link a project, rename or revoke; the sync state is the service role's
create trigger integrations_guard_immutable_columns
  before update on public.integrations
  for each row execute function private.guard_immutable_columns(
    'id', 'user_id', 'provider', 'external_account_id', 'scopes', 'last_synced_at', 'last_error'
  );

-- -----------------------------------------------------------------------------
-- 2. credentials (never exposed)
-- -----------------------------------------------------------------------------
create table private.integration_credentials (
  integration_id uuid primary key references public.integrations (id) on delete cascade,
  -- ciphertexts (base64) of the KMS envelope the functions made; key id says which key
  access_token_ciphertext text not null,
  refresh_token_ciphertext text,
  key_id text not null,
  expires_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
comment on table private.integration_credentials is
  'OAuth tokens, encrypted by the integration functions; readable by the service role only.';
create trigger integration_credentials_set_updated_at
  before insert or update on private.integration_credentials
  for each row execute function private.set_updated_at();
revoke all on private.integration_credentials from public, anon, authenticated;
grant select, insert, update, delete on private.integration_credentials to service_role;

-- -----------------------------------------------------------------------------
-- 3. OAuth state + PKCE (never exposed)
-- -----------------------------------------------------------------------------
create table private.oauth_states (
  state text primary key,
  user_id uuid not null references public.profiles (id) on delete cascade,
  provider public.integration_provider not null,
  project_id uuid references public.projects (id) on delete cascade,
  code_verifier_ciphertext text not null,
  redirect_uri text not null,
  expires_at timestamptz not null default now() + interval '10 minutes',
  created_at timestamptz not null default now(),
  constraint oauth_states_state_length check (char_length(state) between 32 and 200)
);
create index oauth_states_user_id_idx on private.oauth_states (user_id);
create index oauth_states_project_id_idx on private.oauth_states (project_id);
create index oauth_states_expires_at_idx on private.oauth_states (expires_at);
revoke all on private.oauth_states from public, anon, authenticated;
grant select, insert, update, delete on private.oauth_states to service_role;

-- -----------------------------------------------------------------------------
-- 4. service-role RPCs (PostgREST does not expose private; the functions
--    call these with the service-role key). Invoker: the service role's own
--    grants decide; execute is revoked from every client role.
-- -----------------------------------------------------------------------------
create function public.save_integration_credentials(
  integration_id uuid, access_token_ciphertext text, refresh_token_ciphertext text,
  key_id text, expires_at timestamptz
)
returns void
language sql
security invoker
set search_path = ''
as $$
  insert into private.integration_credentials as c
    (integration_id, access_token_ciphertext, refresh_token_ciphertext, key_id, expires_at)
  values (integration_id, access_token_ciphertext, refresh_token_ciphertext, key_id, expires_at)
  on conflict on constraint integration_credentials_pkey do update
     set access_token_ciphertext = excluded.access_token_ciphertext,
         refresh_token_ciphertext = coalesce(excluded.refresh_token_ciphertext, c.refresh_token_ciphertext),
         key_id = excluded.key_id,
         expires_at = excluded.expires_at
$$;

create function public.get_integration_credentials(integration_id uuid)
returns table (access_token_ciphertext text, refresh_token_ciphertext text, key_id text, expires_at timestamptz)
language sql
stable
security invoker
set search_path = ''
as $$
  select c.access_token_ciphertext, c.refresh_token_ciphertext, c.key_id, c.expires_at
    from private.integration_credentials c
   where c.integration_id = get_integration_credentials.integration_id
$$;

create function public.save_oauth_state(
  state text, user_id uuid, provider public.integration_provider, project_id uuid,
  code_verifier_ciphertext text, redirect_uri text
)
returns void
language sql
security invoker
set search_path = ''
as $$
  delete from private.oauth_states s where s.expires_at < now();
  insert into private.oauth_states (state, user_id, provider, project_id, code_verifier_ciphertext, redirect_uri)
  values (state, user_id, provider, project_id, code_verifier_ciphertext, redirect_uri)
$$;

-- returns the state once (it is deleted), and nothing when unknown or expired
create function public.take_oauth_state(state text)
returns table (user_id uuid, provider public.integration_provider, project_id uuid,
               code_verifier_ciphertext text, redirect_uri text)
language sql
security invoker
set search_path = ''
as $$
  with taken as (
    delete from private.oauth_states s
     where s.state = take_oauth_state.state
    returning s.*
  )
  select t.user_id, t.provider, t.project_id, t.code_verifier_ciphertext, t.redirect_uri
    from taken t
   where t.expires_at > now()
$$;

revoke all on function public.save_integration_credentials(uuid, text, text, text, timestamptz),
  public.get_integration_credentials(uuid),
  public.save_oauth_state(text, uuid, public.integration_provider, uuid, text, text),
  public.take_oauth_state(text)
  from public, anon, authenticated;
grant execute on function public.save_integration_credentials(uuid, text, text, text, timestamptz),
  public.get_integration_credentials(uuid),
  public.save_oauth_state(text, uuid, public.integration_provider, uuid, text, text),
  public.take_oauth_state(text)
  to service_role;

-- -----------------------------------------------------------------------------
-- 5. policies
-- -----------------------------------------------------------------------------
create policy "people read their own integrations"
  on public.integrations for select to authenticated
  using ((select private.is_active_user()) and user_id = (select auth.uid()));

create policy "people connect integrations for themselves"
  on public.integrations for insert to authenticated
  with check (
    (select private.can_write())
    and user_id = (select auth.uid())
    and status = 'pending'
    and (project_id is null or project_id = any (array(select private.my_project_ids_with_role('admin'))))
  );

create policy "people update their own integrations"
  on public.integrations for update to authenticated
  using ((select private.can_write()) and user_id = (select auth.uid()))
  with check (
    (select private.can_write())
    and user_id = (select auth.uid())
    and (project_id is null or project_id = any (array(select private.my_project_ids_with_role('admin'))))
  );

create policy "people disconnect their own integrations"
  on public.integrations for delete to authenticated
  using ((select private.can_write()) and user_id = (select auth.uid()));

revoke truncate, references, trigger on all tables in schema public from anon, authenticated;
