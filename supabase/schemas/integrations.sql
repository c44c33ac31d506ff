-- Integrations: connections, links, syncs, token material, webhooks
--
-- The declared source of this domain's tables, helpers, triggers and grants; its policies are
-- in policies/integrations.sql. Edit here, then `make migration NAME=...` writes the migration.

-- SQL function bodies may name objects declared further down or in a later file.
set check_function_bodies = false;

-- ======================================================================================
-- types
-- ======================================================================================

create type public.integration_provider as enum (
    'github',
    'gitlab',
    'google_docs',
    'jira',
    'linear',
    'hubspot',
    'salesforce'
);

create type public.integration_status as enum (
    'pending',
    'connected',
    'syncing',
    'error',
    'revoked'
);

-- ======================================================================================
-- public.integrations
-- ======================================================================================

create table public.integrations (
    id uuid default gen_random_uuid() not null,
    user_id uuid default auth.uid() not null,
    project_id uuid,
    provider public.integration_provider not null,
    external_account_id text,
    external_account_name text,
    scopes text[] default '{}'::text[] not null,
    status public.integration_status default 'pending'::public.integration_status not null,
    last_synced_at timestamptz,
    last_error text,
    created_at timestamptz default now() not null,
    updated_at timestamptz default now() not null,
    constraint integrations_external_account_id_length check ((char_length(external_account_id) <= 200)),
    constraint integrations_external_account_name_length check ((char_length(external_account_name) <= 200)),
    constraint integrations_last_error_length check ((char_length(last_error) <= 2000)),
    constraint integrations_scopes_count check ((cardinality(scopes) <= 50))
);

alter table only public.integrations
    add constraint integrations_one_per_external_account unique (user_id, provider, external_account_id);

alter table only public.integrations
    add constraint integrations_pkey primary key (id);

create index integrations_project_id_idx on public.integrations using btree (project_id);

create index integrations_user_id_idx on public.integrations using btree (user_id, provider);

revoke all on table public.integrations from anon, authenticated;
grant select,insert,delete,update on table public.integrations to anon;
grant select,insert,delete,update on table public.integrations to authenticated;
grant all on table public.integrations to service_role;

-- ======================================================================================
-- public.integration_links
-- ======================================================================================

create table public.integration_links (
    id uuid default gen_random_uuid() not null,
    integration_id uuid not null,
    project_id uuid not null,
    kind text not null,
    external_id text not null,
    name text,
    url text,
    document_id uuid,
    sync_cursor jsonb default '{}'::jsonb not null,
    last_synced_at timestamptz,
    created_by uuid default auth.uid(),
    created_at timestamptz default now() not null,
    updated_at timestamptz default now() not null,
    constraint integration_links_external_id_length check (((char_length(external_id) >= 1) and (char_length(external_id) <= 300))),
    constraint integration_links_kind_known check ((kind = any (array['repository'::text, 'document'::text]))),
    constraint integration_links_name_length check ((char_length(name) <= 300)),
    constraint integration_links_sync_cursor_is_object check ((jsonb_typeof(sync_cursor) = 'object'::text)),
    constraint integration_links_url_length check ((char_length(url) <= 2000))
);

alter table only public.integration_links
    add constraint integration_links_one_per_item unique (integration_id, external_id);

alter table only public.integration_links
    add constraint integration_links_pkey primary key (id);

create index integration_links_created_by_idx on public.integration_links using btree (created_by);

create index integration_links_document_id_idx on public.integration_links using btree (document_id);

create index integration_links_project_id_idx on public.integration_links using btree (project_id);

revoke all on table public.integration_links from anon, authenticated;
grant select on table public.integration_links to anon;
grant select on table public.integration_links to authenticated;
grant all on table public.integration_links to service_role;

-- ======================================================================================
-- public.integration_syncs
-- ======================================================================================

create table public.integration_syncs (
    id uuid default gen_random_uuid() not null,
    integration_id uuid not null,
    project_id uuid not null,
    requested_by uuid,
    reason text default 'manual'::text not null,
    status public.job_status default 'queued'::public.job_status not null,
    attempts integer default 0 not null,
    dispatched_at timestamptz,
    started_at timestamptz,
    finished_at timestamptz,
    error text,
    events_written integer default 0 not null,
    provider_requests integer default 0 not null,
    created_at timestamptz default now() not null,
    updated_at timestamptz default now() not null,
    constraint integration_syncs_attempts_not_negative check ((attempts >= 0)),
    constraint integration_syncs_error_length check ((char_length(error) <= 2000)),
    constraint integration_syncs_finished_after_started check ((finished_at >= started_at)),
    constraint integration_syncs_reason_known check ((reason = any (array['manual'::text, 'schedule'::text, 'webhook'::text])))
);

alter table only public.integration_syncs
    add constraint integration_syncs_pkey primary key (id);

create index integration_syncs_integration_id_idx on public.integration_syncs using btree (integration_id, created_at desc);

create unique index integration_syncs_one_active_idx on public.integration_syncs using btree (integration_id) where (status = any (array['queued'::public.job_status, 'running'::public.job_status]));

create index integration_syncs_project_id_created_at_idx on public.integration_syncs using btree (project_id, created_at desc);

create index integration_syncs_requested_by_idx on public.integration_syncs using btree (requested_by);

create index integration_syncs_status_idx on public.integration_syncs using btree (status, created_at) where (status = any (array['queued'::public.job_status, 'running'::public.job_status]));

revoke all on table public.integration_syncs from anon, authenticated;
grant select on table public.integration_syncs to anon;
grant select on table public.integration_syncs to authenticated;
grant all on table public.integration_syncs to service_role;

-- ======================================================================================
-- private.integration_credentials
-- ======================================================================================

create table private.integration_credentials (
    integration_id uuid not null,
    access_token_ciphertext text not null,
    refresh_token_ciphertext text,
    key_id text not null,
    expires_at timestamptz,
    created_at timestamptz default now() not null,
    updated_at timestamptz default now() not null,
    data_key_ciphertext text
);

alter table only private.integration_credentials
    add constraint integration_credentials_pkey primary key (integration_id);

comment on table private.integration_credentials is 'OAuth tokens, encrypted by the integration functions; readable by the service role only.';

comment on column private.integration_credentials.data_key_ciphertext is 'The AES-256 data key of the envelope, encrypted by KMS (GenerateDataKey); never its plaintext.';

grant select,insert,delete,update on table private.integration_credentials to service_role;

-- ======================================================================================
-- private.integration_webhook_secrets
-- ======================================================================================

create table private.integration_webhook_secrets (
    integration_id uuid not null,
    secret_ciphertext text not null,
    data_key_ciphertext text not null,
    key_id text not null,
    created_at timestamptz default now() not null,
    updated_at timestamptz default now() not null
);

alter table only private.integration_webhook_secrets
    add constraint integration_webhook_secrets_pkey primary key (integration_id);

comment on table private.integration_webhook_secrets is 'Per-integration webhook signing secrets, envelope-encrypted; readable by the service role only.';

grant select,insert,delete,update on table private.integration_webhook_secrets to service_role;

-- ======================================================================================
-- private.oauth_states
-- ======================================================================================

create table private.oauth_states (
    state text not null,
    user_id uuid not null,
    provider public.integration_provider not null,
    project_id uuid,
    code_verifier_ciphertext text not null,
    redirect_uri text not null,
    expires_at timestamptz default (now() + '00:10:00'::interval) not null,
    created_at timestamptz default now() not null,
    constraint oauth_states_state_length check (((char_length(state) >= 32) and (char_length(state) <= 200)))
);

alter table only private.oauth_states
    add constraint oauth_states_pkey primary key (state);

create index oauth_states_expires_at_idx on private.oauth_states using btree (expires_at);

create index oauth_states_project_id_idx on private.oauth_states using btree (project_id);

create index oauth_states_user_id_idx on private.oauth_states using btree (user_id);

grant select,insert,delete,update on table private.oauth_states to service_role;

-- ======================================================================================
-- private.pending_connects
-- ======================================================================================

-- A connect the provider approved but nobody has finished: the callback stores the provider's
-- authorization code (sealed with the PKCE verifier) here under the hash of a one-time connect
-- code, and the app finishes with that code under its own session. Only the user who started
-- the flow (user_id) can finish it; the row is taken once, whoever presents the code.
create table private.pending_connects (
    code_hash text not null,
    user_id uuid not null,
    provider public.integration_provider not null,
    project_id uuid,
    grant_ciphertext text not null,
    expires_at timestamptz default (now() + '00:10:00'::interval) not null,
    created_at timestamptz default now() not null,
    constraint pending_connects_code_hash_is_sha256_hex check ((code_hash ~ '^[0-9a-f]{64}$'::text)),
    constraint pending_connects_grant_ciphertext_length check ((char_length(grant_ciphertext) <= 20000))
);

alter table only private.pending_connects
    add constraint pending_connects_pkey primary key (code_hash);

create index pending_connects_expires_at_idx on private.pending_connects using btree (expires_at);

create index pending_connects_project_id_idx on private.pending_connects using btree (project_id);

create index pending_connects_user_id_idx on private.pending_connects using btree (user_id);

comment on table private.pending_connects is 'Approved OAuth connects waiting for their starter to finish them: the sealed authorization code under the SHA-256 of a one-time connect code; service role only.';

grant select,insert,delete,update on table private.pending_connects to service_role;

-- ======================================================================================
-- private.webhook_deliveries
-- ======================================================================================

-- replay protection: a delivery id is accepted once per integration
create table private.webhook_deliveries (
    integration_id uuid not null,
    delivery_id text not null,
    received_at timestamptz default now() not null,
    constraint webhook_deliveries_delivery_id_length check (((char_length(delivery_id) >= 1) and (char_length(delivery_id) <= 200)))
);

alter table only private.webhook_deliveries
    add constraint webhook_deliveries_pkey primary key (integration_id, delivery_id);

create index webhook_deliveries_received_at_idx on private.webhook_deliveries using btree (received_at);

grant select,insert,delete,update on table private.webhook_deliveries to service_role;

-- ======================================================================================
-- foreign keys
-- ======================================================================================

alter table only private.integration_credentials
    add constraint integration_credentials_integration_id_fkey foreign key (integration_id) references public.integrations(id) on delete cascade;

alter table only private.integration_webhook_secrets
    add constraint integration_webhook_secrets_integration_id_fkey foreign key (integration_id) references public.integrations(id) on delete cascade;

alter table only private.pending_connects
    add constraint pending_connects_project_id_fkey foreign key (project_id) references public.projects(id) on delete cascade;

alter table only private.pending_connects
    add constraint pending_connects_user_id_fkey foreign key (user_id) references public.profiles(id) on delete cascade;

alter table only private.oauth_states
    add constraint oauth_states_project_id_fkey foreign key (project_id) references public.projects(id) on delete cascade;

alter table only private.oauth_states
    add constraint oauth_states_user_id_fkey foreign key (user_id) references public.profiles(id) on delete cascade;

alter table only private.webhook_deliveries
    add constraint webhook_deliveries_integration_id_fkey foreign key (integration_id) references public.integrations(id) on delete cascade;

alter table only public.integration_links
    add constraint integration_links_created_by_fkey foreign key (created_by) references public.profiles(id) on delete set null;

alter table only public.integration_links
    add constraint integration_links_document_id_fkey foreign key (document_id) references public.documents(id) on delete set null;

alter table only public.integration_links
    add constraint integration_links_integration_id_fkey foreign key (integration_id) references public.integrations(id) on delete cascade;

alter table only public.integration_links
    add constraint integration_links_project_id_fkey foreign key (project_id) references public.projects(id) on delete cascade;

alter table only public.integration_syncs
    add constraint integration_syncs_integration_id_fkey foreign key (integration_id) references public.integrations(id) on delete cascade;

alter table only public.integration_syncs
    add constraint integration_syncs_project_id_fkey foreign key (project_id) references public.projects(id) on delete cascade;

alter table only public.integration_syncs
    add constraint integration_syncs_requested_by_fkey foreign key (requested_by) references public.profiles(id) on delete set null;

alter table only public.integrations
    add constraint integrations_project_id_fkey foreign key (project_id) references public.projects(id) on delete set null;

alter table only public.integrations
    add constraint integrations_user_id_fkey foreign key (user_id) references public.profiles(id) on delete cascade;

-- ======================================================================================
-- functions
-- ======================================================================================

create function private.guard_integration_sync_state() returns trigger
    language plpgsql
    set search_path to ''
    as $$
begin
  if current_user not in ('anon', 'authenticated') then
    return new;
  end if;
  if tg_op = 'INSERT' then
    new.last_synced_at := null;
    new.last_error := null;
  elsif new.status is distinct from old.status and new.status <> 'revoked' then
    raise exception 'integrations.status can only be changed to revoked'
      using errcode = '42501',
            hint = 'the sync status is the integration service''s; set status to revoked to disconnect';
  end if;
  return new;
end;
$$;

revoke all on function private.guard_integration_sync_state() from public;

-- Someone who may no longer write into a project (removed, or demoted below editor) stops
-- feeding it at once: each of their integrations linked to it is unlinked (project_id null,
-- its repository / document links into the project deleted), last_error says why, and they
-- get one notification. Called by the membership trigger below and by ingest_activity when
-- it finds the rule broken. Nothing when the project itself is gone (its foreign keys clear
-- the links) or the person is being deleted (no one to tell).
create function private.unlink_integrations(project_id uuid, user_id uuid) returns integer
    language plpgsql security definer
    set search_path to ''
    as $$
declare
  project_name text;
  message text;
  unlinked record;
  n int := 0;
begin
  select p.name into project_name from public.projects p where p.id = unlink_integrations.project_id;
  if not found then
    return 0;
  end if;
  message := format(
    'Unlinked from the project "%s": only its editors can feed it, and you no longer are one. '
    'Link it again once you are.', left(project_name, 200));
  for unlinked in
    update public.integrations i
       set project_id = null, last_error = message
     where i.project_id = unlink_integrations.project_id
       and i.user_id = unlink_integrations.user_id
    returning i.id, i.provider, i.status
  loop
    n := n + 1;
    delete from public.integration_links l
     where l.integration_id = unlinked.id and l.project_id = unlink_integrations.project_id;
    if unlinked.status <> 'revoked'
       and exists (select 1 from public.profiles pr where pr.id = unlink_integrations.user_id) then
      insert into public.notifications (user_id, type, payload)
      values (unlink_integrations.user_id, 'system', jsonb_build_object(
        'kind', 'integration_unlinked',
        'integration_id', unlinked.id,
        'provider', unlinked.provider,
        'project_id', unlink_integrations.project_id,
        'message', message));
    end if;
  end loop;
  return n;
end;
$$;

revoke all on function private.unlink_integrations(project_id uuid, user_id uuid) from public;
grant all on function private.unlink_integrations(project_id uuid, user_id uuid) to service_role;

-- The project an integration may write into now, or null (no project; or its owner is no
-- longer an editor of it: then it is unlinked, with its reason and a notification). For the
-- transactions that write a provider's data into a project (rpc ingest_activity, rpc
-- import_integration_document_version): the owner's membership row is locked for share
-- first, then the integration, the order a removal or demotion locks them in (the row, then
-- trigger project_members_unlink_integrations); so a removal racing a write either waits for
-- that transaction to commit, or commits first and is seen here.
create function private.integration_feed_project(integration_id uuid) returns uuid
    language plpgsql security definer
    set search_path to ''
    as $$
declare
  target uuid;
  owner uuid;
begin
  select i.project_id, i.user_id into target, owner
    from public.integrations i where i.id = integration_feed_project.integration_id;
  if target is null then
    return null;
  end if;
  perform 1 from public.project_members m
   where m.project_id = target and m.user_id = owner and m.role >= 'editor'
     for share of m;
  if not found then
    perform private.unlink_integrations(target, owner);
    return null;
  end if;
  perform 1 from public.integrations i
   where i.id = integration_feed_project.integration_id and i.project_id = target
     for share of i;
  if not found then
    return null;
  end if;
  return target;
end;
$$;

revoke all on function private.integration_feed_project(integration_id uuid) from public;
grant all on function private.integration_feed_project(integration_id uuid) to service_role;

create function private.unlink_integrations_of_lost_editor() returns trigger
    language plpgsql security definer
    set search_path to ''
    as $$
begin
  if tg_op = 'UPDATE' and new.role >= 'editor'
     and new.project_id = old.project_id and new.user_id = old.user_id then
    return null;
  end if;
  perform private.unlink_integrations(old.project_id, old.user_id);
  return null;
end;
$$;

revoke all on function private.unlink_integrations_of_lost_editor() from public;

-- Definer: links and sync jobs are written by the functions only; these are the
-- ways the integration's owner, an admin of its project, adds one.
create function private.link_integration_item(integration_id uuid, kind text, external_id text, name text, url text, document_id uuid) returns public.integration_links
    language plpgsql security definer
    set search_path to ''
    as $$
declare
  target uuid;
  link public.integration_links;
begin
  select i.project_id into target
    from public.integrations i
   where i.id = link_integration_item.integration_id
     and i.user_id = (select auth.uid())
     and i.status in ('connected', 'syncing', 'error');
  if not found then
    raise exception 'no connected integration % of yours', integration_id using errcode = '42501';
  end if;
  if target is null then
    raise exception 'the integration is not linked to a project' using errcode = '22023';
  end if;
  if not private.can_write() or not private.has_project_role(target, 'admin') then
    raise exception 'only project admins can link integrations' using errcode = '42501';
  end if;
  if document_id is not null and not exists (
       select 1 from public.documents d
        where d.id = link_integration_item.document_id and d.project_id = target and d.deleted_at is null) then
    raise exception 'document % is not in this project', document_id using errcode = '22023';
  end if;
  insert into public.integration_links as l (integration_id, project_id, kind, external_id, name, url, document_id, created_by)
  values (link_integration_item.integration_id, target, link_integration_item.kind,
          link_integration_item.external_id, link_integration_item.name, link_integration_item.url,
          link_integration_item.document_id, (select auth.uid()))
  on conflict on constraint integration_links_one_per_item do update
     set name = excluded.name, url = excluded.url,
         document_id = coalesce(excluded.document_id, l.document_id)
  returning * into link;
  return link;
end;
$$;

revoke all on function private.link_integration_item(integration_id uuid, kind text, external_id text, name text, url text, document_id uuid) from public;
grant all on function private.link_integration_item(integration_id uuid, kind text, external_id text, name text, url text, document_id uuid) to authenticated;

create function public.link_integration_item(integration_id uuid, kind text, external_id text, name text default null::text, url text default null::text, document_id uuid default null::uuid) returns public.integration_links
    language sql
    set search_path to ''
    as $$
  select private.link_integration_item(integration_id, kind, external_id, name, url, document_id)
$$;

comment on function public.link_integration_item(integration_id uuid, kind text, external_id text, name text, url text, document_id uuid) is 'Links a repository or document of a connected integration to its project (project admins).';

revoke all on function public.link_integration_item(integration_id uuid, kind text, external_id text, name text, url text, document_id uuid) from public;
grant all on function public.link_integration_item(integration_id uuid, kind text, external_id text, name text, url text, document_id uuid) to authenticated;
grant all on function public.link_integration_item(integration_id uuid, kind text, external_id text, name text, url text, document_id uuid) to service_role;

create function private.queue_integration_sync(integration_id uuid) returns public.integration_syncs
    language plpgsql security definer
    set search_path to ''
    as $$
declare
  target uuid;
  job public.integration_syncs;
begin
  select i.project_id into target
    from public.integrations i
   where i.id = queue_integration_sync.integration_id
     and i.user_id = (select auth.uid())
     and i.status in ('connected', 'syncing', 'error');
  if not found or not private.can_write() then
    raise exception 'no connected integration % of yours', integration_id using errcode = '42501';
  end if;
  if target is null then
    raise exception 'the integration is not linked to a project' using errcode = '22023';
  end if;
  -- a sync writes into the project's activity stream: only while the owner may still write there
  if not private.has_project_role(target, 'editor') then
    raise exception 'no connected integration % of yours', integration_id using errcode = '42501';
  end if;
  select * into job from public.integration_syncs s
   where s.integration_id = queue_integration_sync.integration_id and s.status in ('queued', 'running');
  if found then
    return job;
  end if;
  insert into public.integration_syncs (integration_id, project_id, requested_by, reason)
  values (queue_integration_sync.integration_id, target, (select auth.uid()), 'manual')
  on conflict do nothing
  returning * into job;
  if job.id is null then
    select * into job from public.integration_syncs s
     where s.integration_id = queue_integration_sync.integration_id and s.status in ('queued', 'running');
  end if;
  return job;
end;
$$;

revoke all on function private.queue_integration_sync(integration_id uuid) from public;
grant all on function private.queue_integration_sync(integration_id uuid) to authenticated;

create function public.queue_integration_sync(integration_id uuid) returns public.integration_syncs
    language sql
    set search_path to ''
    as $$
  select private.queue_integration_sync(integration_id)
$$;

comment on function public.queue_integration_sync(integration_id uuid) is 'Queues a sync of a connected integration (its owner); returns the waiting or running job.';

revoke all on function public.queue_integration_sync(integration_id uuid) from public;
grant all on function public.queue_integration_sync(integration_id uuid) to authenticated;
grant all on function public.queue_integration_sync(integration_id uuid) to service_role;

-- The sync's Google Docs import: a new version of the linked project document, written only
-- while the integration's owner may still write into the project (checked and locked in this
-- transaction, private.integration_feed_project); -2 and nothing written otherwise.
create function public.import_integration_document_version(link_id uuid, content text, change_summary text) returns integer
    language plpgsql
    set search_path to ''
    as $$
declare
  item public.integration_links;
  created int;
begin
  select * into item from public.integration_links l where l.id = import_integration_document_version.link_id;
  if not found or item.document_id is null then
    raise exception 'link % has no project document', link_id using errcode = '22023';
  end if;
  if private.integration_feed_project(item.integration_id) is distinct from item.project_id then
    return -2;
  end if;
  insert into public.document_versions (document_id, content, change_summary, generated_by)
  values (item.document_id, import_integration_document_version.content,
          import_integration_document_version.change_summary, 'google_docs')
  returning version into created;
  return created;
end;
$$;

revoke all on function public.import_integration_document_version(link_id uuid, content text, change_summary text) from authenticated;
revoke all on function public.import_integration_document_version(link_id uuid, content text, change_summary text) from public;
grant all on function public.import_integration_document_version(link_id uuid, content text, change_summary text) to service_role;

create function public.delete_integration_credentials(integration_id uuid) returns void
    language sql
    set search_path to ''
    as $$
  delete from private.integration_credentials c where c.integration_id = delete_integration_credentials.integration_id;
  delete from private.integration_webhook_secrets s where s.integration_id = delete_integration_credentials.integration_id;
$$;

revoke all on function public.delete_integration_credentials(integration_id uuid) from authenticated;
revoke all on function public.delete_integration_credentials(integration_id uuid) from public;
grant all on function public.delete_integration_credentials(integration_id uuid) to service_role;

create function public.get_integration_credentials(integration_id uuid) returns table(access_token_ciphertext text, refresh_token_ciphertext text, data_key_ciphertext text, key_id text, expires_at timestamptz)
    language sql stable
    set search_path to ''
    as $$
  select c.access_token_ciphertext, c.refresh_token_ciphertext, c.data_key_ciphertext, c.key_id, c.expires_at
    from private.integration_credentials c
   where c.integration_id = get_integration_credentials.integration_id
$$;

revoke all on function public.get_integration_credentials(integration_id uuid) from authenticated;
revoke all on function public.get_integration_credentials(integration_id uuid) from public;
grant all on function public.get_integration_credentials(integration_id uuid) to service_role;

create function public.get_integration_webhook_secret(integration_id uuid) returns table(secret_ciphertext text, data_key_ciphertext text, key_id text)
    language sql stable
    set search_path to ''
    as $$
  select s.secret_ciphertext, s.data_key_ciphertext, s.key_id
    from private.integration_webhook_secrets s
   where s.integration_id = get_integration_webhook_secret.integration_id
$$;

revoke all on function public.get_integration_webhook_secret(integration_id uuid) from authenticated;
revoke all on function public.get_integration_webhook_secret(integration_id uuid) from public;
grant all on function public.get_integration_webhook_secret(integration_id uuid) to service_role;

-- Every save is one envelope (a fresh data key encrypts both tokens), so both
-- ciphertexts are replaced together.
create function public.save_integration_credentials(integration_id uuid, access_token_ciphertext text, refresh_token_ciphertext text, data_key_ciphertext text, key_id text, expires_at timestamptz) returns void
    language sql
    set search_path to ''
    as $$
  insert into private.integration_credentials as c
    (integration_id, access_token_ciphertext, refresh_token_ciphertext, data_key_ciphertext, key_id, expires_at)
  values (integration_id, access_token_ciphertext, refresh_token_ciphertext, data_key_ciphertext, key_id, expires_at)
  on conflict on constraint integration_credentials_pkey do update
     set access_token_ciphertext = excluded.access_token_ciphertext,
         refresh_token_ciphertext = excluded.refresh_token_ciphertext,
         data_key_ciphertext = excluded.data_key_ciphertext,
         key_id = excluded.key_id,
         expires_at = excluded.expires_at
$$;

revoke all on function public.save_integration_credentials(integration_id uuid, access_token_ciphertext text, refresh_token_ciphertext text, data_key_ciphertext text, key_id text, expires_at timestamptz) from authenticated;
revoke all on function public.save_integration_credentials(integration_id uuid, access_token_ciphertext text, refresh_token_ciphertext text, data_key_ciphertext text, key_id text, expires_at timestamptz) from public;
grant all on function public.save_integration_credentials(integration_id uuid, access_token_ciphertext text, refresh_token_ciphertext text, data_key_ciphertext text, key_id text, expires_at timestamptz) to service_role;

create function public.save_integration_webhook_secret(integration_id uuid, secret_ciphertext text, data_key_ciphertext text, key_id text) returns void
    language sql
    set search_path to ''
    as $$
  insert into private.integration_webhook_secrets as s (integration_id, secret_ciphertext, data_key_ciphertext, key_id)
  values (integration_id, secret_ciphertext, data_key_ciphertext, key_id)
  on conflict on constraint integration_webhook_secrets_pkey do update
     set secret_ciphertext = excluded.secret_ciphertext,
         data_key_ciphertext = excluded.data_key_ciphertext,
         key_id = excluded.key_id
$$;

revoke all on function public.save_integration_webhook_secret(integration_id uuid, secret_ciphertext text, data_key_ciphertext text, key_id text) from authenticated;
revoke all on function public.save_integration_webhook_secret(integration_id uuid, secret_ciphertext text, data_key_ciphertext text, key_id text) from public;
grant all on function public.save_integration_webhook_secret(integration_id uuid, secret_ciphertext text, data_key_ciphertext text, key_id text) to service_role;

create function public.save_oauth_state(state text, user_id uuid, provider public.integration_provider, project_id uuid, code_verifier_ciphertext text, redirect_uri text) returns void
    language sql
    set search_path to ''
    as $$
  delete from private.oauth_states s where s.expires_at < now();
  insert into private.oauth_states (state, user_id, provider, project_id, code_verifier_ciphertext, redirect_uri)
  values (state, user_id, provider, project_id, code_verifier_ciphertext, redirect_uri)
$$;

revoke all on function public.save_oauth_state(state text, user_id uuid, provider public.integration_provider, project_id uuid, code_verifier_ciphertext text, redirect_uri text) from authenticated;
revoke all on function public.save_oauth_state(state text, user_id uuid, provider public.integration_provider, project_id uuid, code_verifier_ciphertext text, redirect_uri text) from public;
grant all on function public.save_oauth_state(state text, user_id uuid, provider public.integration_provider, project_id uuid, code_verifier_ciphertext text, redirect_uri text) to service_role;

create function public.save_pending_connect(code_hash text, user_id uuid, provider public.integration_provider, project_id uuid, grant_ciphertext text) returns void
    language sql
    set search_path to ''
    as $$
  delete from private.pending_connects p where p.expires_at < now();
  insert into private.pending_connects (code_hash, user_id, provider, project_id, grant_ciphertext)
  values (code_hash, user_id, provider, project_id, grant_ciphertext)
$$;

revoke all on function public.save_pending_connect(code_hash text, user_id uuid, provider public.integration_provider, project_id uuid, grant_ciphertext text) from authenticated;
revoke all on function public.save_pending_connect(code_hash text, user_id uuid, provider public.integration_provider, project_id uuid, grant_ciphertext text) from public;
grant all on function public.save_pending_connect(code_hash text, user_id uuid, provider public.integration_provider, project_id uuid, grant_ciphertext text) to service_role;

-- returns the pending connect once (it is deleted, whoever asks: someone else's attempt
-- discards it), and nothing when unknown, used or expired
create function public.take_pending_connect(code_hash text) returns table(user_id uuid, provider public.integration_provider, project_id uuid, grant_ciphertext text)
    language sql
    set search_path to ''
    as $$
  with taken as (
    delete from private.pending_connects p
     where p.code_hash = take_pending_connect.code_hash
    returning p.*
  )
  select t.user_id, t.provider, t.project_id, t.grant_ciphertext
    from taken t
   where t.expires_at > now()
$$;

revoke all on function public.take_pending_connect(code_hash text) from authenticated;
revoke all on function public.take_pending_connect(code_hash text) from public;
grant all on function public.take_pending_connect(code_hash text) to service_role;

-- returns the state once (it is deleted), and nothing when unknown or expired
create function public.take_oauth_state(state text) returns table(user_id uuid, provider public.integration_provider, project_id uuid, code_verifier_ciphertext text, redirect_uri text)
    language sql
    set search_path to ''
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

revoke all on function public.take_oauth_state(state text) from authenticated;
revoke all on function public.take_oauth_state(state text) from public;
grant all on function public.take_oauth_state(state text) to service_role;

-- ======================================================================================
-- triggers
-- ======================================================================================

create trigger integration_credentials_set_updated_at before insert or update on private.integration_credentials for each row execute function private.set_updated_at();

create trigger integration_webhook_secrets_set_updated_at before insert or update on private.integration_webhook_secrets for each row execute function private.set_updated_at();

create trigger integration_links_set_updated_at before insert or update on public.integration_links for each row execute function private.set_updated_at();

create trigger integration_syncs_guard_worker_columns before insert or update on public.integration_syncs for each row execute function private.guard_job_columns('status=queued', 'attempts=0', 'dispatched_at', 'started_at', 'finished_at', 'error', 'events_written=0', 'provider_requests=0');

create trigger integration_syncs_set_updated_at before insert or update on public.integration_syncs for each row execute function private.set_updated_at();

create trigger project_members_unlink_integrations after delete or update of role, project_id, user_id on public.project_members for each row execute function private.unlink_integrations_of_lost_editor();

create trigger integrations_fresh_id_for_unseen_row before insert on public.integrations for each row execute function private.fresh_id_for_unseen_row();

create trigger integrations_guard_immutable_columns before update on public.integrations for each row execute function private.guard_immutable_columns('id', 'user_id', 'provider', 'external_account_id', 'scopes', 'last_synced_at', 'last_error');

create trigger integrations_guard_sync_state before insert or update on public.integrations for each row execute function private.guard_integration_sync_state();

create trigger integrations_limit_bulk_insert after insert on public.integrations referencing new table as inserted for each statement execute function private.limit_bulk_insert('1000');

create trigger integrations_set_updated_at before insert or update on public.integrations for each row execute function private.set_updated_at();
