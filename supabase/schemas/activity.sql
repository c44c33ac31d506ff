-- Activity: one stream of events from code hosts, boards and CRMs; dashboards
--
-- The declared source of this domain's tables, helpers, triggers and grants; its policies are
-- in policies/activity.sql. Edit here, then `make migration NAME=...` writes the migration.

-- SQL function bodies may name objects declared further down or in a later file.
set check_function_bodies = false;

-- ======================================================================================
-- types
-- ======================================================================================

create type public.activity_source as enum (
    'github',
    'gitlab',
    'jira',
    'linear',
    'hubspot',
    'salesforce',
    'manual'
);

-- ======================================================================================
-- public.activity_events
-- ======================================================================================

create table public.activity_events (
    id uuid default gen_random_uuid() not null,
    project_id uuid not null,
    source public.activity_source not null,
    kind text not null,
    occurred_at timestamptz default now() not null,
    actor_id uuid,
    actor text,
    external_id text,
    payload jsonb default '{}'::jsonb not null,
    created_at timestamptz default now() not null,
    updated_at timestamptz default now() not null,
    constraint activity_events_actor_length check ((char_length(actor) <= 200)),
    constraint activity_events_external_id_length check ((char_length(external_id) <= 200)),
    constraint activity_events_kind_format check ((kind ~ '^[a-z][a-z0-9_.]{0,63}$'::text)),
    constraint activity_events_manual_has_no_external_id check (((source <> 'manual'::public.activity_source) or (external_id is null))),
    constraint activity_events_payload_depth check (private.jsonb_depth_below(payload, 32)),
    constraint activity_events_payload_is_object check ((jsonb_typeof(payload) = 'object'::text)),
    constraint activity_events_payload_size check ((pg_column_size(payload) <= 262144))
);

alter table only public.activity_events
    add constraint activity_events_external_id_unique_per_source unique (source, external_id);

alter table only public.activity_events
    add constraint activity_events_pkey primary key (id);

create index activity_events_actor_id_idx on public.activity_events using btree (actor_id);

create index activity_events_project_id_occurred_at_idx on public.activity_events using btree (project_id, occurred_at desc);

revoke all on table public.activity_events from anon, authenticated;
grant select,insert,delete,update on table public.activity_events to anon;
grant select,insert,delete,update on table public.activity_events to authenticated;
grant all on table public.activity_events to service_role;

-- ======================================================================================
-- public.dashboards
-- ======================================================================================

create table public.dashboards (
    id uuid default gen_random_uuid() not null,
    owner_id uuid default auth.uid() not null,
    project_id uuid not null,
    name text not null,
    layout jsonb default '{}'::jsonb not null,
    created_at timestamptz default now() not null,
    updated_at timestamptz default now() not null,
    constraint dashboards_layout_depth check (private.jsonb_depth_below(layout, 32)),
    constraint dashboards_layout_is_object check ((jsonb_typeof(layout) = 'object'::text)),
    constraint dashboards_layout_size check ((pg_column_size(layout) <= 262144)),
    constraint dashboards_name_length check (((char_length(btrim(name)) >= 1) and (char_length(btrim(name)) <= 200)))
);

alter table only public.dashboards
    add constraint dashboards_pkey primary key (id);

create index dashboards_owner_id_idx on public.dashboards using btree (owner_id);

create index dashboards_project_id_idx on public.dashboards using btree (project_id);

revoke all on table public.dashboards from anon, authenticated;
grant select,insert,delete,update on table public.dashboards to anon;
grant select,insert,delete,update on table public.dashboards to authenticated;
grant all on table public.dashboards to service_role;

-- ======================================================================================
-- foreign keys
-- ======================================================================================

alter table only public.activity_events
    add constraint activity_events_actor_id_fkey foreign key (actor_id) references public.profiles(id) on delete set null;

alter table only public.activity_events
    add constraint activity_events_project_id_fkey foreign key (project_id) references public.projects(id) on delete cascade;

alter table only public.dashboards
    add constraint dashboards_owner_id_fkey foreign key (owner_id) references public.profiles(id) on delete cascade;

alter table only public.dashboards
    add constraint dashboards_project_id_fkey foreign key (project_id) references public.projects(id) on delete cascade;

-- ======================================================================================
-- functions
-- ======================================================================================

-- One delivery (webhook) or one page (sync) of activity, in one transaction: the
-- delivery id is recorded with the rows, so a replay writes nothing (-1), and a
-- row already ingested (same source and external id) is skipped.
--
-- Only while the integration's owner may still write into the project (an editor or above):
-- private.integration_feed_project checks it in this, the writing transaction, and locks
-- what a removal would change; an integration without a project, or whose owner lost the
-- right (unlinked then, with its reason and a notification), gets nothing written (-2).
create function public.ingest_activity(integration_id uuid, delivery_id text, events jsonb) returns integer
    language plpgsql
    set search_path to ''
    as $$
declare
  target uuid;
  written int;
begin
  target := private.integration_feed_project(ingest_activity.integration_id);
  if target is null then
    return -2;
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

revoke all on function public.ingest_activity(integration_id uuid, delivery_id text, events jsonb) from authenticated;
revoke all on function public.ingest_activity(integration_id uuid, delivery_id text, events jsonb) from public;
grant all on function public.ingest_activity(integration_id uuid, delivery_id text, events jsonb) to service_role;

-- Invoker: RLS on activity_events decides; a non-member is told so.
create function public.project_activity_by_week(project_id uuid, weeks integer default 12) returns table(week_start date, source public.activity_source, category text, events bigint)
    language plpgsql stable
    set search_path to ''
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

comment on function public.project_activity_by_week(project_id uuid, weeks integer) is 'Events per week and source for a project (technical: code hosts and task boards; business: CRMs).';

revoke all on function public.project_activity_by_week(project_id uuid, weeks integer) from public;
grant all on function public.project_activity_by_week(project_id uuid, weeks integer) to authenticated;
grant all on function public.project_activity_by_week(project_id uuid, weeks integer) to service_role;

-- ======================================================================================
-- triggers
-- ======================================================================================

create trigger activity_events_fresh_id_for_unseen_row before insert on public.activity_events for each row execute function private.fresh_id_for_unseen_row();

create trigger activity_events_limit_bulk_insert after insert on public.activity_events referencing new table as inserted for each statement execute function private.limit_bulk_insert('1000');

create trigger activity_events_set_server_columns before insert on public.activity_events for each row execute function private.set_server_columns_on_insert();

create trigger activity_events_set_updated_at before insert or update on public.activity_events for each row execute function private.set_updated_at();

create trigger dashboards_fresh_id_for_unseen_row before insert on public.dashboards for each row execute function private.fresh_id_for_unseen_row();

create trigger dashboards_guard_immutable_columns before update on public.dashboards for each row execute function private.guard_immutable_columns('id', 'owner_id', 'project_id');

create trigger dashboards_limit_bulk_insert after insert on public.dashboards referencing new table as inserted for each statement execute function private.limit_bulk_insert('1000');

create trigger dashboards_set_updated_at before insert or update on public.dashboards for each row execute function private.set_updated_at();
