-- =============================================================================
-- Audit trail: where a request came from is taken from the platform's edge, and
-- only the person and platform admins read it
--
--   1. private.audit() trusts only headers the edge sets and a client cannot:
--      the client IP from `cf-connecting-ip` (Supabase's hosted API is behind
--      Cloudflare, which overwrites that header with the connecting address) and
--      the request id from `sb-request-id` (set by Supabase's API gateway).
--      `x-forwarded-for`, `x-real-ip` and `x-request-id` are what the client
--      sent and are ignored. The user agent is by nature what the client
--      declares; it is kept as declared. The local gateway (devstack/gateway.py)
--      sets the same two headers, overwriting whatever the client sent.
--   2. IP and user agent move out of audit_logs into audit_log_origins, readable
--      by the person who acted and by platform admins only: co-members, project
--      admins and the subject of an entry no longer see someone else's address.
--   3. audit_log_origins is append-only like audit_logs.
-- =============================================================================

-- -----------------------------------------------------------------------------
-- 2. audit_log_origins (made before the trigger that fills it)
-- -----------------------------------------------------------------------------
create table public.audit_log_origins (
  -- no foreign key, like audit_logs itself (and both stay untruncatable on their own)
  audit_log_id bigint primary key,
  -- the person the address belongs to (audit_logs.actor_id of the entry)
  actor_id uuid,
  occurred_at timestamptz not null default now(),
  ip inet,
  user_agent text
);
comment on table public.audit_log_origins is
  'Client address and user agent of an audit entry; read by the actor and platform admins only.';
create index audit_log_origins_actor_id_idx on public.audit_log_origins (actor_id, audit_log_id desc);
alter table public.audit_log_origins enable row level security;

insert into public.audit_log_origins (audit_log_id, actor_id, occurred_at, ip, user_agent)
select a.id, a.actor_id, a.occurred_at, a.ip, a.user_agent
  from public.audit_logs a
 where a.ip is not null or a.user_agent is not null;

alter table public.audit_logs drop column ip, drop column user_agent;

create trigger audit_log_origins_append_only
  before update or delete on public.audit_log_origins
  for each row execute function private.forbid_audit_changes();
create trigger audit_log_origins_no_truncate
  before truncate on public.audit_log_origins
  for each statement execute function private.forbid_audit_changes();

revoke insert, update, delete, truncate, references, trigger on public.audit_log_origins from anon, authenticated;
revoke update, delete, truncate on public.audit_log_origins from service_role;

-- the actor reads their own; platform admins every person's (visible_user_role_ids()
-- is "myself, or everyone for a platform admin")
create policy "people read where they acted from; platform admins read all"
  on public.audit_log_origins for select to authenticated
  using (
    (select private.is_active_user())
    and actor_id = any (array(select private.visible_user_role_ids()))
  );

-- -----------------------------------------------------------------------------
-- 1. the trigger
-- -----------------------------------------------------------------------------
create or replace function private.audit()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  new_row jsonb := case when tg_op <> 'DELETE' then to_jsonb(new) end;
  old_row jsonb := case when tg_op <> 'INSERT' then to_jsonb(old) end;
  row_data jsonb := coalesce(new_row, old_row);
  headers jsonb;
  client_ip inet;
  agent text;
  entry bigint;
  actor uuid := (select auth.uid());
  what public.audit_action := lower(tg_op)::public.audit_action;
  changed text[];
begin
  if tg_op = 'UPDATE' then
    select coalesce(array_agg(n.key order by n.key), '{}') into changed
      from jsonb_each(new_row) n
     where n.value is distinct from old_row -> n.key
       and n.key not in ('updated_at', 'search');
    if changed = '{}' then
      return null;
    end if;
    if old_row ? 'deleted_at' then
      if old_row ->> 'deleted_at' is null and new_row ->> 'deleted_at' is not null then
        what := 'soft_delete';
      elsif old_row ->> 'deleted_at' is not null and new_row ->> 'deleted_at' is null then
        what := 'restore';
      end if;
    end if;
  end if;

  begin
    headers := nullif(current_setting('request.headers', true), '')::jsonb;
  exception when others then
    headers := null;
  end;
  -- only what the edge sets (see the banner): never x-forwarded-for / x-real-ip
  begin
    client_ip := nullif(btrim(headers ->> 'cf-connecting-ip'), '')::inet;
  exception when others then
    client_ip := null;
  end;
  agent := left(headers ->> 'user-agent', 500);

  insert into public.audit_logs (
    actor_id, actor_role, action, table_name, target_id, project_id, subject_user_id,
    changed_columns, request_id
  ) values (
    actor,
    coalesce((select auth.role()), session_user),
    what,
    tg_table_name,
    coalesce(row_data ->> 'id', row_data ->> 'user_id')::uuid,
    case when tg_table_name = 'projects' then (row_data ->> 'id')::uuid
         else (row_data ->> 'project_id')::uuid end,
    case when tg_table_name = 'profiles' then (row_data ->> 'id')::uuid
         else coalesce(row_data ->> 'user_id', row_data ->> 'owner_id', row_data ->> 'author_id')::uuid end,
    changed,
    left(headers ->> 'sb-request-id', 200)
  )
  returning id into entry;
  if client_ip is not null or agent is not null then
    insert into public.audit_log_origins (audit_log_id, actor_id, ip, user_agent)
    values (entry, actor, client_ip, agent);
  end if;
  return null;
end;
$$;
