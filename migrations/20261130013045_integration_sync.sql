-- =============================================================================
-- Integrations: links, sync jobs, envelope-encrypted secrets, webhook deliveries
--
--   1. integration_links: what a connected account feeds a project (a GitHub
--      repository, a Google document imported into a project document), with
--      the sync cursor of each; members read them, the functions write them
--   2. integration_syncs: the sync job table (functions/core/jobs.py contract:
--      status, attempts, dispatched_at, started_at, finished_at, error)
--   3. private.integration_credentials gains data_key_ciphertext (the KMS-
--      encrypted data key of the envelope); its two service-role RPCs are
--      replaced to carry it, and one deletes credentials on revoke
--   4. private.integration_webhook_secrets and private.webhook_deliveries
--   5. RPCs: link_integration_item and queue_integration_sync (the caller's,
--      definer behind an invoker wrapper), ingest_activity (service role)
--   6. policies (policies/integrations.sql, policies/private.sql)
-- =============================================================================

-- -----------------------------------------------------------------------------
-- 1. integration_links
-- -----------------------------------------------------------------------------
create table public.integration_links (
  id uuid primary key default gen_random_uuid(),
  integration_id uuid not null references public.integrations (id) on delete cascade,
  project_id uuid not null references public.projects (id) on delete cascade,
  kind text not null,
  external_id text not null,
  name text,
  url text,
  document_id uuid references public.documents (id) on delete set null,
  -- per resource: {"commits": {"since": ..., "etag": ...}, ...}; moved only after the
  -- rows it covers are written
  sync_cursor jsonb not null default '{}'::jsonb,
  last_synced_at timestamptz,
  created_by uuid default auth.uid() references public.profiles (id) on delete set null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint integration_links_one_per_item unique (integration_id, external_id),
  constraint integration_links_kind_known check (kind in ('repository', 'document')),
  constraint integration_links_external_id_length check (char_length(external_id) between 1 and 300),
  constraint integration_links_name_length check (char_length(name) <= 300),
  constraint integration_links_url_length check (char_length(url) <= 2000),
  constraint integration_links_sync_cursor_is_object check (jsonb_typeof(sync_cursor) = 'object')
);
create index integration_links_project_id_idx on public.integration_links (project_id);
create index integration_links_document_id_idx on public.integration_links (document_id);
create index integration_links_created_by_idx on public.integration_links (created_by);
alter table public.integration_links enable row level security;

create trigger integration_links_set_updated_at
  before insert or update on public.integration_links
  for each row execute function private.set_updated_at();

revoke insert, update, delete on public.integration_links from anon, authenticated;

-- -----------------------------------------------------------------------------
-- 2. integration_syncs (jobs)
-- -----------------------------------------------------------------------------
create table public.integration_syncs (
  id uuid primary key default gen_random_uuid(),
  integration_id uuid not null references public.integrations (id) on delete cascade,
  project_id uuid not null references public.projects (id) on delete cascade,
  requested_by uuid references public.profiles (id) on delete set null,
  reason text not null default 'manual',
  status public.job_status not null default 'queued',
  attempts int not null default 0,
  dispatched_at timestamptz,
  started_at timestamptz,
  finished_at timestamptz,
  error text,
  events_written int not null default 0,
  provider_requests int not null default 0,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint integration_syncs_reason_known check (reason in ('manual', 'schedule', 'webhook')),
  constraint integration_syncs_attempts_not_negative check (attempts >= 0),
  constraint integration_syncs_error_length check (char_length(error) <= 2000),
  constraint integration_syncs_finished_after_started check (finished_at >= started_at)
);
create index integration_syncs_project_id_created_at_idx on public.integration_syncs (project_id, created_at desc);
create index integration_syncs_requested_by_idx on public.integration_syncs (requested_by);
-- one sync waiting or running per integration: asking again returns that one
create unique index integration_syncs_one_active_idx on public.integration_syncs (integration_id)
  where status in ('queued', 'running');
create index integration_syncs_integration_id_idx on public.integration_syncs (integration_id, created_at desc);
create index integration_syncs_status_idx on public.integration_syncs (status, created_at)
  where status in ('queued', 'running');
alter table public.integration_syncs enable row level security;

create trigger integration_syncs_set_updated_at
  before insert or update on public.integration_syncs
  for each row execute function private.set_updated_at();

revoke insert, update, delete on public.integration_syncs from anon, authenticated;

-- -----------------------------------------------------------------------------
-- 3. credentials: the envelope's encrypted data key
-- -----------------------------------------------------------------------------
alter table private.integration_credentials add column data_key_ciphertext text;
comment on column private.integration_credentials.data_key_ciphertext is
  'The AES-256 data key of the envelope, encrypted by KMS (GenerateDataKey); never its plaintext.';

drop function public.save_integration_credentials(uuid, text, text, text, timestamptz);
drop function public.get_integration_credentials(uuid);

-- Every save is one envelope (a fresh data key encrypts both tokens), so both
-- ciphertexts are replaced together.
create function public.save_integration_credentials(
  integration_id uuid, access_token_ciphertext text, refresh_token_ciphertext text,
  data_key_ciphertext text, key_id text, expires_at timestamptz
)
returns void
language sql
security invoker
set search_path = ''
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

create function public.get_integration_credentials(integration_id uuid)
returns table (access_token_ciphertext text, refresh_token_ciphertext text,
               data_key_ciphertext text, key_id text, expires_at timestamptz)
language sql
stable
security invoker
set search_path = ''
as $$
  select c.access_token_ciphertext, c.refresh_token_ciphertext, c.data_key_ciphertext, c.key_id, c.expires_at
    from private.integration_credentials c
   where c.integration_id = get_integration_credentials.integration_id
$$;

-- -----------------------------------------------------------------------------
-- 4. webhook secrets and deliveries (never exposed)
-- -----------------------------------------------------------------------------
create table private.integration_webhook_secrets (
  integration_id uuid primary key references public.integrations (id) on delete cascade,
  secret_ciphertext text not null,
  data_key_ciphertext text not null,
  key_id text not null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
comment on table private.integration_webhook_secrets is
  'Per-integration webhook signing secrets, envelope-encrypted; readable by the service role only.';
create trigger integration_webhook_secrets_set_updated_at
  before insert or update on private.integration_webhook_secrets
  for each row execute function private.set_updated_at();
revoke all on private.integration_webhook_secrets from public, anon, authenticated;
grant select, insert, update, delete on private.integration_webhook_secrets to service_role;
alter table private.integration_webhook_secrets enable row level security;

-- replay protection: a delivery id is accepted once per integration
create table private.webhook_deliveries (
  integration_id uuid not null references public.integrations (id) on delete cascade,
  delivery_id text not null,
  received_at timestamptz not null default now(),
  constraint webhook_deliveries_pkey primary key (integration_id, delivery_id),
  constraint webhook_deliveries_delivery_id_length check (char_length(delivery_id) between 1 and 200)
);
create index webhook_deliveries_received_at_idx on private.webhook_deliveries (received_at);
revoke all on private.webhook_deliveries from public, anon, authenticated;
grant select, insert, update, delete on private.webhook_deliveries to service_role;
alter table private.webhook_deliveries enable row level security;

create function public.delete_integration_credentials(integration_id uuid)
returns void
language sql
security invoker
set search_path = ''
as $$
  delete from private.integration_credentials c where c.integration_id = delete_integration_credentials.integration_id;
  delete from private.integration_webhook_secrets s where s.integration_id = delete_integration_credentials.integration_id;
$$;

create function public.save_integration_webhook_secret(
  integration_id uuid, secret_ciphertext text, data_key_ciphertext text, key_id text
)
returns void
language sql
security invoker
set search_path = ''
as $$
  insert into private.integration_webhook_secrets as s (integration_id, secret_ciphertext, data_key_ciphertext, key_id)
  values (integration_id, secret_ciphertext, data_key_ciphertext, key_id)
  on conflict on constraint integration_webhook_secrets_pkey do update
     set secret_ciphertext = excluded.secret_ciphertext,
         data_key_ciphertext = excluded.data_key_ciphertext,
         key_id = excluded.key_id
$$;

create function public.get_integration_webhook_secret(integration_id uuid)
returns table (secret_ciphertext text, data_key_ciphertext text, key_id text)
language sql
stable
security invoker
set search_path = ''
as $$
  select s.secret_ciphertext, s.data_key_ciphertext, s.key_id
    from private.integration_webhook_secrets s
   where s.integration_id = get_integration_webhook_secret.integration_id
$$;

-- One delivery (webhook) or one page (sync) of activity, in one transaction: the
-- delivery id is recorded with the rows, so a replay writes nothing (-1), and a
-- row already ingested (same source and external id) is skipped.
create function public.ingest_activity(integration_id uuid, delivery_id text, events jsonb)
returns int
language plpgsql
security invoker
set search_path = ''
as $$
declare
  target uuid;
  written int;
begin
  select i.project_id into target from public.integrations i where i.id = ingest_activity.integration_id;
  if target is null then
    raise exception 'integration % has no project', integration_id using errcode = '22023';
  end if;
  if delivery_id is not null then
    insert into private.webhook_deliveries (integration_id, delivery_id)
    values (ingest_activity.integration_id, ingest_activity.delivery_id)
    on conflict on constraint webhook_deliveries_pkey do nothing;
    if not found then
      return -1;
    end if;
  end if;
  insert into public.activity_events (project_id, source, kind, occurred_at, actor, external_id, payload)
  select target, e.source, e.kind, coalesce(e.occurred_at, now()), left(e.actor, 200), e.external_id,
         coalesce(e.payload, '{}'::jsonb)
    from jsonb_to_recordset(coalesce(events, '[]'::jsonb))
      as e (source public.activity_source, kind text, occurred_at timestamptz, actor text,
            external_id text, payload jsonb)
  on conflict on constraint activity_events_external_id_unique_per_source do nothing;
  get diagnostics written = row_count;
  return written;
end;
$$;

revoke all on function public.save_integration_credentials(uuid, text, text, text, text, timestamptz),
  public.get_integration_credentials(uuid),
  public.delete_integration_credentials(uuid),
  public.save_integration_webhook_secret(uuid, text, text, text),
  public.get_integration_webhook_secret(uuid),
  public.ingest_activity(uuid, text, jsonb)
  from public, anon, authenticated;
grant execute on function public.save_integration_credentials(uuid, text, text, text, text, timestamptz),
  public.get_integration_credentials(uuid),
  public.delete_integration_credentials(uuid),
  public.save_integration_webhook_secret(uuid, text, text, text),
  public.get_integration_webhook_secret(uuid),
  public.ingest_activity(uuid, text, jsonb)
  to service_role;

-- -----------------------------------------------------------------------------
-- 5. the caller's RPCs
-- -----------------------------------------------------------------------------

-- Definer: links and sync jobs are written by the functions only; these are the
-- ways the integration's owner, an admin of its project, adds one.
create function private.link_integration_item(
  integration_id uuid, kind text, external_id text, name text, url text, document_id uuid
)
returns public.integration_links
language plpgsql
security definer
set search_path = ''
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

create function public.link_integration_item(
  integration_id uuid, kind text, external_id text, name text default null, url text default null,
  document_id uuid default null
)
returns public.integration_links
language sql
security invoker
set search_path = ''
as $$
  select private.link_integration_item(integration_id, kind, external_id, name, url, document_id)
$$;
comment on function public.link_integration_item(uuid, text, text, text, text, uuid) is
  'Links a repository or document of a connected integration to its project (project admins).';

create function private.queue_integration_sync(integration_id uuid)
returns public.integration_syncs
language plpgsql
security definer
set search_path = ''
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

create function public.queue_integration_sync(integration_id uuid)
returns public.integration_syncs
language sql
security invoker
set search_path = ''
as $$
  select private.queue_integration_sync(integration_id)
$$;
comment on function public.queue_integration_sync(uuid) is
  'Queues a sync of a connected integration (its owner); returns the waiting or running job.';

revoke all on function private.link_integration_item(uuid, text, text, text, text, uuid),
  private.queue_integration_sync(uuid) from public;
grant execute on function private.link_integration_item(uuid, text, text, text, text, uuid),
  private.queue_integration_sync(uuid) to authenticated;
revoke all on function public.link_integration_item(uuid, text, text, text, text, uuid),
  public.queue_integration_sync(uuid) from public, anon;
grant execute on function public.link_integration_item(uuid, text, text, text, text, uuid),
  public.queue_integration_sync(uuid) to authenticated, service_role;

-- -----------------------------------------------------------------------------
-- 6. policies
-- -----------------------------------------------------------------------------
create policy "members read their projects' integration links"
  on public.integration_links for select to authenticated
  using ((select private.is_active_user()) and project_id = any (array(select private.my_project_ids())));

create policy "members read their projects' integration syncs"
  on public.integration_syncs for select to authenticated
  using ((select private.is_active_user()) and project_id = any (array(select private.my_project_ids())));

create policy "clients never touch webhook secrets"
  on private.integration_webhook_secrets as restrictive for all to anon, authenticated
  using (false) with check (false);

create policy "clients never touch webhook deliveries"
  on private.webhook_deliveries as restrictive for all to anon, authenticated
  using (false) with check (false);

revoke truncate, references, trigger on all tables in schema public from anon, authenticated;

-- the worker's columns of the sync jobs are the service role's (PIPELINE.md)
create trigger integration_syncs_guard_worker_columns
  before insert or update on public.integration_syncs
  for each row execute function private.guard_job_columns(
    'status=queued', 'attempts=0', 'dispatched_at', 'started_at', 'finished_at', 'error',
    'events_written=0', 'provider_requests=0');
