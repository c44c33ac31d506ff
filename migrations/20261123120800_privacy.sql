-- =============================================================================
-- Privacy (GDPR / CCPA)
--
--   1. privacy_requests: a person asks for an export or an erasure; the
--      service role (functions) processes it
--   2. policies (policies/privacy.sql): people create and read their own,
--      guests included (privacy rights are not a write privilege)
--   3. service-role RPCs the privacy functions call:
--      export_user_data(user_id) -> jsonb of everything about a person,
--      erase_user(user_id) -> hands owned projects on, deletes the person
-- =============================================================================

-- -----------------------------------------------------------------------------
-- 1. privacy_requests
-- -----------------------------------------------------------------------------
create type public.privacy_request_kind as enum ('export', 'erasure');
create type public.privacy_request_status as enum ('pending', 'processing', 'completed', 'failed', 'cancelled');

create table public.privacy_requests (
  id uuid primary key default gen_random_uuid(),
  -- kept (user_id emptied) after an erasure, as the record that it was done
  user_id uuid default auth.uid() references public.profiles (id) on delete set null,
  kind public.privacy_request_kind not null,
  status public.privacy_request_status not null default 'pending',
  result_location text,
  error text,
  requested_at timestamptz not null default now(),
  completed_at timestamptz,
  expires_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint privacy_requests_completed_when_done check ((status in ('completed', 'failed')) = (completed_at is not null)),
  constraint privacy_requests_result_only_for_exports check (result_location is null or kind = 'export'),
  constraint privacy_requests_result_location_length check (char_length(result_location) <= 2048),
  constraint privacy_requests_error_length check (char_length(error) <= 2000)
);
create index privacy_requests_user_id_idx on public.privacy_requests (user_id, requested_at desc);
create unique index privacy_requests_one_open_per_kind on public.privacy_requests (user_id, kind)
  where status in ('pending', 'processing');
alter table public.privacy_requests enable row level security;

create trigger privacy_requests_set_updated_at
  before insert or update on public.privacy_requests
  for each row execute function private.set_updated_at();

-- what a client sends is a kind; the rest is the processor's
create function private.privacy_request_defaults()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if current_user in ('anon', 'authenticated') then
    new.status := 'pending';
    new.result_location := null;
    new.error := null;
    new.completed_at := null;
    new.expires_at := null;
    new.requested_at := now();
  end if;
  return new;
end;
$$;

create trigger privacy_requests_defaults
  before insert on public.privacy_requests
  for each row execute function private.privacy_request_defaults();

revoke update, delete on public.privacy_requests from anon, authenticated;

-- -----------------------------------------------------------------------------
-- 2. policies
-- -----------------------------------------------------------------------------
create policy "people read their own privacy requests"
  on public.privacy_requests for select to authenticated
  using ((select private.is_active_user()) and user_id = (select auth.uid()));

create policy "people file privacy requests for themselves"
  on public.privacy_requests for insert to authenticated
  with check ((select private.is_active_user()) and user_id = (select auth.uid()));

-- -----------------------------------------------------------------------------
-- 3. service-role RPCs
-- -----------------------------------------------------------------------------

-- Definer: reads every table about one person, across RLS; service role only.
create function private.export_user_data(user_id uuid)
returns jsonb
language sql
stable
security definer
set search_path = ''
as $$
  select jsonb_build_object(
    'exported_at', now(),
    'profile', (select to_jsonb(p) from public.profiles p where p.id = export_user_data.user_id),
    'platform_role', (select to_jsonb(r) from public.user_roles r where r.user_id = export_user_data.user_id),
    'project_memberships', coalesce((select jsonb_agg(to_jsonb(m)) from public.project_members m
                                      where m.user_id = export_user_data.user_id), '[]'),
    'projects_owned', coalesce((select jsonb_agg(to_jsonb(p)) from public.projects p
                                 where p.owner_id = export_user_data.user_id), '[]'),
    'tasks', coalesce((select jsonb_agg(to_jsonb(t)) from public.tasks t
                        where t.created_by = export_user_data.user_id
                           or t.assignee_id = export_user_data.user_id), '[]'),
    'conversations', coalesce((select jsonb_agg(to_jsonb(c)) from public.conversation_members c
                                where c.user_id = export_user_data.user_id), '[]'),
    'messages', coalesce((select jsonb_agg(to_jsonb(m) - 'search') from public.messages m
                           where m.author_id = export_user_data.user_id), '[]'),
    'files', coalesce((select jsonb_agg(to_jsonb(f)) from public.files f
                        where f.uploaded_by = export_user_data.user_id), '[]'),
    'notifications', coalesce((select jsonb_agg(to_jsonb(n)) from public.notifications n
                                where n.user_id = export_user_data.user_id), '[]'),
    'calendar_events', coalesce((select jsonb_agg(to_jsonb(e)) from public.calendar_events e
                                  where e.owner_id = export_user_data.user_id), '[]'),
    'calendar_invitations', coalesce((select jsonb_agg(to_jsonb(a)) from public.calendar_event_attendees a
                                       where a.user_id = export_user_data.user_id), '[]'),
    'document_versions', coalesce((select jsonb_agg(to_jsonb(v)) from public.document_versions v
                                    where v.author_id = export_user_data.user_id), '[]'),
    'integrations', coalesce((select jsonb_agg(to_jsonb(i)) from public.integrations i
                               where i.user_id = export_user_data.user_id), '[]'),
    'activity_events', coalesce((select jsonb_agg(to_jsonb(a)) from public.activity_events a
                                  where a.actor_id = export_user_data.user_id), '[]'),
    'dashboards', coalesce((select jsonb_agg(to_jsonb(d)) from public.dashboards d
                             where d.owner_id = export_user_data.user_id), '[]'),
    'privacy_requests', coalesce((select jsonb_agg(to_jsonb(r)) from public.privacy_requests r
                                   where r.user_id = export_user_data.user_id), '[]')
  )
$$;

create function public.export_user_data(user_id uuid)
returns jsonb
language sql
stable
security invoker
set search_path = ''
as $$
  select private.export_user_data(user_id)
$$;
comment on function public.export_user_data(uuid) is
  'Everything stored about a person, as one JSON document (service role: the privacy export job).';

-- Definer: deletes the auth user (cascading to everything personal). Projects
-- the person owns go to their highest-ranked other member; projects nobody
-- else is in are deleted. Their messages are deleted, not just anonymised.
create function private.erase_user(user_id uuid)
returns void
language plpgsql
security definer
set search_path = ''
as $$
declare
  owned record;
  heir uuid;
begin
  for owned in select p.id from public.projects p where p.owner_id = erase_user.user_id for update loop
    select pm.user_id into heir
      from public.project_members pm
     where pm.project_id = owned.id and pm.user_id <> erase_user.user_id
     order by pm.role desc, pm.created_at
     limit 1;
    if heir is null then
      -- a soft delete first, then the real one (the trigger hard-deletes what is already deleted)
      delete from public.projects p where p.id = owned.id;
      delete from public.projects p where p.id = owned.id;
    else
      update public.project_members pm set role = 'owner'
       where pm.project_id = owned.id and pm.user_id = heir;
      update public.projects p set owner_id = heir where p.id = owned.id;
    end if;
  end loop;
  update public.messages m set deleted_at = coalesce(m.deleted_at, now())
   where m.author_id = erase_user.user_id;
  delete from public.messages m where m.author_id = erase_user.user_id;
  delete from auth.users u where u.id = erase_user.user_id;
end;
$$;

create function public.erase_user(user_id uuid)
returns void
language sql
security invoker
set search_path = ''
as $$
  select private.erase_user(user_id)
$$;
comment on function public.erase_user(uuid) is
  'GDPR erasure (service role: the privacy erasure job): hands owned projects on and deletes the person.';

revoke all on function private.export_user_data(uuid), private.erase_user(uuid),
  private.privacy_request_defaults() from public;
grant execute on function private.export_user_data(uuid), private.erase_user(uuid) to service_role;
revoke all on function public.export_user_data(uuid), public.erase_user(uuid) from public, anon, authenticated;
grant execute on function public.export_user_data(uuid), public.erase_user(uuid) to service_role;

revoke truncate, references, trigger on all tables in schema public from anon, authenticated;
