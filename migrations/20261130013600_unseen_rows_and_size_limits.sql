-- =============================================================================
-- Answer what cannot be seen like what does not exist; bound sizes
--
--   1. a new row's id is the database's unless it names a row the caller can
--      see: an upsert (or insert) naming another project's row gets a fresh id,
--      exactly like an id that does not exist, instead of a 403 that tells the
--      row is there. Upserting one's own rows by id works as before.
--   2. a document version for a document the caller cannot see is refused like
--      one for a document that does not exist (42501 from the policy, not 409
--      from the foreign key for the one and 403 for the other)
--   3. JSON columns written by clients are bounded: 256 kB and 32 levels deep
--      (a check constraint each, named so the 400 explains itself)
--   4. one request inserts at most 1000 rows into a table (413)
-- =============================================================================

-- -----------------------------------------------------------------------------
-- 1. fresh ids for rows the caller cannot see
-- -----------------------------------------------------------------------------

-- Invoker: "can the caller see a row with this id" is the caller's own SELECT policy.
create function private.fresh_id_for_unseen_row()
returns trigger
language plpgsql
set search_path = ''
as $$
declare
  seen boolean;
begin
  if current_user not in ('anon', 'authenticated') or new.id is null then
    return new;
  end if;
  execute format('select exists (select 1 from %I.%I t where t.id = $1)', tg_table_schema, tg_table_name)
    into seen using new.id;
  if not seen then
    new.id := gen_random_uuid();
  end if;
  return new;
end;
$$;
revoke all on function private.fresh_id_for_unseen_row() from public;
grant execute on function private.fresh_id_for_unseen_row() to anon, authenticated;

-- -----------------------------------------------------------------------------
-- 2. document versions of documents the caller cannot see
-- -----------------------------------------------------------------------------

-- Invoker, and named to fire before document_versions_number_version (which would
-- otherwise answer 23503 for a missing document, or touch another project's one).
create function private.refuse_version_of_unseen_document()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if current_user in ('anon', 'authenticated')
     and not exists (select 1 from public.documents d where d.id = new.document_id) then
    raise exception 'new row violates row-level security policy for table "document_versions"'
      using errcode = '42501';
  end if;
  return new;
end;
$$;
revoke all on function private.refuse_version_of_unseen_document() from public;
grant execute on function private.refuse_version_of_unseen_document() to anon, authenticated;

create trigger document_versions_check_document_is_visible
  before insert on public.document_versions
  for each row execute function private.refuse_version_of_unseen_document();

-- -----------------------------------------------------------------------------
-- 3. JSON sizes
-- -----------------------------------------------------------------------------

-- true when nothing in value is nested max_depth levels deep (the root is level 0);
-- the path stops descending at that level, so a deep value costs no more than a flat one
create function private.jsonb_depth_below(value jsonb, max_depth int)
returns boolean
language sql
immutable
parallel safe
set search_path = ''
as $$
  select not jsonb_path_exists(value, ('strict $.**{' || max_depth || '}')::jsonpath)
$$;
revoke all on function private.jsonb_depth_below(jsonb, int) from public;
grant execute on function private.jsonb_depth_below(jsonb, int) to anon, authenticated, service_role;

alter table public.projects
  add constraint projects_settings_size check (pg_column_size(settings) <= 262144),
  add constraint projects_settings_depth check (private.jsonb_depth_below(settings, 32)),
  add constraint projects_filters_size check (pg_column_size(filters) <= 262144),
  add constraint projects_filters_depth check (private.jsonb_depth_below(filters, 32));
alter table public.dashboards
  add constraint dashboards_layout_size check (pg_column_size(layout) <= 262144),
  add constraint dashboards_layout_depth check (private.jsonb_depth_below(layout, 32));
alter table public.activity_events
  add constraint activity_events_payload_size check (pg_column_size(payload) <= 262144),
  add constraint activity_events_payload_depth check (private.jsonb_depth_below(payload, 32));
alter table public.notifications
  add constraint notifications_payload_size check (pg_column_size(payload) <= 65536);

-- -----------------------------------------------------------------------------
-- 4. bulk inserts
-- -----------------------------------------------------------------------------
create function private.limit_bulk_insert()
returns trigger
language plpgsql
set search_path = ''
as $$
declare
  n bigint;
begin
  if current_user not in ('anon', 'authenticated') then
    return null;
  end if;
  select count(*) into n from inserted;
  if n > tg_argv[0]::int then
    raise sqlstate 'PGRST'
      using message = json_build_object(
              'code', 'bulk_insert_too_large',
              'message', format('one request inserts at most %s rows into %s (this one: %s)',
                                tg_argv[0], tg_table_name, n),
              'hint', 'send the rows in smaller batches')::text,
            detail = json_build_object('status', 413, 'headers', json_build_object())::text;
  end if;
  return null;
end;
$$;
revoke all on function private.limit_bulk_insert() from public;
grant execute on function private.limit_bulk_insert() to anon, authenticated;

-- every exposed table clients may insert into: the bulk limit, and (when its key is a
-- generated uuid id) fresh ids for unseen rows
do $$
declare
  t text;
begin
  for t in
    select c.relname
      from pg_class c
      join pg_namespace n on n.oid = c.relnamespace
     where n.nspname = 'public' and c.relkind = 'r'
       and has_table_privilege('authenticated', c.oid, 'insert')
     order by 1
  loop
    execute format(
      'create trigger %I after insert on public.%I referencing new table as inserted'
      ' for each statement execute function private.limit_bulk_insert(1000)',
      t || '_limit_bulk_insert', t);
    if exists (
      select 1 from information_schema.columns col
       where col.table_schema = 'public' and col.table_name = t and col.column_name = 'id'
         and col.data_type = 'uuid' and col.column_default like 'gen_random_uuid()%'
    ) then
      execute format(
        'create trigger %I before insert on public.%I'
        ' for each row execute function private.fresh_id_for_unseen_row()',
        t || '_fresh_id_for_unseen_row', t);
    end if;
  end loop;
end
$$;
