-- =============================================================================
-- Tech <-> business
--
--   1. activity_events: one stream of what happened in code hosts, task
--      boards, CRMs and by hand, per project
--   2. dashboards: a person's layout of a project's figures
--   3. policies (policies/activity.sql)
--   4. RPC project_activity_by_week: technical and business events side by
--      side, per week and source
--
-- Ingestion (webhooks, sync) writes with the service role; members add
-- `manual` events themselves.
-- =============================================================================

-- -----------------------------------------------------------------------------
-- 1. activity_events
-- -----------------------------------------------------------------------------
create type public.activity_source as enum (
  'github', 'gitlab', 'jira', 'linear', 'hubspot', 'salesforce', 'manual'
);

create table public.activity_events (
  id uuid primary key default gen_random_uuid(),
  project_id uuid not null references public.projects (id) on delete cascade,
  source public.activity_source not null,
  kind text not null,
  occurred_at timestamptz not null default now(),
  -- who did it: a member when known, else the name the source gave
  actor_id uuid references public.profiles (id) on delete set null,
  actor text,
  external_id text,
  payload jsonb not null default '{}'::jsonb,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint activity_events_external_id_unique_per_source unique (source, external_id),
  constraint activity_events_kind_format check (kind ~ '^[a-z][a-z0-9_.]{0,63}$'),
  constraint activity_events_actor_length check (char_length(actor) <= 200),
  constraint activity_events_external_id_length check (char_length(external_id) <= 200),
  constraint activity_events_payload_is_object check (jsonb_typeof(payload) = 'object'),
  constraint activity_events_manual_has_no_external_id check (source <> 'manual' or external_id is null)
);
create index activity_events_project_id_occurred_at_idx on public.activity_events (project_id, occurred_at desc);
create index activity_events_actor_id_idx on public.activity_events (actor_id);
alter table public.activity_events enable row level security;

create trigger activity_events_set_updated_at
  before insert or update on public.activity_events
  for each row execute function private.set_updated_at();

-- -----------------------------------------------------------------------------
-- 2. dashboards
-- -----------------------------------------------------------------------------
create table public.dashboards (
  id uuid primary key default gen_random_uuid(),
  owner_id uuid not null default auth.uid() references public.profiles (id) on delete cascade,
  project_id uuid not null references public.projects (id) on delete cascade,
  name text not null,
  layout jsonb not null default '{}'::jsonb,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint dashboards_name_length check (char_length(btrim(name)) between 1 and 200),
  constraint dashboards_layout_is_object check (jsonb_typeof(layout) = 'object')
);
create index dashboards_project_id_idx on public.dashboards (project_id);
create index dashboards_owner_id_idx on public.dashboards (owner_id);
alter table public.dashboards enable row level security;

create trigger dashboards_set_updated_at
  before insert or update on public.dashboards
  for each row execute function private.set_updated_at();
create trigger dashboards_guard_immutable_columns
  before update on public.dashboards
  for each row execute function private.guard_immutable_columns('id', 'owner_id', 'project_id');

-- -----------------------------------------------------------------------------
-- 3. policies
-- -----------------------------------------------------------------------------
create policy "members read their projects' activity"
  on public.activity_events for select to authenticated
  using ((select private.is_active_user()) and project_id = any (array(select private.my_project_ids())));

create policy "editors record manual activity as themselves"
  on public.activity_events for insert to authenticated
  with check (
    (select private.can_write())
    and source = 'manual'
    and actor_id = (select auth.uid())
    and project_id = any (array(select private.my_project_ids_with_role('editor')))
  );

create policy "members read their projects' dashboards"
  on public.dashboards for select to authenticated
  using ((select private.is_active_user()) and project_id = any (array(select private.my_project_ids())));

create policy "members create their own dashboards"
  on public.dashboards for insert to authenticated
  with check (
    (select private.can_write())
    and owner_id = (select auth.uid())
    and project_id = any (array(select private.my_project_ids()))
  );

create policy "owners edit their dashboards"
  on public.dashboards for update to authenticated
  using ((select private.can_write()) and owner_id = (select auth.uid()))
  with check ((select private.can_write()) and owner_id = (select auth.uid()));

create policy "owners delete their dashboards"
  on public.dashboards for delete to authenticated
  using ((select private.can_write()) and owner_id = (select auth.uid()));

-- -----------------------------------------------------------------------------
-- 4. weekly summary
-- -----------------------------------------------------------------------------

-- Invoker: RLS on activity_events decides; a non-member is told so.
create function public.project_activity_by_week(project_id uuid, weeks int default 12)
returns table (week_start date, source public.activity_source, category text, events bigint)
language plpgsql
stable
security invoker
set search_path = ''
as $$
begin
  if weeks is null or weeks not between 1 and 104 then
    raise exception 'weeks must be between 1 and 104' using errcode = '22023';
  end if;
  if not private.has_project_role(project_id, 'viewer') or not private.is_active_user() then
    raise exception 'not a member of this project' using errcode = '42501';
  end if;
  return query
    select date_trunc('week', e.occurred_at)::date as week_start,
           e.source,
           case when e.source in ('github', 'gitlab', 'jira', 'linear') then 'technical'
                when e.source in ('hubspot', 'salesforce') then 'business'
                else 'manual' end as category,
           count(*) as events
      from public.activity_events e
     where e.project_id = project_activity_by_week.project_id
       and e.occurred_at >= date_trunc('week', now()) - make_interval(weeks => weeks - 1)
     group by 1, 2, 3
     order by 1, 3, 2;
end;
$$;
comment on function public.project_activity_by_week(uuid, int) is
  'Events per week and source for a project (technical: code hosts and task boards; business: CRMs).';

revoke all on function public.project_activity_by_week(uuid, int) from public, anon;
grant execute on function public.project_activity_by_week(uuid, int) to authenticated, service_role;

revoke truncate, references, trigger on all tables in schema public from anon, authenticated;
