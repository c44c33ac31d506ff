-- =============================================================================
-- queue_integration_sync(): the integration's owner queues a sync only while they
-- are still an editor (or above) of the linked project. A sync writes activity
-- events and sync rows into that project; someone removed from it (or demoted to
-- viewer) must not keep doing so. Same answer as for an integration that is not
-- theirs (42501), so it reveals nothing.
-- =============================================================================

create or replace function private.queue_integration_sync(integration_id uuid)
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
